// DlcRunner: runs task attempts as Alibaba PAI-DLC jobs through the `dlc`
// command line (docs/dlc.md; OpenCompass's runners/dlc.py, made
// asynchronous, restart-safe and leak-free).
//
// Every dlc call runs on a small pool of worker threads (at most
// Options::max_concurrent_calls at once, each with a time limit); the
// dispatcher thread only records intents and collects results, so it never
// waits for dlc.
//
// Life of an attempt (the job's name is LaunchSpec::name, "ocx-<task>-<n>";
// after the k-th preemption "<name>-p<k>"):
//   Place()  counts it against Options::max_parallel; no GPU ids (DLC picks
//            the machine).
//   Launch() builds the remote shell and the `dlc create job` argv, queues
//            the submission and returns at once with the job *name* as a
//            provisional backend id. When dlc prints the job id, Poll()
//            reports kRunning with backend_id = the id (dlc[0-9a-z]+).
//   Poll()   reports what the workers learned: kRunning when the job id is
//            known and again (with start_ms) when DLC first says Running;
//            then one final update. The workers run `dlc get job <id>` every
//            poll_interval_ms per live job, and `dlc logs <id> <id>-master-0`
//            for time windows while it runs and once more when it ends,
//            appending to the attempt's log_path (with "[ocx-dlc]" notes on
//            submission, status changes and retries).
//            Final updates: Succeeded → kExited 0; Failed / Stopped →
//            kExited 1 with the DLC reason; a job DLC no longer knows
//            (not_found_limit answers in a row) → kLost.
//   Preemption: a job that ends preempted (docs/dlc.md) is submitted again
//            under the next name "<name>-p<k>" within the SAME attempt, up to
//            max_resubmits times, so it does not use the task's retry
//            budget (like Slurm's requeue). After that it is a failure.
//   Cancel() runs `dlc stop job <id> -f` (at once, or as soon as the id is
//            known); the final update follows when DLC reports Stopped. An
//            attempt cancelled before any submission ends without one.
//   Timeout: spec.timeout_s counts from the first Running; then the job is
//            stopped and reported failed.
//   Adopt()  (after a restart) with a recorded job id polls that job again;
//            with anything else (the provisional name: the daemon died
//            before the id was known) it first lists jobs by the name and
//            watches the newest incarnation found — only when none exists is
//            the job submitted. A submission whose outcome is unknown (dlc
//            failed or printed no id) is likewise looked up by name before it
//            is tried again. So a name is never submitted twice.
// Transient dlc failures (non-zero exit, garbage output, time-outs) are
// retried with exponential backoff (call_initial_backoff_ms doubling up to
// call_max_backoff_ms) and are not task failures — except `dlc create job`,
// which gives up after submit_tries failed tries (the attempt then fails:
// "could not submit ...").
//
// Destroying a DlcRunner kills dlc calls in flight and leaves the DLC jobs
// running; a new instance picks them up with Adopt().
//
// Thread safety: Runner methods are called from the dispatcher thread only
// (runner.h); internally they share state with the worker threads under one
// mutex. `wakeup` is called from worker threads.
#ifndef OCX_RUNNERS_DLC_DLC_RUNNER_H_
#define OCX_RUNNERS_DLC_DLC_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ocx/v1/spec.pb.h"
#include "runners/cli/async_runner.h"
#include "runners/cli/cli.h"
#include "runners/dlc/config.h"
#include "runners/dlc/dlc_command.h"
#include "runners/runner.h"

namespace ocx::runners {

namespace dlc_internal {

enum class DlcPhase {
  kCreate,     // submit the current name
  kLookup,     // find the current name's job (or a later incarnation)
  kWatch,      // job id known: get / logs / stop
  kFinalLogs,  // the job ended: fetch the rest of its logs, then go on
};
// One live attempt (RemoteJob: names, job id, cancel state).
struct DlcAttempt : RemoteJob {
  // Constant after Launch()/Adopt().
  ocx::v1::AliyunConfig cfg;
  bool preemptible = false;
  dlc::Resources resources;
  std::string shell;
  int timeout_s = 0;
  bool adopted = false;

  DlcPhase phase = DlcPhase::kCreate;
  int64_t due_ms = 0;  // nothing to do before
  int failures = 0;    // dlc calls failed in a row
  int create_tries = 0;
  // A failed create may have created the job: look it up before retrying.
  bool create_unknown = false;
  // Out of create tries: one last lookup, then fail.
  bool give_up_after_lookup = false;
  std::string last_error;
  std::string status;  // last DLC Status seen
  bool running_seen = false;
  int64_t deadline_ms = 0;  // timeout, once running
  int64_t next_get_ms = 0;
  int64_t next_logs_ms = 0;
  int64_t log_from_s = 0;  // start of the next log window (epoch s)
  int final_log_tries = 0;
  bool stop_sent = false;
  bool timed_out = false;
  // After the final logs: submit the next incarnation (preempted) instead
  // of reporting final_update.
  bool requeue = false;
  std::string requeue_reason;
  AttemptUpdate final_update;
};
}  // namespace dlc_internal

class DlcRunner : public AsyncCliRunner<dlc_internal::DlcAttempt> {
 public:
  // Defaults and the conversion from the daemon config: runners/dlc/config.h.
  using Options = dlc::RunnerOptions;

  // INVALID_ARGUMENT for an empty dlc_path or non-positive limits.
  static absl::StatusOr<std::unique_ptr<DlcRunner>> Create(Options options);

  explicit DlcRunner(Options options);
  ~DlcRunner() override;

  // backend() is "dlc"; Place() counts against max_parallel and returns no
  // GPUs; Launch(), Adopt(), Poll(), Cancel() and poll_interval_ms() as
  // AsyncCliRunner says. A backend id of the form dlc[0-9a-z]+ is watched
  // again by Adopt(); Prepare() fails with INVALID_ARGUMENT when the
  // aliyun_cfg is incomplete or a value cannot be put in the remote shell.
  // poll_interval_ms() is the wait until the next dlc call is due
  // (10..1000 ms).

 private:
  using Phase = dlc_internal::DlcPhase;
  using Attempt = dlc_internal::DlcAttempt;
  struct Op {
    enum class Kind { kCreate, kLookup, kGet, kLogs, kFinalLogs, kStop };
    Kind kind = Kind::kGet;
    AttemptKey key;
    std::vector<std::string> argv;
    std::string log_path;      // kLogs, kFinalLogs: appended outside mu_
    int64_t window_end_s = 0;  // kLogs
  };

  // The Attempt for `spec` (context, config check, shell); creates the log
  // directory.
  absl::StatusOr<Attempt> Prepare(const LaunchSpec& spec) const override;
  // Notes the submission of a launched attempt; queues its first dlc call.
  void Start(const AttemptKey& key, Attempt& a) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reattach(const AttemptKey& key, Attempt& a,
                const std::string& backend_id) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops the job now, not after a backoff.
  void CancelLive(const AttemptKey& key, Attempt& a) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the dlc calls that are due.
  void StartDueWork() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t IdleIntervalMs() const override ABSL_SHARED_LOCKS_REQUIRED(mu_);
  static std::string CurrentName(const Attempt& a);
  static Op MakeOp(Op::Kind kind, const AttemptKey& key,
                   std::vector<std::string> argv);

  // Queues the attempt's next dlc call when one is due and none is queued
  // or running; may instead finish it (cancelled before submission).
  void MaybeStart(const AttemptKey& key, Attempt& a, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(Op op, Attempt& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WorkerLoop();
  // Applies a finished call; true when outbox_ got something.
  bool Apply(const Op& op, const CliResult& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyCreate(const AttemptKey& key, Attempt& a, const CliResult& r,
                   int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyLookup(const AttemptKey& key, Attempt& a, const CliResult& r,
                   int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyGet(const AttemptKey& key, Attempt& a, const CliResult& r,
                int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyLogs(const Op& op, Attempt& a, const CliResult& r, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyFinalLogs(const AttemptKey& key, Attempt& a, const CliResult& r,
                      int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyStop(const AttemptKey& key, Attempt& a, const CliResult& r,
                 int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A failed call: note it and wait before the next one.
  void Backoff(Attempt& a, const std::string& what, const std::string& why,
               int64_t now) const;
  // The job of the current incarnation is known: watch it.
  void Found(const AttemptKey& key, Attempt& a, const std::string& job_id,
             int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submits the next incarnation after a preemption.
  void Requeue(Attempt& a, int64_t now) const;
  // Where live log windows continue after a restart:
  // <attempt_dir>/dlc-log-window holds "<job id> <epoch s>".
  static void SaveLogWindow(const Attempt& a);
  static int64_t LoadLogWindow(const Attempt& a);

  // Constant after construction.
  const Options options_;

  absl::CondVar work_cv_;
  std::deque<Op> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> workers_;
};

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_DLC_DLC_RUNNER_H_
