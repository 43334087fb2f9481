// LocalRunner: runs task attempts as processes on this machine, each under
// its own ocx-shim supervisor (runners/shim/README.md), so that attempts
// survive a daemon restart and are re-attached, never run twice.
//
// Life of an attempt:
//   Place()  takes a parallelism slot (max_parallel) and GPU slots.
//   Launch() creates the attempt and log directories and spawns
//            `ocx-shim --attempt-dir ... --log ... -- argv...` in a new
//            session (it outlives ocxd; ocxd's process-group signals do not
//            reach it). The task gets the daemon's environment + spec.env +
//            CUDA_VISIBLE_DEVICES=<spec.gpus joined by ","> (empty for a task
//            without GPUs, so it sees none).
//            The backend id is the shim's pid.
//   Poll()   reports kRunning once the shim has claimed the attempt, then
//            one final update: kExited from DIR/exit (exit code or signal,
//            times, reason such as "cancelled" or "timed out after N s"), or
//            kLost when the shim died without writing it. GPU and
//            parallelism slots are released when the final update is
//            returned.
//   Cancel() sends SIGTERM to the shim, which stops the task's process
//            group (SIGKILL after kill_grace_s); the final update follows.
//   Adopt()  (after a restart) reserves spec.gpus and watches the attempt
//            through its files: DIR/exit → finished; DIR/claim → a shim runs
//            it (alive while /proc/<pid> has the claimed starttime and is not
//            a zombie); neither → it never started, so it is launched now (a
//            leftover shim that starts late loses the exclusive claim and
//            exits without running anything).
//
// Shims started by this instance are watched with waitpid(pid, WNOHANG) on
// each of them (never waitpid(-1): other code owns other children); a
// process-wide SIGCHLD handler, if any, must only wake the dispatcher, not
// reap. Other attempts are watched by reading their files on each Poll();
// poll_interval_ms() is short while there are any. No signal handlers are
// installed here. Destroying a LocalRunner leaves its shims and tasks
// running; a new instance picks them up with Adopt().
//
// Thread-compatible: only the dispatcher thread calls it (runner.h).
#ifndef OCX_RUNNERS_LOCAL_LOCAL_RUNNER_H_
#define OCX_RUNNERS_LOCAL_LOCAL_RUNNER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runners/local/attempt_files.h"
#include "runners/local/config.h"
#include "runners/local/gpu_slots.h"
#include "runners/runner.h"

namespace ocx::runners {

class LocalRunner : public Runner {
 public:
  // Defaults and the conversion from the daemon config: runners/local/config.h.
  using Options = local::RunnerOptions;

  // Checks `options` (shim executable, no duplicate GPUs, non-negative
  // limits): INVALID_ARGUMENT or FAILED_PRECONDITION naming the problem.
  static absl::StatusOr<std::unique_ptr<LocalRunner>> Create(Options options);

  // Does not check `options`; Launch() fails when the shim cannot be run.
  explicit LocalRunner(Options options);
  ~LocalRunner() override;

  LocalRunner(const LocalRunner&) = delete;
  LocalRunner& operator=(const LocalRunner&) = delete;

  // "local".
  std::string backend() const override;

  // RESOURCE_EXHAUSTED when max_parallel attempts are placed or live, or not
  // enough GPU slots are free now; FAILED_PRECONDITION when the task needs
  // more GPUs than Options::gpus has, or the attempt is already launched.
  // Placing an attempt that is already placed returns the same GPUs.
  absl::StatusOr<std::vector<int>> Place(const LaunchSpec& spec) override;

  // Frees a Place() reservation; a no-op for attempts never placed or
  // already launched. Call it after a failed Launch().
  void Unplace(const AttemptKey& key) override;

  // Returns the shim's pid. INVALID_ARGUMENT for an empty argv, attempt_dir
  // or log_path, or spec.gpus other than Place() chose; FAILED_PRECONDITION
  // when the attempt is already live; the errno-derived code when a directory
  // cannot be created or the shim cannot be spawned (the Place() reservation is
  // then kept for Unplace()). Without a prior Place(), spec.gpus are reserved
  // here (max_parallel is not checked).
  absl::StatusOr<std::string> Launch(const LaunchSpec& spec) override;

  // `backend_id` is not needed: the attempt directory says who runs it.
  // FAILED_PRECONDITION when the attempt is already live here; errors from
  // launching it when it never started.
  absl::Status Adopt(const LaunchSpec& spec,
                     const std::string& backend_id) override;

  std::vector<AttemptUpdate> Poll() override;

  // OK also when the shim is already gone (Poll() then reports it).
  absl::Status Cancel(const AttemptKey& key) override;

  int live_count() const override;

  // 100 while some attempt is watched through its files or has not been
  // reported running yet, else 1000 (exits of shims started here are
  // expected to wake the dispatcher through SIGCHLD).
  int64_t poll_interval_ms() const override;

 private:
  struct Attempt {
    std::string attempt_dir;
    std::string log_path;
    std::vector<int> gpus;  // reserved in slots_
    // A shim this instance spawned and has not reaped; 0 otherwise (then the
    // attempt is watched through its files).
    pid_t child_pid = 0;
    // The owner from DIR/claim, once read.
    std::optional<Claim> claim;
    bool running_reported = false;
    bool cancel_requested = false;
    bool cancel_sent_to_claim = false;
  };

  // Spawns the shim for `spec`; returns its pid.
  absl::StatusOr<pid_t> SpawnShim(const LaunchSpec& spec);

  // Checks one attempt; appends its updates to `out`. Returns true when the
  // final update was appended.
  bool Check(const AttemptKey& key, Attempt& a,
             std::vector<AttemptUpdate>& out);
  // Check() for an attempt watched through its files.
  bool CheckFiles(const AttemptKey& key, Attempt& a,
                  std::vector<AttemptUpdate>& out);

  // `start_ms` 0: the claim's mtime.
  void AppendRunning(const AttemptKey& key, Attempt& a,
                     std::vector<AttemptUpdate>& out, int64_t start_ms = 0);
  void AppendExited(const AttemptKey& key, Attempt& a, const ExitRecord& rec,
                    std::vector<AttemptUpdate>& out);
  void AppendLost(const AttemptKey& key, Attempt& a, std::string reason,
                  std::vector<AttemptUpdate>& out);

  // The shim's pid as a string: the claim's, else the child's; "" if
  // neither is known.
  static std::string BackendId(const Attempt& a);

  // Constant after construction.
  const Options options_;

  GpuSlots slots_;
  // Tasks placed or live, for max_parallel (services do not count).
  int TaskCount() const;

  // Placed but not launched: the GPUs reserved for them.
  std::map<AttemptKey, std::vector<int>> placed_;
  // Launched or adopted, final update not yet reported.
  std::map<AttemptKey, Attempt> attempts_;
  // The placed or live attempts that are services (LaunchSpec::service).
  std::set<AttemptKey> services_;
};

// `ocx-shim` in the directory of the running executable
// (/proc/self/exe); empty when that cannot be read.
std::string DefaultShimPath();

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_LOCAL_LOCAL_RUNNER_H_
