#include "server/rescore.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/task_rows.h"
#include "common/work_dir_layout.h"
#include "server/output_check.h"

namespace ocx::server {
namespace {

using ocx::v1::Task;

// The dataset whose prediction is output `i` of infer task `t`: outputs
// are made one per dataset part, in the order of the task's datasets.
std::string DatasetOfOutput(const Task& t, int i) {
  const ocx::v1::TaskParams& p = t.params();
  if (i < p.datasets_size()) {
    const ocx::v1::TaskDataset& d = p.datasets(i);
    if (!d.base_abbr().empty()) return d.base_abbr();
    if (!d.config().abbr().empty()) return d.config().abbr();
  }
  return absl::StrJoin(t.dataset_abbrs(), ", ");
}

absl::Status NotReusable(const Task& t, int i, const std::string& path,
                         OutputVerdict verdict, const std::string& source_id) {
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot rescore evaluation ", source_id,
      " without inference: the predictions file of model ", t.model_abbr(),
      " on dataset ", DatasetOfOutput(t, i), " (", path, ") ",
      DescribeVerdict(verdict),
      "; submit the evaluation again to make them (its other predictions "
      "are reused)"));
}

// An infer task of the rescore: done, its outputs the source's files.
absl::Status ReuseInfer(const OutputCheck& check, const std::string& dir,
                        const std::string& source_id, Task* t) {
  ocx::v1::TaskParams* p = t->mutable_params();
  if (p->expected_outputs_size() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot rescore evaluation ", source_id, ": infer task ", t->id(),
        " declares no outputs, so there are no predictions to score"));
  }
  for (int i = 0; i < p->expected_outputs_size(); ++i) {
    std::string path = layout::InWorkDir(dir, p->expected_outputs(i));
    const std::string fingerprint =
        i < p->output_fingerprints_size() ? p->output_fingerprints(i) : "";
    OutputVerdict verdict = check.Check(path, fingerprint);
    if (verdict != OutputVerdict::kMatches) {
      return NotReusable(*t, i, path, verdict, source_id);
    }
    p->set_expected_outputs(i, std::move(path));
  }
  t->set_state(Task::SUCCEEDED);
  t->set_reason(absl::StrCat(kRescoredReason, " (", source_id, ")"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ocx::v1::EvaluationSpec> RescoreSpec(
    const ocx::v1::Evaluation& source, const RescoreOptions& options) {
  if (!source.has_spec()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "evaluation ", source.id(), " has no stored spec to rescore"));
  }
  ocx::v1::EvaluationSpec spec = source.spec();
  spec.clear_work_dir();
  std::vector<std::string> abbrs;
  for (const ocx::v1::DatasetConfig& d : spec.datasets()) {
    abbrs.push_back(d.abbr());
  }
  for (const auto& [abbr, type] : options.dataset_evaluators) {
    if (std::find(abbrs.begin(), abbrs.end(), abbr) == abbrs.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dataset_evaluators: evaluation ", source.id(), " has no dataset \"",
          abbr, "\" (its datasets: ", absl::StrJoin(abbrs, ", "), ")"));
    }
  }
  const bool overridden =
      !options.evaluator.empty() || !options.dataset_evaluators.empty();
  if (overridden && spec.eval().runner().task().type() == "command") {
    return absl::InvalidArgumentError(absl::StrCat(
        "evaluator: evaluation ", source.id(),
        " scores with its own command (eval.runner.task.type: command), "
        "which takes no evaluator type"));
  }
  for (ocx::v1::DatasetConfig& d : *spec.mutable_datasets()) {
    auto it = options.dataset_evaluators.find(d.abbr());
    const std::string& type =
        it != options.dataset_evaluators.end() ? it->second : options.evaluator;
    if (!type.empty())
      d.mutable_eval_cfg()->mutable_evaluator()->set_type(type);
  }
  return spec;
}

absl::Status UsePredictionsIn(const std::string& predictions_dir,
                              const std::string& source_id, store::Store* store,
                              std::vector<Task>* tasks) {
  std::vector<std::string> paths;
  for (const Task& t : *tasks) {
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    for (const std::string& rel : t.params().expected_outputs()) {
      paths.push_back(layout::InWorkDir(predictions_dir, rel));
    }
  }
  OCX_ASSIGN_OR_RETURN(OutputCheck check, OutputCheck::Load(paths, store));
  for (Task& t : *tasks) {
    if (t.stage() == ocx::v1::STAGE_INFER) {
      OCX_RETURN_IF_ERROR(ReuseInfer(check, predictions_dir, source_id, &t));
      continue;
    }
    // Every infer task was reused (or this returned): the evals can start.
    ocx::v1::TaskParams* p = t.mutable_params();
    for (std::string& input : *p->mutable_required_inputs()) {
      input = layout::InWorkDir(predictions_dir, input);
    }
    for (auto& part : *p->mutable_parts_manifest()->mutable_parts()) {
      part.set_path(layout::InWorkDir(predictions_dir, part.path()));
    }
    if (!p->parts_manifest().parts_size()) p->clear_parts_manifest();
    t.set_state(Task::READY);
  }
  return absl::OkStatus();
}

absl::StatusOr<Submission> PrepareRescore(const ocx::v1::Evaluation& source,
                                          const RescoreOptions& options,
                                          const std::string& eval_id,
                                          const SubmissionPolicy& policy,
                                          const ocx::v1::Owner& owner) {
  OCX_ASSIGN_OR_RETURN(ocx::v1::EvaluationSpec spec,
                       RescoreSpec(source, options));
  absl::StatusOr<Submission> sub =
      PrepareSubmission(spec, options.name, options.request_id, eval_id, policy,
                        /*create_dirs=*/true, owner);
  if (!sub.ok()) {
    if (sub.status().code() != absl::StatusCode::kInvalidArgument) {
      return sub.status();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("rescore of ", source.id(), ": ", sub.status().message()));
  }
  const std::string& dir = source.predictions_work_dir().empty()
                               ? source.work_dir()
                               : source.predictions_work_dir();
  // Planning leaves the tasks serialized (sub->task_rows); a rescore edits
  // each of them, so it takes them parsed (the dispatcher stores both).
  for (const ocx::v1::Task& t : sub->task_rows) sub->tasks.push_back(t);
  sub->task_rows = TaskRows();
  OCX_RETURN_IF_ERROR(
      UsePredictionsIn(dir, source.id(), policy.store, &sub->tasks));
  sub->evaluation.set_rescored_from(source.id());
  sub->evaluation.set_predictions_work_dir(dir);
  return sub;
}

}  // namespace ocx::server
