// SlurmRunner: runs task attempts as Slurm batch jobs (docs/slurm.md;
// OpenCompass's runners/slurm.py and slurm_sequential.py, made asynchronous,
// batched and restart-safe).
//
// One worker thread makes every Slurm call, so the dispatcher thread never
// waits for Slurm. Each turn of the worker:
//   1. scancel: the job ids of every cancel asked for since the last turn,
//      in one call (chunks of Options::scancel_batch ids);
//   2. lookups: attempts whose job may exist under their name (adopted after
//      a restart before the id was saved, or an sbatch whose outcome is
//      unknown) are looked up with one `squeue --name` for all of them and
//      one `sacct --name` for those squeue does not know;
//   3. submissions: the queued attempts that share every sbatch option
//      (same evaluation, stage, owner and resources) as one job array, one
//      `sbatch --parsable --array=0-N%M` of a wrapper that runs the
//      attempt named by line $SLURM_ARRAY_TASK_ID+1 of a manifest
//      (slurm_array.h); a lone attempt as a plain job. At most
//      RunnerConfig.max_pending jobs of one stage of one evaluation pending
//      at once. An element is the job "<array id>_<index>" everywhere
//      after: job file, squeue -r, sacct, scancel;
//   4. every poll_interval_ms: one `squeue -t all --jobs=<all live ids>`,
//      and one `sacct --jobs=` for the ids squeue no longer has.
// So a poll costs two calls at most, whatever the number of jobs.
//
// Outcomes (slurm_command.h ClassifyState): COMPLETED → kExited 0 (the
// dispatcher then checks the outputs); FAILED, TIMEOUT, OUT_OF_MEMORY,
// DEADLINE, CANCELLED → kExited non-zero with the state explained; a job
// that ends NODE_FAIL, PREEMPTED or BOOT_FAIL is submitted again within the
// same attempt as "<name>-r<k>" (up to max_resubmits times, not using the
// task's retry budget). A job neither squeue nor sacct know, with no exit
// file, for not_found_limit polls → kLost.
//
// Slurm calls that fail because the controller is unreachable (or time out)
// are retried with exponential backoff and never count against a task. An
// sbatch that Slurm refuses (unknown partition, bad GRES, ...) fails that
// attempt with sbatch's own message.
//
// Adopt() with a numeric backend id, or a job id saved in the attempt dir
// (<attempt_dir>/slurm-job), watches that job; otherwise the job is looked
// up by name before anything is submitted, so a name is never submitted
// twice.
//
// Destroying a SlurmRunner leaves the jobs alone; a new instance adopts them.
//
// Thread safety: Runner methods are called from the dispatcher thread only
// (runner.h); they share state with the worker under one mutex. `wakeup` is
// called from the worker thread.
#ifndef OCX_RUNNERS_SLURM_SLURM_RUNNER_H_
#define OCX_RUNNERS_SLURM_SLURM_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runners/cli/async_runner.h"
#include "runners/cli/cli.h"
#include "runners/runner.h"
#include "runners/slurm/config.h"
#include "runners/slurm/slurm_command.h"

namespace ocx::runners {

namespace slurm_internal {

enum class SlurmPhase { kSubmit, kLookup, kWatch };
// One live attempt (RemoteJob: names, job id, cancel state; busy while
// its sbatch runs).
struct SlurmJob : RemoteJob {
  std::string script_path;
  std::string group;  // evaluation + stage, for max_pending
  int max_pending = 0;
  slurm::SubmitOptions submit;
  // Jobs with the same non-empty key (evaluation, stage, owner and every
  // sbatch option but name, log and script) may share one job array.
  std::string array_key;
  int array_throttle = 0;  // the stage's max_num_workers: --array=...%M
  // The array this job was (last) submitted in, and its index there; set
  // before that sbatch runs, so a lookup by name can find the element.
  std::string array_name;
  int array_index = -1;

  SlurmPhase phase = SlurmPhase::kSubmit;
  std::string state;  // last Slurm state seen
  bool running_reported = false;
  bool cancel_sent = false;
};

}  // namespace slurm_internal

class SlurmRunner : public AsyncCliRunner<slurm_internal::SlurmJob> {
 public:
  // Defaults and the conversion from the daemon config:
  // runners/slurm/config.h.
  using Options = slurm::RunnerOptions;

  // INVALID_ARGUMENT for empty command paths or non-positive limits.
  static absl::StatusOr<std::unique_ptr<SlurmRunner>> Create(Options options);

  explicit SlurmRunner(Options options);
  ~SlurmRunner() override;

  // backend() is "slurm"; Place() counts against max_parallel and returns
  // no GPU ids: Slurm picks them (--gres); Launch(), Adopt(), Poll(),
  // Cancel() and poll_interval_ms() as AsyncCliRunner says. Prepare()
  // writes the batch script (INVALID_ARGUMENT when it cannot be built;
  // errno codes for unwritable dirs); Adopt() prefers the job id in the
  // attempt's job file when it is newer than `backend_id`.

  // Slurm commands run so far (for benchmarks and tests).
  int64_t calls() const { return calls_.load(); }

 private:
  using Phase = slurm_internal::SlurmPhase;
  using Job = slurm_internal::SlurmJob;

  absl::StatusOr<Job> Prepare(const LaunchSpec& spec) const override;
  // Wakes the worker.
  void Start(const AttemptKey& key, Job& j) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reattach(const AttemptKey& key, Job& j,
                const std::string& backend_id) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Collected and sent with the next scancel batch; a job not yet handed to
  // sbatch just ends.
  void CancelLive(const AttemptKey& key, Job& j) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WorkerLoop();
  // One turn; returns true when outbox_ got something.
  bool Turn();
  // Runs a Slurm command; as `run_as` when given (sbatch for an owner).
  CliResult Call(const std::vector<std::string>& argv,
                 const Identity* run_as = nullptr);
  // Marks the controller unreachable: no calls before the backoff ends.
  void Backoff(const std::string& what, const CliResult& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelTurn();
  void LookupTurn();
  // After a lookup: the attempts in `asked` found (`best`: incarnation and
  // job id) are watched, the others submitted (or ended when cancelled).
  void SettleLookups(
      const std::map<AttemptKey, std::pair<int, std::string>>& best,
      const std::set<AttemptKey>& asked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SubmitTurn();
  // What one sbatch submits: one attempt, or several as a job array.
  struct Submission {
    std::vector<AttemptKey> keys;
    std::vector<std::string> attempt_dirs;
    std::vector<std::string> argv;
    std::optional<Identity> run_as;
    FileOwner owner;
    std::string name;       // the job's (the array's) name
    std::string array_dir;  // where its manifest and wrapper go
  };
  // The next jobs to submit, marked busy; false when none may go now.
  bool PickSubmission(Submission* sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The manifest, wrapper and membership files of an array.
  static absl::Status WriteArrayFiles(const Submission& sub);
  // Applies sbatch's answer; false when submitting must stop for this turn
  // (backoff).
  bool ApplySubmission(const Submission& sub, const CliResult& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PollTurn();
  // squeue (in chunks) and sacct for the ids squeue no longer has; false
  // after a failed squeue (backoff started).
  bool QueryJobs(const std::vector<std::string>& ids,
                 std::vector<slurm::JobRecord>* found);
  // A watched job neither squeue nor sacct know: its exit file, else kLost
  // after not_found_limit polls.
  void ApplyMissing(const AttemptKey& key, const std::string& id, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // NODE_FAIL / PREEMPTED / BOOT_FAIL: the next incarnation, or the end.
  void Resubmit(const AttemptKey& key, Job& j, const slurm::JobRecord& r,
                const std::string& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies what Slurm says about the current job of `key`.
  void ApplyRecord(const AttemptKey& key, Job& j, const slurm::JobRecord& r,
                   int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Found(const AttemptKey& key, Job& j, const std::string& job_id,
             int incarnation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void SaveJobFile(const Job& j);

  const Options options_;
  std::atomic<int64_t> calls_{0};

  absl::CondVar cv_;
  bool kick_ ABSL_GUARDED_BY(mu_) = false;  // work for the worker now
  int64_t next_poll_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t backoff_until_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;  // calls failed in a row
  std::thread worker_;
};

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_SLURM_SLURM_RUNNER_H_
