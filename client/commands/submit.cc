// ocxctl submit: load, complete and validate a spec on the client side,
// then plan it (--dry-run) or create it, and optionally watch it.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"
#include "client/commands/watch.h"
#include "common/file_util.h"
#include "spec/evaluation_spec.h"
#include "spec/limits.h"
#include "spec/validate.h"

namespace ocx::client {
namespace {

using v1::Evaluation;

std::string CurrentDir() {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "/";
  return buf;
}

}  // namespace

// The spec of `options.file`, ready to send: {config_dir} expanded, paths
// made absolute, validated; otherwise the message to print.
absl::StatusOr<v1::EvaluationSpec> PrepareSpec(const SubmitOptions& options) {
  // Refused before it is read, as ocxd would refuse it after sending.
  struct stat st;
  if (stat(options.file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    absl::Status size = spec::CheckSpecSize(
        "spec", static_cast<int64_t>(st.st_size), options.max_spec_bytes);
    if (!size.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.file, ": ", size.message()));
    }
  }
  absl::StatusOr<v1::EvaluationSpec> spec =
      spec::LoadEvaluationSpecFile(options.file);
  if (!spec.ok()) return spec.status();
  if (absl::Status size = spec::CheckSpecSize(
          "spec", static_cast<int64_t>(spec->ByteSizeLong()),
          options.max_spec_bytes);
      !size.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.file, ": ", size.message()));
  }
  const std::string cwd = options.cwd.empty() ? CurrentDir() : options.cwd;
  std::string config_dir = AbsolutePath(options.file, cwd);
  config_dir.resize(config_dir.rfind('/'));
  ExpandConfigDir(config_dir.empty() ? "/" : config_dir, &*spec);
  AbsoluteDatasetPaths(config_dir.empty() ? "/" : config_dir, &*spec);
  if (!spec->work_dir().empty() && spec->work_dir()[0] != '/') {
    spec->set_work_dir(AbsolutePath(spec->work_dir(), cwd));
  }
  if (absl::Status valid = spec::ValidateEvaluationSpec(*spec); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.file, ": ", valid.message()));
  }
  return spec;
}

namespace {

// The whole plan, page after page (a big plan does not fit in one answer),
// in TASK_VIEW_BASIC: tables need only the tasks' shape, and json and yaml
// print each model and dataset config once, in the first page's `spec`,
// with tasks referring to it (params.refs) instead of repeating them.
absl::StatusOr<v1::PlanEvaluationResponse> PlanAllPages(
    const CommandContext& ctx, const v1::EvaluationSpec& spec) {
  v1::PlanEvaluationRequest request;
  *request.mutable_spec() = spec;
  request.set_view(v1::TASK_VIEW_BASIC);
  v1::PlanEvaluationResponse all;
  for (bool first = true;; first = false) {
    absl::StatusOr<v1::PlanEvaluationResponse> page =
        ctx.client->PlanEvaluation(request);
    if (!page.ok()) return page.status();
    if (first) {
      all = *std::move(page);
    } else {
      for (v1::Task& t : *page->mutable_tasks()) {
        *all.add_tasks() = std::move(t);
      }
      all.set_next_page_token(page->next_page_token());
    }
    if (all.next_page_token().empty()) break;
    request.set_page_token(all.next_page_token());
  }
  // What the output showed before plans were paged.
  all.clear_next_page_token();
  all.clear_total_tasks();
  return all;
}

}  // namespace

std::string NewRequestId() {
  unsigned char bytes[16];
  bool ok = false;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ok = read(fd, bytes, sizeof(bytes)) == static_cast<ssize_t>(sizeof(bytes));
    close(fd);
  }
  if (!ok) {
    std::random_device device;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(device());
  }
  bytes[6] = (bytes[6] & 0x0F) | 0x40;  // Version 4.
  bytes[8] = (bytes[8] & 0x3F) | 0x80;  // Variant 10xx.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += kHex[bytes[i] >> 4];
    id += kHex[bytes[i] & 0x0F];
  }
  return id;
}

void ExpandConfigDir(absl::string_view config_dir, v1::EvaluationSpec* spec) {
  constexpr absl::string_view kPlaceholder = "{config_dir}";
  std::string escaped;
  for (char c : config_dir) {
    escaped += c;
    if (c == '{' || c == '}') escaped += c;
  }
  auto expand = [&](std::string* text) {
    if (!absl::StrContains(*text, kPlaceholder)) return;
    std::string out;
    absl::string_view rest = *text;
    while (!rest.empty()) {
      if (absl::StartsWith(rest, "{{") || absl::StartsWith(rest, "}}")) {
        out.append(rest.data(), 2);
        rest.remove_prefix(2);
      } else if (absl::StartsWith(rest, kPlaceholder)) {
        out += escaped;
        rest.remove_prefix(kPlaceholder.size());
      } else {
        out += rest.front();
        rest.remove_prefix(1);
      }
    }
    *text = std::move(out);
  };
  for (v1::StageConfig* stage : {spec->mutable_infer(), spec->mutable_eval()}) {
    if (!stage->has_runner() || !stage->runner().has_task()) continue;
    v1::TaskConfig* task = stage->mutable_runner()->mutable_task();
    for (std::string& arg : *task->mutable_argv()) expand(&arg);
    for (auto& [name, value] : *task->mutable_env()) expand(&value);
  }
}

void AbsoluteDatasetPaths(absl::string_view config_dir,
                          v1::EvaluationSpec* spec) {
  for (v1::DatasetConfig& d : *spec->mutable_datasets()) {
    if (d.path().empty() || d.path()[0] == '/') continue;
    std::string path = AbsolutePath(d.path(), config_dir);
    if (Exists(path)) d.set_path(std::move(path));
  }
}

int RunSubmit(const CommandContext& ctx, const SubmitOptions& options) {
  absl::StatusOr<v1::EvaluationSpec> spec = PrepareSpec(options);
  if (!spec.ok()) return Usage(ctx, spec.status().message());
  auto fail = [&](const absl::Status& status) {
    if (status.code() == absl::StatusCode::kInvalidArgument) {
      return Usage(ctx, absl::StrCat(options.file, ": ", status.message()));
    }
    return Fail(ctx, status);
  };

  if (options.dry_run) {
    absl::StatusOr<v1::PlanEvaluationResponse> plan = PlanAllPages(ctx, *spec);
    if (!plan.ok()) return fail(plan.status());
    *ctx.out << FormatPlan(*plan, Render(ctx)) << std::flush;
    return kExitOk;
  }

  v1::CreateEvaluationRequest request;
  *request.mutable_spec() = *std::move(spec);
  request.set_name(options.name);
  request.set_request_id(options.request_id.empty() ? NewRequestId()
                                                    : options.request_id);
  absl::StatusOr<Evaluation> created = CreateWithRetries(
      ctx, [&] { return ctx.client->CreateEvaluation(request); });
  if (!created.ok()) return fail(created.status());

  bool structured =
      ctx.format == OutputFormat::kJson || ctx.format == OutputFormat::kYaml;
  if (!options.watch || !structured) {
    *ctx.out << FormatCreated(*created, Render(ctx)) << std::flush;
  }
  if (!options.watch) return kExitOk;
  return WatchUntilDone(ctx, *std::move(created), 0);
}

}  // namespace ocx::client
