#include "partitioners/plan.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "partitioners/fingerprint.h"
#include "partitioners/partitioner.h"

namespace ocx::partitioners {
namespace {

using ocx::v1::Stage;
using ocx::v1::Task;

const char* StageWord(Stage stage) {
  return stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
}

// One infer output of a (model, dataset) pair.
struct PartOutput {
  int32_t part;
  std::string path;
  std::string fingerprint;
  int task;  // index into the planned tasks
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
absl::Status CheckPartNames(const Partitioning& p, const char* field) {
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

absl::Status AddStage(const ocx::v1::EvaluationSpec& spec, Stage stage,
                      const std::string& eval_id, const std::string& work_dir,
                      const PlanOptions& options, PlanState* state,
                      std::vector<Task>* out) {
  const bool infer = stage == ocx::v1::STAGE_INFER;
  const ocx::v1::StageConfig& cfg = infer ? spec.infer() : spec.eval();
  const char* field = StageWord(stage);
  absl::StatusOr<std::unique_ptr<Partitioner>> partitioner =
      MakePartitioner(cfg.partitioner());
  if (!partitioner.ok()) return Annotate(partitioner.status(), field);
  PartitionInput input;
  input.spec = &spec;
  input.stage = stage;
  input.config = &cfg.partitioner();
  if (!options.num_samples.empty()) input.num_samples = &options.num_samples;
  absl::StatusOr<Partitioning> planned = (*partitioner)->Partition(input);
  if (!planned.ok()) return planned.status();
  Partitioning& p = *planned;
  OCX_RETURN_IF_ERROR(CheckPartNames(p, field));

  const int num_datasets = spec.datasets_size();
  // Per part: its spec dataset. Per part (infer) or dataset (eval): the
  // bytes its fingerprints hash, computed once for every model.
  std::vector<int> part_dataset(p.parts.size());
  std::vector<std::string> part_bytes(infer ? p.parts.size() : 0);
  std::vector<std::string> dataset_bytes(infer ? 0 : num_datasets);
  for (size_t k = 0; k < p.parts.size(); ++k) {
    const int di = state->dataset_index.at(p.parts[k].base_abbr());
    part_dataset[k] = di;
    if (infer) {
      part_bytes[k] = InferPartBytes(p.parts[k].config());
    } else if (dataset_bytes[di].empty()) {
      dataset_bytes[di] = EvalDatasetBytes(spec.datasets(di));
    }
  }
  // Per model: the fingerprint prefix.
  absl::flat_hash_map<const ocx::v1::ModelConfig*, Fnv1a64> prefixes;
  for (const ocx::v1::ModelConfig& m : spec.models()) {
    prefixes.emplace(&m, OutputHashPrefix(stage, ModelFingerprintBytes(m)));
  }

  const size_t first = out->size();
  out->reserve(first + p.tasks.size());
  std::vector<std::string> output_fps;
  int index = 0;
  for (const PlannedTask& planned_task : p.tasks) {
    const ocx::v1::ModelConfig& model = *planned_task.model;
    const int mi = state->model_index.at(&model);
    const Fnv1a64& prefix = prefixes.at(&model);
    Task& t = out->emplace_back();
    t.set_id(absl::StrCat(eval_id, "-", StageWord(stage), "-", index));
    t.set_evaluation_id(eval_id);
    t.set_stage(stage);
    t.set_index(index);
    t.set_name(TaskName(stage, model.abbr(), p, planned_task));
    t.set_state(Task::READY);
    t.set_model_abbr(model.abbr());
    int gpus = infer ? model.run_cfg().num_gpus() : 0;
    t.set_max_attempts(cfg.runner().retry() + 1);
    ocx::v1::TaskParams* params = t.mutable_params();
    params->set_evaluation_id(eval_id);
    params->set_task_id(t.id());
    params->set_stage(stage);
    params->set_work_dir(work_dir);
    *params->mutable_model() = model;
    *params->mutable_task() = cfg.runner().task();
    output_fps.clear();
    // Producer task indices, in first-seen order, each once.
    std::vector<int> deps;
    absl::flat_hash_set<int> seen_deps;
    for (int32_t k : planned_task.parts) {
      const ocx::v1::TaskDataset& d = p.parts[k];
      const int di = part_dataset[k];
      t.add_dataset_abbrs(d.config().abbr());
      std::string fp;
      if (infer) {
        const std::string path =
            PredictionPath(model.abbr(), d.config().abbr());
        fp = InferOutputFingerprintFromBytes(prefix, part_bytes[k],
                                             cfg.runner().task());
        params->add_expected_outputs(path);
        state->pair_parts[static_cast<size_t>(mi) * num_datasets + di]
            .push_back({d.part(), path, fp, static_cast<int>(out->size() - 1)});
      } else {
        gpus = std::max(gpus, d.config().eval_cfg().num_gpus());
        std::vector<PartOutput>& parts =
            state->pair_parts[static_cast<size_t>(mi) * num_datasets + di];
        std::sort(parts.begin(), parts.end(),
                  [](const PartOutput& a, const PartOutput& b) {
                    return a.part < b.part;
                  });
        std::vector<std::string> part_fps;
        part_fps.reserve(parts.size());
        for (const PartOutput& po : parts) {
          part_fps.push_back(po.fingerprint);
          params->add_required_inputs(po.path);
          if (seen_deps.insert(po.task).second) deps.push_back(po.task);
        }
        fp = EvalOutputFingerprintFromBytes(prefix, dataset_bytes[di],
                                            cfg.runner().task(), part_fps);
        params->add_expected_outputs(ResultPath(model.abbr(), d.base_abbr()));
      }
      params->add_output_fingerprints(fp);
      output_fps.push_back(std::move(fp));
      *params->add_datasets() = d;
    }
    params->set_fingerprint(TaskFingerprint(stage, output_fps));
    t.set_num_gpus(gpus);
    for (int dep : deps) t.add_depends_on((*out)[dep].id());
    if (t.depends_on_size() > 0) t.set_state(Task::PENDING);
    ++index;
  }
  return absl::OkStatus();
}

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

std::string PredictionPath(const std::string& model_abbr,
                           const std::string& part_abbr) {
  return absl::StrCat("predictions/", model_abbr, "/", part_abbr, ".json");
}

std::string ResultPath(const std::string& model_abbr,
                       const std::string& dataset_abbr) {
  return absl::StrCat("results/", model_abbr, "/", dataset_abbr, ".json");
}

absl::StatusOr<std::vector<Task>> PlanTasks(const ocx::v1::EvaluationSpec& spec,
                                            const std::string& eval_id,
                                            const std::string& work_dir,
                                            const PlanOptions& options) {
  PlanState state;
  for (int i = 0; i < spec.models_size(); ++i) {
    state.model_index[&spec.models(i)] = i;
  }
  for (int i = 0; i < spec.datasets_size(); ++i) {
    state.dataset_index[spec.datasets(i).abbr()] = i;
  }
  state.pair_parts.resize(static_cast<size_t>(spec.models_size()) *
                          spec.datasets_size());
  std::vector<Task> tasks;
  OCX_RETURN_IF_ERROR(AddStage(spec, ocx::v1::STAGE_INFER, eval_id, work_dir,
                               options, &state, &tasks));
  OCX_RETURN_IF_ERROR(AddStage(spec, ocx::v1::STAGE_EVAL, eval_id, work_dir,
                               options, &state, &tasks));
  return tasks;
}

int MarkReusedTasks(std::vector<Task>* tasks, const OutputMatcher& matches) {
  absl::flat_hash_map<std::string, Task::State> states;
  states.reserve(tasks->size());
  int reused = 0;
  // Dependencies come before their dependents (infer before eval).
  for (Task& t : *tasks) {
    bool deps_reused = true;
    for (const std::string& dep : t.depends_on()) {
      auto it = states.find(dep);
      if (it == states.end() || it->second != Task::SUCCEEDED) {
        deps_reused = false;
        break;
      }
    }
    const ocx::v1::TaskParams& p = t.params();
    bool outputs_match =
        deps_reused && p.expected_outputs_size() > 0 &&
        p.output_fingerprints_size() == p.expected_outputs_size();
    for (int i = 0; outputs_match && i < p.expected_outputs_size(); ++i) {
      outputs_match = matches(p.expected_outputs(i), p.output_fingerprints(i));
    }
    if (outputs_match) {
      t.set_state(Task::SUCCEEDED);
      t.set_reason(kReusedReason);
      ++reused;
    } else {
      t.set_state(deps_reused ? Task::READY : Task::PENDING);
    }
    states[t.id()] = t.state();
  }
  return reused;
}

}  // namespace ocx::partitioners
