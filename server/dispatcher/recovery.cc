// Dispatcher: recovery after a restart (DESIGN.md decision 5). Restarts
// re-attach running attempts; they do not re-run them.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/dispatcher.h"
#include "server/dispatcher/run_as.h"
#include "server/dispatcher/task_files.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;

}  // namespace

absl::Status Dispatcher::Recover() {
  int64_t now = NowMillis();
  OCX_RETURN_IF_ERROR(store_->Begin());
  absl::Status status = RecoverState(now);
  if (!status.ok()) {
    store_->Rollback();
    return Annotate(status, "recovery");
  }
  OCX_RETURN_IF_ERROR(CommitWrites());
  // Evaluations whose tasks all ended before the restart, but not they
  // themselves: their summary is written (again) and their end recorded.
  return Annotate(EndEvaluations(), "recovery");
}

absl::Status Dispatcher::RecoverState(int64_t now) {
  OCX_ASSIGN_OR_RETURN(auto evals, store_->LoadActiveEvaluations());
  for (auto& r : evals) {
    EvalEntry& e = evals_[r.evaluation.id()];
    e.seq = r.seq;
    e.cancel_requested = r.evaluation.state() == Evaluation::CANCELLING;
    e.started = r.evaluation.state() != Evaluation::QUEUED;
    e.evaluation = std::move(r.evaluation);
    e.account = AccountOf(e.evaluation);
    OCX_ASSIGN_OR_RETURN(e.pool_of_model,
                         pools_->AddEvaluation(e.evaluation, false, now));
  }
  // Replicas are adopted before tasks, so that tasks find them.
  OCX_RETURN_IF_ERROR(pools_->Recover(now));
  OCX_ASSIGN_OR_RETURN(auto active, store_->LoadActiveTasks());
  // Failed tasks that finished before the restart count toward the
  // evaluation's outcome.
  FinishedStates finished;
  for (auto& [id, e] : evals_) {
    OCX_ASSIGN_OR_RETURN(auto list, store_->TaskStates(id));
    for (auto& [tid, st] : list) {
      finished[id][tid] = st;
      if (st == Task::FAILED) ++e.failed;
    }
    touched_evals_.insert(id);
  }
  std::vector<ocx::v1::Task> pending;
  std::vector<store::ActiveTaskRecord> running;
  for (auto& r : active) {
    if (evals_.count(r.task.evaluation_id()) == 0) continue;
    Task::State s = r.task.state();
    if (s == Task::LAUNCHING || s == Task::RUNNING) {
      running.push_back(std::move(r));
    } else {
      pending.push_back(std::move(r.task));
    }
  }
  // Running tasks first, so that Track() can link dependents to them.
  for (auto& r : running) OCX_RETURN_IF_ERROR(ReattachRunning(&r, now));
  for (Task& task : pending) {
    OCX_RETURN_IF_ERROR(RequeuePending(std::move(task), finished, now));
  }
  // Re-issue cancels that were under way.
  for (auto& [id, e] : evals_) {
    if (!e.cancel_requested) continue;
    Command cmd;
    cmd.kind = Command::Kind::kCancel;
    cmd.eval_id = id;
    OCX_RETURN_IF_ERROR(ApplyCancel(&cmd, now));
  }
  return RefreshTouched(now);
}

absl::Status Dispatcher::ReattachRunning(store::ActiveTaskRecord* r,
                                         int64_t now) {
  std::string id = r->task.id();
  Track(r->task);
  TaskEntry& t = tasks_.at(id);
  CountRunning(t, +1);
  if (!r->last_attempt.has_value() ||
      r->last_attempt->attempt.number() != t.task.attempt_count()) {
    // The attempt row is always committed with the task's LAUNCHING
    // state; without it, start over.
    OCX_RETURN_IF_ERROR(
        SetTaskState(&t, Task::READY, "re-queued after restart", now));
    MakeReady(&t);
    return absl::OkStatus();
  }
  t.attempt = *r->last_attempt;
  runners::LaunchSpec spec = BuildLaunchSpec(t, t.task.attempt_count());
  spec.attempt_dir = t.attempt.attempt_dir;
  spec.log_path = t.attempt.attempt.log_path();
  spec.gpus.assign(t.attempt.attempt.gpus().begin(),
                   t.attempt.attempt.gpus().end());
  if (const std::string& rid = t.attempt.attempt.replica_id(); !rid.empty()) {
    pools_->TaskStarted(rid);
    // An attempt that never started is launched by Adopt: with its
    // replica's address.
    if (std::optional<std::string> url = pools_->BaseUrlOf(rid)) {
      spec.env["OCX_OPENAI_API_BASE"] = *url;
    }
  }
  absl::Status ok =
      WriteTaskJson(t.task.params(), SpecOf(t), FilesFor(spec.run_as));
  runners::Runner* runner = RunnerOfAttempt(t);
  if (ok.ok() && runner == nullptr) {
    ok = absl::FailedPreconditionError(
        absl::StrCat("its backend \"", t.attempt.attempt.backend(),
                     "\" is not configured in this ocxd"));
  }
  if (ok.ok()) ok = runner->Adopt(spec, t.attempt.attempt.backend_id());
  if (ok.ok()) return absl::OkStatus();
  return FinishAttempt(
      &t, Attempt::LOST,
      absl::StrCat("could not re-attach after restart: ", ok.message()), now);
}

absl::Status Dispatcher::RequeuePending(Task task,
                                        const FinishedStates& finished,
                                        int64_t now) {
  const std::string id = task.id();
  const bool pending = task.state() == Task::PENDING;
  bool dep_failed = false;
  auto states = finished.find(task.evaluation_id());
  for (const std::string& dep : task.depends_on()) {
    if (!pending || states == finished.end()) break;
    if (IsTracked(dep)) continue;  // counted by Track()
    auto st = states->second.find(dep);
    if (st != states->second.end() &&
        (st->second == Task::FAILED || st->second == Task::CANCELLED)) {
      dep_failed = true;
    }
  }
  Track(std::move(task));
  if (!pending) return absl::OkStatus();
  if (dep_failed) {
    return SetTaskState(Materialize(id), Task::FAILED, "a dependency failed",
                        now);
  }
  EvalEntry* e = nullptr;
  Ref ref = 0;
  if (QueuedTask* q = FindQueued(id, &e, &ref)) {
    if (q->pending_deps > 0) return absl::OkStatus();
    return QueuedReady(*e, ref, *q, /*event=*/false, now);
  }
  TaskEntry& t = tasks_.at(id);
  if (t.pending_deps == 0) {
    t.task.set_state(Task::READY);
    OCX_RETURN_IF_ERROR(store_->UpdateTask(t.task));
    MakeReady(&t);
  }
  return absl::OkStatus();
}

}  // namespace ocx::server
