// The Runner interface: how the dispatcher starts, watches and stops task
// attempts on a backend (local processes, Slurm, DLC). DESIGN.md decision 8:
// runners are asynchronous and batched; the dispatcher never blocks on one
// job.
//
// Thread-compatible: only the dispatcher thread calls a Runner. A runner may
// call the `wakeup` callback it was given from any thread (or a signal
// handler, if documented) to say that Poll() has news.
#ifndef OCX_RUNNERS_RUNNER_H_
#define OCX_RUNNERS_RUNNER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/identity.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::runners {

// Identifies one attempt of one task.
struct AttemptKey {
  std::string task_id;
  int attempt = 0;  // 1-based

  bool operator<(const AttemptKey& o) const {
    return task_id < o.task_id || (task_id == o.task_id && attempt < o.attempt);
  }
  bool operator==(const AttemptKey& o) const {
    return task_id == o.task_id && attempt == o.attempt;
  }
};

// What one task attempt needs from the backend.
struct LaunchSpec {
  AttemptKey key;
  // Deterministic backend name: ocx-<task id>-<attempt>. A backend that can
  // look jobs up by name uses it to find an attempt after a crash.
  std::string name;
  // The task program, already expanded; run as argv, never via a shell.
  std::vector<std::string> argv;
  // Added to the daemon's environment.
  std::map<std::string, std::string> env;
  // Working directory of the task process.
  std::string work_dir;
  // Private directory of this attempt (supervisor state); created by the
  // runner if missing. Unique per (task, attempt).
  std::string attempt_dir;
  // stdout and stderr of the attempt go here (appended).
  std::string log_path;
  // GPUs the task needs, and how many tasks may share one GPU.
  int num_gpus = 0;
  int max_workers_per_gpu = 1;
  // GPU ids given by Place(); the task sees exactly these in
  // CUDA_VISIBLE_DEVICES.
  std::vector<int> gpus;
  // Kill the attempt after this many seconds; 0: no limit.
  int timeout_s = 0;
  // The stage's runner settings from the evaluation spec (partition, qos,
  // aliyun_cfg, ...), for backends that shape jobs from them.
  ocx::v1::RunnerConfig runner;
  // The evaluation and stage the task belongs to, and its OpenCompass-style
  // name ("OpenICLEval[m/ds]"): Slurm counts runner.max_pending per
  // (evaluation, stage); DLC gives eval tasks named in runner.eval_with_gpu a
  // GPU. A runner never looks the evaluation up: what it needs is here.
  std::string evaluation_id;
  ocx::v1::Stage stage = ocx::v1::STAGE_UNSPECIFIED;
  std::string task_name;
  // A long-running service (a managed model-server replica,
  // docs/serving.md), not a task: it holds its GPUs like a task but does not
  // count against the runner's max_parallel, which limits tasks.
  bool service = false;
  // The account the attempt runs as (uid, gid, supplementary groups): set
  // only when ocxd runs as root, to the evaluation's owner
  // (docs/security.md). The runner makes the attempt's directories and log
  // for it and drops to it before the task starts (ocx-shim --run-as, or
  // sbatch run as that user). Unset: the daemon's own account.
  std::optional<Identity> run_as;
};

// A change in an attempt's life, reported by Poll().
struct AttemptUpdate {
  enum class Kind {
    kRunning,  // the backend started it; backend_id is set
    kExited,   // it ended; exit_code/signal say how
    kLost,     // the backend no longer knows it and no exit was recorded
  };
  AttemptKey key;
  Kind kind = Kind::kRunning;
  std::string backend_id;
  int exit_code = -1;  // valid when signal == 0
  int signal = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  // Backend detail in words, e.g. "killed after timeout of 30 s".
  std::string reason;
};

class Runner {
 public:
  virtual ~Runner() = default;

  // "local", "slurm", "dlc": stored with each attempt.
  virtual std::string backend() const = 0;

  // Reserves what `spec` needs (GPU slots) and returns the GPU ids chosen.
  // RESOURCE_EXHAUSTED: nothing free now, ask again later.
  // FAILED_PRECONDITION: can never fit on this backend (message says why).
  // The reservation is held until the attempt's final update is reported by
  // Poll(), or until Unplace().
  virtual absl::StatusOr<std::vector<int>> Place(const LaunchSpec& spec) = 0;

  // Frees a reservation made by Place() for an attempt that was not launched.
  virtual void Unplace(const AttemptKey& key) = 0;

  // Starts the attempt (spec.gpus from Place()). Returns the backend id once
  // the backend accepted it; the outcome comes later through Poll(). An error
  // means it was not started and no update will follow.
  virtual absl::StatusOr<std::string> Launch(const LaunchSpec& spec) = 0;

  // Starts several attempts handed out in one dispatcher turn; one result
  // per spec, in order, each meaning what Launch()'s does. A backend that
  // submits in bulk (Slurm job arrays) sees the whole batch at once; by
  // default each spec is simply Launch()ed.
  virtual std::vector<absl::StatusOr<std::string>> LaunchBatch(
      const std::vector<const LaunchSpec*>& specs) {
    std::vector<absl::StatusOr<std::string>> out;
    out.reserve(specs.size());
    for (const LaunchSpec* spec : specs) out.push_back(Launch(*spec));
    return out;
  }

  // After a daemon restart: take charge of an attempt that was LAUNCHING or
  // RUNNING. The runner makes sure it runs exactly once — it finds it again
  // (by backend id, name or state files) and watches it, or starts it if it
  // never started. Reserves spec.gpus again. Updates follow through Poll().
  virtual absl::Status Adopt(const LaunchSpec& spec,
                             const std::string& backend_id) = 0;

  // Updates since the last call, without blocking.
  virtual std::vector<AttemptUpdate> Poll() = 0;

  // Asks the backend to stop the attempt (process group, job). Asynchronous:
  // the final update comes through Poll(). NOT_FOUND for unknown attempts.
  virtual absl::Status Cancel(const AttemptKey& key) = 0;

  // Attempts launched or adopted whose final update was not yet reported.
  virtual int live_count() const = 0;

  // How long the dispatcher may sleep before it must Poll() again even when
  // not woken (e.g. adopted attempts are watched by polling files).
  virtual int64_t poll_interval_ms() const = 0;
};

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_RUNNER_H_
