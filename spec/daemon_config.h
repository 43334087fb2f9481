// ocxd's own configuration file (deploy/ocxd.yaml), read with the same
// YAML → proto loader as evaluation specs.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_DAEMON_CONFIG_H_
#define OCX_SPEC_DAEMON_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/daemon_config.pb.h"

namespace ocx::spec {

// Parses YAML or JSON text (rules in spec/yaml_to_proto.h). An empty document
// (or one with only comments) is an empty config. An option renamed when the
// runners got one vocabulary (docs/runners.md) is INVALID_ARGUMENT naming
// the new one, e.g. "slurm.max_in_flight: renamed to slurm.max_parallel".
// Does not validate.
absl::StatusOr<ocx::v1::DaemonConfig> LoadDaemonConfig(absl::string_view text);

// Reads and parses the file at `path`. A file that cannot be read gives the
// errno-derived code with a message that names the file; parse errors are
// INVALID_ARGUMENT prefixed with `path`. Does not validate: call
// ValidateDaemonConfig after applying command-line overrides.
absl::StatusOr<ocx::v1::DaemonConfig> LoadDaemonConfigFile(
    const std::string& path);

// OK, or INVALID_ARGUMENT `<field path>: <problem>` for the first problem:
//   listen      empty, unix:///absolute/path (path at most 107 bytes), or
//               host:port / [v6]:port with port 0..65535 (0: the kernel
//               picks a free port; ocxd prints and records it)
//   retry.initial_backoff_ms, retry.max_backoff_ms >= 0; max >= initial when
//   both are set; retry.multiplier >= 1 when set
//   database, work_root, lock_file, task_program: no NUL
//   local, dlc, slurm: each runner's ValidateSettings
//               (runners/<backend>/config.h)
//   limits      spec/limits.h ValidateLimits
absl::Status ValidateDaemonConfig(const ocx::v1::DaemonConfig& config);

}  // namespace ocx::spec

#endif  // OCX_SPEC_DAEMON_CONFIG_H_
