#include "serving/serve_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/field_check.h"
#include "common/fnv1a.h"
#include "common/placeholders.h"
#include "common/status_macros.h"

namespace ocx::serving {
namespace {

using ::ocx::field::Bad;
using ::ocx::field::CheckInRange;
using ::ocx::field::CheckNoNul;
using ::ocx::field::Index;
using ::ocx::field::Quote;
using ::ocx::field::Sub;
using ::ocx::v1::ServeConfig;

constexpr char kAuto[] = "auto";
constexpr int kMaxReplicas = 256;
constexpr int kMaxGpusPerReplica = 64;
constexpr int kMaxAttempts = 100;
constexpr char kLocalRunner[] = "LocalRunner";
constexpr char kSlurmRunner[] = "SlurmRunner";
// Bump to give every pool a new id when the key's scheme changes.
constexpr absl::string_view kPoolScheme = "ocx-serve-pool-v1";

// FAILED_PRECONDITION "<path>: <problem>": the spec is fine, the daemon it
// was sent to cannot run it.
absl::Status Unrunnable(absl::string_view path, absl::string_view problem) {
  return absl::FailedPreconditionError(absl::StrCat(path, ": ", problem));
}

absl::Status CheckCommand(const ServeConfig& serve, const std::string& path) {
  if (serve.command().empty()) {
    return Bad(path,
               "required: the server's argv, e.g. [vllm, serve, "
               "\"{model_path}\", --port, \"{port}\"]");
  }
  if (serve.command(0).empty()) {
    return Bad(Index(path, 0), "must not be empty (the program)");
  }
  for (int i = 0; i < serve.command_size(); ++i) {
    OCX_RETURN_IF_ERROR(CheckNoNul(Index(path, i), serve.command(i)));
    absl::Status s = CheckPlaceholders(serve.command(i), kServePlaceholders);
    if (!s.ok()) return Bad(Index(path, i), s.message());
  }
  return absl::OkStatus();
}

absl::Status CheckReplicas(absl::string_view text, const std::string& path) {
  if (text.empty() || text == kAuto) return absl::OkStatus();
  int n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 1 || n > kMaxReplicas) {
    return Bad(path, absl::StrCat("must be \"auto\" or a count in 1..",
                                  kMaxReplicas, ", got ", Quote(text)));
  }
  return absl::OkStatus();
}

absl::Status CheckUrlPath(absl::string_view text, const std::string& path) {
  if (text.empty() || absl::StartsWith(text, "/")) {
    return CheckNoNul(path, text);
  }
  return Bad(path, absl::StrCat("must start with \"/\", got ", Quote(text)));
}

absl::Status CheckNotNegative(const std::string& path, int64_t v,
                              absl::string_view zero_means) {
  if (v >= 0) return absl::OkStatus();
  return Bad(path, absl::StrCat("must be > 0 (0 or unset: the default, ",
                                zero_means, "), got ", v));
}

// True when `path` names an executable regular file.
bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

// The PATH the server will search: its own env's, else the daemon's.
std::string SearchPath(const ServeConfig& serve) {
  auto it = serve.env().find("PATH");
  if (it != serve.env().end()) return it->second;
  const char* path = std::getenv("PATH");
  return path == nullptr ? "" : path;
}

absl::Status CheckProgram(const ServeConfig& serve, const std::string& path) {
  const std::string& program = serve.command(0);
  // A placeholder in the program, or a relative path (resolved in the
  // replica's working directory), cannot be checked from here.
  if (absl::StrContains(program, "{")) return absl::OkStatus();
  if (absl::StrContains(program, "/")) {
    if (program[0] != '/' || IsExecutableFile(program)) {
      return absl::OkStatus();
    }
    return Unrunnable(
        path, absl::StrCat(Quote(program), " is not an executable file"));
  }
  for (absl::string_view dir : absl::StrSplit(SearchPath(serve), ':')) {
    if (dir.empty()) dir = ".";
    if (IsExecutableFile(absl::StrCat(dir, "/", program))) {
      return absl::OkStatus();
    }
  }
  return Unrunnable(path, absl::StrCat(Quote(program), " not found in PATH"));
}

}  // namespace

ServeConfig WithDefaults(const ServeConfig& serve) {
  ServeConfig s = serve;
  if (s.replicas().empty()) s.set_replicas(kAuto);
  ocx::v1::ServeReadyConfig* ready = s.mutable_ready();
  if (ready->path().empty()) ready->set_path("/v1/models");
  if (ready->timeout_s() == 0) ready->set_timeout_s(900);
  if (ready->interval_s() == 0) ready->set_interval_s(10);
  if (ready->failures() == 0) ready->set_failures(3);
  if (!s.has_idle_stop_s()) s.set_idle_stop_s(300);
  if (!s.has_max_attempts()) s.set_max_attempts(3);
  if (s.api_path().empty()) s.set_api_path("/v1");
  return s;
}

absl::Status CheckServeConfig(const ServeConfig& serve,
                              absl::string_view field) {
  const std::string path(field);
  OCX_RETURN_IF_ERROR(CheckCommand(serve, Sub(path, "command")));
  OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "num_gpus"), serve.num_gpus(), 0,
                                   kMaxGpusPerReplica));
  OCX_RETURN_IF_ERROR(CheckReplicas(serve.replicas(), Sub(path, "replicas")));
  const std::string ready = Sub(path, "ready");
  OCX_RETURN_IF_ERROR(CheckUrlPath(serve.ready().path(), Sub(ready, "path")));
  OCX_RETURN_IF_ERROR(CheckNotNegative(Sub(ready, "timeout_s"),
                                       serve.ready().timeout_s(), "900"));
  OCX_RETURN_IF_ERROR(CheckNotNegative(Sub(ready, "interval_s"),
                                       serve.ready().interval_s(), "10"));
  OCX_RETURN_IF_ERROR(
      CheckNotNegative(Sub(ready, "failures"), serve.ready().failures(), "3"));
  if (serve.has_idle_stop_s()) {
    OCX_RETURN_IF_ERROR(field::CheckAtLeastZero(Sub(path, "idle_stop_s"),
                                                int64_t{serve.idle_stop_s()}));
  }
  OCX_RETURN_IF_ERROR(field::CheckEnvMap(Sub(path, "env"), serve.env()));
  if (serve.has_max_attempts()) {
    OCX_RETURN_IF_ERROR(CheckInRange(Sub(path, "max_attempts"),
                                     serve.max_attempts(), 1, kMaxAttempts));
  }
  return CheckUrlPath(serve.api_path(), Sub(path, "api_path"));
}

int ReplicaCount(const ServeConfig& serve) {
  int n = 0;
  if (!absl::SimpleAtoi(serve.replicas(), &n) || n < 0) return 0;
  return n;
}

absl::Status CheckServeRunnable(const ServeConfig& serve,
                                absl::string_view field,
                                const Preflight& preflight) {
  const std::string path(field);
  const bool local = preflight.runner_type == kLocalRunner;
  if (!local && preflight.runner_type != kSlurmRunner) {
    return Bad("infer.runner.type",
               absl::StrCat("serve runs on LocalRunner or SlurmRunner, not ",
                            preflight.runner_type));
  }
  if (local && serve.num_gpus() > preflight.local_gpus) {
    return Unrunnable(
        Sub(path, "num_gpus"),
        absl::StrCat(serve.num_gpus(), " GPUs per replica but LocalRunner has ",
                     preflight.local_gpus));
  }
  const int64_t ports = int64_t{preflight.port_last} - preflight.port_first + 1;
  if (ReplicaCount(serve) > ports) {
    return Unrunnable(Sub(path, "replicas"),
                      absl::StrCat(ReplicaCount(serve),
                                   " replicas but serving.port_range has ",
                                   ports, ports == 1 ? " port" : " ports"));
  }
  if (local && preflight.check_program && !serve.command().empty()) {
    OCX_RETURN_IF_ERROR(CheckProgram(serve, Index(Sub(path, "command"), 0)));
  }
  return absl::OkStatus();
}

ocx::v1::ServerPool PoolFor(const ocx::v1::ModelConfig& model,
                            const ocx::v1::RunnerConfig& infer_runner) {
  ocx::v1::ServerPool pool;
  *pool.mutable_serve() = WithDefaults(model.serve());
  // Only what changes the server process enters the key.
  ServeConfig serve_key;
  *serve_key.mutable_command() = pool.serve().command();
  serve_key.set_num_gpus(pool.serve().num_gpus());
  *serve_key.mutable_env() = pool.serve().env();
  serve_key.set_api_path(pool.serve().api_path());
  ocx::v1::RunnerConfig runner_key;
  runner_key.set_type(infer_runner.type().empty() ? kLocalRunner
                                                  : infer_runner.type());
  runner_key.set_partition(infer_runner.partition());
  runner_key.set_qos(infer_runner.qos());
  runner_key.set_quotatype(infer_runner.quotatype());
  *runner_key.mutable_extra_command() = infer_runner.extra_command();
  Fnv1a64 h;
  h.UpdateField(kPoolScheme);
  h.UpdateField(DeterministicBytes(serve_key));
  h.UpdateField(model.path());
  h.UpdateField(DeterministicBytes(runner_key));
  pool.set_fingerprint(FingerprintHex(h.value()));
  pool.set_id(absl::StrCat("srv-", pool.fingerprint().substr(0, 10)));
  pool.set_model_path(model.path());
  pool.set_model_abbr(model.abbr());
  *pool.mutable_runner() = infer_runner;
  return pool;
}

bool IsReplicaId(absl::string_view id) {
  // srv-<10 hex>-<n>, n >= 1.
  constexpr size_t kPoolIdSize = 4 + 10;
  if (!absl::StartsWith(id, "srv-") || id.size() < kPoolIdSize + 2 ||
      id[kPoolIdSize] != '-') {
    return false;
  }
  for (size_t i = 4; i < kPoolIdSize; ++i) {
    if (!absl::ascii_isxdigit(id[i]) || absl::ascii_isupper(id[i])) {
      return false;
    }
  }
  absl::string_view n = id.substr(kPoolIdSize + 1);
  // A root ocxd's per-owner pools: srv-<10 hex>-u<uid>-<n>.
  if (absl::ConsumePrefix(&n, "u")) {
    const size_t dash = n.find('-');
    if (dash == 0 || dash == absl::string_view::npos ||
        !std::all_of(n.begin(), n.begin() + dash,
                     [](char c) { return absl::ascii_isdigit(c); })) {
      return false;
    }
    n.remove_prefix(dash + 1);
  }
  if (n.empty()) return false;
  int value = 0;
  return n[0] != '0' &&
         std::all_of(n.begin(), n.end(),
                     [](char c) { return absl::ascii_isdigit(c); }) &&
         absl::SimpleAtoi(n, &value) && value >= 1;
}

std::string ReplicaId(absl::string_view pool_id, int n) {
  return absl::StrCat(pool_id, "-", n);
}

std::vector<std::string> ReplicaArgv(const std::string& task_program,
                                     const ocx::v1::ServerPool& pool,
                                     const std::string& endpoint_file,
                                     const std::string& host, int port_first,
                                     int port_last, int port_start) {
  std::vector<std::string> argv = {task_program,
                                   "serve",
                                   "--endpoint-file",
                                   endpoint_file,
                                   "--host",
                                   host,
                                   "--ports",
                                   absl::StrCat(port_first, "-", port_last),
                                   "--port-start",
                                   absl::StrCat(port_start),
                                   "--model-path",
                                   pool.model_path(),
                                   "--num-gpus",
                                   absl::StrCat(pool.serve().num_gpus()),
                                   "--"};
  argv.insert(argv.end(), pool.serve().command().begin(),
              pool.serve().command().end());
  return argv;
}

absl::StatusOr<std::vector<std::string>> ExpandServeCommand(
    const ServeConfig& serve, const ServeValues& values) {
  const std::map<std::string, std::string> by_name = {
      {"model_path", values.model_path},
      {"port", absl::StrCat(values.port)},
      {"host", values.host},
      {"num_gpus", absl::StrCat(values.num_gpus)},
      {"gpus", values.gpus}};
  std::vector<std::string> argv;
  for (int i = 0; i < serve.command_size(); ++i) {
    absl::StatusOr<std::string> arg =
        ExpandPlaceholders(serve.command(i), by_name);
    if (!arg.ok()) {
      return Bad(Index("serve.command", i), arg.status().message());
    }
    argv.push_back(*std::move(arg));
  }
  return argv;
}

absl::StatusOr<std::pair<int, int>> ParsePortRange(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  int first = 0;
  int last = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &first) ||
      !absl::SimpleAtoi(parts[1], &last) || first < 1 || first > last ||
      last > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port range ", Quote(text),
                     ": expected \"first-last\" with 1 <= first <= last <= "
                     "65535, e.g. \"20000-29999\""));
  }
  return std::make_pair(first, last);
}

}  // namespace ocx::serving
