// Dispatcher: the loop, its commands (create, cancel) and the task graph's
// bookkeeping. Launching, runner updates, evaluation states and recovery
// are in launching.cc, attempt_updates.cc, evaluation_state.cc and
// recovery.cc.
#include "server/dispatcher/dispatcher.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/daemon_exit.h"
#include "common/file_util.h"
#include "common/identity.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/run_as.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;

bool IsFinal(Task::State s) {
  return s == Task::SUCCEEDED || s == Task::FAILED || s == Task::CANCELLED;
}

// The loop sleeps at most this long, so that it notices a stop request and
// keeps the watchdog fed.
constexpr int64_t kMaxSleepMs = 1000;
// How long the outcomes of the last launches may wait to be written: long
// enough that the exits of tasks that end at once (and the launches they
// free slots for) share that turn's commit, short enough that RUNNING
// shows at once.
constexpr int64_t kLaunchResultsDelayMs = 20;

// " by <who>" for an event message (the audit trail), "" when not said.
std::string By(const std::string& requested_by) {
  return requested_by.empty() ? "" : absl::StrCat(" by ", requested_by);
}

}  // namespace

Dispatcher::Dispatcher(store::Store* store, RunnerSet runners, Waker* waker,
                       DispatcherOptions options, SummaryWriter summary_writer)
    : store_(store),
      runners_(std::move(runners)),
      waker_(waker),
      options_(std::move(options)),
      retry_policy_(options_),
      summary_writer_(std::move(summary_writer)),
      fair_(options_.fair_share),
      daemon_account_(options_.daemon_account) {
  if (daemon_account_.uid < 0) {
    daemon_account_.uid = geteuid();
    absl::StatusOr<Identity> me = DaemonIdentity("");
    if (me.ok()) daemon_account_.user = me->user;
  }
  for (const auto& [type, runner] : runners_) {
    if (runner == nullptr || by_backend_.count(runner->backend()) > 0) continue;
    by_backend_[runner->backend()] = runner;
    distinct_runners_.push_back(runner);
  }
  ServingOptions serving = options_.serving;
  if (serving.task_program.empty())
    serving.task_program = options_.task_program;
  pools_ = std::make_unique<ServerPools>(store_, runners_, std::move(serving),
                                         [waker] { waker->Notify(); });
  endpoints_ = std::make_unique<EndpointHealth>(options_.endpoints,
                                                [waker] { waker->Notify(); });
}

runners::Runner* Dispatcher::RunnerOf(const TaskEntry& t) const {
  auto it = runners_.find(RunnerConfigFor(t).type());
  return it == runners_.end() ? nullptr : it->second;
}

runners::Runner* Dispatcher::RunnerOfAttempt(const TaskEntry& t) const {
  auto it = by_backend_.find(t.attempt.attempt.backend());
  return it == by_backend_.end() ? RunnerOf(t) : it->second;
}

Account Dispatcher::AccountOf(const Evaluation& e) const {
  // Stored before owners existed (empty user): the daemon's own account,
  // as MayAccess has it.
  if (e.owner().user().empty()) return daemon_account_;
  return Account{e.owner().uid(), e.owner().user()};
}

std::string Dispatcher::PendingReason(const std::string& eval_id,
                                      ocx::v1::Stage stage) const {
  absl::MutexLock lock(&reasons_mu_);
  auto it = pending_reasons_.find({eval_id, stage});
  return it == pending_reasons_.end() ? "" : it->second;
}

std::string Dispatcher::PendingReason(const std::string& eval_id,
                                      ocx::v1::Stage stage,
                                      const std::string& model_abbr) const {
  {
    absl::MutexLock lock(&reasons_mu_);
    auto it = endpoint_reasons_.find({eval_id, model_abbr});
    if (it != endpoint_reasons_.end()) return it->second;
  }
  return PendingReason(eval_id, stage);
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

absl::Status Dispatcher::Cancel(const std::string& eval_id,
                                const std::string& requested_by) {
  Command cmd;
  cmd.kind = Command::Kind::kCancel;
  cmd.eval_id = eval_id;
  cmd.requested_by = requested_by;
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

absl::Status Dispatcher::CommitWrites() {
  OCX_RETURN_IF_ERROR(store_->Commit());
  const int64_t changes = store_->TotalChanges();
  if (changes != committed_changes_) ++writing_commits_;
  committed_changes_ = changes;
  return absl::OkStatus();
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
  static metrics::Family& turns = metrics::Histogram(
      "ocx_dispatcher_turn_seconds",
      "Dispatcher loop turns: commands, runner polls, retries, placement, "
      "launches and their commits.",
      {}, metrics::kLatencyBuckets);
  while (!stopping_) {
    const int64_t begin_ns = absl::GetCurrentTimeNanos();
    Turn();
    turns.Observe({}, (absl::GetCurrentTimeNanos() - begin_ns) / 1e9);
    last_turn_ms_ = NowMillis();
    if (stopping_) break;
    int64_t sleep_ms = kMaxSleepMs;
    for (runners::Runner* r : distinct_runners_) {
      sleep_ms = std::min(sleep_ms, r->poll_interval_ms());
    }
    if (!launch_results_.empty()) {
      sleep_ms = std::min(sleep_ms, kLaunchResultsDelayMs);
    }
    if (!backoff_.empty()) {
      sleep_ms =
          std::min(sleep_ms,
                   std::max<int64_t>(0, backoff_.begin()->first - NowMillis()));
    }
    waker_->Wait(sleep_ms);
  }
  // The last turn's launches, so a clean stop leaves no attempt LAUNCHING.
  if (!launch_results_.empty()) {
    absl::Status status = store_->Begin();
    if (status.ok()) status = ApplyLaunchResults(NowMillis());
    if (status.ok()) status = RefreshTouched(NowMillis());
    if (status.ok()) status = CommitWrites();
    if (!status.ok()) Fatal("cannot commit launches", status);
    Committed();
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
  // Last turn's launches first: this turn's updates may be about them.
  if (status.ok()) status = ApplyLaunchResults(now);
  if (status.ok()) {
    for (Command* cmd : commands) {
      absl::Status s = ApplyCommand(cmd, now);
      if (!s.ok()) {
        cmd->result = s;
      }
    }
    // Replicas first: a task that failed because its server died in the
    // same turn then finds the replica no longer READY (its retry is free).
    for (const runners::AttemptUpdate& u : updates) {
      if (ServerPools::OwnsKey(u.key))
        status.Update(pools_->ApplyUpdate(u, now));
    }
    for (const runners::AttemptUpdate& u : updates) {
      if (!ServerPools::OwnsKey(u.key)) status.Update(ApplyUpdate(u, now));
    }
    status.Update(PromoteDueRetries(now));
    status.Update(CheckProgress(now));
  }
  if (status.ok() && !stopping_ && !no_launch_) status = ServeStep(now);
  if (status.ok() && !stopping_ && !no_launch_) status = EndpointStep(now);
  std::vector<Launch> to_launch;
  if (status.ok() && !stopping_ && !no_launch_) {
    status.Update(Schedule(now, &to_launch));
  }
  if (status.ok()) status = RefreshTouched(now);
  if (status.ok()) status = CommitWrites();
  if (!status.ok()) store_->Rollback();
  // Evaluations whose last task ended: summary, then their end committed,
  // before a Create waiting on this turn returns.
  if (status.ok()) status = EndEvaluations();
  // In-memory state no longer matches the database: restart from it, as
  // LevelDB does after a failed write ("failures stick").
  if (!status.ok()) Fatal("cannot commit dispatcher state", status);
  Committed();
  {
    absl::MutexLock lock(&mu_);
    for (Command* cmd : commands) cmd->done = true;
  }
  // The LAUNCHING rows are committed: the backends may hear of them. What
  // they answer is written by the next turn (launch_results_), so a turn
  // costs one commit however many tasks it starts.
  if (!to_launch.empty()) LaunchAll(&to_launch);
  if (pools_->HasPlaced()) {
    absl::Status launched = store_->Begin();
    if (launched.ok()) launched = pools_->LaunchPlaced(NowMillis());
    if (launched.ok()) launched = RefreshTouched(NowMillis());
    if (launched.ok()) launched = CommitWrites();
    if (launched.ok()) launched = EndEvaluations();
    if (!launched.ok()) Fatal("cannot commit launches", launched);
    Committed();
  }
}

void Dispatcher::Fatal(const char* what, const absl::Status& status) {
  const int code = DaemonExitCode(status, kDaemonExitCommitFailed);
  fprintf(stderr, "ocxd: fatal: %s: %s (exit %d)\n", what,
          status.ToString().c_str(), code);
  _exit(code);
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

absl::Status Dispatcher::ApplyCancel(Command* cmd, int64_t now) {
  auto it = evals_.find(cmd->eval_id);
  if (it == evals_.end()) {
    OCX_ASSIGN_OR_RETURN(Evaluation e, store_->GetEvaluation(cmd->eval_id));
    return absl::FailedPreconditionError(
        absl::StrCat("evaluation ", e.id(), " has already ended (",
                     Evaluation::State_Name(e.state()), ")"));
  }
  EvalEntry& e = it->second;
  const bool first = !e.cancel_requested;
  e.cancel_requested = true;
  for (const std::string& id : e.entry_ids) {
    TaskEntry& t = tasks_.at(id);
    if (t.task.state() != Task::LAUNCHING && t.task.state() != Task::RUNNING) {
      continue;
    }
    runners::Runner* runner = RunnerOfAttempt(t);
    absl::Status s = runner == nullptr
                         ? absl::NotFoundError("no runner")
                         : runner->Cancel({id, t.attempt.attempt.number()});
    if (!s.ok() && !absl::IsNotFound(s)) {
      fprintf(stderr, "ocxd: cancel %s: %s\n", id.c_str(),
              s.ToString().c_str());
    }
  }
  // The unstarted tasks end with one statement and one event (a million of
  // them took 42 s one row and one event each); running ones end with
  // their attempts, each with its own events.
  OCX_ASSIGN_OR_RETURN(const int64_t cancelled, CancelQueued(e, now));
  const std::string note =
      cancelled > 0 ? absl::StrCat(cancelled, " unstarted task",
                                   cancelled == 1 ? "" : "s", " cancelled")
                    : "";
  if (first) {
    OCX_RETURN_IF_ERROR(
        AddEvent(e.evaluation.id(), "", 0, "CANCELLING",
                 absl::StrCat("cancel requested", By(cmd->requested_by)), now));
    // Replicas nobody else uses stop now, not after idle_stop_s.
    OCX_RETURN_IF_ERROR(
        pools_->RemoveEvaluation(e.evaluation.id(), /*cancelled=*/true, now));
  }
  if (!note.empty()) {
    OCX_RETURN_IF_ERROR(
        AddEvent(e.evaluation.id(), "", 0, "CANCELLING", note, now));
  }
  touched_evals_.insert(e.evaluation.id());
  cmd->result = e.evaluation.id();
  return absl::OkStatus();
}

// ---- Task bookkeeping ----

void Dispatcher::Track(Task task) {
  EvalEntry& e = evals_.at(task.evaluation_id());
  if (TrackQueued(task, e)) return;
  std::string id = task.id();
  // A queued task's params, name and datasets stay in the store until it
  // launches (LaunchSpecOf): a million of them would not fit in memory.
  if (task.state() == Task::PENDING || task.state() == Task::READY) {
    task.clear_params();
    task.clear_name();
    task.clear_dataset_abbrs();
    task.clear_create_time();
  }
  TaskEntry& t = tasks_[id];
  t.task = std::move(task);
  e.entry_ids.insert(id);
  if (t.task.stage() == ocx::v1::STAGE_INFER) {
    auto pool = e.pool_of_model.find(t.task.model_abbr());
    if (pool != e.pool_of_model.end()) {
      t.pool_id = pool->second;
      pools_->AddWaiting(t.pool_id, 1);
    }
  }
  for (const std::string& dep : t.task.depends_on()) {
    // Not tracked: finished before a restart; Recover() looks at how.
    TaskEntry* d = Materialize(dep);
    if (d == nullptr) continue;
    d->dependents.push_back(id);
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
  t->ready_ms = NowMillis();
  EvalEntry& e = evals_.at(t->task.evaluation_id());
  fair_.Add(e.account, ReadyQueueOf(e, t->task.stage(), t->task.model_abbr()),
            e.evaluation.id(), t->task.index(), t->task.id());
}

QueueKey Dispatcher::ReadyQueueOf(EvalEntry& e, int stage,
                                  const std::string& model_abbr) {
  return QueueKey{e.evaluation.spec().priority(), e.seq, stage,
                  ModelIndexOf(e, model_abbr)};
}

int Dispatcher::ModelIndexOf(EvalEntry& e, const std::string& abbr) {
  auto [m, added] =
      e.model_index.try_emplace(abbr, static_cast<uint16_t>(e.models.size()));
  if (added) {
    if (e.models.size() >= kSharedModelQueue) {
      e.model_index.erase(m);
      return kSharedModelQueue;
    }
    e.models.push_back(abbr);
  }
  return m->second;
}

void Dispatcher::Unready(TaskEntry* t) {
  EvalEntry& e = evals_.at(t->task.evaluation_id());
  const QueueKey key = ReadyQueueOf(e, t->task.stage(), t->task.model_abbr());
  fair_.Remove(e.account.uid, key, t->task.index(), t->task.id());
  // Queued while it was a QueuedTask: without its id (MakeReadyQueued).
  fair_.Remove(e.account.uid, key, t->task.index(), "");
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
  if (was_running && !is_running) CountRunning(*t, -1);
  if (!was_running && is_running) CountRunning(*t, +1);
  t->task.set_state(state);
  if (state == Task::LAUNCHING && TimestampMillis(t->task.start_time()) == 0) {
    SetTimestamp(now, t->task.mutable_start_time());
  }
  if (IsFinal(state)) {
    SetTimestamp(now, t->task.mutable_end_time());
    t->task.set_reason(message);
    if (!t->pool_id.empty()) pools_->AddWaiting(t->pool_id, -1);
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
        EvalEntry* qe = nullptr;
        Ref ref = 0;
        if (d == tasks_.end()) {
          QueuedTask* q = FindQueued(dep, &qe, &ref);
          if (q != nullptr && q->state == Task::PENDING &&
              --q->pending_deps == 0) {
            OCX_RETURN_IF_ERROR(QueuedReady(*qe, ref, *q, true, now));
          }
          continue;
        }
        if (d->second.task.state() != Task::PENDING) continue;
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
    e.entry_ids.erase(id);
    tasks_.erase(id);  // `t` is gone from here on.
  }
  return absl::OkStatus();
}

void Dispatcher::CountRunning(TaskEntry& t, int delta) {
  EvalEntry& e = evals_.at(t.task.evaluation_id());
  e.running[t.task.stage()] += delta;
  fair_.AddRunning(e.account, HeldGpus(t), delta);
  WatchRunning(t, delta);
}

absl::Status Dispatcher::FailDependents(TaskEntry* t, int64_t now) {
  std::string reason = absl::StrCat(
      "dependency ", t->task.id(), " ",
      t->task.state() == Task::CANCELLED ? "was cancelled" : "failed");
  Task::State state =
      t->task.state() == Task::CANCELLED ? Task::CANCELLED : Task::FAILED;
  std::vector<std::string> dependents = t->dependents;
  for (const std::string& dep : dependents) {
    TaskEntry* d = Materialize(dep);
    if (d == nullptr || d->task.state() != Task::PENDING) continue;
    OCX_RETURN_IF_ERROR(SetTaskState(d, state, reason, now));
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

}  // namespace ocx::server
