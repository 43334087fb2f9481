// The planner: turns a validated evaluation spec into its task graph — the
// infer tasks of the infer partitioner, the eval tasks of the eval
// partitioner, and the edges between them (DESIGN.md decision 6: an eval
// task for (model, dataset) waits for every infer task covering that pair,
// and nothing else).
#ifndef OCX_PARTITIONERS_PLAN_H_
#define OCX_PARTITIONERS_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::partitioners {

// Tasks in PENDING (with dependencies) or READY state, ids
// "<eval_id>-infer-<i>" / "<eval_id>-eval-<i>", params filled (work_dir,
// datasets, expected outputs, task config), max_attempts = retry + 1.
// `spec` must be validated with defaults applied.
absl::StatusOr<std::vector<ocx::v1::Task>> PlanTasks(
    const ocx::v1::EvaluationSpec& spec, const std::string& eval_id,
    const std::string& work_dir);

// Output paths relative to the work dir (DESIGN.md decision 9).
std::string PredictionPath(const std::string& model_abbr,
                           const std::string& part_abbr);
std::string ResultPath(const std::string& model_abbr,
                       const std::string& dataset_abbr);

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_PLAN_H_
