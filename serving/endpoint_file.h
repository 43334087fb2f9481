// The endpoint file: where a replica start listens. `ocx-task serve` writes
// it (atomically) after choosing a free port and before it execs the
// server; the daemon's health prober reads it. It lives in the start's
// attempt dir, so on Slurm it travels through the shared filesystem.
//
// Format: one JSON object, {"host": "node7", "port": 20001, "pid": 4242}.
//
// Thread-safe: no shared state.
#ifndef OCX_SERVING_ENDPOINT_FILE_H_
#define OCX_SERVING_ENDPOINT_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ocx::serving {

struct Endpoint {
  std::string host;
  int port = 0;
  int64_t pid = 0;  // the server's pid on its host
};

// "endpoint.json" inside `attempt_dir`.
std::string EndpointFileIn(const std::string& attempt_dir);

absl::Status WriteEndpointFile(const std::string& path, const Endpoint& e);

// nullopt when the file does not exist (yet); an error when it exists but
// is malformed.
absl::StatusOr<std::optional<Endpoint>> ReadEndpointFile(
    const std::string& path);

// http://<host>:<port><api_path>.
std::string BaseUrl(const Endpoint& e, const std::string& api_path);

}  // namespace ocx::serving

#endif  // OCX_SERVING_ENDPOINT_FILE_H_
