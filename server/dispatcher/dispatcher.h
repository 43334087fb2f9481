// Dispatcher: the one loop that owns every scheduling decision (DESIGN.md
// decisions 2-5). It alone writes to the store: each turn it applies queued
// commands (create, cancel), runner updates and due retries, launches ready
// tasks into free slots, and commits all of it in one transaction (group
// commit).
//
// The loop's parts live in their own files: launching.cc (placing and
// starting attempts), attempt_updates.cc (runner reports, attempt ends),
// evaluation_state.cc (an evaluation's state and end), recovery.cc (after
// a restart); the retry policy, the task files and the summary step have
// their own headers.
//
// Thread safety: Submit, Cancel, WaitForCommit and the accessors are
// thread-safe (called from RPC threads); everything else runs on the loop
// thread. The runner is called only from the loop thread.
#ifndef OCX_SERVER_DISPATCHER_DISPATCHER_H_
#define OCX_SERVER_DISPATCHER_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/progress_file.h"
#include "common/task_rows.h"
#include "common/task_rows_channel.h"
#include "common/waker.h"
#include "ocx/v1/resources.pb.h"
#include "runners/runner.h"
#include "server/dispatcher/endpoint_health.h"
#include "server/dispatcher/fair_share.h"
#include "server/dispatcher/planned_tasks.h"
#include "server/dispatcher/retry_policy.h"
#include "server/dispatcher/server_pools.h"
#include "server/dispatcher/summary_step.h"
#include "server/store/store.h"

namespace ocx::server {

// The retry backoff settings (RetryOptions: initial * multiplier^(n-1),
// capped at max) and the task program.
struct DispatcherOptions : RetryOptions {
  // ocx-task, run for OpenICLInferTask / OpenICLEvalTask.
  std::string task_program;
  // Managed model servers (docs/serving.md); serving.task_program defaults
  // to task_program.
  ServingOptions serving;
  // User-given endpoints: checks, backoff, circuit breaker
  // (docs/endpoints.md).
  EndpointHealthOptions endpoints;
  // ocxd runs as root: attempts run as their evaluation's owner
  // (LaunchSpec::run_as), work dirs and task files are made as theirs
  // (run_as.h; docs/security.md).
  bool run_as_owners = false;
  // Per-user limits (fair_share.h); none by default.
  ocx::v1::FairShareSettings fair_share;
  // The account of evaluations stored without an owner (from before owners
  // existed); uid -1: the account ocxd runs as.
  Account daemon_account;
  // Stall detection (progress_watch.cc): a running task whose progress has
  // not advanced for this long is marked stalled; 0: off. With stall_kill
  // its attempt is stopped and counts as failed.
  int64_t stall_after_ms = 0;
  bool stall_kill = false;
};

// An evaluation ready to store: the row and all its task rows. Tasks
// created SUCCEEDED (reused outputs) are stored but never scheduled; their
// dependents start as if they had just succeeded.
struct Submission {
  ocx::v1::Evaluation evaluation;
  // The tasks: `tasks` (built by hand: tests, benchmarks), then
  // `task_rows` (serialized, as PrepareSubmission plans them: a large
  // sweep's parsed tasks would not fit in memory).
  std::vector<ocx::v1::Task> tasks;
  TaskRows task_rows;
  // Set: more task rows, in chunks, as the planner makes them
  // (server/submission_stream.h); evaluation.task_count says how many rows
  // come in all (tasks, task_rows and the stream's). The dispatcher stores
  // each chunk as it comes, in the submission's savepoint, and stops the
  // channel when it fails.
  std::shared_ptr<TaskRowsChannel> task_stream;
  // Dataset sizes counted while planning, stored in the same transaction
  // (the size cache; only the dispatcher writes).
  std::vector<store::DatasetSizeRecord> dataset_sizes;
  // Identifies the request that carried evaluation.request_id (a hash of
  // it): a later Create with the same request_id must carry the same hash.
  // Empty: not compared.
  std::string request_hash;
  // Create the work dir when the evaluation is stored: after the request_id
  // check, so that a deduplicated retry makes no directory.
  bool create_work_dir = false;
  // Who asked, for the creation event ("alice (uid 1001, via unix
  // socket)"); empty: not said.
  std::string requested_by;
  // With create_work_dir, under a root daemon: the owner's directory under
  // work_root (<work_root>/<user>), made first as theirs (0750) so that the
  // work dir below it is made as the owner.
  std::string owner_root;
};

// The backends this daemon runs tasks on, by the runner type a config names
// (`runner.type`: LocalRunner, SlurmRunner, DLCRunner). Not owned.
using RunnerSet = std::map<std::string, runners::Runner*>;

class Dispatcher {
 public:
  // `store`, the runners and `waker` must outlive the dispatcher. The waker
  // is what the daemon's SIGCHLD handler and the runners notify.
  // `summary_writer` writes the summary of an evaluation that ends
  // SUCCEEDED or FAILED (summary_step.h); none: no summary is written.
  Dispatcher(store::Store* store, RunnerSet runners, Waker* waker,
             DispatcherOptions options, SummaryWriter summary_writer = {});
  // A dispatcher with one runner serving `runner.type: LocalRunner`.
  Dispatcher(store::Store* store, runners::Runner* local, Waker* waker,
             DispatcherOptions options, SummaryWriter summary_writer = {})
      : Dispatcher(store, RunnerSet{{"LocalRunner", local}}, waker,
                   std::move(options), std::move(summary_writer)) {}
  ~Dispatcher();

  // Loads unfinished evaluations and re-attaches their running attempts
  // (DESIGN.md decision 5); ends those whose tasks all ended before the
  // restart (writing their summary again). Call once, before Start().
  absl::Status Recover();

  // Starts the loop thread.
  void Start();
  // Stops launching new attempts at once; the loop keeps applying commands
  // and updates. The first step of a shutdown (SIGTERM).
  void StopLaunching() {
    no_launch_ = true;
    waker_->Notify();
  }
  // Stops launching, finishes the current turn and joins the loop. Running
  // attempts are left running, to be re-attached by the next daemon.
  void Stop();

  // Stores the submission; returns its evaluation id once committed. With a
  // request_id its owner (evaluation.owner) used before, returns the earlier
  // evaluation's id and stores nothing (AIP-155), or ALREADY_EXISTS naming
  // request_id when the earlier request had another request_hash; another
  // owner's request_id is never matched. FAILED_PRECONDITION naming work_dir
  // when the work dir cannot be made.
  absl::StatusOr<std::string> Submit(Submission submission);

  // Cancels an evaluation: unstarted tasks become CANCELLED, running ones
  // are stopped. NOT_FOUND for unknown ids; FAILED_PRECONDITION when it has
  // already ended. `requested_by` (who asked, as in
  // Submission::requested_by) goes into the CANCELLING event.
  absl::Status Cancel(const std::string& eval_id,
                      const std::string& requested_by = "");

  // Blocks until a commit newer than `seen` or `timeout`; returns the newest
  // commit generation.
  uint64_t WaitForCommit(uint64_t seen, absl::Duration timeout);

  // Commits that changed rows (a turn woken by a SIGCHLD whose exit the
  // runner reports later commits nothing): what "one commit per batch of
  // launches" counts (bench_dispatch's commits_per_task).
  uint64_t writing_commits() const { return writing_commits_.load(); }

  // Epoch ms of the end of the last loop turn (for the systemd watchdog).
  int64_t last_turn_ms() const { return last_turn_ms_.load(); }

  // Why the READY tasks of an evaluation's stage waited in the last turn
  // that placed tasks ("waiting: user quota (alice runs 4 of 4 tasks)");
  // "" when they did not wait or are not known. Thread-safe.
  std::string PendingReason(const std::string& eval_id,
                            ocx::v1::Stage stage) const;
  // The same for one task's model: "waiting for endpoint: ..." when its
  // user-given endpoint held it back (docs/endpoints.md), else the above.
  std::string PendingReason(const std::string& eval_id, ocx::v1::Stage stage,
                            const std::string& model_abbr) const;

  // Epoch ms since when the running task's progress is stalled; 0 when it
  // is not (or not known). Thread-safe.
  int64_t StalledSince(const std::string& task_id) const;

 private:
  // A task held whole: launched, retried, or not named as its plan names
  // it. A queued task that never ran is a QueuedTask instead.
  struct TaskEntry {
    // The row; params as stored (configs by reference into the evaluation's
    // spec, common/task_params.h), name, dataset_abbrs and create_time only
    // from its launch on: queued tasks read them from the store when they
    // launch (Store::ReadTaskDetails).
    ocx::v1::Task task;
    int pending_deps = 0;
    std::vector<std::string> dependents;
    store::AttemptRecord attempt;  // current attempt, when launched
    // The managed-server pool of an infer task whose model has `serve`.
    std::string pool_id;
    // When it last became runnable (dispatch latency).
    int64_t ready_ms = 0;
    // What progress_watch.cc saw of it.
    struct Progress {
      int64_t last_done = -1;  // the running attempt's; -1: no report yet
      int64_t change_ms = 0;   // when last_done last changed
      int64_t stalled_ms = 0;  // when it was marked stalled; 0: not
      bool stall_killed = false;
      std::string stall_reason;  // "stalled: no progress for 10m"
      // Counted into the infer metrics: samples (across attempts: a
      // resumed attempt's report includes its predecessors'), and the
      // running attempt's tokens.
      int64_t samples = 0;
      int64_t prompt_tokens = 0;
      int64_t completion_tokens = 0;
    } progress;
  };
  // A queued task that never ran (PENDING, or READY before its first
  // attempt) whose id is its plan's ("<evaluation>-<stage>-<index>"): what
  // scheduling needs of it, in 24 bytes where a TaskEntry costs ~1 KB, so
  // a million queued tasks fit in tens of MB (issue 15). It sits in its
  // evaluation's `queued` at its stage and index (unique per evaluation,
  // as in the store), and becomes a TaskEntry (Materialize) when it
  // launches, fails or is otherwise changed beyond becoming READY.
  struct QueuedTask {
    uint8_t state = 0;   // Task::PENDING or READY; 0: no queued task here
    uint16_t model = 0;  // its model_abbr, as an index in EvalEntry::models
    uint16_t max_attempts = 0;
    uint16_t num_gpus = 0;
    int32_t pending_deps = 0;
    // The first task waiting for it (a Ref); others in
    // EvalEntry::more_dependents.
    uint32_t dependent = kNoRef;
    int64_t ready_ms = 0;  // as TaskEntry::ready_ms
  };
  static_assert(sizeof(QueuedTask) == 24, "a million of them: keep it small");
  // A task of an evaluation by stage and index: stage << 30 | index.
  using Ref = uint32_t;
  static constexpr Ref kNoRef = ~Ref{0};
  static Ref RefOf(int stage, int index) {
    return static_cast<Ref>(stage) << 30 | static_cast<Ref>(index);
  }
  // A model's user-given endpoint and the model name tasks ask it for.
  struct UserEndpoint {
    std::string base_url;
    std::string model;
  };
  struct EvalEntry {
    ocx::v1::Evaluation evaluation;  // row with spec, without counts
    int64_t seq = 0;
    bool cancel_requested = false;
    bool started = false;
    int failed = 0;
    // Its unfinished tasks: those held as TaskEntry by id, the others as
    // QueuedTask by stage (STAGE_INFER, STAGE_EVAL) and index.
    std::set<std::string> entry_ids;
    std::deque<QueuedTask> queued[3];
    int64_t queued_count = 0;
    // Ref -> the tasks waiting for it after QueuedTask::dependent.
    std::unordered_multimap<Ref, Ref> more_dependents;
    // The model abbrs of its tasks (queued and in the ready queues: a
    // ready queue holds one model's tasks), and their indexes; never
    // shrinks, so a task's queue key stays the same.
    std::vector<std::string> models;
    std::map<std::string, uint16_t> model_index;
    int running[3] = {0, 0, 0};  // LAUNCHING + RUNNING, by stage
    // Model abbr -> managed-server pool id, for models with `serve`.
    std::map<std::string, std::string> pool_of_model;
    // Its owner, whose share its tasks use.
    Account account;
    // Model abbr -> its user-given endpoint (EndpointOf), built at first
    // need.
    std::map<std::string, UserEndpoint> endpoint_of_model;
    bool endpoints_known = false;
  };
  struct Command {
    enum class Kind { kSubmit, kCancel } kind;
    Submission submission;
    std::string eval_id;
    std::string requested_by;  // kCancel
    // Filled by the loop; `done` is set after the commit.
    absl::StatusOr<std::string> result = absl::UnknownError("not run");
    bool done = false;
  };
  // (evaluation id, stage) -> why its ready tasks wait.
  using WaitReasons = std::map<std::pair<std::string, int>, std::string>;
  // (evaluation id, model abbr) -> why its infer tasks wait for their
  // endpoint.
  using EndpointReasons =
      std::map<std::pair<std::string, std::string>, std::string>;
  // A runner that said "full" in this turn, and whose queue found out.
  struct FullRunner {
    int64_t uid;
    int32_t priority;
    std::string message;
  };
  // One turn of Schedule: the fair-share walk, the full runners, the
  // reasons of the queues that wait.
  struct ScheduleTurn {
    FairShare::Turn walk;
    std::map<runners::Runner*, FullRunner> full;
    WaitReasons queue_reasons;
    std::map<int64_t, std::string> user_reasons;
    EndpointReasons endpoint_reasons;
    // The candidate's model cannot start this turn (its endpoint or its
    // replicas): the rest of its queue, that model's, waits with it, in
    // one step however many tasks it holds (a task at a time only in the
    // queue models past the 65,535th share).
    void SkipModel(const FairShare::Turn::Candidate& c) {
      if (c.key->model == kSharedModelQueue) {
        walk.SkipTask();
      } else {
        walk.SkipQueue();
      }
    }
  };
  // An attempt placed and committed, to be started after the commit.
  struct Launch {
    runners::Runner* runner;
    runners::LaunchSpec spec;
  };
  // What became of one launch, written to the store in the next turn's
  // transaction (one commit per turn, DESIGN.md decision 4: only the
  // LAUNCHING row must be committed before the backend hears).
  struct LaunchResult {
    runners::Runner* runner;
    runners::AttemptKey key;
    absl::StatusOr<std::string> id;  // the backend id, or why it failed
    std::string missing_inputs;      // set: failed before the backend heard
  };

  // Task states of an evaluation's finished tasks, by evaluation and task
  // id (recovery).
  using FinishedStates =
      std::map<std::string, std::map<std::string, ocx::v1::Task::State>>;

  void Loop();
  void Turn();
  // Logs and ends the process (exit 70): in-memory state no longer matches
  // the database; the next start recovers from it.
  [[noreturn]] static void Fatal(const char* what, const absl::Status& status);
  absl::Status ApplyCommand(Command* cmd, int64_t now);
  absl::Status ApplySubmit(Command* cmd, int64_t now);
  // Stores a submission's rows inside a savepoint and tracks its tasks.
  absl::Status InsertSubmission(Submission& sub, int64_t now);
  // Stores its task rows (created now), keeping in `planned` what Track
  // needs of the rows; returns how many are reused.
  absl::StatusOr<int> InsertTasks(Submission& sub, int64_t now,
                                  PlannedTasks* planned);
  absl::Status ApplyCancel(Command* cmd, int64_t now);
  absl::Status ApplyUpdate(const runners::AttemptUpdate& u, int64_t now);
  // An exit of the task's current attempt: the attempt's state and reason
  // from the exit code, signal and expected outputs.
  absl::Status ApplyExit(TaskEntry* t, const runners::AttemptUpdate& u,
                         int64_t now);
  // Records the attempt's end; the retry policy decides the task's state,
  // from `facts` too.
  void CountEndedAttempt(const ocx::v1::Task& task,
                         const ocx::v1::Attempt& attempt, bool retried,
                         const FailureFacts& facts);
  absl::Status FinishAttempt(TaskEntry* t, ocx::v1::Attempt::State state,
                             const std::string& reason, int64_t now,
                             const FailureFacts& facts = {});
  absl::Status PromoteDueRetries(int64_t now);
  // Managed servers (serving.cc): the pools' turn, and the task attempts on
  // replicas that left READY stopped, to run again elsewhere.
  absl::Status ServeStep(int64_t now);
  // User-given endpoints (endpoints.cc): the checks' turn, their and the
  // breaker's events; an infer task's endpoint (nullptr: none); whether it may
  // launch; what an attempt's end says about its endpoint.
  absl::Status EndpointStep(int64_t now);
  absl::Status EndpointEvent(const EndpointHealth::Change& c, int64_t now);
  const UserEndpoint* EndpointOf(const TaskEntry& t);
  // Set when the task may not launch now: it waits (its model's queue is
  // skipped in the walk, the reason in `st`) or fails (the model is not
  // served); the status of recording that. `c` is the walk's candidate.
  std::optional<absl::Status> EndpointHolds(TaskEntry& t,
                                            const FairShare::Turn::Candidate& c,
                                            ScheduleTurn* st, int64_t now);
  absl::Status EndpointAttemptEnded(TaskEntry& t, bool succeeded,
                                    const FailureFacts& facts,
                                    const std::string& reason, int64_t now);
  // Whether an attempt that failed on a replica should not count against
  // the task's retries (its replica failed under it).
  bool ReplicaFailedUnder(const TaskEntry& t);
  absl::Status Schedule(int64_t now, std::vector<Launch>* out);
  // Tries the walk's current candidate: starts it, or says why it waits.
  absl::Status TryPlace(const FairShare::Turn::Candidate& c, ScheduleTurn* st,
                        int64_t now, std::vector<Launch>* out);
  // Publishes the reasons of the queues still waiting (PendingReason).
  void PublishReasons(const ScheduleTurn& st);
  // The account an evaluation's tasks count against.
  Account AccountOf(const ocx::v1::Evaluation& e) const;
  // GPUs a task holds while it runs (a managed model's task holds none).
  static int HeldGpus(const TaskEntry& t) {
    return t.pool_id.empty() ? t.task.num_gpus() : 0;
  }
  // A task started (+1) or stopped (-1) running: its evaluation's and its
  // owner's counts.
  void CountRunning(TaskEntry& t, int delta);
  // Progress watch (progress_watch.cc): a task started (+1) or stopped
  // (-1) running; the timer's look at the running tasks' progress files
  // (inside the turn's transaction: a stall is an event); a report counted
  // into the infer metrics.
  void WatchRunning(TaskEntry& t, int delta);
  absl::Status CheckProgress(int64_t now);
  absl::Status MarkStalled(TaskEntry& t, int64_t now);
  void CountProgress(TaskEntry& t, const ProgressReport& report);
  void SetStalled(const std::string& task_id, int64_t since_ms);
  // Records a placed attempt (LAUNCHING, committed before the backend
  // hears of it) and queues its launch.
  absl::Status RecordLaunch(TaskEntry* t, runners::Runner* runner,
                            runners::LaunchSpec spec,
                            const std::string& replica_id, int64_t now,
                            std::vector<Launch>* out);
  // Starts the committed launches, each runner's as one LaunchBatch(), and
  // keeps their outcomes in launch_results_. No store write.
  void LaunchAll(std::vector<Launch>* launches);
  // Writes launch_results_ (RUNNING, or the failure) in the open
  // transaction, before the runners' updates of this turn.
  absl::Status ApplyLaunchResults(int64_t now);
  absl::Status SetTaskState(TaskEntry* t, ocx::v1::Task::State state,
                            const std::string& message, int64_t now);
  absl::Status FailDependents(TaskEntry* t, int64_t now);
  // The evaluation's state as its tasks make it.
  static ocx::v1::Evaluation::State DerivedState(const EvalEntry& e);
  // Refreshes the evaluations whose tasks changed in this transaction.
  absl::Status RefreshTouched(int64_t now);
  // Records a changed state, except an end with a summary (SUCCEEDED,
  // FAILED): that evaluation is queued in ending_ for EndEvaluations.
  absl::Status RefreshEvaluation(EvalEntry* e, int64_t now);
  // Stores `state` and its event; an ended evaluation is untracked.
  absl::Status RecordEvaluationState(EvalEntry* e,
                                     ocx::v1::Evaluation::State state,
                                     const std::string& summary_note,
                                     int64_t now);
  // After a commit, outside any transaction: runs the summary step of each
  // evaluation in ending_, then commits their ends in one transaction of
  // its own (a crash in between leaves them active, and recovery ends them
  // again).
  absl::Status EndEvaluations();
  // Recovery (recovery.cc), inside Recover()'s transaction.
  absl::Status RecoverState(int64_t now);
  absl::Status ReattachRunning(store::ActiveTaskRecord* r, int64_t now);
  absl::Status RequeuePending(ocx::v1::Task task,
                              const FinishedStates& finished, int64_t now);
  absl::Status AddEvent(const std::string& eval_id, const std::string& task_id,
                        int attempt, const std::string& state,
                        const std::string& message, int64_t now);
  void MakeReady(TaskEntry* t);
  void Unready(TaskEntry* t);
  // The ready queue a task of `e` at `stage` with model `model_abbr` sits
  // in. The model's index is added to the evaluation at first use and kept,
  // so a task's key never changes while it is queued; past 65,535 models
  // every further model shares the kSharedModelQueue queue.
  QueueKey ReadyQueueOf(EvalEntry& e, int stage, const std::string& model_abbr);
  static constexpr int kSharedModelQueue = 0xFFFF;
  // Registers `abbr` in e.models; its index, or kSharedModelQueue when the
  // evaluation has too many models for a uint16_t.
  static int ModelIndexOf(EvalEntry& e, const std::string& abbr);
  void Track(ocx::v1::Task task);
  // Queued tasks (queued_tasks.cc). Whether the evaluation has unfinished
  // tasks.
  static bool HasUnfinished(const EvalEntry& e) {
    return !e.entry_ids.empty() || e.queued_count > 0;
  }
  // The id of the evaluation's task at `ref` ("<evaluation>-<stage>-<i>").
  static std::string IdOf(const EvalEntry& e, Ref ref);
  // The QueuedTask `id` names, with its evaluation and ref; nullptr when
  // it is not one.
  QueuedTask* FindQueued(const std::string& id, EvalEntry** eval, Ref* ref);
  // Whether `id` is an unfinished task, held either way.
  bool IsTracked(const std::string& id);
  // The TaskEntry of `id`, made from its QueuedTask when it is one;
  // nullptr when `id` is not tracked.
  TaskEntry* Materialize(const std::string& id);
  // Tracks `task` as a QueuedTask when it may be one (else false).
  bool TrackQueued(const ocx::v1::Task& task, EvalEntry& e);
  void MakeReadyQueued(EvalEntry& e, Ref ref, QueuedTask& q);
  // The TaskEntry of the walk's candidate (made from its QueuedTask).
  absl::StatusOr<TaskEntry*> CandidateEntry(
      const FairShare::Turn::Candidate& c);
  // The queued task's row as UpdateTask writes it.
  ocx::v1::Task QueuedRow(const EvalEntry& e, Ref ref,
                          const QueuedTask& q) const;
  // The last dependency of a PENDING queued task succeeded (or none is
  // left after a restart): READY, stored, queued. With `event`, the READY
  // event too.
  absl::Status QueuedReady(EvalEntry& e, Ref ref, QueuedTask& q, bool event,
                           int64_t now);
  // Cancel: drops the evaluation's unstarted tasks (both kinds) from
  // memory and stores them CANCELLED with one statement; returns how many.
  absl::StatusOr<int64_t> CancelQueued(EvalEntry& e, int64_t now);
  // Returns freed memory to the system after `tasks` tasks were dropped
  // (glibc keeps it otherwise); only for large drops.
  static void ReleaseMemory(int64_t tasks);
  runners::LaunchSpec BuildLaunchSpec(const TaskEntry& t, int attempt) const;
  // The same for a task that may hold no params yet (queued): reads them.
  absl::StatusOr<runners::LaunchSpec> LaunchSpecOf(TaskEntry* t, int attempt);
  const ocx::v1::RunnerConfig& RunnerConfigFor(const TaskEntry& t) const;
  // The stored spec of the task's evaluation (what its params refer to).
  const ocx::v1::EvaluationSpec& SpecOf(const TaskEntry& t) const;
  // The runner of the task's stage; nullptr when this daemon has none of
  // that type.
  runners::Runner* RunnerOf(const TaskEntry& t) const;
  // The runner that launched an attempt (by its recorded backend name).
  runners::Runner* RunnerOfAttempt(const TaskEntry& t) const;
  void Committed();
  // store_->Commit(), counted in writing_commits_ when it changed rows.
  absl::Status CommitWrites();

  store::Store* const store_;
  const RunnerSet runners_;
  // Each distinct runner once, and by backend name ("local", "slurm", ...).
  std::vector<runners::Runner*> distinct_runners_;
  std::map<std::string, runners::Runner*> by_backend_;
  Waker* const waker_;
  // Launches of the last turn whose outcome is not yet in the store.
  std::vector<LaunchResult> launch_results_;
  const DispatcherOptions options_;
  const RetryPolicy retry_policy_;
  const SummaryWriter summary_writer_;
  std::unique_ptr<ServerPools> pools_;
  std::unique_ptr<EndpointHealth> endpoints_;
  // Endpoint -> the (evaluation, task, attempt) whose failure opened its
  // breaker: the close event goes beside the open one.
  std::map<std::string, std::tuple<std::string, std::string, int>>
      breaker_opened_by_;

  // Loop-thread state.
  std::unordered_map<std::string, TaskEntry> tasks_;
  std::map<std::string, EvalEntry> evals_;
  // The ready tasks, per user (fair_share.h).
  FairShare fair_;
  Account daemon_account_;
  std::multimap<int64_t, std::string> backoff_;
  std::set<std::string> touched_evals_;
  // Evaluations whose tasks all ended, awaiting EndEvaluations().
  std::set<std::string> ending_;
  // Task attempts stopped because their replica left READY.
  std::set<runners::AttemptKey> replica_lost_;
  // LAUNCHING and RUNNING tasks, and when the progress watch looks next.
  std::set<std::string> running_ids_;
  int64_t next_progress_check_ms_ = 0;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> no_launch_{false};
  std::atomic<int64_t> last_turn_ms_{0};

  mutable absl::Mutex stalled_mu_;
  std::map<std::string, int64_t> stalled_ ABSL_GUARDED_BY(stalled_mu_);

  mutable absl::Mutex reasons_mu_;
  WaitReasons pending_reasons_ ABSL_GUARDED_BY(reasons_mu_);
  EndpointReasons endpoint_reasons_ ABSL_GUARDED_BY(reasons_mu_);

  absl::Mutex mu_;
  std::deque<Command*> commands_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> writing_commits_{0};
  int64_t committed_changes_ = 0;  // store_->TotalChanges() at the last one
  bool running_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_DISPATCHER_H_
