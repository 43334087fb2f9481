// The scaffolding every command-line backend shares (DLC, Slurm; next a
// Kubernetes runner and model-server jobs): a Runner whose attempts are
// remote jobs that a backend CLI submits, polls and cancels from worker
// threads, so that the dispatcher thread never waits for a command.
//
// What AsyncCliRunner owns, once for all backends:
//   - bookkeeping of attempts: placed (Place() without Launch()), live
//     (launched or adopted, final update not yet reported) and the updates
//     waiting for the next Poll(), under one mutex shared with the workers;
//   - the placement limit `<tag>.max_parallel` (RESOURCE_EXHAUSTED "all N
//     <Display> slots are taken (<tag>.max_parallel)"), and the
//     FAILED_PRECONDITION / NOT_FOUND answers for attempts that are (not)
//     live;
//   - the attempt log notes "[ocx-<tag> <UTC time>] text" that tell a user
//     what the backend did (submissions, state changes, resubmits, backoff);
//   - the updates (kRunning, kExited, kLost) built the same way;
//   - the call backoff: call_initial_backoff_ms doubling up to
//     call_max_backoff_ms after each failed command in a row;
//   - the directories of an attempt (its log's and its attempt dir);
//   - stopping: a destroyed runner kills the commands in flight (through
//     abort_calls_, given to RunCli) and leaves the remote jobs running; a
//     new instance picks them up with Adopt().
//
// What a backend (a subclass) supplies:
//   - its Job type, derived from RemoteJob (the name of the current
//     incarnation, the job id once known, cancel and not-found state) with
//     what it needs to submit and watch the job;
//   - Prepare(): the Job for a LaunchSpec (submit argv or script, its
//     files); Start(): the first move of an admitted job (queue its next
//     command, wake its worker); Reattach(): how an adopted job resumes
//     from the recorded backend id, or from a lookup by name, so that a
//     name is never submitted twice; CancelLive(): what a cancel of a live
//     job does;
//   - its worker loop: which command to run when (submit, look up by name,
//     poll status — batched where the CLI allows — fetch logs, cancel), the
//     parsing of their output, and the mapping of remote states to
//     updates: kRunning when the job id is known and when it starts, one
//     final kExited/kLost through Finish(), or a resubmission within the same
//     attempt (incarnation k+1) after preemption or node failure, up to
//     max_resubmits;
//   - optionally StartDueWork() (work Poll() queues) and IdleIntervalMs().
//
// Thread safety: Runner methods are called from the dispatcher thread only
// (runner.h); the subclass's workers share state with them under mu_.
#ifndef OCX_RUNNERS_CLI_ASYNC_RUNNER_H_
#define OCX_RUNNERS_CLI_ASYNC_RUNNER_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "runners/runner.h"

namespace ocx::runners {

// "task#attempt", for messages.
std::string KeyName(const AttemptKey& key);

// Appends `text` to the file at `path` (created 0640, for `owner`; never
// through a symbolic link, common/owned_files.h); best effort.
void AppendToFile(const std::string& path, absl::string_view text,
                  const FileOwner& owner = {});

// The wait after `failures` (>= 1) failed calls in a row: initial_ms
// doubling, at most max_ms.
int64_t CallBackoffMs(int failures, int64_t initial_ms, int64_t max_ms);

// "250 ms", "2.5 s".
std::string FormatDelay(int64_t ms);

// `items` in order, in batches of at most `n` (> 0): one command per batch
// keeps an argv far below ARG_MAX however many jobs are live.
template <typename T>
std::vector<std::vector<T>> Chunks(const std::vector<T>& items, size_t n) {
  std::vector<std::vector<T>> out;
  for (size_t i = 0; i < items.size(); i += n) {
    out.emplace_back(items.begin() + static_cast<std::ptrdiff_t>(i),
                     items.begin() + static_cast<std::ptrdiff_t>(
                                         std::min(items.size(), i + n)));
  }
  return out;
}

// What every remote job of an attempt has, whatever the backend.
struct RemoteJob {
  std::string base_name;    // LaunchSpec::name
  std::string log_path;     // the attempt's log, for notes
  std::string attempt_dir;  // the attempt's private directory
  int incarnation = 0;      // resubmissions so far within the attempt
  std::string job_id;       // the backend's id of the current incarnation
  bool cancel_requested = false;
  bool busy = false;  // a command for it is queued or running
  int not_found = 0;  // polls in a row that found no trace of it
  // LaunchSpec::run_as: the owner the job is submitted as, whose files the
  // attempt's directories and log are (kKeep when unset).
  std::optional<Identity> run_as;
  FileOwner owner;
};

// How a backend names itself and its placement limit.
struct CliBackendInfo {
  std::string tag;       // "dlc": backend(), notes, "<tag>.max_parallel"
  std::string display;   // "DLC": in messages
  int max_parallel = 0;  // placed or live attempts at once; 0: no limit
  int64_t call_initial_backoff_ms = 1000;
  int64_t call_max_backoff_ms = 30000;
};

template <typename Job>
class AsyncCliRunner : public Runner {
 public:
  // Not copyable (one owner of the remote jobs; mutex and threads).
  AsyncCliRunner(const AsyncCliRunner&) = delete;
  AsyncCliRunner& operator=(const AsyncCliRunner&) = delete;

  std::string backend() const override { return info_.tag; }

  // RESOURCE_EXHAUSTED when max_parallel attempts are placed or live;
  // FAILED_PRECONDITION when the attempt is already live. No GPU ids: the
  // backend picks the machine.
  absl::StatusOr<std::vector<int>> Place(const LaunchSpec& spec) override {
    absl::MutexLock lock(&mu_);
    if (live_.count(spec.key) > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("attempt ", KeyName(spec.key), " is already launched"));
    }
    if (placed_.count(spec.key) > 0) return std::vector<int>();
    // Services (model-server replicas) do not count against max_parallel.
    if (!spec.service && info_.max_parallel > 0 &&
        static_cast<int>(live_.size() + placed_.size() - services_.size()) >=
            info_.max_parallel) {
      return absl::ResourceExhaustedError(
          absl::StrCat("all ", info_.max_parallel, " ", info_.display,
                       " slots are taken (", info_.tag, ".max_parallel)"));
    }
    placed_.insert(spec.key);
    if (spec.service) services_.insert(spec.key);
    return std::vector<int>();
  }

  void Unplace(const AttemptKey& key) override {
    absl::MutexLock lock(&mu_);
    placed_.erase(key);
    services_.erase(key);
  }

  int live_count() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(live_.size());
  }

  // Returns spec.name (provisional: a kRunning update carries the job id).
  // FAILED_PRECONDITION when the attempt is live; Prepare()'s errors
  // (INVALID_ARGUMENT for a job the backend cannot build, errno-derived
  // codes for directories and files). A submission that fails later is
  // reported by Poll() as a kExited failure.
  absl::StatusOr<std::string> Launch(const LaunchSpec& spec) final {
    OCX_RETURN_IF_ERROR(CheckNotLive(spec.key));
    OCX_ASSIGN_OR_RETURN(Job job, Prepare(spec));
    absl::MutexLock lock(&mu_);
    if (spec.service) services_.insert(spec.key);
    Start(spec.key, Admit(spec.key, std::move(job)));
    return spec.name;
  }

  // Prepares every job, then admits them all under one lock, so a worker
  // that submits in bulk sees the whole batch in its next turn.
  std::vector<absl::StatusOr<std::string>> LaunchBatch(
      const std::vector<const LaunchSpec*>& specs) final {
    std::vector<absl::StatusOr<std::string>> out;
    std::vector<std::optional<Job>> jobs(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      absl::Status live = CheckNotLive(specs[i]->key);
      absl::StatusOr<Job> job =
          live.ok() ? Prepare(*specs[i]) : absl::StatusOr<Job>(live);
      if (job.ok()) {
        jobs[i] = std::move(*job);
        out.push_back(specs[i]->name);
      } else {
        out.push_back(job.status());
      }
    }
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < specs.size(); ++i) {
      if (!jobs[i].has_value()) continue;
      if (specs[i]->service) services_.insert(specs[i]->key);
      Start(specs[i]->key, Admit(specs[i]->key, std::move(*jobs[i])));
    }
    return out;
  }

  // Watches the job `backend_id` names when it is one of the backend's ids;
  // otherwise finds the job by name, submitting it only when the backend
  // has none (Reattach()). Errors as for Launch().
  absl::Status Adopt(const LaunchSpec& spec,
                     const std::string& backend_id) final {
    OCX_RETURN_IF_ERROR(CheckNotLive(spec.key));
    OCX_ASSIGN_OR_RETURN(Job job, Prepare(spec));
    absl::MutexLock lock(&mu_);
    if (spec.service) services_.insert(spec.key);
    Job& ref = Admit(spec.key, std::move(job));
    Reattach(spec.key, ref, backend_id);
    Start(spec.key, ref);
    return absl::OkStatus();
  }

  // The updates the workers produced since the last call (after queueing
  // the work StartDueWork() finds due).
  std::vector<AttemptUpdate> Poll() final {
    absl::MutexLock lock(&mu_);
    StartDueWork();
    return TakeUpdates();
  }

  // NOT_FOUND for attempts not live here; otherwise CancelLive() (the
  // outcome follows through Poll()).
  absl::Status Cancel(const AttemptKey& key) final {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(key);
    if (it == live_.end()) return NotLiveError(key);
    CancelLive(key, it->second);
    return absl::OkStatus();
  }

  // 0 while updates wait for Poll(); else IdleIntervalMs().
  int64_t poll_interval_ms() const final {
    absl::MutexLock lock(&mu_);
    if (!outbox_.empty()) return 0;
    return IdleIntervalMs();
  }

 protected:
  explicit AsyncCliRunner(CliBackendInfo info) : info_(std::move(info)) {}

  // The job for `spec`, with its directories and files made. Does not lock.
  virtual absl::StatusOr<Job> Prepare(const LaunchSpec& spec) const = 0;
  // The first move of a job just admitted (launched or adopted).
  virtual void Start(const AttemptKey& key, Job& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Sets up an adopted job, before Start(): watch `backend_id` when it is
  // the backend's id, else look the job up by name.
  virtual void Reattach(const AttemptKey& key, Job& job,
                        const std::string& backend_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // A cancel of a live job.
  virtual void CancelLive(const AttemptKey& key, Job& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Work Poll() queues before taking the updates; none by default.
  virtual void StartDueWork() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}
  // poll_interval_ms() when no update waits; 1000 by default (the workers
  // wake the dispatcher when they have news).
  virtual int64_t IdleIntervalMs() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return 1000;
  }

  // FAILED_PRECONDITION when `key` is live (Launch/Adopt of a live attempt).
  absl::Status CheckNotLive(const AttemptKey& key) const {
    absl::MutexLock lock(&mu_);
    if (live_.count(key) == 0) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", KeyName(key), " is live"));
  }

  // NOT_FOUND for Cancel() of an attempt not live here.
  absl::Status NotLiveError(const AttemptKey& key) const {
    return absl::NotFoundError(
        absl::StrCat("no live ", info_.display, " attempt ", KeyName(key)));
  }

  // The attempt's log directory and attempt dir (when set), created (for
  // spec.run_as, as theirs: common/owned_files.h).
  static absl::Status MakeAttemptDirs(const LaunchSpec& spec);

  // Makes `job` live (its reservation, if any, now counts as live).
  Job& Admit(const AttemptKey& key, Job job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    placed_.erase(key);
    return live_.insert_or_assign(key, std::move(job)).first->second;
  }

  // Ends the attempt with its final update; `key`'s Job is gone after.
  void Finish(const AttemptKey& key, AttemptUpdate u)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const AttemptKey k = key;  // `key` may be the erased entry's own key
    outbox_.push_back(std::move(u));
    live_.erase(k);
    placed_.erase(k);
    services_.erase(k);
  }

  std::vector<AttemptUpdate> TakeUpdates() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<AttemptUpdate> out;
    out.swap(outbox_);
    return out;
  }

  // Appends "[ocx-<tag> <UTC time>] text" to the job's log.
  void Note(const RemoteJob& j, const std::string& text) const;

  // kRunning with the job id; `start_ms` 0 when it has not started yet.
  static AttemptUpdate Running(const AttemptKey& key, const RemoteJob& j,
                               int64_t start_ms, std::string reason = "");
  // kExited now; a failure is noted in the job's log too.
  AttemptUpdate Exited(const AttemptKey& key, const RemoteJob& j, int exit_code,
                       int signal, std::string reason) const;
  // kLost now, noted in the job's log.
  AttemptUpdate Lost(const AttemptKey& key, const RemoteJob& j,
                     std::string reason) const;

  // The wait after `failures` failed calls in a row.
  int64_t BackoffMs(int failures) const {
    return CallBackoffMs(failures, info_.call_initial_backoff_ms,
                         info_.call_max_backoff_ms);
  }

  // Stops the workers' commands: call before joining them.
  void BeginShutdown() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    abort_calls_ = true;
  }

  const CliBackendInfo info_;

  mutable absl::Mutex mu_;
  std::set<AttemptKey> placed_ ABSL_GUARDED_BY(mu_);
  // The placed or live attempts that are services (LaunchSpec::service).
  std::set<AttemptKey> services_ ABSL_GUARDED_BY(mu_);
  // Launched or adopted, final update not yet in outbox_.
  std::map<AttemptKey, Job> live_ ABSL_GUARDED_BY(mu_);
  // Updates for the next Poll().
  std::vector<AttemptUpdate> outbox_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Given to RunCli: true kills the commands in flight.
  std::atomic<bool> abort_calls_{false};
};

// Non-template parts (async_runner.cc).
namespace cli_internal {
absl::Status MakeAttemptDirs(const LaunchSpec& spec);
void Note(const std::string& tag, const RemoteJob& j, const std::string& text);
AttemptUpdate Update(const AttemptKey& key, const RemoteJob& j,
                     AttemptUpdate::Kind kind, std::string reason);
}  // namespace cli_internal

template <typename Job>
absl::Status AsyncCliRunner<Job>::MakeAttemptDirs(const LaunchSpec& spec) {
  return cli_internal::MakeAttemptDirs(spec);
}

template <typename Job>
void AsyncCliRunner<Job>::Note(const RemoteJob& j,
                               const std::string& text) const {
  cli_internal::Note(info_.tag, j, text);
}

template <typename Job>
AttemptUpdate AsyncCliRunner<Job>::Running(const AttemptKey& key,
                                           const RemoteJob& j, int64_t start_ms,
                                           std::string reason) {
  AttemptUpdate u = cli_internal::Update(key, j, AttemptUpdate::Kind::kRunning,
                                         std::move(reason));
  u.start_ms = start_ms;
  return u;
}

template <typename Job>
AttemptUpdate AsyncCliRunner<Job>::Exited(const AttemptKey& key,
                                          const RemoteJob& j, int exit_code,
                                          int signal,
                                          std::string reason) const {
  AttemptUpdate u = cli_internal::Update(key, j, AttemptUpdate::Kind::kExited,
                                         std::move(reason));
  u.exit_code = exit_code;
  u.signal = signal;
  if (exit_code != 0 || signal != 0) Note(j, u.reason);
  return u;
}

template <typename Job>
AttemptUpdate AsyncCliRunner<Job>::Lost(const AttemptKey& key,
                                        const RemoteJob& j,
                                        std::string reason) const {
  AttemptUpdate u = cli_internal::Update(key, j, AttemptUpdate::Kind::kLost,
                                         std::move(reason));
  Note(j, u.reason);
  return u;
}

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_CLI_ASYNC_RUNNER_H_
