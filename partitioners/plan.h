// The planner: turns a validated evaluation spec into its task graph — the
// infer tasks of the infer partitioner, the eval tasks of the eval
// partitioner, and the edges between them (DESIGN.md decision 6: an eval
// task for (model, dataset) waits for every infer task covering a part of
// that pair, and nothing else).
//
// Each task's params also carry:
//   required_inputs      (eval) the prediction of every part of each of its
//                        pairs: the parts manifest. The dispatcher refuses
//                        to start the task while one is missing.
//   output_fingerprints  one per expected output (partitioners/
//                        fingerprint.h), and `fingerprint` for the task.
#ifndef OCX_PARTITIONERS_PLAN_H_
#define OCX_PARTITIONERS_PLAN_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/task_rows.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::partitioners {

// The reason of a task created SUCCEEDED because its outputs were reused.
inline constexpr char kReusedReason[] =
    "reused: outputs with the same fingerprint exist";

struct PlanOptions {
  // Samples each dataset selects (test_range applied), index-aligned with
  // spec.datasets(); 0 means unknown. Must be known for every dataset when
  // NeedsDatasetSizes(spec); may be empty otherwise.
  std::vector<int64_t> num_samples;
  // Most tasks the plan may have (both stages); 0: no limit. A larger plan
  // is INVALID_ARGUMENT naming the count and the limit, refused after the
  // stage's partitioning and before any task is built.
  int64_t max_tasks = 0;
  // Called once with the plan's task count (both stages), after both are
  // partitioned and checked and before the first task reaches the sink; an
  // error ends planning with it.
  std::function<absl::Status(int64_t count)> on_count;
  // Set (by another thread): planning stops before its next task, with
  // CANCELLED.
  const std::atomic<bool>* cancel = nullptr;
};

// Whether the spec's partitioners need dataset sizes (SizePartitioner in
// either stage; NumWorkerPartitioner with num_split > 1 in the infer stage).
// `spec` validated, with defaults applied.
bool NeedsDatasetSizes(const ocx::v1::EvaluationSpec& spec);

// Tasks in PENDING (with dependencies) or READY state, ids
// "<eval_id>-infer-<i>" / "<eval_id>-eval-<i>", params filled (datasets
// with sample counts and costs, expected outputs with their fingerprints,
// required inputs), max_attempts = retry + 1. The params are in the form
// ocxd stores: their model, dataset and task configs are references into
// `spec` (TaskParams.refs; common/task_params.h ExpandTaskParams fills them
// in), and their evaluation_id, task_id, stage and work_dir are left to
// the task and its evaluation (FillTaskParamsIds fills them in with the
// evaluation's work dir).
// `spec` must be validated with defaults applied. INVALID_ARGUMENT when
// two dataset parts would write the same output (a dataset named like
// another's part, "gsm8k_0"), or for sizes the partitioner cannot honour;
// FAILED_PRECONDITION when a needed size is missing from `options`.
absl::StatusOr<std::vector<ocx::v1::Task>> PlanTasks(
    const ocx::v1::EvaluationSpec& spec, const std::string& eval_id,
    const PlanOptions& options = {});

// The same tasks handed to `sink` one at a time, in the same order, as they
// are planned (the planner keeps none of them: a large sweep's tasks go
// straight into a TaskRows).
using TaskSink = std::function<void(ocx::v1::Task)>;
absl::Status PlanTasksTo(const ocx::v1::EvaluationSpec& spec,
                         const std::string& eval_id, const PlanOptions& options,
                         const TaskSink& sink);

// Says whether the output at `path` (relative to the work dir) exists and
// was recorded with `fingerprint`.
using OutputMatcher = std::function<bool(const std::string& path,
                                         const std::string& fingerprint)>;

// Keyed reuse (DESIGN.md decision 7). In `tasks` (as PlanTasks returns
// them), a task whose every expected output matches, and whose every
// dependency is itself reused, becomes SUCCEEDED with kReusedReason; the
// others become PENDING when a dependency is not reused, else READY.
// Returns the number of reused tasks. `matches` is called once per expected
// output of a task whose dependencies are all reused.
int MarkReusedTasks(std::vector<ocx::v1::Task>* tasks,
                    const OutputMatcher& matches);
// The same over serialized tasks.
int MarkReusedTasks(TaskRows* rows, const OutputMatcher& matches);

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_PLAN_H_
