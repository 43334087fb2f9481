#include "partitioners/plan.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "partitioners/partitioner.h"

namespace ocx::partitioners {
namespace {

using ocx::v1::Stage;
using ocx::v1::Task;

const char* StageWord(Stage stage) {
  return stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
}

// OpenCompass's task name: OpenICLInfer[model/ds1,model/ds2].
std::string TaskName(Stage stage, const PlannedTask& planned) {
  std::vector<std::string> parts;
  for (const auto& d : planned.datasets) {
    parts.push_back(absl::StrCat(planned.model.abbr(), "/", d.config().abbr()));
  }
  return absl::StrCat(
      stage == ocx::v1::STAGE_INFER ? "OpenICLInfer" : "OpenICLEval", "[",
      absl::StrJoin(parts, ","), "]");
}

int EvalGpus(const PlannedTask& planned) {
  int gpus = 0;
  for (const auto& d : planned.datasets) {
    gpus = std::max(gpus, d.config().eval_cfg().num_gpus());
  }
  return gpus;
}

absl::Status AddStage(const ocx::v1::EvaluationSpec& spec, Stage stage,
                      const std::string& eval_id, const std::string& work_dir,
                      std::vector<Task>* out) {
  const ocx::v1::StageConfig& cfg =
      stage == ocx::v1::STAGE_INFER ? spec.infer() : spec.eval();
  const char* field = stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
  absl::StatusOr<std::unique_ptr<Partitioner>> partitioner =
      MakePartitioner(cfg.partitioner());
  if (!partitioner.ok()) return Annotate(partitioner.status(), field);
  PartitionInput input;
  input.spec = &spec;
  input.stage = stage;
  input.config = &cfg.partitioner();
  absl::StatusOr<std::vector<PlannedTask>> planned =
      (*partitioner)->Partition(input);
  if (!planned.ok()) return Annotate(planned.status(), field);

  int index = 0;
  for (PlannedTask& p : *planned) {
    Task t;
    t.set_id(absl::StrCat(eval_id, "-", StageWord(stage), "-", index));
    t.set_evaluation_id(eval_id);
    t.set_stage(stage);
    t.set_index(index);
    t.set_name(TaskName(stage, p));
    t.set_state(Task::READY);
    t.set_model_abbr(p.model.abbr());
    t.set_num_gpus(stage == ocx::v1::STAGE_INFER ? p.model.run_cfg().num_gpus()
                                                 : EvalGpus(p));
    t.set_max_attempts(cfg.runner().retry() + 1);
    ocx::v1::TaskParams* params = t.mutable_params();
    params->set_evaluation_id(eval_id);
    params->set_task_id(t.id());
    params->set_stage(stage);
    params->set_work_dir(work_dir);
    *params->mutable_model() = p.model;
    *params->mutable_task() = cfg.runner().task();
    for (ocx::v1::TaskDataset& d : p.datasets) {
      t.add_dataset_abbrs(d.config().abbr());
      params->add_expected_outputs(
          stage == ocx::v1::STAGE_INFER
              ? PredictionPath(p.model.abbr(), d.config().abbr())
              : ResultPath(p.model.abbr(), d.base_abbr()));
      *params->add_datasets() = std::move(d);
    }
    out->push_back(std::move(t));
    ++index;
  }
  return absl::OkStatus();
}

}  // namespace

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
                                            const std::string& work_dir) {
  std::vector<Task> tasks;
  OCX_RETURN_IF_ERROR(
      AddStage(spec, ocx::v1::STAGE_INFER, eval_id, work_dir, &tasks));
  const size_t num_infer = tasks.size();
  OCX_RETURN_IF_ERROR(
      AddStage(spec, ocx::v1::STAGE_EVAL, eval_id, work_dir, &tasks));

  // (model, base dataset) -> infer tasks covering it.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>>
      producers;
  for (size_t i = 0; i < num_infer; ++i) {
    for (const auto& d : tasks[i].params().datasets()) {
      auto& ids = producers[{tasks[i].model_abbr(), d.base_abbr()}];
      if (ids.empty() || ids.back() != tasks[i].id()) {
        ids.push_back(tasks[i].id());
      }
    }
  }
  for (size_t i = num_infer; i < tasks.size(); ++i) {
    Task& t = tasks[i];
    std::vector<std::string> deps;
    for (const auto& d : t.params().datasets()) {
      auto it = producers.find({t.model_abbr(), d.base_abbr()});
      if (it == producers.end()) continue;
      for (const std::string& id : it->second) {
        if (std::find(deps.begin(), deps.end(), id) == deps.end()) {
          deps.push_back(id);
        }
      }
    }
    for (std::string& id : deps) t.add_depends_on(std::move(id));
    if (t.depends_on_size() > 0) t.set_state(Task::PENDING);
  }
  return tasks;
}

}  // namespace ocx::partitioners
