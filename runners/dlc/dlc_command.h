// The `dlc` command-line contract, as pure functions: the remote shell a DLC
// job runs, the argv of every dlc call, and parsers for what dlc prints.
// docs/dlc.md says which parts follow OpenCompass's runners/dlc.py and which
// are assumptions.
//
// Nothing here runs a process or touches a file. Thread-safe: no shared
// state.
#ifndef OCX_RUNNERS_DLC_DLC_COMMAND_H_
#define OCX_RUNNERS_DLC_DLC_COMMAND_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::runners::dlc {

// What the remote shell runs.
struct RemoteTask {
  // The task program and its arguments (quoted word by word).
  std::vector<std::string> argv;
  // Exported before the task runs (names must be [A-Za-z_][A-Za-z0-9_]*).
  std::map<std::string, std::string> env;
  // `cd` here first; also prepended to PYTHONPATH as OpenCompass does.
  std::string work_dir;
};

// The shell command a DLC job runs, built as OpenCompass builds it:
//   [source BASHRC; conda activate ENV; export PYTHONPATH=WD:$PYTHONPATH; |
//    export PATH=PYENV/bin:$PATH; export PYTHONPATH=WD:$PYTHONPATH; ]
//   [export HF_DATASETS_OFFLINE=1; export TRANSFORMERS_OFFLINE=1;
//    export HF_EVALUATE_OFFLINE=1; export HF_HUB_OFFLINE=1; ]  (hf_offline)
//   export K=V; ...  (aliyun_cfg.extra_envs, then task.env, sorted by name)
//   cd WD; umask 0000; ARGV...
// Every configured string is a quoted word (ShellQuote), so no config value
// becomes shell code. INVALID_ARGUMENT for an env name that is not an
// identifier, a NUL in any string, an empty argv or work_dir, or an
// hf_offline other than "", true, false (any case), 1, 0.
absl::StatusOr<std::string> BuildRemoteShell(const ocx::v1::AliyunConfig& cfg,
                                             const RemoteTask& task);

// Resources of the one worker: gpus, cpu = max(8·gpus, worker_cpu or 12),
// memory = max(128·gpus, worker_memory_gi or 192) GiB (OpenCompass).
struct Resources {
  int gpus = 0;
  int cpu = 12;
  int memory_gi = 192;
};
Resources ComputeResources(int num_gpus, const ocx::v1::AliyunConfig& cfg);

// INVALID_ARGUMENT naming the first missing setting
// (`aliyun_cfg.workspace_id: required for DLCRunner`, ...): workspace_id,
// worker_image and dlc_config_path are required; conda_env_name needs
// bashrc_path and the reverse; python_env_path excludes bashrc_path.
absl::Status CheckAliyunConfig(const ocx::v1::AliyunConfig& cfg);

// argv of `dlc create job --kind PyTorchJob ...` in OpenCompass's order:
//   --command SHELL --name NAME[:512] --config CFG --workspace_id W
//   [--resource_id=R] --priority P(1) --worker_count 1 --worker_cpu C
//   --worker_gpu G --worker_memory MGi --worker_image I [--data_sources=a,b]
//   --enable_priority_preemption=True|False
// (--resource_id and --data_sources are left out when empty.)
std::vector<std::string> CreateJobArgv(
    const std::string& dlc, const ocx::v1::AliyunConfig& cfg, bool preemptible,
    const std::string& name, const std::string& shell, const Resources& res);
// `dlc get job ID --config CFG`
std::vector<std::string> GetJobArgv(const std::string& dlc,
                                    const ocx::v1::AliyunConfig& cfg,
                                    const std::string& job_id);
// `dlc list job --display_name NAME --workspace_id W --config CFG`
// (an assumption: OpenCompass never looks jobs up by name).
std::vector<std::string> ListJobsArgv(const std::string& dlc,
                                      const ocx::v1::AliyunConfig& cfg,
                                      const std::string& name);
// `dlc logs ID ID-master-0 --config CFG --start_time T [--end_time T]`;
// times as %Y-%m-%dT%H:%M:%SZ (UTC); end_s 0 leaves --end_time out.
std::vector<std::string> LogsArgv(const std::string& dlc,
                                  const ocx::v1::AliyunConfig& cfg,
                                  const std::string& job_id, int64_t start_s,
                                  int64_t end_s);
// `dlc stop job ID --config CFG -f`
std::vector<std::string> StopJobArgv(const std::string& dlc,
                                     const ocx::v1::AliyunConfig& cfg,
                                     const std::string& job_id);

// True for ids of the form dlc[0-9a-z]+.
bool IsJobId(absl::string_view s);

// The job id from `dlc create job` output: the first match of
// `\|\s+(dlc[0-9a-z]+)\s+\|` (OpenCompass's regex). NOT_FOUND when absent.
absl::StatusOr<std::string> ParseJobId(absl::string_view output);

// One job as `dlc get job` / `dlc list job` describe it.
struct JobInfo {
  std::string job_id;
  std::string display_name;
  std::string status;  // Creating, Queuing, Running, Succeeded, ...
  std::string reason_code;
  std::string reason_message;
  std::string create_time;   // GmtCreateTime, as printed
  std::string running_time;  // GmtRunningTime, when DLC gives it
};

// The JSON object `dlc get job` prints. Lines before the first one starting
// with '{' (e.g. "[OK]" or shell warnings, which OpenCompass also skips) are
// ignored. INVALID_ARGUMENT for anything else, or when Status is missing.
absl::StatusOr<JobInfo> ParseJobInfo(absl::string_view output);

// The `dlc list job` JSON: {"Jobs": [...]} (or a bare array), after any
// leading non-JSON lines. INVALID_ARGUMENT when it is not that.
absl::StatusOr<std::vector<JobInfo>> ParseJobList(absl::string_view output);

// The incarnation a job name stands for: 0 for `base`, k for `base-p<k>`,
// -1 for any other name.
int IncarnationOf(absl::string_view base, absl::string_view name);

// True when dlc's output says the job does not exist (NotFound,
// EntityNotExist, "not found", case-insensitive).
bool SaysNotFound(absl::string_view output);

// Epoch seconds as %Y-%m-%dT%H:%M:%SZ, and back (0 when unparsable).
std::string FormatUtc(int64_t epoch_s);
int64_t ParseUtc(absl::string_view text);

// Final DLC statuses, and whether a job's end was a preemption: Status
// "Preempted", or a Failed/Stopped job whose ReasonCode or ReasonMessage
// mentions preemption (an assumption, see docs/dlc.md).
bool IsFinalStatus(absl::string_view status);
bool IsSuccessStatus(absl::string_view status);
bool IsPreempted(const JobInfo& info);

}  // namespace ocx::runners::dlc

#endif  // OCX_RUNNERS_DLC_DLC_COMMAND_H_
