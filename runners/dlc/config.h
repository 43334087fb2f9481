// DLCRunner's face (docs/runners.md, docs/dlc.md): its type name, the stage
// settings only it reads (aliyun_cfg, preemptible, eval_with_gpu) with their
// checks and defaults, the daemon's `dlc:` section with its checks, and the
// options a DlcRunner is built from. spec/validate and ocxd use this; the
// runner itself only sees RunnerOptions.
//
// Thread-safe: no shared state.
#ifndef OCX_RUNNERS_DLC_CONFIG_H_
#define OCX_RUNNERS_DLC_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ocx/v1/daemon_config.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::runners::dlc {

// runner.type of stages that run on PAI-DLC.
inline constexpr char kRunnerType[] = "DLCRunner";
// runner.max_num_workers when the stage sets none.
inline constexpr int kDefaultMaxNumWorkers = 32;

// How a DlcRunner talks to dlc.
struct RunnerOptions {
  // The dlc executable; a bare name is looked up in PATH.
  std::string dlc_path = "dlc";
  // Called (from a worker thread) when Poll() has news; may be empty.
  std::function<void()> wakeup;
  // Between two `dlc get job` of one job (OpenCompass: dlc_sleep_time 10 s).
  int64_t poll_interval_ms = 10000;
  // dlc calls running at once.
  int max_concurrent_calls = 4;
  // Tries of `dlc create job` per job name (OpenCompass: 5).
  int submit_tries = 5;
  // A dlc call running longer is killed and counts as failed.
  int64_t call_timeout_ms = 120000;
  // Backoff after a failed dlc call: initial, doubling up to max.
  int64_t call_initial_backoff_ms = 2000;
  int64_t call_max_backoff_ms = 60000;
  // Preemptions absorbed within one attempt by resubmitting the job (0: a
  // preemption is a failure).
  int max_resubmits = 3;
  // Between live `dlc logs` windows while a job runs; 0: fetch logs only
  // when it ends.
  int64_t log_interval_ms = 30000;
  // Attempts placed or live at once; 0: no limit (max_num_workers of each
  // stage still applies).
  int max_parallel = 0;
  // `dlc get job` answers "not found" this many times in a row → kLost.
  int not_found_limit = 3;
};

// Names of the stage runner fields only DLCRunner reads that `r` sets, in
// declaration order (another runner type refuses them).
std::vector<std::string> StageFieldsSet(const ocx::v1::RunnerConfig& r);

// The DLC settings of a stage whose runner is at `path` (e.g.
// "infer.runner"). Everything here ends up as a `dlc` argument or a quoted
// word of the job's shell, so the checks are about what DLC accepts and
// what a remote shell can carry. INVALID_ARGUMENT "<path>.<field>: ...",
// e.g. "infer.runner.aliyun_cfg.workspace_id: required for DLCRunner".
absl::Status ValidateStageRunner(const ocx::v1::RunnerConfig& r,
                                 const std::string& path);

// Fills unset DLC stage settings (max_num_workers).
void ApplyStageDefaults(ocx::v1::RunnerConfig* r);

// The daemon's `dlc:` section: INVALID_ARGUMENT "dlc.<field>: ...".
absl::Status ValidateSettings(const ocx::v1::DlcRunnerSettings& s);

// The options of a validated `dlc:` section; a dlc_path with a slash is made
// absolute against `base_dir`, unset numbers keep their defaults.
RunnerOptions OptionsFromSettings(const ocx::v1::DlcRunnerSettings& s,
                                  const std::string& base_dir);

}  // namespace ocx::runners::dlc

#endif  // OCX_RUNNERS_DLC_CONFIG_H_
