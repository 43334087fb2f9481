// OpenICLInferTask (infer_task.h): for each dataset part of the task, the
// samples not yet in the part's journal are sent to the model, each
// finished one is journaled, and the predictions file is written atomically
// once the part is complete.
#include "task/infer/infer_task.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "common/work_dir_layout.h"
#include "datasets/row_reader.h"
#include "task/http/http_pool.h"
#include "task/infer/inferencer.h"
#include "task/infer/journal.h"
#include "task/infer/progress.h"
#include "task/model/openai_model.h"
#include "task/prompt/prompt_builder.h"

namespace ocx::task {
namespace {

using ::ocx::v1::DatasetConfig;
using ::ocx::v1::TaskParams;

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

int AttemptFromEnv() {
  const char* text = std::getenv("OCX_ATTEMPT");
  int attempt = 1;
  if (text == nullptr || !absl::SimpleAtoi(text, &attempt) || attempt < 1) {
    return 1;
  }
  return attempt;
}

bool IsPpl(const DatasetConfig& d) {
  return d.infer_cfg().inferencer().type() == "PPLInferencer";
}

// One dataset part, loaded and ready to run.
struct Part {
  const DatasetConfig* config = nullptr;
  std::vector<Row> rows;
  std::optional<PromptBuilder> prompts;
  std::string output;  // absolute predictions path
};

absl::StatusOr<Part> LoadPart(const TaskParams& params,
                              const DatasetConfig& d) {
  auto context = [&](const absl::Status& s) {
    return Annotate(s, absl::StrCat("dataset ", d.abbr()));
  };
  if (!IsSafeName(d.abbr())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset abbr \"", d.abbr(), "\" must match [A-Za-z0-9._-]+"));
  }
  const std::string& inferencer = d.infer_cfg().inferencer().type();
  if (!inferencer.empty() && inferencer != "GenInferencer" &&
      inferencer != "PPLInferencer") {
    return context(absl::InvalidArgumentError(
        absl::StrCat("infer_cfg.inferencer.type: unknown inferencer \"",
                     inferencer, "\" (known: GenInferencer, PPLInferencer)")));
  }
  Part part;
  part.config = &d;
  absl::StatusOr<std::vector<Row>> rows = datasets::LoadTestRows(d);
  if (!rows.ok()) return context(rows.status());
  part.rows = *std::move(rows);
  std::vector<Row> train;
  if (d.infer_cfg().retriever().type() == "FixKRetriever") {
    absl::StatusOr<std::vector<Row>> loaded = datasets::LoadTrainRows(d);
    if (!loaded.ok()) return context(loaded.status());
    train = *std::move(loaded);
  }
  absl::StatusOr<PromptBuilder> prompts =
      PromptBuilder::Create(d, IsPpl(d), train);
  if (!prompts.ok()) return context(prompts.status());
  part.prompts = *std::move(prompts);
  part.output = layout::InWorkDir(
      params.work_dir(),
      layout::PredictionFile(params.model().abbr(), d.abbr()));
  return part;
}

// {"0": <record>, "1": ...} in index order, one record per line.
std::string PredictionsJson(const std::map<int64_t, std::string>& records,
                            int64_t count) {
  if (count == 0) return "{}\n";
  std::string out = "{\n";
  for (int64_t i = 0; i < count; ++i) {
    absl::StrAppend(&out, "    \"", i, "\": ", records.at(i),
                    i + 1 < count ? ",\n" : "\n");
  }
  out.append("}\n");
  return out;
}

absl::Status RunPart(const TaskParams& params, Part& part,
                     const std::string& task_dir, Progress& progress) {
  const DatasetConfig& d = *part.config;
  OCX_ASSIGN_OR_RETURN(
      ModelSettings settings,
      SettingsFromConfig(params.model(),
                         d.infer_cfg().inferencer().max_out_len(),
                         [](const char* name) { return std::getenv(name); }));
  const std::string fingerprint =
      params.fingerprint().empty() ? "unset" : params.fingerprint();
  OCX_ASSIGN_OR_RETURN(
      std::unique_ptr<Journal> journal,
      Journal::Open(layout::JournalFileIn(task_dir, d.abbr()), fingerprint));
  const int64_t count = static_cast<int64_t>(part.rows.size());
  std::vector<int64_t> missing;
  int64_t resumed = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (journal->records().count(i)) {
      ++resumed;
    } else {
      missing.push_back(i);
    }
  }
  std::printf(
      "dataset %s: %lld samples, %lld resumed from the journal, %s "
      "via %s\n",
      d.abbr().c_str(), static_cast<long long>(count),
      static_cast<long long>(resumed),
      IsPpl(d) ? "PPLInferencer" : "GenInferencer", settings.base_url.c_str());
  std::fflush(stdout);
  progress.Add(resumed);

  HttpPool pool({settings.max_concurrency, settings.queries_per_second});
  OpenAIModel model(settings, &pool);
  std::unique_ptr<Inferencer> inferencer =
      IsPpl(d) ? MakePplInferencer(&*part.prompts, &model,
                                   d.reader_cfg().output_column())
               : MakeGenInferencer(&*part.prompts, &model,
                                   d.reader_cfg().output_column());
  absl::Status failure;
  int64_t prompt_seen = 0;
  int64_t completion_seen = 0;
  for (int64_t i : missing) {
    inferencer->Start(part.rows[i], [&, i](absl::StatusOr<std::string> record) {
      if (!failure.ok()) return;
      if (!record.ok()) {
        failure = Annotate(record.status(),
                           absl::StrCat("dataset ", d.abbr(), " sample ", i));
        pool.Stop();
        return;
      }
      absl::Status appended = journal->Append(i, *record);
      if (!appended.ok()) {
        failure = appended;
        pool.Stop();
        return;
      }
      progress.AddTokens(model.prompt_tokens() - prompt_seen,
                         model.completion_tokens() - completion_seen);
      prompt_seen = model.prompt_tokens();
      completion_seen = model.completion_tokens();
      progress.Add(1);
    });
    if (!failure.ok()) break;
  }
  if (failure.ok()) OCX_RETURN_IF_ERROR(pool.Run());
  if (!failure.ok()) {
    (void)progress.Flush();
    return failure;
  }
  if (model.retries() > 0) {
    std::printf("dataset %s: %lld transient failures retried\n",
                d.abbr().c_str(), static_cast<long long>(model.retries()));
  }
  OCX_RETURN_IF_ERROR(MakeDirs(Dirname(part.output)));
  OCX_RETURN_IF_ERROR(WriteFileAtomic(
      part.output, PredictionsJson(journal->records(), count), /*sync=*/true));
  std::printf("dataset %s: wrote %s\n", d.abbr().c_str(), part.output.c_str());
  std::fflush(stdout);
  return journal->Remove();
}

}  // namespace

absl::Status RunInferTask(const TaskParams& params,
                          const std::string& task_json) {
  if (!IsSafeName(params.model().abbr())) {
    return absl::InvalidArgumentError(
        absl::StrCat("model abbr \"", params.model().abbr(),
                     "\" must match [A-Za-z0-9._-]+"));
  }
  if (params.work_dir().empty() || params.work_dir()[0] != '/') {
    return absl::InvalidArgumentError(
        "work_dir: must be an absolute path in the task file");
  }
  // Configuration errors surface before any request is sent.
  OCX_RETURN_IF_ERROR(
      SettingsFromConfig(params.model(), 0, [](const char* name) {
        return std::getenv(name);
      }).status());
  const std::string task_dir = Dirname(task_json);
  std::vector<Part> parts;
  int64_t total = 0;
  for (const auto& dataset : params.datasets()) {
    OCX_ASSIGN_OR_RETURN(Part part, LoadPart(params, dataset.config()));
    total += static_cast<int64_t>(part.rows.size());
    parts.push_back(std::move(part));
  }
  const int attempt = AttemptFromEnv();
  std::printf(
      "ocx-task infer: task %s attempt %d, model %s, %zu dataset "
      "part(s), %lld samples\n",
      params.task_id().c_str(), attempt, params.model().abbr().c_str(),
      parts.size(), static_cast<long long>(total));
  std::fflush(stdout);
  Progress progress(layout::ProgressFileIn(task_dir), attempt, total);
  for (Part& part : parts) {
    OCX_RETURN_IF_ERROR(RunPart(params, part, task_dir, progress));
  }
  return progress.Flush();
}

}  // namespace ocx::task
