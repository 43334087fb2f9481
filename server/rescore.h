// RescoreEvaluation's domain side: a new evaluation that scores the
// predictions of an existing one again, without inference (`ocxctl
// rescore`; OpenCompass's `-m eval` with `--reuse`).
//
// The new evaluation has the source's spec (work_dir cleared, evaluator
// types overridden as asked) and is planned like any other, in a work dir
// of its own, where its results, summary and logs go. Its infer tasks are
// not run: each expected prediction must be, in the source's predictions
// work dir, the file that the store recorded for it with the fingerprint
// this plan gives it (server/output_check.h); the task is then created
// SUCCEEDED and its outputs, like the eval tasks' inputs, point there as
// absolute paths (common/work_dir_layout.h InWorkDir keeps them as they
// are). So the predictions are shared, never copied, and a prediction made
// from another config, rewritten or deleted is an error, not a silent
// re-inference or a score of the wrong file.
//
// Thread-safe (no shared state; the store is only read).
#ifndef OCX_SERVER_RESCORE_H_
#define OCX_SERVER_RESCORE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/resources.pb.h"
#include "server/store/store.h"
#include "server/submission.h"

namespace ocx::server {

// What RescoreEvaluationRequest asks besides the source (the API layer
// copies it here: generated service headers stay in server/api).
struct RescoreOptions {
  // Evaluator type for every dataset; empty: each keeps its own.
  std::string evaluator;
  // Evaluator type by dataset abbr; wins over `evaluator`.
  std::map<std::string, std::string> dataset_evaluators;
  std::string name;
  std::string request_id;
};

// The reason of a rescored evaluation's infer tasks.
inline constexpr char kRescoredReason[] =
    "reused: predictions of the evaluation rescored";

// The spec of a rescore of `source`: its spec with work_dir cleared and
// the options' `evaluator` (every dataset) and `dataset_evaluators` applied to
// eval_cfg.evaluator.type. INVALID_ARGUMENT naming `dataset_evaluators`
// for an abbr the spec does not have, and naming `evaluator` for an
// override when the eval stage runs a command; FAILED_PRECONDITION when the
// source has no stored spec.
absl::StatusOr<ocx::v1::EvaluationSpec> RescoreSpec(
    const ocx::v1::Evaluation& source, const RescoreOptions& options);

// Points the planned `tasks` of a rescore at the predictions in
// `predictions_dir` (see the file comment): infer tasks become SUCCEEDED
// with kRescoredReason, eval tasks READY. FAILED_PRECONDITION naming the
// model, the dataset, the file and what is wrong with it (missing,
// rewritten, made from another config) for the first prediction that is
// not the recorded one, with how to get it back; `source_id` names the
// evaluation in that message.
absl::Status UsePredictionsIn(const std::string& predictions_dir,
                              const std::string& source_id, store::Store* store,
                              std::vector<ocx::v1::Task>* tasks);

// The Submission of a rescore of `source` (read from the store, its caller
// authorized): RescoreSpec, PrepareSubmission (the same checks and plan as
// a Create of that spec, for `owner`), UsePredictionsIn, and the new
// evaluation's rescored_from and predictions_work_dir. Errors: those of the
// three steps, with INVALID_ARGUMENT from the spec's checks prefixed by
// "rescore of <id>: ". `policy.store` must be set.
absl::StatusOr<Submission> PrepareRescore(const ocx::v1::Evaluation& source,
                                          const RescoreOptions& options,
                                          const std::string& eval_id,
                                          const SubmissionPolicy& policy,
                                          const ocx::v1::Owner& owner);

}  // namespace ocx::server

#endif  // OCX_SERVER_RESCORE_H_
