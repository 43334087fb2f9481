// A model's `serve` section (proto ServeConfig, docs/serving.md): its
// defaults, its checks with field paths, the pool key it belongs to, and
// the argv of one replica start.
//
// Thread-safe: no shared state.
#ifndef OCX_SERVING_SERVE_CONFIG_H_
#define OCX_SERVING_SERVE_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::serving {

// Placeholders a serve command may use, in documentation order.
inline constexpr const char* kServePlaceholders[] = {
    "model_path", "port", "host", "num_gpus", "gpus"};

// Defaults, applied where a field is unset: replicas "auto", ready.path
// "/v1/models", ready.timeout_s 900, ready.interval_s 10, ready.failures 3,
// idle_stop_s 300, max_attempts 3, api_path "/v1".
ocx::v1::ServeConfig WithDefaults(const ocx::v1::ServeConfig& serve);

// Checks a serve section without knowing the daemon (at submit, and in
// ocxctl --dry-run): command non-empty with known placeholders and paired
// braces, num_gpus >= 0, replicas "auto" or 1..256, ready.path and api_path
// starting with "/", positive timeouts, env names valid. `field` is the
// section's path, e.g. "models[0].serve"; errors are INVALID_ARGUMENT
// naming the sub-field: `models[0].serve.command[3]: unknown placeholder
// {prot} (known: {model_path}, {port}, {host}, {num_gpus}, {gpus})`.
absl::Status CheckServeConfig(const ocx::v1::ServeConfig& serve,
                              absl::string_view field);

// The replica count a (defaulted) serve asks for; 0 means "auto".
int ReplicaCount(const ocx::v1::ServeConfig& serve);

// What the daemon knows that a spec cannot: the GPUs of LocalRunner, the
// ports replicas may use, and how to find a program.
struct Preflight {
  // "LocalRunner" or "SlurmRunner": the runner replicas run on.
  std::string runner_type;
  // LocalRunner: the number of GPUs it may hand out.
  int local_gpus = 0;
  // The ports replicas may use (ServingSettings.port_range).
  int port_first = 20000;
  int port_last = 29999;
  // Checks that argv[0] can be run: a path must be an executable file, a
  // bare name must be found in $PATH (LocalRunner only: a Slurm node's PATH
  // is not known here).
  bool check_program = true;
};

// Checks a (defaulted) serve section against the daemon before anything
// starts: FAILED_PRECONDITION or INVALID_ARGUMENT naming the field, e.g.
// `models[0].serve.num_gpus: 4 GPUs per replica but LocalRunner has 2
// (4,5)`, `models[0].serve.command[0]: "vllm" not found in PATH`,
// `models[0].serve.replicas: 4 replicas but serving.port_range has 2
// ports`, `infer.runner.type: serve runs on LocalRunner or SlurmRunner,
// not DLCRunner`.
absl::Status CheckServeRunnable(const ocx::v1::ServeConfig& serve,
                                absl::string_view field,
                                const Preflight& preflight);

// The pool a model's replicas belong to: id, fingerprint, model path and
// abbr, the defaulted serve and the runner they run on. The fingerprint
// covers (command, model path, num_gpus, env, api_path, runner type,
// partition, qos, quotatype, extra_command) — what changes the server
// process — and not replicas, ready, idle_stop_s or max_attempts, so two
// evaluations that differ only in those share the pool (the first one's
// settings hold).
ocx::v1::ServerPool PoolFor(const ocx::v1::ModelConfig& model,
                            const ocx::v1::RunnerConfig& infer_runner);

// Replica ids: "<pool id>-<n>"; pool ids start with "srv-" (a root
// ocxd's per-owner pools end in "-u<uid>": docs/security.md).
bool IsReplicaId(absl::string_view id);
std::string ReplicaId(absl::string_view pool_id, int n);

// The argv of one start of a replica: `<task_program> serve --endpoint-file
// <endpoint_file> --host <host> --ports <first>-<last> --port-start
// <port_start> --model-path <path> --num-gpus <n> -- <serve.command...>`
// (ocx-task serve, task/serve/). `host` empty: the node's host name.
std::vector<std::string> ReplicaArgv(const std::string& task_program,
                                     const ocx::v1::ServerPool& pool,
                                     const std::string& endpoint_file,
                                     const std::string& host, int port_first,
                                     int port_last, int port_start);

// `serve.command` with its placeholders replaced, one argv element each
// (never through a shell). INVALID_ARGUMENT for an unknown placeholder.
struct ServeValues {
  std::string model_path;
  std::string host;
  int port = 0;
  int num_gpus = 0;
  std::string gpus;  // "0,1"; "" without GPUs
};
absl::StatusOr<std::vector<std::string>> ExpandServeCommand(
    const ocx::v1::ServeConfig& serve, const ServeValues& values);

// "20000-29999" -> {20000, 29999}; INVALID_ARGUMENT unless 1 <= first <=
// last <= 65535.
absl::StatusOr<std::pair<int, int>> ParsePortRange(absl::string_view text);

}  // namespace ocx::serving

#endif  // OCX_SERVING_SERVE_CONFIG_H_
