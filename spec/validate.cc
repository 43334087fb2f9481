#include "spec/validate.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/field_check.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "runners/dlc/config.h"
#include "runners/local/config.h"
#include "runners/slurm/config.h"
#include "spec/partitioner_defaults.h"
#include "spec/placeholders.h"
#include "spec/serve_check.h"
#include "spec/stall_check.h"
#include "spec/test_range.h"
#include "task/eval/type_names.h"

namespace ocx::spec {
namespace {

using ::ocx::field::Bad;
using ::ocx::field::CheckAtLeastZero;
using ::ocx::field::CheckInRange;
using ::ocx::field::CheckNoNul;
using ::ocx::field::Index;
using ::ocx::field::IsEnvVarName;
using ::ocx::field::Quote;
using ::ocx::field::Sub;
using ::ocx::v1::DatasetConfig;
using ::ocx::v1::EvaluationSpec;
using ::ocx::v1::ModelConfig;
using ::ocx::v1::PartitionerConfig;
using ::ocx::v1::RunnerConfig;
using ::ocx::v1::StageConfig;
using ::ocx::v1::TaskConfig;

constexpr char kNaivePartitioner[] = "NaivePartitioner";
constexpr char kSizePartitioner[] = "SizePartitioner";
constexpr char kNumWorkerPartitioner[] = "NumWorkerPartitioner";
constexpr char kInferTask[] = "OpenICLInferTask";
constexpr char kEvalTask[] = "OpenICLEvalTask";
constexpr char kCommandTask[] = "command";

constexpr int kMaxGpusPerTask = 64;
constexpr int kMaxProcsPerTask = 64;
constexpr int kMaxRetry = 100;
constexpr int kMaxNaiveN = 10000;
// Partitioner bounds: far above any real setting, low enough that
// factor x samples and part counts stay well inside int64.
constexpr int64_t kMaxTaskSize = int64_t{1} << 50;
constexpr int64_t kMaxFactor = 1000000;
constexpr int64_t kMaxNumWorkerSplit = 100000;
constexpr int kMaxNumWorkers = 4096;
constexpr int kMaxWorkersPerGpu = 64;
constexpr size_t kMaxWorkDirBytes = 4096;
// EvaluationSpec.priority: wide enough for any ordering a user wants, small
// enough to stay readable.
constexpr int kMaxPriority = 1000;
constexpr size_t kMaxKnownListed = 20;

// Abbrs become file and directory names.
absl::Status CheckAbbr(absl::string_view path, absl::string_view abbr) {
  if (abbr.empty()) return Bad(path, "required; must match [A-Za-z0-9._-]+");
  if (IsSafeName(abbr)) return absl::OkStatus();
  if (abbr == "." || abbr == "..") {
    return Bad(path, absl::StrCat("must match [A-Za-z0-9._-]+ and not be "
                                  "\".\" or \"..\", got ",
                                  Quote(abbr)));
  }
  bool charset_ok = std::all_of(abbr.begin(), abbr.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
  if (charset_ok) {
    return Bad(path,
               absl::StrCat("must match [A-Za-z0-9._-]+ and be at most 128 "
                            "bytes, got ",
                            abbr.size(), " bytes"));
  }
  return Bad(path,
             absl::StrCat("must match [A-Za-z0-9._-]+, got ", Quote(abbr)));
}

// Records abbr → path of its first use; error on the second.
absl::Status CheckUnique(absl::string_view path, const std::string& abbr,
                         const std::string& first_path,
                         absl::flat_hash_map<std::string, std::string>* seen) {
  auto [it, inserted] = seen->emplace(abbr, first_path);
  if (!inserted) {
    return Bad(path, absl::StrCat("duplicate ", Quote(abbr), " (also ",
                                  it->second, ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateModel(
    const ModelConfig& m, const std::string& path,
    absl::flat_hash_map<std::string, std::string>* seen) {
  OCX_RETURN_IF_ERROR(CheckAbbr(Sub(path, "abbr"), m.abbr()));
  OCX_RETURN_IF_ERROR(CheckUnique(Sub(path, "abbr"), m.abbr(), path, seen));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "max_out_len"), int64_t{m.max_out_len()}));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "batch_size"), int64_t{m.batch_size()}));
  OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "run_cfg.num_gpus"),
                                   m.run_cfg().num_gpus(), 0, kMaxGpusPerTask));
  OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "run_cfg.num_procs"),
                                   m.run_cfg().num_procs(), 0,
                                   kMaxProcsPerTask));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "max_seq_len"), int64_t{m.max_seq_len()}));
  if (!m.key_env().empty() && !IsEnvVarName(m.key_env())) {
    // Never echo the value: it may be the key itself.
    return Bad(Sub(path, "key_env"),
               "must be the name of an environment variable "
               "([A-Za-z_][A-Za-z0-9_]*) that holds the key, not the key");
  }
  if (m.has_temperature() && !(m.temperature() >= 0 && m.temperature() <= 2)) {
    return Bad(Sub(path, "temperature"),
               absl::StrCat("must be in [0, 2], got ", m.temperature()));
  }
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "query_per_second"), m.query_per_second()));
  OCX_RETURN_IF_ERROR(CheckAtLeastZero(Sub(path, "max_concurrency"),
                                       int64_t{m.max_concurrency()}));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "timeout_s"), int64_t{m.timeout_s()}));
  if (m.has_retry()) {
    OCX_RETURN_IF_ERROR(
        CheckInRange(Sub(path, "retry"), m.retry(), 0, kMaxRetry));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view path, absl::string_view text) {
  absl::StatusOr<TestRange> range = ParseTestRange(text);
  if (!range.ok()) return Bad(path, range.status().message());
  return absl::OkStatus();
}

absl::Status ValidateDataset(
    const DatasetConfig& d, const std::string& path,
    absl::flat_hash_map<std::string, std::string>* seen) {
  OCX_RETURN_IF_ERROR(CheckAbbr(Sub(path, "abbr"), d.abbr()));
  OCX_RETURN_IF_ERROR(CheckUnique(Sub(path, "abbr"), d.abbr(), path, seen));
  const std::string reader = Sub(path, "reader_cfg");
  OCX_RETURN_IF_ERROR(
      CheckRange(Sub(reader, "test_range"), d.reader_cfg().test_range()));
  OCX_RETURN_IF_ERROR(
      CheckRange(Sub(reader, "train_range"), d.reader_cfg().train_range()));
  const std::string infer = Sub(path, "infer_cfg");
  const auto& fix_ids = d.infer_cfg().retriever().fix_id_list();
  for (int i = 0; i < fix_ids.size(); ++i) {
    OCX_RETURN_IF_ERROR(CheckAtLeastZero(
        Index(Sub(infer, "retriever.fix_id_list"), i), int64_t{fix_ids[i]}));
  }
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(infer, "inferencer.max_out_len"),
                       int64_t{d.infer_cfg().inferencer().max_out_len()}));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(infer, "inferencer.batch_size"),
                       int64_t{d.infer_cfg().inferencer().batch_size()}));
  OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "eval_cfg.num_gpus"),
                                   d.eval_cfg().num_gpus(), 0,
                                   kMaxGpusPerTask));
  OCX_RETURN_IF_ERROR(CheckAtLeastZero(Sub(path, "n"), int64_t{d.n()}));
  OCX_RETURN_IF_ERROR(CheckAtLeastZero(Sub(path, "k"), int64_t{d.k()}));
  if (d.n() > 0 && d.k() > 0 && d.k() > d.n()) {
    return Bad(Sub(path, "k"),
               absl::StrCat("must be <= n (", d.n(), "), got ", d.k()));
  }
  OCX_RETURN_IF_ERROR(CheckAtLeastZero(Sub(path, "size"), d.size()));
  const std::string& format = d.format();
  if (!format.empty() && format != "jsonl" && format != "json" &&
      format != "csv") {
    return Bad(Sub(path, "format"),
               absl::StrCat("unknown format ", Quote(format),
                            " (known: jsonl, json, csv)"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePartitioner(const PartitionerConfig& p,
                                 const std::string& path) {
  const std::string& type = p.type();
  if (!type.empty() && type != kNaivePartitioner && type != kSizePartitioner &&
      type != kNumWorkerPartitioner) {
    return Bad(Sub(path, "type"),
               absl::StrCat("unknown partitioner ", Quote(type), " (known: ",
                            kNaivePartitioner, ", ", kSizePartitioner, ", ",
                            kNumWorkerPartitioner, ")"));
  }
  const bool naive = type.empty() || type == kNaivePartitioner;
  const bool size = type == kSizePartitioner;
  const bool num_worker = type == kNumWorkerPartitioner;
  // Each setting in declaration order: an error when it belongs to another
  // partitioner type, else its range.
  auto only_for = [&](absl::string_view field, absl::string_view owner) {
    return Bad(Sub(path, field), absl::StrCat("only for ", owner));
  };
  auto at_least_one = [&](absl::string_view field, int64_t v,
                          int64_t max) -> absl::Status {
    if (v < 1 || v > max) {
      return Bad(Sub(path, field),
                 v < 1 ? absl::StrCat("must be >= 1, got ", v)
                       : absl::StrCat("must be at most ", max, ", got ", v));
    }
    return absl::OkStatus();
  };
  if (p.n() != 0 && !naive) return only_for("n", kNaivePartitioner);
  OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "n"), p.n(), 0, kMaxNaiveN));
  if (p.has_max_task_size()) {
    if (!size) return only_for("max_task_size", kSizePartitioner);
    OCX_RETURN_IF_ERROR(
        at_least_one("max_task_size", p.max_task_size(), kMaxTaskSize));
  }
  if (p.has_gen_task_coef()) {
    if (!size) return only_for("gen_task_coef", kSizePartitioner);
    OCX_RETURN_IF_ERROR(
        at_least_one("gen_task_coef", p.gen_task_coef(), kMaxFactor));
  }
  if (!p.strategy().empty()) {
    if (naive) {
      return only_for("strategy", "SizePartitioner and NumWorkerPartitioner");
    }
    if (p.strategy() != kStrategyHeuristic && p.strategy() != kStrategySplit) {
      return Bad(Sub(path, "strategy"),
                 absl::StrCat("unknown strategy ", Quote(p.strategy()),
                              " (known: ", kStrategyHeuristic, ", ",
                              kStrategySplit, ")"));
    }
  }
  if (p.has_num_worker()) {
    if (!num_worker) return only_for("num_worker", kNumWorkerPartitioner);
    OCX_RETURN_IF_ERROR(
        at_least_one("num_worker", p.num_worker(), kMaxNumWorkerSplit));
  }
  if (p.has_num_split()) {
    if (!num_worker) return only_for("num_split", kNumWorkerPartitioner);
    OCX_RETURN_IF_ERROR(at_least_one(  // 0 is num_worker, as in OpenCompass
        "num_split", p.num_split() == 0 ? 1 : p.num_split(),
        kMaxNumWorkerSplit));
  }
  if (p.has_min_task_size()) {
    if (!num_worker) return only_for("min_task_size", kNumWorkerPartitioner);
    OCX_RETURN_IF_ERROR(
        at_least_one("min_task_size", p.min_task_size(), INT32_MAX));
  }
  if (!p.heavy_datasets().empty()) {
    if (!size) return only_for("heavy_datasets", kSizePartitioner);
    for (int i = 0; i < p.heavy_datasets_size(); ++i) {
      const std::string field = Index(Sub(path, "heavy_datasets"), i);
      if (p.heavy_datasets(i).empty()) {
        return Bad(field, "must not be empty (an fnmatch pattern of abbrs)");
      }
      OCX_RETURN_IF_ERROR(CheckNoNul(field, p.heavy_datasets(i)));
    }
  }
  if (p.has_heavy_factor()) {
    if (!size) return only_for("heavy_factor", kSizePartitioner);
    OCX_RETURN_IF_ERROR(
        at_least_one("heavy_factor", p.heavy_factor(), kMaxFactor));
  }
  return absl::OkStatus();
}

// Fills the unset settings of the chosen partitioner (spec/
// partitioner_defaults.h); settings of other types stay unset.
void ApplyPartitionerDefaults(PartitionerConfig* p) {
  if (p->type() == kNaivePartitioner) {
    if (p->n() == 0) p->set_n(1);
    return;
  }
  if (p->strategy().empty()) p->set_strategy(kStrategyHeuristic);
  if (p->type() == kSizePartitioner) {
    if (!p->has_max_task_size()) p->set_max_task_size(kDefaultMaxTaskSize);
    if (!p->has_gen_task_coef()) p->set_gen_task_coef(kDefaultGenTaskCoef);
    if (p->heavy_datasets().empty()) {
      for (const char* pattern : kDefaultHeavyDatasets) {
        p->add_heavy_datasets(pattern);
      }
    }
    if (!p->has_heavy_factor()) p->set_heavy_factor(kDefaultHeavyFactor);
  } else if (p->type() == kNumWorkerPartitioner) {
    if (!p->has_num_worker()) p->set_num_worker(kDefaultNumWorker);
    if (!p->has_num_split() || p->num_split() == 0) {
      p->set_num_split(p->num_worker());
    }
    if (!p->has_min_task_size()) p->set_min_task_size(kDefaultMinTaskSize);
  }
}

absl::Status ValidateTask(const TaskConfig& t, const std::string& path,
                          absl::string_view stage) {
  const bool infer = stage == "infer";
  const char* own_type = infer ? kInferTask : kEvalTask;
  const char* other_type = infer ? kEvalTask : kInferTask;
  const std::string& type = t.type();
  if (type == other_type) {
    return Bad(Sub(path, "type"),
               absl::StrCat(type, " is for the ", infer ? "eval" : "infer",
                            " stage (known here: ", own_type, ", ",
                            kCommandTask, ")"));
  }
  if (!type.empty() && type != own_type && type != kCommandTask) {
    return Bad(Sub(path, "type"),
               absl::StrCat("unknown task type ", Quote(type),
                            " (known: ", own_type, ", ", kCommandTask, ")"));
  }
  const std::string argv_path = Sub(path, "argv");
  if (type == kCommandTask) {
    if (t.argv().empty()) {
      return Bad(argv_path, "required for type command");
    }
    if (t.argv(0).empty()) {
      return Bad(Index(argv_path, 0), "must not be empty (the program)");
    }
    for (int i = 0; i < t.argv_size(); ++i) {
      OCX_RETURN_IF_ERROR(CheckNoNul(Index(argv_path, i), t.argv(i)));
      absl::Status s = CheckPlaceholders(t.argv(i));
      if (!s.ok()) return Bad(Index(argv_path, i), s.message());
    }
  } else if (!t.argv().empty()) {
    return Bad(argv_path, "only for type command");
  }
  OCX_RETURN_IF_ERROR(field::CheckEnvMap(Sub(path, "env"), t.env()));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "timeout_s"), int64_t{t.timeout_s()}));
  return absl::OkStatus();
}

// What spec validation needs of each runner type; each backend's own module
// (runners/<backend>/config.h) holds its rules. Local first: the default.
struct RunnerType {
  const char* name;
  std::vector<std::string> (*stage_fields_set)(const RunnerConfig&);
  absl::Status (*validate)(const RunnerConfig&, const std::string&);
  void (*apply_defaults)(RunnerConfig*);
};
const RunnerType kRunnerTypes[] = {
    {runners::local::kRunnerType, runners::local::StageFieldsSet,
     runners::local::ValidateStageRunner, runners::local::ApplyStageDefaults},
    {runners::slurm::kRunnerType, runners::slurm::StageFieldsSet,
     runners::slurm::ValidateStageRunner, runners::slurm::ApplyStageDefaults},
    {runners::dlc::kRunnerType, runners::dlc::StageFieldsSet,
     runners::dlc::ValidateStageRunner, runners::dlc::ApplyStageDefaults},
};

const RunnerType* FindRunnerType(absl::string_view name) {
  for (const RunnerType& t : kRunnerTypes) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

absl::Status ValidateRunner(const RunnerConfig& r, const std::string& path,
                            absl::string_view stage) {
  const RunnerType* chosen =
      FindRunnerType(r.type().empty() ? runners::local::kRunnerType : r.type());
  if (chosen == nullptr) {
    std::vector<std::string> known;
    for (const RunnerType& t : kRunnerTypes) known.push_back(t.name);
    return Bad(Sub(path, "type"),
               absl::StrCat("unknown runner ", Quote(r.type()),
                            " (known: ", absl::StrJoin(known, ", "), ")"));
  }
  OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "max_num_workers"),
                                   r.max_num_workers(), 0, kMaxNumWorkers));
  OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "max_workers_per_gpu"),
                                   r.max_workers_per_gpu(), 0,
                                   kMaxWorkersPerGpu));
  if (r.has_retry()) {
    OCX_RETURN_IF_ERROR(
        CheckInRange(Sub(path, "retry"), r.retry(), 0, kMaxRetry));
  }
  OCX_RETURN_IF_ERROR(ValidateTask(r.task(), Sub(path, "task"), stage));
  // Settings of the other runners, in declaration order.
  for (const RunnerType& t : kRunnerTypes) {
    if (&t == chosen) continue;
    std::vector<std::string> set = t.stage_fields_set(r);
    if (!set.empty()) {
      return Bad(Sub(path, set.front()), absl::StrCat("only for ", t.name));
    }
  }
  return chosen->validate(r, path);
}

absl::Status ValidateStage(const StageConfig& s, absl::string_view stage) {
  const std::string path(stage);
  OCX_RETURN_IF_ERROR(
      ValidatePartitioner(s.partitioner(), Sub(path, "partitioner")));
  OCX_RETURN_IF_ERROR(ValidateRunner(s.runner(), Sub(path, "runner"), stage));
  return ValidateStallAfter(s, stage);
}

// The infer-side settings ocx-task relies on (task/infer/), checked when
// the infer stage runs OpenICLInferTask (the default): values that are set
// must be ones ocx-task understands. Settings it cannot run without (the
// model's openai_api_base) are not required here, because a spec must stay
// valid after ApplyDefaults names the task type; ocx-task reports them with
// the same field path when the task starts.
absl::Status ValidateInferSide(const EvaluationSpec& spec) {
  const std::string& task_type = spec.infer().runner().task().type();
  if (!task_type.empty() && task_type != kInferTask) return absl::OkStatus();
  for (int i = 0; i < spec.models_size(); ++i) {
    const ModelConfig& m = spec.models(i);
    const std::string path = Index("models", i);
    if (!m.type().empty() && m.type() != "OpenAISDK" && m.type() != "OpenAI") {
      return Bad(Sub(path, "type"),
                 absl::StrCat("unknown model type ", Quote(m.type()),
                              " for OpenICLInferTask (known: OpenAISDK, "
                              "OpenAI; run other models with task type "
                              "command)"));
    }
    const std::string& base = m.openai_api_base();
    if (!base.empty() && !absl::StartsWith(base, "http://") &&
        !absl::StartsWith(base, "https://")) {
      return Bad(Sub(path, "openai_api_base"),
                 absl::StrCat("must start with http:// or https://, got ",
                              Quote(base)));
    }
    if (!m.api().empty() && m.api() != "chat" && m.api() != "completions") {
      return Bad(Sub(path, "api"), absl::StrCat("unknown api ", Quote(m.api()),
                                                " (known: chat, completions)"));
    }
  }
  for (int i = 0; i < spec.datasets_size(); ++i) {
    const ocx::v1::InferConfig& c = spec.datasets(i).infer_cfg();
    const std::string path = Sub(Index("datasets", i), "infer_cfg");
    const std::string& inferencer = c.inferencer().type();
    if (!inferencer.empty() && inferencer != "GenInferencer" &&
        inferencer != "PPLInferencer") {
      return Bad(Sub(path, "inferencer.type"),
                 absl::StrCat("unknown inferencer ", Quote(inferencer),
                              " (known: GenInferencer, PPLInferencer)"));
    }
    const std::string& retriever = c.retriever().type();
    if (!retriever.empty() && retriever != "ZeroRetriever" &&
        retriever != "FixKRetriever") {
      return Bad(Sub(path, "retriever.type"),
                 absl::StrCat("unknown retriever ", Quote(retriever),
                              " (known: ZeroRetriever, FixKRetriever)"));
    }
    if (inferencer == "PPLInferencer" && c.prompt_template().has_template_() &&
        !c.prompt_template().template_().has_struct_value()) {
      return Bad(Sub(path, "prompt_template.template"),
                 "must map each label to its template for PPLInferencer");
    }
    if (inferencer == "PPLInferencer" &&
        c.prompt_template().template_().has_struct_value() &&
        c.prompt_template().template_().struct_value().fields().empty()) {
      return Bad(Sub(path, "prompt_template.template"),
                 "must map at least one label to its template");
    }
  }
  return absl::OkStatus();
}

// The eval-side settings ocx-task eval relies on (task/eval/), checked
// when the eval stage runs OpenICLEvalTask (the default): evaluator and
// postprocessor types that are set must be ones it implements
// (task/eval/type_names.h).
absl::Status ValidateEvalSide(const EvaluationSpec& spec) {
  const std::string& task_type = spec.eval().runner().task().type();
  if (!task_type.empty() && task_type != kEvalTask) return absl::OkStatus();
  const std::vector<std::string>& evaluators = task::eval::KnownEvaluators();
  const std::vector<std::string>& postprocessors =
      task::eval::KnownPostprocessors();
  auto check = [](const std::string& path, const std::string& type,
                  const char* what,
                  const std::vector<std::string>& known) -> absl::Status {
    if (type.empty()) return absl::OkStatus();
    if (std::find(known.begin(), known.end(), type) != known.end()) {
      return absl::OkStatus();
    }
    return Bad(path,
               absl::StrCat("unknown ", what, " ", Quote(type),
                            " (known: ", absl::StrJoin(known, ", "), ")"));
  };
  for (int i = 0; i < spec.models_size(); ++i) {
    OCX_RETURN_IF_ERROR(
        check(Sub(Index("models", i), "pred_postprocessor.type"),
              spec.models(i).pred_postprocessor().type(), "postprocessor",
              postprocessors));
  }
  for (int i = 0; i < spec.datasets_size(); ++i) {
    const ocx::v1::EvalConfig& c = spec.datasets(i).eval_cfg();
    const std::string path = Sub(Index("datasets", i), "eval_cfg");
    OCX_RETURN_IF_ERROR(check(Sub(path, "evaluator.type"), c.evaluator().type(),
                              "evaluator", evaluators));
    OCX_RETURN_IF_ERROR(check(Sub(path, "pred_postprocessor.type"),
                              c.pred_postprocessor().type(), "postprocessor",
                              postprocessors));
    OCX_RETURN_IF_ERROR(check(Sub(path, "dataset_postprocessor.type"),
                              c.dataset_postprocessor().type(), "postprocessor",
                              postprocessors));
  }
  return absl::OkStatus();
}

std::string KnownAbbrs(const EvaluationSpec& spec) {
  std::vector<std::string> abbrs;
  for (const DatasetConfig& d : spec.datasets()) {
    if (abbrs.size() == kMaxKnownListed) {
      abbrs.push_back("...");
      break;
    }
    abbrs.push_back(d.abbr());
  }
  return absl::StrJoin(abbrs, ", ");
}

void ApplyStageDefaults(StageConfig* s, absl::string_view stage) {
  PartitionerConfig* p = s->mutable_partitioner();
  if (p->type().empty()) p->set_type(kNaivePartitioner);
  ApplyPartitionerDefaults(p);
  RunnerConfig* r = s->mutable_runner();
  if (r->type().empty()) r->set_type(runners::local::kRunnerType);
  if (const RunnerType* t = FindRunnerType(r->type()); t != nullptr) {
    t->apply_defaults(r);
  }
  if (!r->has_retry()) r->set_retry(2);
  TaskConfig* t = r->mutable_task();
  if (t->type().empty()) {
    t->set_type(stage == "infer" ? kInferTask : kEvalTask);
  }
}

}  // namespace

absl::Status ValidateEvaluationSpec(const EvaluationSpec& spec) {
  if (spec.models().empty()) {
    return Bad("models", "must list at least one model");
  }
  absl::flat_hash_map<std::string, std::string> seen;
  for (int i = 0; i < spec.models_size(); ++i) {
    OCX_RETURN_IF_ERROR(
        ValidateModel(spec.models(i), Index("models", i), &seen));
  }
  if (spec.datasets().empty()) {
    return Bad("datasets", "must list at least one dataset");
  }
  seen.clear();
  for (int i = 0; i < spec.datasets_size(); ++i) {
    OCX_RETURN_IF_ERROR(
        ValidateDataset(spec.datasets(i), Index("datasets", i), &seen));
  }
  OCX_RETURN_IF_ERROR(CheckNoNul("work_dir", spec.work_dir()));
  if (spec.work_dir().size() > kMaxWorkDirBytes) {
    return Bad("work_dir",
               absl::StrCat("must be at most ", kMaxWorkDirBytes,
                            " bytes, got ", spec.work_dir().size()));
  }
  if (spec.priority() < -kMaxPriority || spec.priority() > kMaxPriority) {
    return Bad("priority",
               absl::StrCat("must be between ", -kMaxPriority, " and ",
                            kMaxPriority, ", got ", spec.priority()));
  }
  OCX_RETURN_IF_ERROR(ValidateStage(spec.infer(), "infer"));
  OCX_RETURN_IF_ERROR(ValidateStage(spec.eval(), "eval"));
  OCX_RETURN_IF_ERROR(ValidateServeModels(spec));
  OCX_RETURN_IF_ERROR(ValidateInferSide(spec));
  OCX_RETURN_IF_ERROR(ValidateEvalSide(spec));
  absl::flat_hash_set<std::string> datasets;
  for (const DatasetConfig& d : spec.datasets()) datasets.insert(d.abbr());
  const auto& abbrs = spec.summarizer().dataset_abbrs();
  for (int i = 0; i < abbrs.size(); ++i) {
    if (!datasets.contains(abbrs[i])) {
      return Bad(Index("summarizer.dataset_abbrs", i),
                 absl::StrCat("unknown dataset ", Quote(abbrs[i]),
                              " (known: ", KnownAbbrs(spec), ")"));
    }
  }
  return absl::OkStatus();
}

void ApplyDefaults(EvaluationSpec* spec) {
  for (ModelConfig& m : *spec->mutable_models()) {
    if (m.run_cfg().num_procs() == 0) m.mutable_run_cfg()->set_num_procs(1);
  }
  ApplyServeDefaults(spec);
  ApplyStageDefaults(spec->mutable_infer(), "infer");
  ApplyStageDefaults(spec->mutable_eval(), "eval");
}

}  // namespace ocx::spec
