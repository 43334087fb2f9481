#include "spec/daemon_config.h"

#include <cstdint>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "spec/yaml_to_proto.h"

namespace ocx::spec {
namespace {

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxUnixPath = 107;
constexpr int64_t kMaxGpuId = 1 << 20;
// dlc calls at once: each is a process; more only hammers DLC's API.
constexpr int kMaxDlcCalls = 64;

absl::Status Bad(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

std::string Quote(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status CheckPort(absl::string_view port, absl::string_view listen) {
  int64_t v = 0;
  if (!AllDigits(port) || port.size() > 5 || !absl::SimpleAtoi(port, &v) ||
      v < 1 || v > 65535) {
    return Bad("listen", absl::StrCat("port must be in 1..65535, got ",
                                      Quote(port), " in ", Quote(listen)));
  }
  return absl::OkStatus();
}

absl::Status ValidateListen(absl::string_view listen) {
  if (listen.empty()) return absl::OkStatus();
  const std::string usage = absl::StrCat(
      "must be unix:///absolute/path, host:port or [ipv6]:port, got ",
      Quote(listen));
  if (absl::StartsWith(listen, "unix:")) {
    if (!absl::StartsWith(listen, "unix:///")) return Bad("listen", usage);
    absl::string_view path = listen.substr(7);  // keeps the leading '/'
    if (path == "/") return Bad("listen", usage);
    if (path.find('\0') != absl::string_view::npos) {
      return Bad("listen", "must not contain NUL");
    }
    if (path.size() > kMaxUnixPath) {
      return Bad("listen",
                 absl::StrCat("unix socket path must be at most ", kMaxUnixPath,
                              " bytes, got ", path.size()));
    }
    return absl::OkStatus();
  }
  if (listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == absl::string_view::npos || close == 1 ||
        close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Bad("listen", usage);
    }
    for (char c : listen.substr(1, close - 1)) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' &&
          c != '.') {
        return Bad("listen", usage);
      }
    }
    return CheckPort(listen.substr(close + 2), listen);
  }
  size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return Bad("listen", usage);
  }
  absl::string_view host = listen.substr(0, colon);
  if (host.find(':') != absl::string_view::npos) {
    return Bad("listen",
               absl::StrCat("IPv6 addresses go in brackets ([::1]:port), got ",
                            Quote(listen)));
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '-' && c != '_') {
      return Bad("listen", usage);
    }
  }
  return CheckPort(listen.substr(colon + 1), listen);
}

absl::Status ValidateGpus(absl::string_view gpus) {
  if (gpus.empty() || gpus == "none") return absl::OkStatus();
  std::set<int64_t> seen;
  for (absl::string_view item : absl::StrSplit(gpus, ',')) {
    absl::string_view id = absl::StripAsciiWhitespace(item);
    int64_t v = 0;
    if (!AllDigits(id) || !absl::SimpleAtoi(id, &v) || v > kMaxGpuId) {
      return Bad("local.gpus",
                 absl::StrCat(Quote(id),
                              " is not a GPU id (expected \"none\" or "
                              "comma-separated ids such as \"0,1\")"));
    }
    if (!seen.insert(v).second) {
      return Bad("local.gpus", absl::StrCat("duplicate GPU id ", v));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNoNul(absl::string_view path, absl::string_view s) {
  if (s.find('\0') != absl::string_view::npos) {
    return Bad(path, "must not contain NUL");
  }
  return absl::OkStatus();
}

absl::Status CheckAtLeastZero(absl::string_view path, int64_t v) {
  if (v < 0) return Bad(path, absl::StrCat("must be >= 0, got ", v));
  return absl::OkStatus();
}

absl::Status ValidateDlc(const ocx::v1::DlcRunnerSettings& dlc) {
  OCX_RETURN_IF_ERROR(CheckNoNul("dlc.dlc_path", dlc.dlc_path()));
  const std::pair<const char*, int64_t> non_negative[] = {
      {"dlc.poll_interval_ms", dlc.poll_interval_ms()},
      {"dlc.max_concurrent_calls", dlc.max_concurrent_calls()},
      {"dlc.submit_tries", dlc.submit_tries()},
      {"dlc.call_timeout_ms", dlc.call_timeout_ms()},
      {"dlc.retry_initial_backoff_ms", dlc.retry_initial_backoff_ms()},
      {"dlc.retry_max_backoff_ms", dlc.retry_max_backoff_ms()},
      {"dlc.max_preemptions", dlc.max_preemptions()},
      {"dlc.log_interval_ms", dlc.log_interval_ms()},
      {"dlc.max_parallel", dlc.max_parallel()},
  };
  for (const auto& [path, v] : non_negative) {
    OCX_RETURN_IF_ERROR(CheckAtLeastZero(path, v));
  }
  if (dlc.max_concurrent_calls() > kMaxDlcCalls) {
    return Bad("dlc.max_concurrent_calls",
               absl::StrCat("must be at most ", kMaxDlcCalls, ", got ",
                            dlc.max_concurrent_calls()));
  }
  if (dlc.retry_initial_backoff_ms() > 0 && dlc.retry_max_backoff_ms() > 0 &&
      dlc.retry_max_backoff_ms() < dlc.retry_initial_backoff_ms()) {
    return Bad("dlc.retry_max_backoff_ms",
               absl::StrCat("must be >= retry_initial_backoff_ms (",
                            dlc.retry_initial_backoff_ms(), "), got ",
                            dlc.retry_max_backoff_ms()));
  }
  return absl::OkStatus();
}

absl::Status ValidateSlurm(const ocx::v1::SlurmRunnerSettings& s) {
  const std::pair<const char*, const std::string*> strings[] = {
      {"slurm.sbatch_path", &s.sbatch_path()},
      {"slurm.squeue_path", &s.squeue_path()},
      {"slurm.sacct_path", &s.sacct_path()},
      {"slurm.scancel_path", &s.scancel_path()},
      {"slurm.default_partition", &s.default_partition()},
  };
  for (const auto& [path, v] : strings) {
    OCX_RETURN_IF_ERROR(CheckNoNul(path, *v));
  }
  for (int i = 0; i < s.sacct_args_size(); ++i) {
    OCX_RETURN_IF_ERROR(
        CheckNoNul(absl::StrCat("slurm.sacct_args[", i, "]"), s.sacct_args(i)));
  }
  for (int i = 0; i < s.sbatch_args_size(); ++i) {
    OCX_RETURN_IF_ERROR(CheckNoNul(absl::StrCat("slurm.sbatch_args[", i, "]"),
                                   s.sbatch_args(i)));
  }
  const std::pair<const char*, int64_t> non_negative[] = {
      {"slurm.poll_interval_ms", s.poll_interval_ms()},
      {"slurm.call_timeout_ms", s.call_timeout_ms()},
      {"slurm.backoff_initial_ms", s.backoff_initial_ms()},
      {"slurm.backoff_max_ms", s.backoff_max_ms()},
      {"slurm.max_in_flight", s.max_in_flight()},
      {"slurm.max_resubmits", s.max_resubmits()},
  };
  for (const auto& [path, v] : non_negative) {
    OCX_RETURN_IF_ERROR(CheckAtLeastZero(path, v));
  }
  if (s.backoff_initial_ms() > 0 && s.backoff_max_ms() > 0 &&
      s.backoff_max_ms() < s.backoff_initial_ms()) {
    return Bad(
        "slurm.backoff_max_ms",
        absl::StrCat("must be >= backoff_initial_ms (", s.backoff_initial_ms(),
                     "), got ", s.backoff_max_ms()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ocx::v1::DaemonConfig> LoadDaemonConfig(absl::string_view text) {
  ocx::v1::DaemonConfig config;
  YamlParseOptions options;
  options.allow_empty_document = true;
  OCX_RETURN_IF_ERROR(ParseYamlToMessage(text, &config, options));
  return config;
}

absl::StatusOr<ocx::v1::DaemonConfig> LoadDaemonConfigFile(
    const std::string& path) {
  OCX_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<ocx::v1::DaemonConfig> config = LoadDaemonConfig(text);
  if (!config.ok()) return Annotate(config.status(), path);
  return config;
}

absl::Status ValidateDaemonConfig(const ocx::v1::DaemonConfig& config) {
  OCX_RETURN_IF_ERROR(ValidateListen(config.listen()));
  OCX_RETURN_IF_ERROR(CheckNoNul("database", config.database()));
  OCX_RETURN_IF_ERROR(CheckNoNul("work_root", config.work_root()));
  OCX_RETURN_IF_ERROR(CheckNoNul("lock_file", config.lock_file()));
  const auto& local = config.local();
  OCX_RETURN_IF_ERROR(ValidateGpus(local.gpus()));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero("local.max_parallel", local.max_parallel()));
  OCX_RETURN_IF_ERROR(CheckNoNul("local.shim_path", local.shim_path()));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero("local.kill_grace_s", local.kill_grace_s()));
  const auto& retry = config.retry();
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero("retry.initial_backoff_ms", retry.initial_backoff_ms()));
  if (retry.multiplier() != 0 && !(retry.multiplier() >= 1)) {
    return Bad("retry.multiplier",
               absl::StrCat("must be >= 1, got ", retry.multiplier()));
  }
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero("retry.max_backoff_ms", retry.max_backoff_ms()));
  if (retry.initial_backoff_ms() > 0 && retry.max_backoff_ms() > 0 &&
      retry.max_backoff_ms() < retry.initial_backoff_ms()) {
    return Bad("retry.max_backoff_ms",
               absl::StrCat("must be >= initial_backoff_ms (",
                            retry.initial_backoff_ms(), "), got ",
                            retry.max_backoff_ms()));
  }
  OCX_RETURN_IF_ERROR(CheckNoNul("task_program", config.task_program()));
  OCX_RETURN_IF_ERROR(ValidateDlc(config.dlc()));
  OCX_RETURN_IF_ERROR(ValidateSlurm(config.slurm()));
  return absl::OkStatus();
}

}  // namespace ocx::spec
