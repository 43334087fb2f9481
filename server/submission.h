// Turns a CreateEvaluation/PlanEvaluation request into rows: validates the
// spec (field paths in errors), applies defaults, checks what this daemon
// can run (GPUs, ocx-task), resolves the work dir and plans the tasks.
// Nothing here writes to the store. Thread-safe (no shared state).
#ifndef OCX_SERVER_SUBMISSION_H_
#define OCX_SERVER_SUBMISSION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/spec.pb.h"
#include "server/dispatcher/dispatcher.h"

namespace ocx::server {

// What the daemon offers, for checks that depend on the machine.
struct SubmissionPolicy {
  // Evaluations without a work_dir get <work_root>/<id>.
  std::string work_root;
  // GPU ids the LocalRunner may hand out.
  std::vector<int> gpus;
  // ocx-task; empty when this daemon has none.
  std::string task_program;
};

// INVALID_ARGUMENT "<field path>: <problem>" for bad input,
// FAILED_PRECONDITION when this daemon cannot run it (too many GPUs, no
// ocx-task). `create_dirs` makes the work dir (Create; not Plan).
absl::StatusOr<Submission> PrepareSubmission(
    const ocx::v1::EvaluationSpec& spec, const std::string& name,
    const std::string& request_id, const std::string& eval_id,
    const SubmissionPolicy& policy, bool create_dirs);

// A new evaluation id: "e" + 8 characters of [0-9a-z].
std::string NewEvaluationId();

}  // namespace ocx::server

#endif  // OCX_SERVER_SUBMISSION_H_
