// Dispatcher: what runners report about attempts, and the end of an
// attempt (the retry policy decides what becomes of its task).
#include <string.h>

#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/utf8_cut.h"
#include "server/dispatcher/dispatcher.h"
#include "server/dispatcher/task_command.h"
#include "server/dispatcher/task_files.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Task;

// The most of a TaskError's "<kind>: <message>" a reason carries.
constexpr size_t kMaxTaskErrorReason = 1024;

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev) : absl::StrCat(sig);
}

// "<kind>: <message>", at most kMaxTaskErrorReason bytes.
std::string Describe(const ocx::v1::TaskError& error) {
  std::string text = absl::StrCat(error.kind(), ": ", error.message());
  if (text.size() <= kMaxTaskErrorReason) return text;
  return Abbreviate(text, kMaxTaskErrorReason - 3);
}

// The bounded class of why an attempt ended, for the metrics' `reason`
// label: ok, cancelled, lost, stalled, launch_error, a TaskError kind
// (task/error/task_error.h) or task_error, signal, exit_code, other.
std::string ReasonClass(const Attempt& a, const FailureFacts& facts) {
  switch (a.state()) {
    case Attempt::SUCCEEDED:
      return "ok";
    case Attempt::CANCELLED:
      return "cancelled";
    case Attempt::LOST:
      return "lost";
    default:
      break;
  }
  if (facts.stalled) return "stalled";
  if (facts.launch_error != absl::StatusCode::kOk) return "launch_error";
  if (!facts.error_kind.empty()) {
    for (const char* kind :
         {"endpoint_unreachable", "http_error", "invalid_input",
          "unsupported_server", "internal"}) {
      if (facts.error_kind == kind) return kind;
    }
    return "task_error";
  }
  if (a.has_signal()) return "signal";
  if (a.has_exit_code() && a.exit_code() != 0) return "exit_code";
  return "other";
}

}  // namespace

absl::Status Dispatcher::ApplyUpdate(const runners::AttemptUpdate& u,
                                     int64_t now) {
  auto it = tasks_.find(u.key.task_id);
  if (it == tasks_.end()) return absl::OkStatus();
  TaskEntry& t = it->second;
  Attempt& a = t.attempt.attempt;
  // Updates for an attempt that is no longer current are stale.
  if (a.number() != u.key.attempt ||
      (t.task.state() != Task::LAUNCHING && t.task.state() != Task::RUNNING)) {
    return absl::OkStatus();
  }
  // A backend may learn the job id or the real start time after Launch()
  // returned (DLC): store them as they come, so a restart finds the job.
  const bool changed =
      (!u.backend_id.empty() && u.backend_id != a.backend_id()) ||
      (u.start_ms > 0 && u.start_ms != TimestampMillis(a.start_time()));
  if (!u.backend_id.empty()) a.set_backend_id(u.backend_id);
  if (u.start_ms > 0) SetTimestamp(u.start_ms, a.mutable_start_time());
  switch (u.kind) {
    case runners::AttemptUpdate::Kind::kRunning: {
      // A backend's word on a live job ("Slurm job 7 PENDING (Priority)")
      // is the attempt's and the task's reason while it runs.
      const bool news = !u.reason.empty() && u.reason != a.reason();
      if (news) a.set_reason(u.reason);
      if (a.state() == Attempt::LAUNCHING || changed || news) {
        a.set_state(Attempt::RUNNING);
        OCX_RETURN_IF_ERROR(store_->PutAttempt(t.attempt));
      }
      if (t.task.state() == Task::LAUNCHING) {
        if (news) t.task.set_reason(u.reason);
        return SetTaskState(&t, Task::RUNNING,
                            absl::StrCat("attempt ", a.number(), " running"),
                            now);
      }
      if (news) {
        t.task.set_reason(u.reason);
        OCX_RETURN_IF_ERROR(store_->UpdateTask(t.task));
      }
      return absl::OkStatus();
    }
    case runners::AttemptUpdate::Kind::kLost: {
      SetTimestamp(u.end_ms > 0 ? u.end_ms : now, a.mutable_end_time());
      const std::string why =
          u.reason.empty() ? "lost by the backend" : u.reason;
      if (t.progress.stall_killed) {
        // A backend may report the job it was told to stop as lost.
        FailureFacts facts;
        facts.stalled = true;
        return FinishAttempt(&t, Attempt::FAILED,
                             absl::StrCat(t.progress.stall_reason,
                                          "; stopped by ocxd (", why, ")"),
                             now, facts);
      }
      return FinishAttempt(&t, Attempt::LOST, why, now);
    }
    case runners::AttemptUpdate::Kind::kExited:
      break;
  }
  return ApplyExit(&t, u, now);
}

absl::Status Dispatcher::ApplyExit(TaskEntry* tp,
                                   const runners::AttemptUpdate& u,
                                   int64_t now) {
  TaskEntry& t = *tp;
  Attempt& a = t.attempt.attempt;
  SetTimestamp(u.end_ms > 0 ? u.end_ms : now, a.mutable_end_time());
  std::string reason;
  Attempt::State state = Attempt::SUCCEEDED;
  FailureFacts facts;
  if (u.signal != 0) {
    a.set_signal(u.signal);
    state = Attempt::FAILED;
    reason = absl::StrCat("killed by signal ", u.signal, " (",
                          SignalName(u.signal), ")");
  } else {
    a.set_exit_code(u.exit_code);
    if (u.exit_code != 0) {
      state = Attempt::FAILED;
      facts.exit_code = u.exit_code;
      reason = absl::StrCat("exit code ", u.exit_code);
      // The task's own word on why it failed (ocx-task's error.json).
      if (std::optional<ocx::v1::TaskError> error = ReadTaskError(
              PathsFor(t.task.params(), a.number()).attempt_dir)) {
        absl::StrAppend(&reason, ": ", Describe(*error));
        facts.error_kind = error->kind();
        facts.http_status = error->http_status();
      } else if (u.exit_code == 127 && u.reason.empty()) {
        absl::StrAppend(&reason, " (command not found?)");
      }
    } else {
      std::string missing = MissingOutputs(t.task.params());
      if (!missing.empty()) {
        state = Attempt::FAILED;
        reason = absl::StrCat("exited 0 but expected outputs are missing: ",
                              missing);
      }
    }
  }
  if (!u.reason.empty()) absl::StrAppend(&reason, "; ", u.reason);
  if (t.progress.stall_killed && state != Attempt::SUCCEEDED) {
    // Stopped by the progress watch: the stall is the reason, and the
    // signal it took says nothing permanent.
    state = Attempt::FAILED;
    reason = absl::StrCat(t.progress.stall_reason, "; stopped by ocxd (",
                          reason, ")");
    facts = FailureFacts{};
    facts.stalled = true;
  }
  if (state != Attempt::SUCCEEDED &&
      evals_.at(t.task.evaluation_id()).cancel_requested) {
    state = Attempt::CANCELLED;
    reason = absl::StrCat("cancelled by user (", reason, ")");
  }
  OCX_RETURN_IF_ERROR(
      EndpointAttemptEnded(t, state == Attempt::SUCCEEDED, facts, reason, now));
  if (state == Attempt::SUCCEEDED) {
    reason = "exit code 0";
    OCX_RETURN_IF_ERROR(
        RecordOutputs(store_, t.task.id(), t.task.params(), now));
  }
  return FinishAttempt(&t, state, reason, now, facts);
}

// Metrics of an ended attempt: by stage, backend and end state; its
// duration; whether a retry follows.
void Dispatcher::CountEndedAttempt(const Task& task, const Attempt& a,
                                   bool retried, const FailureFacts& facts) {
  static metrics::Family& ended = metrics::Counter(
      "ocx_attempts_ended_total",
      "Task attempts ended, by how they ended and the class of why.",
      {"stage", "backend", "state", "reason"});
  static metrics::Family& retries = metrics::Counter(
      "ocx_retries_total",
      "Task attempts that failed and will be retried, by the class of why.",
      {"stage", "reason"});
  static metrics::Family& duration = metrics::Histogram(
      "ocx_attempt_duration_seconds",
      "Task attempts from start to end, by stage and end state.",
      {"stage", "state"}, metrics::kDurationBuckets);
  const std::string stage =
      task.stage() == ocx::v1::STAGE_EVAL ? "eval" : "infer";
  const std::string state =
      absl::AsciiStrToLower(Attempt::State_Name(a.state()));
  const std::string why = ReasonClass(a, facts);
  ended.Add({stage, a.backend(), state, why});
  if (retried) retries.Add({stage, why});
  const int64_t start = TimestampMillis(a.start_time());
  const int64_t end = TimestampMillis(a.end_time());
  if (start > 0 && end >= start) {
    duration.Observe({stage, state}, (end - start) / 1000.0);
  }
}

absl::Status Dispatcher::FinishAttempt(TaskEntry* t, Attempt::State state,
                                       const std::string& reason, int64_t now,
                                       const FailureFacts& facts) {
  Attempt& a = t->attempt.attempt;
  std::string why = reason;
  if (!a.replica_id().empty()) {
    // Its replica failed under it: run it again elsewhere without using
    // up a retry (the journal keeps the samples already done).
    const bool failed_under = ReplicaFailedUnder(*t);
    if (state != Attempt::SUCCEEDED && state != Attempt::CANCELLED &&
        failed_under) {
      t->task.set_max_attempts(t->task.max_attempts() + 1);
      absl::StrAppend(&why, "; its model server replica ", a.replica_id(),
                      " failed, so this attempt does not count");
    }
    pools_->TaskEnded(a.replica_id(), now);
  }
  a.set_state(state);
  a.set_reason(why);
  if (TimestampMillis(a.end_time()) == 0)
    SetTimestamp(now, a.mutable_end_time());
  OCX_RETURN_IF_ERROR(store_->PutAttempt(t->attempt));
  RetryDecision next = retry_policy_.AfterAttempt(
      state, why, a.number(), t->task.attempt_count(), t->task.max_attempts(),
      evals_.at(t->task.evaluation_id()).cancel_requested, facts);
  CountEndedAttempt(t->task, a, next.state == Task::READY, facts);
  if (next.state != Task::READY) {
    return SetTaskState(t, next.state, next.reason, now);
  }
  SetTimestamp(now + next.delay_ms, t->task.mutable_next_attempt_time());
  OCX_RETURN_IF_ERROR(SetTaskState(t, Task::READY, next.reason, now));
  MakeReady(t);
  return absl::OkStatus();
}

}  // namespace ocx::server
