// SlurmRunner's face (docs/runners.md, docs/slurm.md): its type name, the
// stage settings only it reads (partition, qos, ...) with their checks and
// defaults, the daemon's `slurm:` section with its checks, and the options a
// SlurmRunner is built from. spec/validate and ocxd use this; the runner
// itself only sees RunnerOptions.
//
// Thread-safe: no shared state.
#ifndef OCX_RUNNERS_SLURM_CONFIG_H_
#define OCX_RUNNERS_SLURM_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ocx/v1/daemon_config.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::runners::slurm {

// runner.type of stages that run on Slurm.
inline constexpr char kRunnerType[] = "SlurmRunner";
// runner.max_num_workers when the stage sets none.
inline constexpr int kDefaultMaxNumWorkers = 32;

// How a SlurmRunner talks to Slurm.
struct RunnerOptions {
  // The Slurm commands; bare names are looked up in PATH.
  std::string sbatch = "sbatch";
  std::string squeue = "squeue";
  std::string sacct = "sacct";
  std::string scancel = "scancel";
  // Put before sacct's own options: {"-c"} reads the jobcomp file on a
  // cluster without slurmdbd.
  std::vector<std::string> sacct_args;
  // Passed to every sbatch before the stage's extra_command.
  std::vector<std::string> sbatch_args;
  // -p when the stage names no partition; empty: Slurm's default.
  std::string default_partition;
  // Called (from the worker) when Poll() has news; may be empty.
  std::function<void()> wakeup;
  // Between two squeue polls.
  int64_t poll_interval_ms = 2000;
  // A Slurm call running longer is killed and counts as failed.
  int64_t call_timeout_ms = 60000;
  // Backoff after a failed call: initial, doubling up to max.
  int64_t call_initial_backoff_ms = 1000;
  int64_t call_max_backoff_ms = 30000;
  // Jobs placed or live at once across all evaluations; 0: no limit.
  int max_parallel = 0;
  // Resubmissions after NODE_FAIL / PREEMPTED / BOOT_FAIL per attempt.
  int max_resubmits = 3;
  // Polls in a row that find no trace of a job before it is kLost.
  int not_found_limit = 3;
  // Job ids per scancel call.
  int scancel_batch = 256;
  // Elements per job array (slurm_array.h); 1: no arrays.
  int max_array_size = 1000;
};

// Names of the stage runner fields only SlurmRunner reads that `r` sets, in
// declaration order (another runner type refuses them).
std::vector<std::string> StageFieldsSet(const ocx::v1::RunnerConfig& r);

// The Slurm settings of a stage whose runner is at `path` (e.g.
// "infer.runner"): INVALID_ARGUMENT "<path>.<field>: <problem>".
absl::Status ValidateStageRunner(const ocx::v1::RunnerConfig& r,
                                 const std::string& path);

// Fills unset Slurm stage settings (max_num_workers).
void ApplyStageDefaults(ocx::v1::RunnerConfig* r);

// The daemon's `slurm:` section: INVALID_ARGUMENT "slurm.<field>: ...".
absl::Status ValidateSettings(const ocx::v1::SlurmRunnerSettings& s);

// The options of a validated `slurm:` section; command paths with a slash
// are made absolute against `base_dir`, unset numbers keep their defaults.
RunnerOptions OptionsFromSettings(const ocx::v1::SlurmRunnerSettings& s,
                                  const std::string& base_dir);

}  // namespace ocx::runners::slurm

#endif  // OCX_RUNNERS_SLURM_CONFIG_H_
