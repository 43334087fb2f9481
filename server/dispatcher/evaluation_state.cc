// Dispatcher: an evaluation's state, derived from its tasks, and its end
// (the summary step between two commits; see summary_step.h).
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/dispatcher.h"
#include "server/dispatcher/summary_step.h"

namespace ocx::server {
namespace {

using ocx::v1::Evaluation;

}  // namespace

Evaluation::State Dispatcher::DerivedState(const EvalEntry& e) {
  if (!HasUnfinished(e)) {
    return e.cancel_requested ? Evaluation::CANCELLED
           : e.failed > 0     ? Evaluation::FAILED
                              : Evaluation::SUCCEEDED;
  }
  if (e.cancel_requested) return Evaluation::CANCELLING;
  return e.started ? Evaluation::RUNNING : Evaluation::QUEUED;
}

absl::Status Dispatcher::RefreshTouched(int64_t now) {
  std::vector<std::string> touched(touched_evals_.begin(),
                                   touched_evals_.end());
  touched_evals_.clear();
  for (const std::string& id : touched) {
    auto it = evals_.find(id);
    if (it != evals_.end()) {
      OCX_RETURN_IF_ERROR(RefreshEvaluation(&it->second, now));
    }
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::RefreshEvaluation(EvalEntry* e, int64_t now) {
  const Evaluation::State state = DerivedState(*e);
  if (state == e->evaluation.state()) return absl::OkStatus();
  if (state == Evaluation::SUCCEEDED || state == Evaluation::FAILED) {
    // Its summary is written after this transaction commits, and its end
    // in the next one (EndEvaluations).
    ending_.insert(e->evaluation.id());
    return absl::OkStatus();
  }
  return RecordEvaluationState(e, state, "", now);
}

absl::Status Dispatcher::RecordEvaluationState(EvalEntry* e,
                                               Evaluation::State state,
                                               const std::string& summary_note,
                                               int64_t now) {
  const bool final = !HasUnfinished(*e);
  e->evaluation.set_state(state);
  OCX_RETURN_IF_ERROR(store_->UpdateEvaluationState(e->evaluation.id(), state,
                                                    now, final ? now : 0));
  std::string message;
  if (final) {
    message = e->failed > 0 ? absl::StrCat(e->failed, " task(s) failed")
                            : "all tasks ended";
    if (!summary_note.empty()) absl::StrAppend(&message, "; ", summary_note);
  }
  OCX_RETURN_IF_ERROR(AddEvent(e->evaluation.id(), "", 0,
                               Evaluation::State_Name(state), message, now));
  if (final) {
    OCX_RETURN_IF_ERROR(pools_->RemoveEvaluation(
        e->evaluation.id(), state == Evaluation::CANCELLED, now));
    fair_.RemoveEvaluation(e->account.uid, e->evaluation.spec().priority(),
                           e->seq);
    const int64_t tasks = e->evaluation.task_count();
    evals_.erase(e->evaluation.id());
    ReleaseMemory(tasks);
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::EndEvaluations() {
  if (ending_.empty()) return absl::OkStatus();
  // Outside any transaction: the summary files, then the ends in one
  // commit. A crash in between leaves the evaluations active; recovery
  // ends them again (the writer is idempotent).
  std::vector<std::pair<EvalEntry*, std::string>> ended;
  for (const std::string& id : ending_) {
    auto it = evals_.find(id);
    if (it == evals_.end()) continue;
    ended.emplace_back(&it->second,
                       RunSummaryStep(summary_writer_, it->second.evaluation));
  }
  ending_.clear();
  const int64_t now = NowMillis();
  OCX_RETURN_IF_ERROR(store_->Begin());
  absl::Status status;
  for (auto& [e, note] : ended) {
    status = RecordEvaluationState(e, DerivedState(*e), note, now);
    if (!status.ok()) break;
  }
  if (status.ok()) status = CommitWrites();
  if (!status.ok()) store_->Rollback();
  return status;
}

}  // namespace ocx::server
