#include "client/commands.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/watch_view.h"
#include "common/file_util.h"
#include "spec/evaluation_spec.h"
#include "spec/validate.h"
#include "summary/render.h"
#include "summary/results_proto.h"

namespace ocx::client {
namespace {

using v1::Evaluation;
using v1::Task;

constexpr char kLostConnection[] = "lost connection to ocxd, reconnecting…";
// `ocxctl status ID` shows this many of its tasks.
constexpr int kStatusTasks = 20;
// `ocxctl status` without an id shows this many recent evaluations.
constexpr int kRecentEvaluations = 20;

// Codes after which the same call may succeed once the daemon is back.
// CANCELLED counts because a daemon that shuts down cancels open streams;
// ocxctl itself never cancels a call it still waits for.
bool IsTransient(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Where(const ServerAddress& server) {
  return absl::StrCat(server.target, " (", SourceName(server.source), ")");
}

std::string UnreachableText(const CommandContext& ctx,
                            const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::StrCat(
        "ocxd at ", Where(ctx.server), " did not answer within ",
        absl::FormatDuration(ctx.client->options().timeout),
        "; it may be overloaded or stuck (raise --timeout to wait longer)");
  }
  std::string detail = std::string(status.message());
  if (ctx.server.is_unix && !Exists(ctx.server.socket_path)) {
    detail = absl::StrCat("no socket at ", ctx.server.socket_path);
  }
  std::string hint =
      ctx.server.source == ServerAddress::Source::kDefault
          ? "start the daemon with `ocxd`, or point ocxctl at a running one "
            "with --server ADDRESS or OCX_SERVER=ADDRESS"
          : absl::StrCat(
                "check that ocxd is running and listening there, or "
                "change ",
                SourceName(ctx.server.source));
  return absl::StrCat("cannot reach ocxd at ", Where(ctx.server), ": ",
                      detail.empty() ? "unavailable" : detail, "; ", hint);
}

// The message for a failed call about `what` ("evaluation e999"), whose id is
// `id`.
std::string ErrorText(const CommandContext& ctx, const absl::Status& status,
                      absl::string_view what, absl::string_view id) {
  absl::string_view message = status.message();
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return UnreachableText(ctx, status);
    case absl::StatusCode::kNotFound:
      if (what.empty()) break;
      if (message.empty()) return absl::StrCat(what, " not found");
      // The daemon's own words when they already name the object.
      if (!id.empty() && absl::StrContains(message, id)) break;
      return absl::StrCat(what, " not found: ", message);
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return absl::StrCat("ocxd failed: ",
                          message.empty() ? "internal error" : message);
    case absl::StatusCode::kUnimplemented:
      return absl::StrCat(
          "this ocxd does not support the request (is it older than ocxctl?)",
          message.empty() ? "" : ": ", message);
    default:
      break;
  }
  if (message.empty()) return absl::StatusCodeToString(status.code());
  return std::string(message);
}

int Fail(const CommandContext& ctx, const absl::Status& status,
         absl::string_view what = "", absl::string_view id = "") {
  *ctx.err << "ocxctl: " << ErrorText(ctx, status, what, id) << std::endl;
  return ExitCodeFor(status.code());
}

int Usage(const CommandContext& ctx, absl::string_view message) {
  *ctx.err << "ocxctl: " << message << std::endl;
  return kExitUsage;
}

absl::StatusOr<Evaluation::State> ParseEvaluationState(
    const std::string& text) {
  Evaluation::State state;
  if (Evaluation::State_Parse(absl::AsciiStrToUpper(text), &state) &&
      state != Evaluation::STATE_UNSPECIFIED) {
    return state;
  }
  std::vector<std::string> known;
  for (int i = Evaluation::State_MIN + 1; i <= Evaluation::State_MAX; ++i) {
    if (Evaluation::State_IsValid(i)) {
      known.push_back(
          Evaluation::State_Name(static_cast<Evaluation::State>(i)));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--state: unknown evaluation state \"", text,
                   "\" (known: ", absl::StrJoin(known, ", "), ")"));
}

absl::StatusOr<Task::State> ParseTaskState(const std::string& text) {
  Task::State state;
  if (Task::State_Parse(absl::AsciiStrToUpper(text), &state) &&
      state != Task::STATE_UNSPECIFIED) {
    return state;
  }
  std::vector<std::string> known;
  for (int i = Task::State_MIN + 1; i <= Task::State_MAX; ++i) {
    if (Task::State_IsValid(i)) {
      known.push_back(Task::State_Name(static_cast<Task::State>(i)));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--state: unknown task state \"", text,
                   "\" (known: ", absl::StrJoin(known, ", "), ")"));
}

absl::StatusOr<v1::Stage> ParseStage(const std::string& text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "infer") return v1::STAGE_INFER;
  if (lower == "eval") return v1::STAGE_EVAL;
  return absl::InvalidArgumentError(absl::StrCat(
      "--stage: unknown stage \"", text, "\" (known: infer, eval)"));
}

RenderOptions Render(const CommandContext& ctx) {
  RenderOptions options;
  options.format = ctx.format;
  options.now = absl::Now();
  options.time_zone = ctx.time_zone;
  return options;
}

std::string CurrentDir() {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "/";
  return buf;
}

// All tasks of an evaluation, every page.
absl::StatusOr<std::vector<Task>> ListAllTasks(const CommandContext& ctx,
                                               v1::ListTasksRequest request) {
  std::vector<Task> tasks;
  while (true) {
    absl::StatusOr<v1::ListTasksResponse> page = ctx.client->ListTasks(request);
    if (!page.ok()) return page.status();
    for (Task& task : *page->mutable_tasks()) tasks.push_back(std::move(task));
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  return tasks;
}

// Calls `fn` every `period` on its own thread until destroyed.
class Ticker {
 public:
  Ticker(absl::Duration period, std::function<void()> fn)
      : thread_([this, period, fn = std::move(fn)] {
          while (!stop_.WaitForNotificationWithTimeout(period)) fn();
        }) {}
  ~Ticker() {
    stop_.Notify();
    thread_.join();
  }

 private:
  absl::Notification stop_;
  std::thread thread_;
};

// Follows an evaluation until it ends, drawing the live view (on `out` for
// tables, on `err` when `out` carries JSON, YAML or names). Survives daemon
// restarts: a broken stream is resumed after the last event seen.
int WatchUntilDone(const CommandContext& ctx, Evaluation evaluation,
                   int64_t after_sequence) {
  bool table =
      ctx.format == OutputFormat::kTable || ctx.format == OutputFormat::kWide;
  WatchViewOptions view_options;
  view_options.tty = table ? ctx.out_is_tty : ctx.err_is_tty;
  view_options.width = ctx.terminal_width;
  view_options.time_zone = ctx.time_zone;
  WatchView view(table ? ctx.out : ctx.err, view_options);
  absl::Mutex mu;  // Guards `view` against the ticker thread.
  {
    absl::MutexLock lock(&mu);
    view.Update(evaluation, absl::Now());
  }
  const std::string id = evaluation.id();
  // Per-task progress comes from ListTasks (the watch stream carries no
  // tasks): polled on the ticker's thread, about once per tick.
  std::unique_ptr<Ticker> ticker = std::make_unique<Ticker>(
      ctx.tick, [&view, &mu, &ctx, id, tty = view_options.tty] {
        v1::ListTasksRequest request;
        request.set_evaluation_id(id);
        request.set_state(Task::RUNNING);
        absl::StatusOr<v1::ListTasksResponse> running =
            ctx.client->ListTasks(request);
        absl::MutexLock lock(&mu);
        if (running.ok()) {
          view.UpdateTasks({running->tasks().begin(), running->tasks().end()},
                           absl::Now());
        }
        if (tty) view.Tick(absl::Now());
      });
  const std::string what = absl::StrCat("evaluation ", id);
  auto fail = [&](const absl::Status& status) {
    ticker.reset();
    return Fail(ctx, status, what, id);
  };

  absl::Duration backoff = ctx.retry_backoff;
  bool lost = false;
  absl::Time lost_since;
  while (true) {
    v1::WatchEvaluationRequest request;
    request.set_id(id);
    request.set_after_sequence(after_sequence);
    absl::Status status = ctx.client->WatchEvaluation(
        request, [&](const v1::WatchEvaluationResponse& batch) {
          for (const v1::Event& event : batch.events()) {
            after_sequence = std::max(after_sequence, event.sequence());
          }
          if (batch.has_evaluation()) evaluation = batch.evaluation();
          absl::MutexLock lock(&mu);
          view.Update(batch, absl::Now());
          return true;
        });
    if (status.ok() && IsTerminal(evaluation.state())) break;
    if (!status.ok() && !IsTransient(status.code())) return fail(status);
    if (status.ok()) {
      // The daemon ended the stream before the evaluation ended (shutting
      // down?): look again after a pause rather than spin.
      absl::SleepFor(ctx.retry_backoff);
    }

    // Take a fresh snapshot, reconnecting first if the daemon is gone.
    absl::StatusOr<Evaluation> snapshot;
    while (true) {
      if (!status.ok() && !lost) {
        lost = true;
        lost_since = absl::Now();
        absl::MutexLock lock(&mu);
        view.Notice(kLostConnection, absl::Now());
      }
      if (lost) {
        if (absl::Now() - lost_since > ctx.reconnect_window) {
          ticker.reset();
          *ctx.err << "ocxctl: lost connection to ocxd at " << Where(ctx.server)
                   << " and could not reconnect within "
                   << absl::FormatDuration(ctx.reconnect_window) << " ("
                   << status.message() << "); the evaluation keeps running: "
                   << "`ocxctl status " << id << " --watch` follows it again"
                   << std::endl;
          return kExitUnreachable;
        }
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, ctx.max_reconnect_backoff);
      }
      v1::GetEvaluationRequest get;
      get.set_id(id);
      snapshot = ctx.client->GetEvaluation(get);
      if (snapshot.ok()) break;
      status = snapshot.status();
      if (!IsTransient(status.code())) return fail(status);
    }
    evaluation = *snapshot;
    absl::MutexLock lock(&mu);
    if (lost) {
      lost = false;
      backoff = ctx.retry_backoff;
      view.Notice(view_options.tty ? "" : "reconnected to ocxd", absl::Now());
    }
    view.Update(evaluation, absl::Now());
    // Loop: the next stream sends what was missed and ends at once when the
    // evaluation is over.
  }

  ticker.reset();
  view.Finish(absl::Now());
  if (ctx.format == OutputFormat::kJson || ctx.format == OutputFormat::kYaml) {
    *ctx.out << RenderMessage(evaluation, ctx.format) << std::flush;
  }
  return evaluation.state() == Evaluation::SUCCEEDED ? kExitOk : kExitFailed;
}

}  // namespace

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    default:
      return kExitFailed;
  }
}

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
  absl::StatusOr<v1::EvaluationSpec> spec =
      spec::LoadEvaluationSpecFile(options.file);
  if (!spec.ok()) return Usage(ctx, spec.status().message());
  const std::string cwd = options.cwd.empty() ? CurrentDir() : options.cwd;
  std::string config_dir = AbsolutePath(options.file, cwd);
  config_dir.resize(config_dir.rfind('/'));
  ExpandConfigDir(config_dir.empty() ? "/" : config_dir, &*spec);
  AbsoluteDatasetPaths(config_dir.empty() ? "/" : config_dir, &*spec);
  if (!spec->work_dir().empty() && spec->work_dir()[0] != '/') {
    spec->set_work_dir(AbsolutePath(spec->work_dir(), cwd));
  }
  if (absl::Status valid = spec::ValidateEvaluationSpec(*spec); !valid.ok()) {
    return Usage(ctx, absl::StrCat(options.file, ": ", valid.message()));
  }
  auto fail = [&](const absl::Status& status) {
    if (status.code() == absl::StatusCode::kInvalidArgument) {
      return Usage(ctx, absl::StrCat(options.file, ": ", status.message()));
    }
    return Fail(ctx, status);
  };

  if (options.dry_run) {
    v1::PlanEvaluationRequest request;
    *request.mutable_spec() = *spec;
    absl::StatusOr<v1::PlanEvaluationResponse> plan =
        ctx.client->PlanEvaluation(request);
    if (!plan.ok()) return fail(plan.status());
    *ctx.out << FormatPlan(*plan, Render(ctx)) << std::flush;
    return kExitOk;
  }

  v1::CreateEvaluationRequest request;
  *request.mutable_spec() = *std::move(spec);
  request.set_name(options.name);
  request.set_request_id(options.request_id.empty() ? NewRequestId()
                                                    : options.request_id);
  absl::StatusOr<Evaluation> created;
  absl::Duration backoff = ctx.retry_backoff;
  for (int attempt = 0;; ++attempt) {
    created = ctx.client->CreateEvaluation(request);
    if (created.ok()) break;
    absl::StatusCode code = created.status().code();
    bool retry = code == absl::StatusCode::kUnavailable ||
                 code == absl::StatusCode::kDeadlineExceeded;
    if (!retry || attempt >= ctx.create_retries) {
      return fail(created.status());
    }
    absl::SleepFor(backoff);
    backoff *= 2;
  }

  bool structured =
      ctx.format == OutputFormat::kJson || ctx.format == OutputFormat::kYaml;
  if (!options.watch || !structured) {
    *ctx.out << FormatCreated(*created, Render(ctx)) << std::flush;
  }
  if (!options.watch) return kExitOk;
  return WatchUntilDone(ctx, *std::move(created), 0);
}

int RunStatus(const CommandContext& ctx, const std::string& evaluation_id,
              bool watch) {
  if (evaluation_id.empty()) {
    if (watch) {
      return Usage(ctx, "status --watch needs an evaluation id");
    }
    v1::ListEvaluationsRequest request;
    request.set_page_size(kRecentEvaluations);
    absl::StatusOr<v1::ListEvaluationsResponse> response =
        ctx.client->ListEvaluations(request);
    if (!response.ok()) return Fail(ctx, response.status());
    std::vector<Evaluation> list(response->evaluations().begin(),
                                 response->evaluations().end());
    if (list.empty() && (ctx.format == OutputFormat::kTable ||
                         ctx.format == OutputFormat::kWide)) {
      *ctx.err << "no evaluations found" << std::endl;
      return kExitOk;
    }
    *ctx.out << FormatEvaluationList(list, Render(ctx)) << std::flush;
    return kExitOk;
  }

  const std::string what = absl::StrCat("evaluation ", evaluation_id);
  v1::GetEvaluationRequest get;
  get.set_id(evaluation_id);
  absl::StatusOr<Evaluation> evaluation = ctx.client->GetEvaluation(get);
  if (!evaluation.ok()) {
    return Fail(ctx, evaluation.status(), what, evaluation_id);
  }
  if (watch) {
    int64_t after = evaluation->last_event_sequence();
    return WatchUntilDone(ctx, *std::move(evaluation), after);
  }
  // One page of tasks: status of a 10,000-task evaluation must stay quick
  // (and readable); `ocxctl tasks` lists them all.
  std::vector<Task> tasks;
  bool more = false;
  if (ctx.format == OutputFormat::kTable || ctx.format == OutputFormat::kWide) {
    v1::ListTasksRequest request;
    request.set_evaluation_id(evaluation_id);
    request.set_page_size(kStatusTasks);
    absl::StatusOr<v1::ListTasksResponse> page = ctx.client->ListTasks(request);
    if (!page.ok()) return Fail(ctx, page.status(), what, evaluation_id);
    tasks.assign(page->tasks().begin(), page->tasks().end());
    more = !page->next_page_token().empty();
  }
  *ctx.out << FormatEvaluationStatus(*evaluation, tasks, Render(ctx))
           << std::flush;
  if (more) {
    *ctx.out << "(first " << tasks.size() << " of " << evaluation->task_count()
             << " tasks; all of them: ocxctl tasks " << evaluation_id << ")"
             << std::endl;
  }
  return kExitOk;
}

int RunList(const CommandContext& ctx, const std::string& state, int limit) {
  if (limit <= 0) return Usage(ctx, "--limit must be at least 1");
  v1::ListEvaluationsRequest request;
  if (!state.empty()) {
    absl::StatusOr<Evaluation::State> parsed = ParseEvaluationState(state);
    if (!parsed.ok()) return Usage(ctx, parsed.status().message());
    request.set_state(*parsed);
  }
  std::vector<Evaluation> list;
  while (static_cast<int>(list.size()) < limit) {
    request.set_page_size(
        std::min(limit - static_cast<int>(list.size()), 1000));
    absl::StatusOr<v1::ListEvaluationsResponse> page =
        ctx.client->ListEvaluations(request);
    if (!page.ok()) return Fail(ctx, page.status());
    for (Evaluation& e : *page->mutable_evaluations()) {
      list.push_back(std::move(e));
    }
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  if (static_cast<int>(list.size()) > limit) list.resize(limit);
  if (list.empty() && (ctx.format == OutputFormat::kTable ||
                       ctx.format == OutputFormat::kWide)) {
    *ctx.err << "no evaluations found" << std::endl;
    return kExitOk;
  }
  *ctx.out << FormatEvaluationList(list, Render(ctx)) << std::flush;
  return kExitOk;
}

int RunTasks(const CommandContext& ctx, const std::string& evaluation_id,
             const std::string& state, const std::string& stage) {
  v1::ListTasksRequest request;
  request.set_evaluation_id(evaluation_id);
  if (!state.empty()) {
    absl::StatusOr<Task::State> parsed = ParseTaskState(state);
    if (!parsed.ok()) return Usage(ctx, parsed.status().message());
    request.set_state(*parsed);
  }
  if (!stage.empty()) {
    absl::StatusOr<v1::Stage> parsed = ParseStage(stage);
    if (!parsed.ok()) return Usage(ctx, parsed.status().message());
    request.set_stage(*parsed);
  }
  absl::StatusOr<std::vector<Task>> tasks = ListAllTasks(ctx, request);
  if (!tasks.ok()) {
    return Fail(ctx, tasks.status(), absl::StrCat("evaluation ", evaluation_id),
                evaluation_id);
  }
  if (tasks->empty() && (ctx.format == OutputFormat::kTable ||
                         ctx.format == OutputFormat::kWide)) {
    *ctx.err << "no tasks found" << std::endl;
    return kExitOk;
  }
  *ctx.out << FormatTaskList(*tasks, Render(ctx)) << std::flush;
  return kExitOk;
}

int RunTask(const CommandContext& ctx, const std::string& task_id) {
  v1::GetTaskRequest request;
  request.set_id(task_id);
  absl::StatusOr<Task> task = ctx.client->GetTask(request);
  if (!task.ok()) {
    return Fail(ctx, task.status(), absl::StrCat("task ", task_id), task_id);
  }
  *ctx.out << FormatTaskDetail(*task, Render(ctx)) << std::flush;
  return kExitOk;
}

int RunResults(const CommandContext& ctx, const std::string& evaluation_id,
               const std::string& format) {
  std::string name = absl::AsciiStrToLower(format);
  if (name.empty()) {
    if (ctx.format == OutputFormat::kJson) {
      name = "json";
    } else if (ctx.format == OutputFormat::kTable ||
               ctx.format == OutputFormat::kWide) {
      name = "table";
    } else {
      return Usage(ctx, "results: -o must be table, csv, md or json");
    }
  }
  v1::GetEvaluationResultsRequest request;
  request.set_name(evaluation_id);
  absl::StatusOr<v1::EvaluationResults> results =
      ctx.client->GetEvaluationResults(request);
  if (!results.ok()) {
    return Fail(ctx, results.status(),
                absl::StrCat("evaluation ", evaluation_id), evaluation_id);
  }
  absl::StatusOr<std::string> text =
      summary::Render(summary::FromProto(*results), name);
  if (!text.ok()) return Usage(ctx, text.status().message());
  *ctx.out << *text << std::flush;
  return kExitOk;
}

int RunCancel(const CommandContext& ctx, const std::string& evaluation_id) {
  v1::CancelEvaluationRequest request;
  request.set_id(evaluation_id);
  absl::StatusOr<Evaluation> evaluation = ctx.client->CancelEvaluation(request);
  if (!evaluation.ok()) {
    return Fail(ctx, evaluation.status(),
                absl::StrCat("evaluation ", evaluation_id), evaluation_id);
  }
  switch (ctx.format) {
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      *ctx.out << "evaluation " << evaluation->id() << " "
               << StateName(evaluation->state()) << "\n";
      break;
    case OutputFormat::kName:
      *ctx.out << evaluation->id() << "\n";
      break;
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      *ctx.out << RenderMessage(*evaluation, ctx.format);
      break;
  }
  *ctx.out << std::flush;
  return kExitOk;
}

int RunLogs(const CommandContext& ctx, const std::string& task_id, int attempt,
            bool follow) {
  if (attempt < 0) return Usage(ctx, "--attempt must be 0 (latest) or more");
  int64_t offset = 0;
  // Once the daemon says which attempt "latest" is, stick to it so that a
  // resumed read continues the same file.
  int pinned_attempt = attempt;
  bool lost = false;
  absl::Time lost_since;
  absl::Duration backoff = ctx.retry_backoff;
  while (true) {
    v1::ReadTaskLogRequest request;
    request.set_task_id(task_id);
    request.set_attempt(pinned_attempt);
    request.set_offset(offset);
    request.set_follow(follow);
    bool closed_output = false;
    absl::Status status = ctx.client->ReadTaskLog(
        request, [&](const v1::ReadTaskLogResponse& chunk) {
          lost = false;
          backoff = ctx.retry_backoff;
          ctx.out->write(chunk.data().data(),
                         static_cast<std::streamsize>(chunk.data().size()));
          ctx.out->flush();
          if (!ctx.out->good()) {
            closed_output = true;  // e.g. `ocxctl logs ... | head`.
            return false;
          }
          offset = chunk.offset();
          if (pinned_attempt == 0 && chunk.attempt() > 0) {
            pinned_attempt = chunk.attempt();
          }
          return true;
        });
    if (closed_output || status.ok()) return kExitOk;
    if (!follow || !IsTransient(status.code())) {
      std::string what =
          attempt > 0 ? absl::StrCat("attempt ", attempt, " of task ", task_id)
                      : absl::StrCat("task ", task_id);
      return Fail(ctx, status, what, task_id);
    }
    if (!lost) {
      lost = true;
      lost_since = absl::Now();
      *ctx.err << "ocxctl: " << kLostConnection << std::endl;
    }
    if (absl::Now() - lost_since > ctx.reconnect_window) {
      *ctx.err << "ocxctl: lost connection to ocxd at " << Where(ctx.server)
               << " and could not reconnect within "
               << absl::FormatDuration(ctx.reconnect_window) << " ("
               << status.message() << ")" << std::endl;
      return kExitUnreachable;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, ctx.max_reconnect_backoff);
  }
}

}  // namespace ocx::client
