// Where ocxd listens and how a user names it.
//
// Both ocxctl and ocxd use DefaultSocketPath() so that a daemon started
// without flags is found by a client started without flags. This header and
// its library (ocx_server_address) depend on abseil only.
//
// Thread-safe: no shared state (functions read the environment and the file
// system at the time of the call).
#ifndef OCX_CLIENT_SERVER_ADDRESS_H_
#define OCX_CLIENT_SERVER_ADDRESS_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::client {

// The socket of a system-wide daemon (systemd unit, RuntimeDirectory=ocx).
inline constexpr char kSystemSocketPath[] = "/run/ocx/ocxd.sock";

// Environment variable naming the daemon's address.
inline constexpr char kServerEnvVar[] = "OCX_SERVER";

// The socket a daemon of this user listens on by default (the rule of
// ocx::daemon::DefaultSocketPathFor in server/daemon/listen_address.h):
//   <xdg_runtime_dir>/ocx/ocxd.sock  when xdg_runtime_dir is absolute (null,
//                                    empty or relative: ignored, as the XDG
//                                    base directory spec says);
//   /run/ocx/ocxd.sock               else for root (euid 0);
//   /tmp/ocx-<euid>/ocxd.sock        otherwise.
//
// Example: UserSocketPath("/run/user/1000", 1000) is
// "/run/user/1000/ocx/ocxd.sock".
std::string UserSocketPath(const char* xdg_runtime_dir, uid_t euid);

// Where a client looks by default: the user socket (from $XDG_RUNTIME_DIR and
// geteuid()), except when `system_socket` exists and the user socket does
// not; then `system_socket`, so that users of a machine-wide ocxd need no
// flags. A daemon about to create its socket should use UserSocketPath(), so
// that a running system daemon does not divert it.
std::string DefaultSocketPath(const std::string& system_socket);

// DefaultSocketPath(kSystemSocketPath).
std::string DefaultSocketPath();

// A daemon address, parsed.
struct ServerAddress {
  enum class Source { kFlag, kEnv, kDefault };

  // What gRPC dials: "unix:///abs/path" or "host:port" (or a target with an
  // explicit gRPC scheme such as "dns:///host:port", passed through).
  std::string target;
  // True for unix sockets; then `socket_path` is the absolute path.
  bool is_unix = false;
  std::string socket_path;
  // Where the address came from, for error messages.
  Source source = Source::kDefault;
};

// Parses what a user wrote after --server or in OCX_SERVER:
//   unix:///abs/path, unix:/abs/path, unix:rel/path (made absolute against
//   the current directory), /abs/path (a unix socket), host:port and
//   [v6addr]:port (TCP), dns:..., ipv4:..., ipv6:..., unix-abstract:...
//   (gRPC targets, passed through).
// INVALID_ARGUMENT names the address and the accepted forms. `source` is
// copied into the result.
absl::StatusOr<ServerAddress> ParseServerAddress(
    absl::string_view text,
    ServerAddress::Source source = ServerAddress::Source::kFlag);

// The address to dial: `flag_value` when not empty, else `env_value` when
// neither null nor empty, else `default_socket`.
absl::StatusOr<ServerAddress> ResolveServerAddress(
    absl::string_view flag_value, const char* env_value,
    const std::string& default_socket);

// ResolveServerAddress(flag_value, getenv(OCX_SERVER), DefaultSocketPath()).
absl::StatusOr<ServerAddress> ResolveServerAddress(
    absl::string_view flag_value);

// "--server", "OCX_SERVER" or "default address".
std::string SourceName(ServerAddress::Source source);

}  // namespace ocx::client

#endif  // OCX_CLIENT_SERVER_ADDRESS_H_
