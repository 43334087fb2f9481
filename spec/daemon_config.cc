#include "spec/daemon_config.h"

#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/field_check.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "runners/dlc/config.h"
#include "runners/local/config.h"
#include "runners/slurm/config.h"
#include "serving/serve_config.h"
#include "spec/limits.h"
#include "spec/yaml_to_proto.h"
#include "yaml-cpp/yaml.h"

namespace ocx::spec {
namespace {

using ::ocx::field::Bad;
using ::ocx::field::CheckAtLeastZero;
using ::ocx::field::CheckNoNul;
using ::ocx::field::Quote;

// Options renamed when the runners got one vocabulary (docs/runners.md).
// There are no users to keep compatible: an old name is refused with its
// new one rather than read.
struct Renamed {
  const char* section;
  const char* old_name;
  const char* new_name;
};
constexpr Renamed kRenamed[] = {
    {"dlc", "retry_initial_backoff_ms", "call_initial_backoff_ms"},
    {"dlc", "retry_max_backoff_ms", "call_max_backoff_ms"},
    {"dlc", "max_preemptions", "max_resubmits"},
    {"slurm", "backoff_initial_ms", "call_initial_backoff_ms"},
    {"slurm", "backoff_max_ms", "call_max_backoff_ms"},
    {"slurm", "max_in_flight", "max_parallel"},
};

// INVALID_ARGUMENT "slurm.max_in_flight: renamed to slurm.max_parallel" for
// the first renamed option in `text`. Text that is not YAML is left to the
// loader, which reports it.
absl::Status CheckRenamedOptions(absl::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception&) {
    return absl::OkStatus();
  }
  if (!root.IsMap()) return absl::OkStatus();
  const YAML::Node& doc = root;  // const: lookups add no keys
  for (const Renamed& r : kRenamed) {
    const YAML::Node section = doc[r.section];
    if (section && section.IsMap() && section[r.old_name]) {
      return Bad(absl::StrCat(r.section, ".", r.old_name),
                 absl::StrCat("renamed to ", r.section, ".", r.new_name));
    }
  }
  return absl::OkStatus();
}

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxUnixPath = 107;

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
      v < 0 || v > 65535) {
    return Bad("listen", absl::StrCat("port must be in 0..65535 (0: any free "
                                      "port), got ",
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

}  // namespace

absl::StatusOr<ocx::v1::DaemonConfig> LoadDaemonConfig(absl::string_view text) {
  ocx::v1::DaemonConfig config;
  OCX_RETURN_IF_ERROR(CheckRenamedOptions(text));
  YamlParseOptions options;
  options.allow_empty_document = true;
  OCX_RETURN_IF_ERROR(ParseYamlToMessage(text, &config, options));
  return config;
}

absl::StatusOr<ocx::v1::DaemonConfig> LoadDaemonConfigFile(
    const std::string& path) {
  return ParseFile(path, &LoadDaemonConfig);
}

namespace {

// fair_share: limits are counts (0: no limit); an override names a user.
absl::Status ValidateFairShare(const ocx::v1::FairShareSettings& fair) {
  OCX_RETURN_IF_ERROR(CheckAtLeastZero("fair_share.user_max_running_tasks",
                                       int64_t{fair.user_max_running_tasks()}));
  OCX_RETURN_IF_ERROR(CheckAtLeastZero("fair_share.user_max_gpus",
                                       int64_t{fair.user_max_gpus()}));
  for (const auto& [user, limits] : fair.users()) {
    const std::string path =
        absl::StrCat("fair_share.users[", Quote(user), "]");
    if (user.empty()) return Bad(path, "a user name must not be empty");
    OCX_RETURN_IF_ERROR(CheckNoNul(path, user));
    OCX_RETURN_IF_ERROR(
        CheckAtLeastZero(absl::StrCat(path, ".max_running_tasks"),
                         int64_t{limits.max_running_tasks()}));
    OCX_RETURN_IF_ERROR(CheckAtLeastZero(absl::StrCat(path, ".max_gpus"),
                                         int64_t{limits.max_gpus()}));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDaemonConfig(const ocx::v1::DaemonConfig& config) {
  OCX_RETURN_IF_ERROR(ValidateListen(config.listen()));
  OCX_RETURN_IF_ERROR(CheckNoNul("database", config.database()));
  OCX_RETURN_IF_ERROR(CheckNoNul("work_root", config.work_root()));
  OCX_RETURN_IF_ERROR(CheckNoNul("lock_file", config.lock_file()));
  OCX_RETURN_IF_ERROR(runners::local::ValidateSettings(config.local()));
  const auto& retry = config.retry();
  OCX_RETURN_IF_ERROR(CheckAtLeastZero("retry.initial_backoff_ms",
                                       int64_t{retry.initial_backoff_ms()}));
  if (retry.multiplier() != 0 && !(retry.multiplier() >= 1)) {
    return Bad("retry.multiplier",
               absl::StrCat("must be >= 1, got ", retry.multiplier()));
  }
  OCX_RETURN_IF_ERROR(CheckAtLeastZero("retry.max_backoff_ms",
                                       int64_t{retry.max_backoff_ms()}));
  if (retry.initial_backoff_ms() > 0 && retry.max_backoff_ms() > 0 &&
      retry.max_backoff_ms() < retry.initial_backoff_ms()) {
    return Bad("retry.max_backoff_ms",
               absl::StrCat("must be >= initial_backoff_ms (",
                            retry.initial_backoff_ms(), "), got ",
                            retry.max_backoff_ms()));
  }
  OCX_RETURN_IF_ERROR(CheckNoNul("task_program", config.task_program()));
  OCX_RETURN_IF_ERROR(runners::dlc::ValidateSettings(config.dlc()));
  OCX_RETURN_IF_ERROR(runners::slurm::ValidateSettings(config.slurm()));
  OCX_RETURN_IF_ERROR(CheckNoNul("serving.dir", config.serving().dir()));
  if (!config.serving().port_range().empty()) {
    absl::StatusOr<std::pair<int, int>> range =
        serving::ParsePortRange(config.serving().port_range());
    if (!range.ok()) {
      return Bad("serving.port_range", range.status().message());
    }
  }
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero("serving.probe_timeout_ms",
                       int64_t{config.serving().probe_timeout_ms()}));
  OCX_RETURN_IF_ERROR(ValidateFairShare(config.fair_share()));
  OCX_RETURN_IF_ERROR(ValidateLimits(config.limits()));
  if (config.read_connections() < 0 || config.read_connections() > 64) {
    return Bad("read_connections", absl::StrCat("must be in 0..64 (0: 4), got ",
                                                config.read_connections()));
  }
  return absl::OkStatus();
}

}  // namespace ocx::spec
