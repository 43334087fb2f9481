#include "server/dispatcher/dispatcher.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/work_dir_layout.h"
#include "google/protobuf/util/json_util.h"
#include "server/dispatcher/task_command.h"
#include "summary/summary_files.h"
#include "summary/summary_table.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;

bool IsFinal(Task::State s) {
  return s == Task::SUCCEEDED || s == Task::FAILED || s == Task::CANCELLED;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev) : absl::StrCat(sig);
}

std::string FormatSeconds(int64_t ms) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

// The loop sleeps at most this long, so that it notices a stop request and
// keeps the watchdog fed.
constexpr int64_t kMaxSleepMs = 1000;

}  // namespace

Dispatcher::Dispatcher(store::Store* store, RunnerSet runners, Waker* waker,
                       DispatcherOptions options)
    : store_(store),
      runners_(std::move(runners)),
      waker_(waker),
      options_(std::move(options)) {
  for (const auto& [type, runner] : runners_) {
    if (runner == nullptr || by_backend_.count(runner->backend()) > 0) continue;
    by_backend_[runner->backend()] = runner;
    distinct_runners_.push_back(runner);
  }
}

runners::Runner* Dispatcher::RunnerOf(const TaskEntry& t) const {
  auto it = runners_.find(RunnerConfigFor(t).type());
  return it == runners_.end() ? nullptr : it->second;
}

runners::Runner* Dispatcher::RunnerOfAttempt(const TaskEntry& t) const {
  auto it = by_backend_.find(t.attempt.attempt.backend());
  return it == by_backend_.end() ? RunnerOf(t) : it->second;
}

Dispatcher::~Dispatcher() { Stop(); }

// ---- RPC-thread entry points ----

absl::StatusOr<std::string> Dispatcher::Submit(Submission submission) {
  Command cmd;
  cmd.kind = Command::Kind::kSubmit;
  cmd.submission = std::move(submission);
  absl::MutexLock lock(&mu_);
  if (!running_) return absl::UnavailableError("ocxd is shutting down");
  commands_.push_back(&cmd);
  waker_->Notify();
  mu_.Await(absl::Condition(&cmd.done));
  return cmd.result;
}

absl::Status Dispatcher::Cancel(const std::string& eval_id) {
  Command cmd;
  cmd.kind = Command::Kind::kCancel;
  cmd.eval_id = eval_id;
  absl::MutexLock lock(&mu_);
  if (!running_) return absl::UnavailableError("ocxd is shutting down");
  commands_.push_back(&cmd);
  waker_->Notify();
  mu_.Await(absl::Condition(&cmd.done));
  return cmd.result.status();
}

uint64_t Dispatcher::WaitForCommit(uint64_t seen, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto newer = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return generation_ > seen || !running_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&newer), timeout);
  return generation_;
}

void Dispatcher::Committed() {
  absl::MutexLock lock(&mu_);
  ++generation_;
}

// ---- Lifecycle ----

void Dispatcher::Start() {
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  last_turn_ms_ = NowMillis();
  thread_ = std::thread([this] { Loop(); });
}

void Dispatcher::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  waker_->Notify();
  thread_.join();
  absl::MutexLock lock(&mu_);
  running_ = false;
  for (Command* cmd : commands_) {
    cmd->result = absl::UnavailableError("ocxd is shutting down");
    cmd->done = true;
  }
  commands_.clear();
}

void Dispatcher::Loop() {
  while (!stopping_) {
    Turn();
    last_turn_ms_ = NowMillis();
    if (stopping_) break;
    int64_t sleep_ms = kMaxSleepMs;
    for (runners::Runner* r : distinct_runners_) {
      sleep_ms = std::min(sleep_ms, r->poll_interval_ms());
    }
    if (!backoff_.empty()) {
      sleep_ms =
          std::min(sleep_ms,
                   std::max<int64_t>(0, backoff_.begin()->first - NowMillis()));
    }
    waker_->Wait(sleep_ms);
  }
}

void Dispatcher::Turn() {
  int64_t now = NowMillis();
  std::deque<Command*> commands;
  {
    absl::MutexLock lock(&mu_);
    commands.swap(commands_);
  }
  std::vector<runners::AttemptUpdate> updates;
  for (runners::Runner* r : distinct_runners_) {
    for (runners::AttemptUpdate& u : r->Poll()) updates.push_back(std::move(u));
  }

  absl::Status status = store_->Begin();
  if (status.ok()) {
    for (Command* cmd : commands) {
      absl::Status s = ApplyCommand(cmd, now);
      if (!s.ok()) {
        cmd->result = s;
      }
    }
    for (const runners::AttemptUpdate& u : updates) {
      status.Update(ApplyUpdate(u, now));
    }
    status.Update(PromoteDueRetries(now));
  }
  std::vector<Launch> to_launch;
  if (status.ok() && !stopping_ && !no_launch_) {
    status.Update(Schedule(now, &to_launch));
  }
  if (status.ok()) {
    for (const std::string& id : touched_evals_) {
      auto it = evals_.find(id);
      if (it != evals_.end())
        status.Update(RefreshEvaluation(&it->second, now));
    }
    touched_evals_.clear();
  }
  if (status.ok()) status = store_->Commit();
  if (!status.ok()) {
    // In-memory state no longer matches the database: restart from it, as
    // LevelDB does after a failed write ("failures stick").
    fprintf(stderr, "ocxd: fatal: cannot commit dispatcher state: %s\n",
            status.ToString().c_str());
    store_->Rollback();
    _exit(70);
  }
  Committed();
  {
    absl::MutexLock lock(&mu_);
    for (Command* cmd : commands) cmd->done = true;
  }
  if (!to_launch.empty()) {
    absl::Status launched = store_->Begin();
    if (launched.ok()) launched = LaunchAll(&to_launch);
    if (launched.ok()) {
      for (const std::string& id : touched_evals_) {
        auto it = evals_.find(id);
        if (it != evals_.end()) {
          launched.Update(RefreshEvaluation(&it->second, NowMillis()));
        }
      }
      touched_evals_.clear();
    }
    if (launched.ok()) launched = store_->Commit();
    if (!launched.ok()) {
      fprintf(stderr, "ocxd: fatal: cannot commit launches: %s\n",
              launched.ToString().c_str());
      _exit(70);
    }
    Committed();
  }
}

// ---- Commands ----

absl::Status Dispatcher::ApplyCommand(Command* cmd, int64_t now) {
  switch (cmd->kind) {
    case Command::Kind::kSubmit:
      return ApplySubmit(cmd, now);
    case Command::Kind::kCancel:
      return ApplyCancel(cmd, now);
  }
  return absl::InternalError("unknown command");
}

absl::Status Dispatcher::ApplySubmit(Command* cmd, int64_t now) {
  Submission& sub = cmd->submission;
  Evaluation& e = sub.evaluation;
  if (!e.request_id().empty()) {
    OCX_ASSIGN_OR_RETURN(auto existing,
                         store_->FindByRequestId(e.request_id()));
    if (existing.has_value()) {
      cmd->result = *existing;
      return absl::OkStatus();
    }
  }
  // A savepoint lets one bad submission fail alone inside the group commit.
  OCX_RETURN_IF_ERROR(store_->Savepoint());
  auto insert = [&]() -> absl::Status {
    e.set_state(Evaluation::QUEUED);
    e.set_task_count(static_cast<int32_t>(sub.tasks.size()));
    SetTimestamp(now, e.mutable_create_time());
    SetTimestamp(now, e.mutable_update_time());
    OCX_ASSIGN_OR_RETURN(int64_t seq, store_->InsertEvaluation(e));
    int reused = 0;
    for (Task& t : sub.tasks) {
      SetTimestamp(now, t.mutable_create_time());
      if (IsFinal(t.state())) {
        SetTimestamp(now, t.mutable_end_time());
        ++reused;
      }
      OCX_RETURN_IF_ERROR(store_->InsertTask(t));
    }
    for (const store::DatasetSizeRecord& r : sub.dataset_sizes) {
      OCX_RETURN_IF_ERROR(store_->PutDatasetSize(r, now));
    }
    OCX_RETURN_IF_ERROR(AddEvent(
        e.id(), "", 0, "QUEUED",
        absl::StrCat("evaluation created with ", sub.tasks.size(), " tasks",
                     reused > 0 ? absl::StrCat(" (", reused,
                                               " reused: outputs with the "
                                               "same fingerprint exist)")
                                : ""),
        now));
    EvalEntry& entry = evals_[e.id()];
    entry.evaluation = e;
    entry.seq = seq;
    return absl::OkStatus();
  };
  absl::Status status = insert();
  if (!status.ok()) {
    // Nothing was tracked yet: the entry is added only after every insert
    // succeeded (an existing evaluation with this id must stay).
    store_->RollbackToSavepoint();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          absl::StrCat("evaluation ", e.id(), " already exists"));
    }
    return status;
  }
  OCX_RETURN_IF_ERROR(store_->ReleaseSavepoint());
  for (Task& t : sub.tasks) {
    // Reused tasks are done; Track() counts only tracked dependencies.
    if (!IsFinal(t.state())) Track(std::move(t));
  }
  touched_evals_.insert(e.id());
  cmd->result = e.id();
  return absl::OkStatus();
}

absl::Status Dispatcher::ApplyCancel(Command* cmd, int64_t now) {
  auto it = evals_.find(cmd->eval_id);
  if (it == evals_.end()) {
    OCX_ASSIGN_OR_RETURN(Evaluation e, store_->GetEvaluation(cmd->eval_id));
    return absl::FailedPreconditionError(
        absl::StrCat("evaluation ", e.id(), " has already ended (",
                     Evaluation::State_Name(e.state()), ")"));
  }
  EvalEntry& e = it->second;
  if (!e.cancel_requested) {
    e.cancel_requested = true;
    OCX_RETURN_IF_ERROR(AddEvent(e.evaluation.id(), "", 0, "CANCELLING",
                                 "cancel requested", now));
  }
  std::vector<std::string> ids(e.task_ids.begin(), e.task_ids.end());
  for (const std::string& id : ids) {
    TaskEntry& t = tasks_.at(id);
    switch (t.task.state()) {
      case Task::PENDING:
      case Task::READY:
        Unready(&t);
        OCX_RETURN_IF_ERROR(
            SetTaskState(&t, Task::CANCELLED, "cancelled by user", now));
        break;
      case Task::LAUNCHING:
      case Task::RUNNING: {
        runners::Runner* runner = RunnerOfAttempt(t);
        absl::Status s =
            runner == nullptr
                ? absl::NotFoundError("no runner")
                : runner->Cancel({t.task.id(), t.attempt.attempt.number()});
        if (!s.ok() && !absl::IsNotFound(s)) {
          fprintf(stderr, "ocxd: cancel %s: %s\n", t.task.id().c_str(),
                  s.ToString().c_str());
        }
        break;
      }
      default:
        break;
    }
  }
  touched_evals_.insert(e.evaluation.id());
  cmd->result = e.evaluation.id();
  return absl::OkStatus();
}

// ---- Task bookkeeping ----

void Dispatcher::Track(Task task) {
  std::string id = task.id();
  TaskEntry& t = tasks_[id];
  t.task = std::move(task);
  EvalEntry& e = evals_.at(t.task.evaluation_id());
  e.task_ids.insert(id);
  for (const std::string& dep : t.task.depends_on()) {
    auto d = tasks_.find(dep);
    // Not tracked: finished before a restart; Recover() looks at how.
    if (d == tasks_.end()) continue;
    d->second.dependents.push_back(id);
    ++t.pending_deps;
  }
  if (t.task.state() == Task::READY) MakeReady(&t);
}

void Dispatcher::MakeReady(TaskEntry* t) {
  int64_t next = TimestampMillis(t->task.next_attempt_time());
  if (next > NowMillis()) {
    backoff_.emplace(next, t->task.id());
    return;
  }
  const EvalEntry& e = evals_.at(t->task.evaluation_id());
  ready_[{e.seq, t->task.stage()}].emplace(t->task.index(), t->task.id());
}

void Dispatcher::Unready(TaskEntry* t) {
  const EvalEntry& e = evals_.at(t->task.evaluation_id());
  auto q = ready_.find({e.seq, t->task.stage()});
  if (q != ready_.end()) {
    q->second.erase({t->task.index(), t->task.id()});
    if (q->second.empty()) ready_.erase(q);
  }
  for (auto it = backoff_.begin(); it != backoff_.end(); ++it) {
    if (it->second == t->task.id()) {
      backoff_.erase(it);
      break;
    }
  }
}

absl::Status Dispatcher::SetTaskState(TaskEntry* t, Task::State state,
                                      const std::string& message, int64_t now) {
  EvalEntry& e = evals_.at(t->task.evaluation_id());
  Task::State old = t->task.state();
  bool was_running = old == Task::LAUNCHING || old == Task::RUNNING;
  bool is_running = state == Task::LAUNCHING || state == Task::RUNNING;
  if (was_running && !is_running) --e.running[t->task.stage()];
  if (!was_running && is_running) ++e.running[t->task.stage()];
  t->task.set_state(state);
  if (state == Task::LAUNCHING && TimestampMillis(t->task.start_time()) == 0) {
    SetTimestamp(now, t->task.mutable_start_time());
  }
  if (IsFinal(state)) {
    SetTimestamp(now, t->task.mutable_end_time());
    t->task.set_reason(message);
    if (state == Task::FAILED) ++e.failed;
  } else if (state == Task::READY && !message.empty()) {
    t->task.set_reason(message);  // why it waits: "attempt 1/3 failed: ..."
  }
  if (state == Task::LAUNCHING || state == Task::RUNNING) e.started = true;
  OCX_RETURN_IF_ERROR(store_->UpdateTask(t->task));
  // LAUNCHING is followed within the turn by RUNNING: one event is enough.
  if (state != Task::LAUNCHING) {
    OCX_RETURN_IF_ERROR(AddEvent(t->task.evaluation_id(), t->task.id(),
                                 t->task.attempt_count(),
                                 Task::State_Name(state), message, now));
  }
  touched_evals_.insert(t->task.evaluation_id());
  if (IsFinal(state)) {
    std::string id = t->task.id();
    std::vector<std::string> dependents = t->dependents;
    if (state == Task::SUCCEEDED) {
      for (const std::string& dep : dependents) {
        auto d = tasks_.find(dep);
        if (d == tasks_.end() || d->second.task.state() != Task::PENDING) {
          continue;
        }
        if (--d->second.pending_deps == 0) {
          d->second.task.set_state(Task::READY);
          OCX_RETURN_IF_ERROR(store_->UpdateTask(d->second.task));
          OCX_RETURN_IF_ERROR(AddEvent(d->second.task.evaluation_id(), dep, 0,
                                       "READY", "dependencies succeeded", now));
          MakeReady(&d->second);
        }
      }
    } else {
      OCX_RETURN_IF_ERROR(FailDependents(t, now));
    }
    e.task_ids.erase(id);
    tasks_.erase(id);  // `t` is gone from here on.
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::FailDependents(TaskEntry* t, int64_t now) {
  std::string reason = absl::StrCat(
      "dependency ", t->task.id(), " ",
      t->task.state() == Task::CANCELLED ? "was cancelled" : "failed");
  Task::State state =
      t->task.state() == Task::CANCELLED ? Task::CANCELLED : Task::FAILED;
  std::vector<std::string> dependents = t->dependents;
  for (const std::string& dep : dependents) {
    auto d = tasks_.find(dep);
    if (d == tasks_.end() || d->second.task.state() != Task::PENDING) continue;
    OCX_RETURN_IF_ERROR(SetTaskState(&d->second, state, reason, now));
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::AddEvent(const std::string& eval_id,
                                  const std::string& task_id, int attempt,
                                  const std::string& state,
                                  const std::string& message, int64_t now) {
  ocx::v1::Event event;
  SetTimestamp(now, event.mutable_time());
  event.set_evaluation_id(eval_id);
  event.set_task_id(task_id);
  event.set_attempt(attempt);
  event.set_state(state);
  event.set_message(message);
  return store_->AppendEvent(event).status();
}

absl::Status Dispatcher::RefreshEvaluation(EvalEntry* e, int64_t now) {
  Evaluation::State state;
  if (e->task_ids.empty()) {
    state = e->cancel_requested ? Evaluation::CANCELLED
            : e->failed > 0     ? Evaluation::FAILED
                                : Evaluation::SUCCEEDED;
  } else if (e->cancel_requested) {
    state = Evaluation::CANCELLING;
  } else {
    state = e->started ? Evaluation::RUNNING : Evaluation::QUEUED;
  }
  if (state == e->evaluation.state()) return absl::OkStatus();
  bool final = e->task_ids.empty();
  // The summary is written before the terminal state is committed (this
  // turn's commit): a crash in between leaves the evaluation active, and
  // recovery refreshes it and writes the summary again.
  std::string summary_note;
  if (state == Evaluation::SUCCEEDED || state == Evaluation::FAILED) {
    summary_note = WriteSummary(e->evaluation);
  }
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
    int64_t seq = e->seq;
    for (auto it = ready_.begin(); it != ready_.end();) {
      it = it->first.first == seq ? ready_.erase(it) : std::next(it);
    }
    evals_.erase(e->evaluation.id());
  }
  return absl::OkStatus();
}

std::string Dispatcher::WriteSummary(const Evaluation& evaluation) {
  // Only when some results file exists: an evaluation of `command` tasks
  // that write none gets no empty table. Reading the results files costs
  // one small read per (model, dataset), once per evaluation.
  const summary::SummaryTable table =
      summary::BuildSummaryTable(evaluation.spec(), evaluation.work_dir());
  bool any = false;
  for (const summary::SummaryRow& row : table.rows) {
    for (const auto& v : row.values) any = any || v.has_value();
  }
  if (!any) return "";
  absl::Status written =
      summary::WriteSummaryFiles(evaluation.work_dir(), table);
  if (!written.ok()) {
    fprintf(stderr, "ocxd: evaluation %s: summary not written: %s\n",
            evaluation.id().c_str(), written.ToString().c_str());
    return absl::StrCat("summary not written: ", written.message());
  }
  return "summary written to summary/summary.{txt,csv,md}";
}

// ---- Runner updates ----

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
    case runners::AttemptUpdate::Kind::kLost:
      SetTimestamp(u.end_ms > 0 ? u.end_ms : now, a.mutable_end_time());
      return FinishAttempt(&t, Attempt::LOST,
                           u.reason.empty() ? "lost by the backend" : u.reason,
                           now);
    case runners::AttemptUpdate::Kind::kExited:
      break;
  }
  SetTimestamp(u.end_ms > 0 ? u.end_ms : now, a.mutable_end_time());
  std::string reason;
  Attempt::State state = Attempt::SUCCEEDED;
  if (u.signal != 0) {
    a.set_signal(u.signal);
    state = Attempt::FAILED;
    reason = absl::StrCat("killed by signal ", u.signal, " (",
                          SignalName(u.signal), ")");
  } else {
    a.set_exit_code(u.exit_code);
    if (u.exit_code != 0) {
      state = Attempt::FAILED;
      reason = absl::StrCat("exit code ", u.exit_code);
      if (u.exit_code == 127) absl::StrAppend(&reason, " (command not found?)");
    } else {
      std::string missing = MissingOutputs(t);
      if (!missing.empty()) {
        state = Attempt::FAILED;
        reason = absl::StrCat("exited 0 but expected outputs are missing: ",
                              missing);
      }
    }
  }
  if (!u.reason.empty()) absl::StrAppend(&reason, "; ", u.reason);
  if (state != Attempt::SUCCEEDED &&
      evals_.at(t.task.evaluation_id()).cancel_requested) {
    state = Attempt::CANCELLED;
    reason = absl::StrCat("cancelled by user (", reason, ")");
  }
  if (state == Attempt::SUCCEEDED) {
    reason = "exit code 0";
    OCX_RETURN_IF_ERROR(RecordOutputs(t, now));
  }
  return FinishAttempt(&t, state, reason, now);
}

absl::Status Dispatcher::FinishAttempt(TaskEntry* t, Attempt::State state,
                                       const std::string& reason, int64_t now) {
  Attempt& a = t->attempt.attempt;
  a.set_state(state);
  a.set_reason(reason);
  if (TimestampMillis(a.end_time()) == 0)
    SetTimestamp(now, a.mutable_end_time());
  OCX_RETURN_IF_ERROR(store_->PutAttempt(t->attempt));
  const int n = a.number();
  const int max = t->task.max_attempts();
  if (state == Attempt::SUCCEEDED) {
    return SetTaskState(t, Task::SUCCEEDED,
                        absl::StrCat("attempt ", n, " succeeded"), now);
  }
  if (state == Attempt::CANCELLED ||
      evals_.at(t->task.evaluation_id()).cancel_requested) {
    return SetTaskState(t, Task::CANCELLED,
                        absl::StrCat("attempt ", n, ": ", reason), now);
  }
  if (t->task.attempt_count() < max) {
    double backoff = options_.initial_backoff_ms *
                     std::pow(options_.backoff_multiplier, n - 1);
    int64_t delay = static_cast<int64_t>(std::min<double>(
        backoff, static_cast<double>(options_.max_backoff_ms)));
    SetTimestamp(now + delay, t->task.mutable_next_attempt_time());
    OCX_RETURN_IF_ERROR(
        SetTaskState(t, Task::READY,
                     absl::StrCat("attempt ", n, "/", max, " failed: ", reason,
                                  "; retrying in ", FormatSeconds(delay)),
                     now));
    MakeReady(t);
    return absl::OkStatus();
  }
  return SetTaskState(
      t, Task::FAILED,
      absl::StrCat("attempt ", n, "/", max, " failed: ", reason), now);
}

namespace {

// The paths of `files` (relative to `work_dir`) that do not exist, joined
// with ", "; after `named` of them, only a count ("and 3 more").
std::string MissingFiles(
    const std::string& work_dir,
    const google::protobuf::RepeatedPtrField<std::string>& files, int named) {
  std::vector<std::string> missing;
  int more = 0;
  for (const std::string& file : files) {
    if (PathExists(layout::InWorkDir(work_dir, file))) continue;
    if (static_cast<int>(missing.size()) < named) {
      missing.push_back(file);
    } else {
      ++more;
    }
  }
  std::string text = absl::StrJoin(missing, ", ");
  if (more > 0) absl::StrAppend(&text, " and ", more, " more");
  return text;
}

}  // namespace

std::string Dispatcher::MissingOutputs(const TaskEntry& t) const {
  return MissingFiles(t.task.params().work_dir(),
                      t.task.params().expected_outputs(),
                      std::numeric_limits<int>::max());
}

std::string Dispatcher::MissingInputs(const TaskEntry& t) const {
  return MissingFiles(t.task.params().work_dir(),
                      t.task.params().required_inputs(), /*named=*/10);
}

absl::Status Dispatcher::RecordOutputs(const TaskEntry& t, int64_t now) {
  const ocx::v1::TaskParams& p = t.task.params();
  if (p.output_fingerprints_size() != p.expected_outputs_size()) {
    return absl::OkStatus();  // planned before fingerprints existed
  }
  for (int i = 0; i < p.expected_outputs_size(); ++i) {
    store::OutputRecord r;
    r.path = layout::InWorkDir(p.work_dir(), p.expected_outputs(i));
    struct stat st;
    if (stat(r.path.c_str(), &st) != 0) continue;
    r.fingerprint = p.output_fingerprints(i);
    r.size = st.st_size;
    r.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    r.task_id = t.task.id();
    OCX_RETURN_IF_ERROR(store_->PutOutput(r, now));
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::PromoteDueRetries(int64_t now) {
  while (!backoff_.empty() && backoff_.begin()->first <= now) {
    std::string id = backoff_.begin()->second;
    backoff_.erase(backoff_.begin());
    auto it = tasks_.find(id);
    if (it == tasks_.end() || it->second.task.state() != Task::READY) continue;
    it->second.task.clear_next_attempt_time();
    MakeReady(&it->second);
  }
  return absl::OkStatus();
}

// ---- Launching ----

const ocx::v1::RunnerConfig& Dispatcher::RunnerConfigFor(
    const TaskEntry& t) const {
  const auto& spec = evals_.at(t.task.evaluation_id()).evaluation.spec();
  return t.task.stage() == ocx::v1::STAGE_INFER ? spec.infer().runner()
                                                : spec.eval().runner();
}

runners::LaunchSpec Dispatcher::BuildLaunchSpec(const TaskEntry& t,
                                                int attempt) const {
  const ocx::v1::TaskParams& p = t.task.params();
  const ocx::v1::RunnerConfig& runner = RunnerConfigFor(t);
  TaskPaths paths = PathsFor(p, attempt);
  runners::LaunchSpec spec;
  spec.key = {t.task.id(), attempt};
  spec.name = absl::StrCat("ocx-", t.task.id(), "-", attempt);
  spec.argv = TaskArgv(p, paths, attempt, options_.task_program);
  for (const auto& [k, v] : p.task().env()) spec.env[k] = v;
  spec.env["OCX_TASK_JSON"] = paths.task_json;
  spec.env["OCX_WORK_DIR"] = p.work_dir();
  spec.env["OCX_EVALUATION_ID"] = p.evaluation_id();
  spec.env["OCX_TASK_ID"] = t.task.id();
  spec.env["OCX_ATTEMPT"] = absl::StrCat(attempt);
  spec.env["OCX_ATTEMPT_DIR"] = paths.attempt_dir;
  spec.work_dir = p.work_dir();
  spec.attempt_dir = paths.attempt_dir;
  spec.log_path = paths.log_path;
  spec.num_gpus = t.task.num_gpus();
  spec.max_workers_per_gpu = std::max(1, runner.max_workers_per_gpu());
  spec.timeout_s = p.task().timeout_s();
  spec.runner = runner;
  spec.stage = t.task.stage();
  spec.task_name = t.task.name();
  return spec;
}

absl::Status Dispatcher::WriteTaskJson(const TaskEntry& t) const {
  TaskPaths paths = PathsFor(t.task.params(), 1);
  if (PathExists(paths.task_json)) return absl::OkStatus();
  OCX_RETURN_IF_ERROR(MakeDirs(paths.task_dir));
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  auto status = google::protobuf::util::MessageToJsonString(t.task.params(),
                                                            &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("task.json: ", status.ToString()));
  }
  return WriteFileAtomic(paths.task_json, json);
}

absl::Status Dispatcher::Schedule(int64_t now, std::vector<Launch>* out) {
  // Runners that said "full" this turn: their other queues wait too.
  std::set<runners::Runner*> full;
  for (auto q = ready_.begin(); q != ready_.end();) {
    auto& queue = q->second;
    while (!queue.empty()) {
      TaskEntry& t = tasks_.at(queue.begin()->second);
      EvalEntry& e = evals_.at(t.task.evaluation_id());
      const ocx::v1::RunnerConfig& rc = RunnerConfigFor(t);
      int limit = rc.max_num_workers() > 0 ? rc.max_num_workers() : 16;
      if (e.running[t.task.stage()] >= limit) break;
      runners::Runner* runner = RunnerOf(t);
      if (runner == nullptr) {
        queue.erase(queue.begin());
        OCX_RETURN_IF_ERROR(SetTaskState(
            &t, Task::FAILED,
            absl::StrCat(rc.type(), " is not available in this ocxd"), now));
        continue;
      }
      if (full.count(runner) > 0) break;
      int attempt = t.task.attempt_count() + 1;
      runners::LaunchSpec spec = BuildLaunchSpec(t, attempt);
      absl::StatusOr<std::vector<int>> placed = runner->Place(spec);
      if (!placed.ok()) {
        if (absl::IsResourceExhausted(placed.status())) {
          full.insert(runner);
          break;
        }
        queue.erase(queue.begin());
        OCX_RETURN_IF_ERROR(
            SetTaskState(&t, Task::FAILED,
                         absl::StrCat("cannot run on ", runner->backend(), ": ",
                                      placed.status().message()),
                         now));
        continue;
      }
      spec.gpus = *placed;
      queue.erase(queue.begin());
      t.task.set_attempt_count(attempt);
      t.task.clear_next_attempt_time();
      store::AttemptRecord& rec = t.attempt;
      rec = store::AttemptRecord();
      rec.attempt_dir = spec.attempt_dir;
      Attempt& a = rec.attempt;
      a.set_task_id(t.task.id());
      a.set_number(attempt);
      a.set_state(Attempt::LAUNCHING);
      a.set_name(spec.name);
      a.set_backend(runner->backend());
      a.set_log_path(spec.log_path);
      for (int g : spec.gpus) a.add_gpus(g);
      SetTimestamp(now, a.mutable_start_time());
      // Fencing (DESIGN.md decision 4): the attempt row is committed before
      // the backend hears of it.
      OCX_RETURN_IF_ERROR(store_->PutAttempt(rec));
      OCX_RETURN_IF_ERROR(SetTaskState(&t, Task::LAUNCHING, "", now));
      out->push_back(Launch{runner, std::move(spec)});
    }
    if (queue.empty()) {
      q = ready_.erase(q);
    } else {
      ++q;
    }
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::LaunchAll(std::vector<Launch>* launches) {
  for (Launch& launch : *launches) {
    const runners::LaunchSpec& spec = launch.spec;
    runners::Runner* runner = launch.runner;
    int64_t now = NowMillis();
    auto it = tasks_.find(spec.key.task_id);
    if (it == tasks_.end()) {
      runner->Unplace(spec.key);
      continue;
    }
    TaskEntry& t = it->second;
    // The parts manifest: an eval task starts only when every prediction
    // part of its pairs exists (OpenCompass evaluated whatever parts it
    // found up to the first gap).
    std::string missing = MissingInputs(t);
    if (!missing.empty()) {
      runner->Unplace(spec.key);
      OCX_RETURN_IF_ERROR(FinishAttempt(
          &t, Attempt::FAILED, absl::StrCat("missing inputs: ", missing), now));
      continue;
    }
    absl::Status ready = WriteTaskJson(t);
    absl::StatusOr<std::string> id =
        ready.ok() ? runner->Launch(spec) : absl::StatusOr<std::string>(ready);
    if (!id.ok()) {
      runner->Unplace(spec.key);
      OCX_RETURN_IF_ERROR(FinishAttempt(
          &t, Attempt::FAILED,
          absl::StrCat("could not start: ", id.status().message()), now));
      continue;
    }
    t.attempt.attempt.set_backend_id(*id);
    t.attempt.attempt.set_state(Attempt::RUNNING);
    OCX_RETURN_IF_ERROR(store_->PutAttempt(t.attempt));
    OCX_RETURN_IF_ERROR(
        SetTaskState(&t, Task::RUNNING,
                     absl::StrCat("attempt ", spec.key.attempt, " running as ",
                                  runner->backend(), " ", *id),
                     now));
  }
  return absl::OkStatus();
}

// ---- Recovery ----

absl::Status Dispatcher::Recover() {
  int64_t now = NowMillis();
  OCX_RETURN_IF_ERROR(store_->Begin());
  auto recover = [&]() -> absl::Status {
    OCX_ASSIGN_OR_RETURN(auto evals, store_->LoadActiveEvaluations());
    for (auto& r : evals) {
      EvalEntry& e = evals_[r.evaluation.id()];
      e.seq = r.seq;
      e.cancel_requested = r.evaluation.state() == Evaluation::CANCELLING;
      e.started = r.evaluation.state() != Evaluation::QUEUED;
      e.evaluation = std::move(r.evaluation);
    }
    OCX_ASSIGN_OR_RETURN(auto active, store_->LoadActiveTasks());
    // Failed tasks that finished before the restart count toward the
    // evaluation's outcome.
    std::map<std::string, std::map<std::string, Task::State>> states;
    for (auto& [id, e] : evals_) {
      OCX_ASSIGN_OR_RETURN(auto list, store_->TaskStates(id));
      for (auto& [tid, st] : list) {
        states[id][tid] = st;
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
    for (auto& r : running) {
      std::string id = r.task.id();
      Track(r.task);
      TaskEntry& t = tasks_.at(id);
      ++evals_.at(t.task.evaluation_id()).running[t.task.stage()];
      if (!r.last_attempt.has_value() ||
          r.last_attempt->attempt.number() != t.task.attempt_count()) {
        // The attempt row is always committed with the task's LAUNCHING
        // state; without it, start over.
        OCX_RETURN_IF_ERROR(
            SetTaskState(&t, Task::READY, "re-queued after restart", now));
        MakeReady(&t);
        continue;
      }
      t.attempt = *r.last_attempt;
      runners::LaunchSpec spec = BuildLaunchSpec(t, t.task.attempt_count());
      spec.attempt_dir = t.attempt.attempt_dir;
      spec.log_path = t.attempt.attempt.log_path();
      spec.gpus.assign(t.attempt.attempt.gpus().begin(),
                       t.attempt.attempt.gpus().end());
      absl::Status ok = WriteTaskJson(t);
      runners::Runner* runner = RunnerOfAttempt(t);
      if (ok.ok() && runner == nullptr) {
        ok = absl::FailedPreconditionError(
            absl::StrCat("its backend \"", t.attempt.attempt.backend(),
                         "\" is not configured in this ocxd"));
      }
      if (ok.ok()) ok = runner->Adopt(spec, t.attempt.attempt.backend_id());
      if (!ok.ok()) {
        OCX_RETURN_IF_ERROR(FinishAttempt(
            &t, Attempt::LOST,
            absl::StrCat("could not re-attach after restart: ", ok.message()),
            now));
      }
    }
    for (Task& task : pending) {
      std::string id = task.id();
      std::string eval_id = task.evaluation_id();
      Task::State s = task.state();
      Track(std::move(task));
      TaskEntry& t = tasks_.at(id);
      if (s != Task::PENDING) continue;
      bool dep_failed = false;
      for (const std::string& dep : t.task.depends_on()) {
        if (tasks_.count(dep) > 0) continue;  // counted by Track()
        auto st = states[eval_id].find(dep);
        if (st != states[eval_id].end() &&
            (st->second == Task::FAILED || st->second == Task::CANCELLED)) {
          dep_failed = true;
        }
      }
      if (dep_failed) {
        OCX_RETURN_IF_ERROR(
            SetTaskState(&t, Task::FAILED, "a dependency failed", now));
      } else if (t.pending_deps == 0) {
        t.task.set_state(Task::READY);
        OCX_RETURN_IF_ERROR(store_->UpdateTask(t.task));
        MakeReady(&t);
      }
    }
    // Re-issue cancels that were under way.
    for (auto& [id, e] : evals_) {
      if (!e.cancel_requested) continue;
      Command cmd;
      cmd.kind = Command::Kind::kCancel;
      cmd.eval_id = id;
      OCX_RETURN_IF_ERROR(ApplyCancel(&cmd, now));
    }
    std::vector<std::string> touched(touched_evals_.begin(),
                                     touched_evals_.end());
    touched_evals_.clear();
    for (const std::string& id : touched) {
      auto it = evals_.find(id);
      if (it != evals_.end())
        OCX_RETURN_IF_ERROR(RefreshEvaluation(&it->second, now));
    }
    return absl::OkStatus();
  };
  absl::Status status = recover();
  if (!status.ok()) {
    store_->Rollback();
    return Annotate(status, "recovery");
  }
  return store_->Commit();
}

}  // namespace ocx::server
