// LocalRunner's face (docs/runners.md): its type name, the stage defaults it
// needs, the daemon's `local:` section with its checks, and the options a
// LocalRunner is built from. spec/validate and ocxd use this; the runner
// itself only sees RunnerOptions.
//
// Thread-safe: no shared state.
#ifndef OCX_RUNNERS_LOCAL_CONFIG_H_
#define OCX_RUNNERS_LOCAL_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ocx/v1/daemon_config.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::runners::local {

// runner.type of stages that run on this machine (also the default type).
inline constexpr char kRunnerType[] = "LocalRunner";
// runner.max_num_workers and max_workers_per_gpu when the stage sets none.
inline constexpr int kDefaultMaxNumWorkers = 16;
inline constexpr int kDefaultMaxWorkersPerGpu = 1;
// local.kill_grace_s when unset.
inline constexpr int kDefaultKillGraceS = 10;

// How a LocalRunner runs tasks.
struct RunnerOptions {
  // Path of the ocx-shim executable (see DefaultShimPath()).
  std::string shim_path;
  // GPU ids tasks may be given (e.g. {4, 5}; see GpusFromEnvironment()).
  // Empty: tasks needing GPUs are refused with FAILED_PRECONDITION.
  std::vector<int> gpus;
  // Most attempts placed or running at once; 0 = unlimited.
  int max_parallel = 0;
  // Seconds between SIGTERM and SIGKILL to a task's process group on
  // cancel or timeout.
  int kill_grace_s = kDefaultKillGraceS;
  // Whether a LaunchSpec::run_as of uid 0 may run (ConfinementSettings.
  // allow_root_tasks); otherwise ocx-shim refuses it.
  bool allow_root_tasks = false;
};

// LocalRunner reads no stage settings of its own: always empty (the table
// in spec/validate asks every runner type).
std::vector<std::string> StageFieldsSet(const ocx::v1::RunnerConfig& r);

// Nothing LocalRunner-specific to check: OK.
absl::Status ValidateStageRunner(const ocx::v1::RunnerConfig& r,
                                 const std::string& path);

// Fills unset stage settings (max_num_workers, max_workers_per_gpu).
void ApplyStageDefaults(ocx::v1::RunnerConfig* r);

// The daemon's `local:` section: INVALID_ARGUMENT "local.<field>: ...";
// local.gpus is empty, "none", or comma-separated distinct ids >= 0.
absl::Status ValidateSettings(const ocx::v1::LocalRunnerSettings& s);

// The options of a validated `local:` section. `gpus` are the ids already
// resolved (local.gpus, else CUDA_VISIBLE_DEVICES); `default_shim` is used
// when local.shim_path is empty.
RunnerOptions OptionsFromSettings(const ocx::v1::LocalRunnerSettings& s,
                                  std::vector<int> gpus,
                                  const std::string& default_shim);

}  // namespace ocx::runners::local

#endif  // OCX_RUNNERS_LOCAL_CONFIG_H_
