#include "partitioners/plan.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/task_params.h"
#include "common/work_dir_layout.h"
#include "partitioners/fingerprint.h"
#include "partitioners/partitioner.h"
#include "spec/limits.h"

namespace ocx::partitioners {
namespace {

using ocx::v1::Stage;
using ocx::v1::Task;

// One infer output of a (model, dataset) pair.
struct PartOutput {
  int32_t part;
  int32_t count;
  std::string path;
  std::string fingerprint;
  int task;  // index of the infer task that writes it
};

// What the eval stage needs to know about the infer stage.
struct PlanState {
  // Model and dataset indices of the spec.
  absl::flat_hash_map<const ocx::v1::ModelConfig*, int> model_index;
  absl::flat_hash_map<std::string, int> dataset_index;
  // [model * num_datasets + dataset] -> the pair's prediction parts.
  std::vector<std::vector<PartOutput>> pair_parts;
};

// OpenCompass's task name: OpenICLInfer[model/ds1,model/ds2].
std::string TaskName(Stage stage, const std::string& model_abbr,
                     const Partitioning& p, const PlannedTask& planned) {
  std::string name =
      stage == ocx::v1::STAGE_INFER ? "OpenICLInfer[" : "OpenICLEval[";
  for (size_t i = 0; i < planned.parts.size(); ++i) {
    if (i > 0) name += ',';
    absl::StrAppend(&name, model_abbr, "/",
                    p.parts[planned.parts[i]].config().abbr());
  }
  name += ']';
  return name;
}

// Two parts writing the same output: a dataset named like another one's
// part ("gsm8k_0" next to a split "gsm8k").
absl::Status CheckPartNames(const Partitioning& p, const std::string& field) {
  absl::flat_hash_map<std::string, int32_t> seen;
  for (int32_t i = 0; i < static_cast<int32_t>(p.parts.size()); ++i) {
    const ocx::v1::TaskDataset& d = p.parts[i];
    auto [it, inserted] = seen.emplace(d.config().abbr(), i);
    if (inserted) continue;
    auto describe = [](const ocx::v1::TaskDataset& x) {
      return x.num_parts() > 1
                 ? absl::StrCat("part ", x.part(), " of dataset \"",
                                x.base_abbr(), "\"")
                 : absl::StrCat("dataset \"", x.base_abbr(), "\"");
    };
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".partitioner: ", describe(p.parts[it->second]), " and ",
        describe(d), " would both be named \"", d.config().abbr(),
        "\" (and write the same output); rename a dataset"));
  }
  return absl::OkStatus();
}

// Runs one stage's partitioner and appends its tasks. Per part (infer) or
// dataset (eval), the bytes its fingerprints hash are computed once for
// every model.
class StagePlanner {
 public:
  StagePlanner(const ocx::v1::EvaluationSpec& spec, Stage stage,
               const std::string& eval_id, PlanState* state,
               const TaskSink& sink, int64_t* planned)
      : spec_(spec),
        stage_(stage),
        infer_(stage == ocx::v1::STAGE_INFER),
        cfg_(infer_ ? spec.infer() : spec.eval()),
        eval_id_(eval_id),
        state_(state),
        sink_(sink),
        planned_(planned) {}

  // Partitions the stage and checks the plan's size so far (`*planned_`
  // grows by this stage's tasks): a too-large plan costs its partitioning
  // only, and no task is built before both stages are known.
  absl::Status Partition(const PlanOptions& options) {
    const std::string field = layout::StageName(stage_);
    absl::StatusOr<std::unique_ptr<Partitioner>> partitioner =
        MakePartitioner(cfg_.partitioner());
    if (!partitioner.ok()) return Annotate(partitioner.status(), field);
    PartitionInput input;
    input.spec = &spec_;
    input.stage = stage_;
    input.config = &cfg_.partitioner();
    if (!options.num_samples.empty()) input.num_samples = &options.num_samples;
    absl::StatusOr<Partitioning> planned = (*partitioner)->Partition(input);
    if (!planned.ok()) return planned.status();
    p_ = *std::move(planned);
    OCX_RETURN_IF_ERROR(CheckPartNames(p_, field));
    if (options.max_tasks > 0) {
      OCX_RETURN_IF_ERROR(spec::CheckTaskCount(
          *planned_ + static_cast<int64_t>(p_.tasks.size()), options.max_tasks,
          /*at_least=*/infer_));
    }
    *planned_ += static_cast<int64_t>(p_.tasks.size());
    return absl::OkStatus();
  }

  // Builds the partitioned tasks into the sink (the infer stage's first:
  // the eval stage's refer to them).
  absl::Status Build(const std::atomic<bool>* cancel) {
    HashInputs();
    int index = 0;
    for (const PlannedTask& planned_task : p_.tasks) {
      if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
        return absl::CancelledError("planning was stopped");
      }
      sink_(MakeTask(planned_task, index++));
    }
    return absl::OkStatus();
  }

 private:
  void HashInputs() {
    part_dataset_.resize(p_.parts.size());
    part_bytes_.resize(infer_ ? p_.parts.size() : 0);
    dataset_bytes_.resize(infer_ ? 0 : spec_.datasets_size());
    for (size_t k = 0; k < p_.parts.size(); ++k) {
      const int di = state_->dataset_index.at(p_.parts[k].base_abbr());
      part_dataset_[k] = di;
      if (infer_) {
        part_bytes_[k] = InferPartBytes(p_.parts[k].config());
      } else if (dataset_bytes_[di].empty()) {
        dataset_bytes_[di] = EvalDatasetBytes(spec_.datasets(di));
      }
    }
    for (const ocx::v1::ModelConfig& m : spec_.models()) {
      prefixes_.emplace(&m, OutputHashPrefix(stage_, ModelFingerprintBytes(m)));
    }
  }

  std::vector<PartOutput>& PairParts(int model, int dataset) {
    return state_
        ->pair_parts[static_cast<size_t>(model) * spec_.datasets_size() +
                     dataset];
  }

  Task MakeTask(const PlannedTask& planned_task, int index) {
    const ocx::v1::ModelConfig& model = *planned_task.model;
    Task t;
    t.set_id(
        absl::StrCat(eval_id_, "-", layout::StageName(stage_), "-", index));
    t.set_evaluation_id(eval_id_);
    t.set_stage(stage_);
    t.set_index(index);
    t.set_name(TaskName(stage_, model.abbr(), p_, planned_task));
    t.set_state(Task::READY);
    t.set_model_abbr(model.abbr());
    t.set_max_attempts(cfg_.runner().retry() + 1);
    ocx::v1::TaskParams* params = t.mutable_params();
    // Configs by reference, and no ids, stage or work dir: the spec and the
    // task's row hold them once (common/task_params.h).
    *params->mutable_model() = ModelStub(model);
    params->mutable_refs()->set_model(state_->model_index.at(&model));
    int gpus = infer_ ? model.run_cfg().num_gpus() : 0;
    std::vector<std::string> output_fps;
    // Producer task indices, in first-seen order, each once.
    std::vector<int> deps;
    absl::flat_hash_set<int> seen_deps;
    for (int32_t k : planned_task.parts) {
      const ocx::v1::TaskDataset& d = p_.parts[k];
      t.add_dataset_abbrs(d.config().abbr());
      std::string fp = infer_
                           ? AddInferPart(model, k, index, params)
                           : AddEvalPart(model, k, params, &deps, &seen_deps);
      if (!infer_) gpus = std::max(gpus, d.config().eval_cfg().num_gpus());
      params->add_output_fingerprints(fp);
      output_fps.push_back(std::move(fp));
      ocx::v1::TaskDataset* td = params->add_datasets();
      *td->mutable_config() = DatasetStub(d.config());
      td->set_base_abbr(d.base_abbr());
      td->set_part(d.part());
      td->set_num_parts(d.num_parts());
      td->set_num_samples(d.num_samples());
      td->set_cost(d.cost());
      params->mutable_refs()->add_datasets(part_dataset_[k]);
    }
    params->set_fingerprint(TaskFingerprint(stage_, output_fps));
    t.set_num_gpus(gpus);
    // Infer tasks are planned first: infer task `dep` has index dep.
    for (int dep : deps) {
      t.add_depends_on(absl::StrCat(
          eval_id_, "-", layout::StageName(ocx::v1::STAGE_INFER), "-", dep));
    }
    if (t.depends_on_size() > 0) t.set_state(Task::PENDING);
    return t;
  }

  // The prediction of part `k`; returns its fingerprint.
  std::string AddInferPart(const ocx::v1::ModelConfig& model, int32_t k,
                           int task_index, ocx::v1::TaskParams* params) {
    const ocx::v1::TaskDataset& d = p_.parts[k];
    const std::string path =
        layout::PredictionFile(model.abbr(), d.config().abbr());
    std::string fp = InferOutputFingerprintFromBytes(
        prefixes_.at(&model), part_bytes_[k], cfg_.runner().task());
    params->add_expected_outputs(path);
    PairParts(state_->model_index.at(&model), part_dataset_[k])
        .push_back({d.part(), d.num_parts(), path, fp, task_index});
    return fp;
  }

  // The result of dataset part `k` (a whole dataset), with its parts
  // manifest and dependencies; returns its fingerprint.
  std::string AddEvalPart(const ocx::v1::ModelConfig& model, int32_t k,
                          ocx::v1::TaskParams* params, std::vector<int>* deps,
                          absl::flat_hash_set<int>* seen_deps) {
    const ocx::v1::TaskDataset& d = p_.parts[k];
    const int di = part_dataset_[k];
    std::vector<PartOutput>& parts =
        PairParts(state_->model_index.at(&model), di);
    std::sort(parts.begin(), parts.end(),
              [](const PartOutput& a, const PartOutput& b) {
                return a.part < b.part;
              });
    std::vector<std::string> part_fps;
    part_fps.reserve(parts.size());
    for (const PartOutput& po : parts) {
      part_fps.push_back(po.fingerprint);
      params->add_required_inputs(po.path);
      ocx::v1::PartsManifest::Part* part =
          params->mutable_parts_manifest()->add_parts();
      part->set_dataset_abbr(d.base_abbr());
      part->set_index(po.part);
      part->set_count(po.count);
      part->set_path(po.path);
      if (seen_deps->insert(po.task).second) deps->push_back(po.task);
    }
    params->add_expected_outputs(
        layout::ResultFile(model.abbr(), d.base_abbr()));
    return EvalOutputFingerprintFromBytes(prefixes_.at(&model),
                                          dataset_bytes_[di],
                                          cfg_.runner().task(), part_fps);
  }

  const ocx::v1::EvaluationSpec& spec_;
  const Stage stage_;
  const bool infer_;
  const ocx::v1::StageConfig& cfg_;
  const std::string& eval_id_;
  PlanState* const state_;
  const TaskSink& sink_;
  int64_t* const planned_;

  Partitioning p_;
  std::vector<int> part_dataset_;           // per part: its spec dataset
  std::vector<std::string> part_bytes_;     // per part (infer)
  std::vector<std::string> dataset_bytes_;  // per dataset (eval)
  absl::flat_hash_map<const ocx::v1::ModelConfig*, Fnv1a64> prefixes_;
};

}  // namespace

bool NeedsDatasetSizes(const ocx::v1::EvaluationSpec& spec) {
  const std::pair<Stage, const ocx::v1::StageConfig*> stages[] = {
      {ocx::v1::STAGE_INFER, &spec.infer()},
      {ocx::v1::STAGE_EVAL, &spec.eval()}};
  for (const auto& [stage, cfg] : stages) {
    absl::StatusOr<std::unique_ptr<Partitioner>> p =
        MakePartitioner(cfg->partitioner());
    if (p.ok() && (*p)->NeedsDatasetSizes(stage)) return true;
  }
  return false;
}

absl::StatusOr<std::vector<Task>> PlanTasks(const ocx::v1::EvaluationSpec& spec,
                                            const std::string& eval_id,
                                            const PlanOptions& options) {
  std::vector<Task> tasks;
  OCX_RETURN_IF_ERROR(PlanTasksTo(spec, eval_id, options, [&tasks](Task t) {
    tasks.push_back(std::move(t));
  }));
  return tasks;
}

absl::Status PlanTasksTo(const ocx::v1::EvaluationSpec& spec,
                         const std::string& eval_id, const PlanOptions& options,
                         const TaskSink& sink) {
  PlanState state;
  for (int i = 0; i < spec.models_size(); ++i) {
    state.model_index[&spec.models(i)] = i;
  }
  for (int i = 0; i < spec.datasets_size(); ++i) {
    state.dataset_index[spec.datasets(i).abbr()] = i;
  }
  state.pair_parts.resize(static_cast<size_t>(spec.models_size()) *
                          spec.datasets_size());
  int64_t planned = 0;
  StagePlanner infer(spec, ocx::v1::STAGE_INFER, eval_id, &state, sink,
                     &planned);
  StagePlanner eval(spec, ocx::v1::STAGE_EVAL, eval_id, &state, sink, &planned);
  OCX_RETURN_IF_ERROR(infer.Partition(options));
  OCX_RETURN_IF_ERROR(eval.Partition(options));
  if (options.on_count) OCX_RETURN_IF_ERROR(options.on_count(planned));
  OCX_RETURN_IF_ERROR(infer.Build(options.cancel));
  return eval.Build(options.cancel);
}

namespace {

// Marks one task of a plan visited in order (dependencies come before their
// dependents: infer before eval); `states` holds the states of the tasks
// visited so far. Returns whether it is reused.
bool MarkReused(Task* t, absl::flat_hash_map<std::string, Task::State>* states,
                const OutputMatcher& matches) {
  bool deps_reused = true;
  for (const std::string& dep : t->depends_on()) {
    auto it = states->find(dep);
    if (it == states->end() || it->second != Task::SUCCEEDED) {
      deps_reused = false;
      break;
    }
  }
  const ocx::v1::TaskParams& p = t->params();
  bool outputs_match =
      deps_reused && p.expected_outputs_size() > 0 &&
      p.output_fingerprints_size() == p.expected_outputs_size();
  for (int i = 0; outputs_match && i < p.expected_outputs_size(); ++i) {
    outputs_match = matches(p.expected_outputs(i), p.output_fingerprints(i));
  }
  if (outputs_match) {
    t->set_state(Task::SUCCEEDED);
    t->set_reason(kReusedReason);
  } else {
    t->set_state(deps_reused ? Task::READY : Task::PENDING);
  }
  (*states)[t->id()] = t->state();
  return outputs_match;
}

}  // namespace

int MarkReusedTasks(std::vector<Task>* tasks, const OutputMatcher& matches) {
  absl::flat_hash_map<std::string, Task::State> states;
  states.reserve(tasks->size());
  int reused = 0;
  for (Task& t : *tasks) reused += MarkReused(&t, &states, matches) ? 1 : 0;
  return reused;
}

int MarkReusedTasks(TaskRows* rows, const OutputMatcher& matches) {
  absl::flat_hash_map<std::string, Task::State> states;
  states.reserve(rows->size());
  int reused = 0;
  TaskRows marked;
  for (Task t : *rows) {
    reused += MarkReused(&t, &states, matches) ? 1 : 0;
    marked.Add(t);
  }
  *rows = std::move(marked);
  return reused;
}

}  // namespace ocx::partitioners
