// Turns a CreateEvaluation/PlanEvaluation request into rows: validates the
// spec (field paths in errors), applies defaults, checks what this daemon
// can run (GPUs, ocx-task), resolves the work dir, resolves dataset sizes
// (explicit, cached, or counted from the files — only when a partitioner
// needs them), plans the tasks and marks the ones whose outputs can be
// reused. Nothing here writes to the store: new cache entries travel in the
// Submission to the dispatcher. Thread-safe (no shared state; the store is
// only read).
//
// PrepareSubmission plans the whole evaluation; CreateEvaluation plans
// through PrepareToPlan and SubmitPlanned (server/submission_stream.h),
// which streams a large plan into the store.
#ifndef OCX_SERVER_SUBMISSION_H_
#define OCX_SERVER_SUBMISSION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/identity.h"
#include "ocx/v1/daemon_config.pb.h"
#include "ocx/v1/spec.pb.h"
#include "partitioners/plan.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/store.h"

namespace ocx::server {

// What the daemon offers, for checks that depend on the machine.
struct SubmissionPolicy {
  // Evaluations without a work_dir get <work_root>/<id>, or
  // <work_root>/<user>/<id> with per_user_work_root.
  std::string work_root;
  bool per_user_work_root = false;
  // Confinement (server/confinement.h; ConfinementSettings): work_dir must
  // resolve under one of these ("{user}", "{home}" expanded for the
  // owner). Empty: work_dir is not confined (tests that only plan).
  std::vector<std::string> work_dir_roots;
  // Refuse evaluations owned by root (ocxd runs as root and
  // confinement.allow_root_tasks is false: their tasks would run as root).
  bool refuse_root_owner = false;
  // GPU ids the LocalRunner may hand out.
  std::vector<int> gpus;
  // ocx-task; empty when this daemon has none.
  std::string task_program;
  // The ports managed model servers may use (ServingSettings.port_range).
  int serve_port_first = 20000;
  int serve_port_last = 29999;
  // Read for the dataset size cache and the output fingerprints (keyed
  // reuse). Null: files are counted every time and nothing is reused.
  store::Store* store = nullptr;
  // Input limits (spec/limits.h); unset fields take their defaults.
  ocx::v1::LimitSettings limits;
  // Who asks. Planning reads a dataset file only when this identity could
  // read it itself (common/read_access.h); null: no check (tests, tools,
  // and a daemon whose only caller is its own account).
  const Identity* caller = nullptr;
};

// INVALID_ARGUMENT "<field path>: <problem>" for bad input (including a
// spec above limits.max_spec_bytes, checked first, a plan above
// limits.max_tasks_per_evaluation, a malformed dataset file, with its line
// and column but none of its content, and a test_range that selects
// nothing), PERMISSION_DENIED naming the field and path when the caller
// may not read a dataset file planning would read (nothing is read then),
// FAILED_PRECONDITION when this daemon cannot run it (too many GPUs, no
// ocx-task, a dataset file it cannot read). Task params come with their
// configs by reference (TaskParams.refs). `create_dirs` asks the
// dispatcher to make the work dir when it stores the evaluation (Create;
// not Plan); nothing is made here. With a request_id, the Submission
// carries a hash of the request (spec and name) for the retry check. Tasks
// whose every output exists with the fingerprint they would produce (and whose
// dependencies are reused too) come back SUCCEEDED with
// partitioners::kReusedReason.
//
// `owner` is who submits (CreateEvaluation's caller): the work dir is
// confined for them, and the evaluation is refused with PERMISSION_DENIED
// when it is root and the policy refuses root owners, or when work_dir is
// outside the roots (its resolved path is stored).
absl::StatusOr<Submission> PrepareSubmission(
    const ocx::v1::EvaluationSpec& spec, const std::string& name,
    const std::string& request_id, const std::string& eval_id,
    const SubmissionPolicy& policy, bool create_dirs,
    const ocx::v1::Owner& owner = {});

// A submission checked and ready to plan: PrepareSubmission's work up to
// the plan (validation, defaults, checks, work dir, dataset sizes).
struct PreparedSubmission {
  // Everything but the tasks.
  Submission submission;
  // For partitioners::PlanTasksTo: the sizes and the task limit.
  partitioners::PlanOptions plan_options;
  // Set when keyed reuse may mark planned tasks (the work dir exists): the
  // store holding the outputs' records.
  store::Store* reuse_store = nullptr;
};

// PrepareSubmission's checks and errors, without the plan.
absl::StatusOr<PreparedSubmission> PrepareToPlan(
    const ocx::v1::EvaluationSpec& spec, const std::string& name,
    const std::string& request_id, const std::string& eval_id,
    const SubmissionPolicy& policy, bool create_dirs,
    const ocx::v1::Owner& owner = {});

// Plans every task of `prepared` into its submission's task_rows (the
// whole plan in memory), reused ones marked, and sets the evaluation's
// task_count. PrepareSubmission's planning errors.
absl::StatusOr<Submission> PlanAll(PreparedSubmission prepared);

// INVALID_ARGUMENT for a plan of `count` tasks that has none.
absl::Status CheckPlanCount(int64_t count);

// A new evaluation id: "e" + 8 characters of [0-9a-z].
std::string NewEvaluationId();

}  // namespace ocx::server

#endif  // OCX_SERVER_SUBMISSION_H_
