// Where ocxd listens: a unix socket (the default) or a TCP host:port, and
// the lock that makes the address exclusive.
//
// gRPC unlinks an existing unix socket file before binding, so a second
// daemon would silently take the socket over; ocxd therefore holds
// `lock_path` (a LockFile) before it touches the socket, and removes a stale
// socket file left by a crash only while holding it:
//
//   OCX_ASSIGN_OR_RETURN(ListenAddress address,
//                        ResolveListenAddress(config.listen()));
//   std::unique_ptr<LockFile> socket_lock;
//   if (address.kind == ListenAddress::Kind::kUnix) {
//     OCX_ASSIGN_OR_RETURN(socket_lock, LockFile::Acquire(address.lock_path));
//     OCX_RETURN_IF_ERROR(RemoveStaleSocket(address));
//   }
//   builder.AddListeningPort(address.grpc_target, credentials);
//
// Thread-safe: no shared state (DefaultSocketPath reads the environment).
#ifndef OCX_SERVER_DAEMON_LISTEN_ADDRESS_H_
#define OCX_SERVER_DAEMON_LISTEN_ADDRESS_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/socket_path.h"

namespace ocx::daemon {

// sun_path holds 108 bytes including the terminating NUL.
inline constexpr size_t kMaxUnixSocketPathBytes = 107;

struct ListenAddress {
  enum class Kind { kUnix, kTcp };

  Kind kind = Kind::kUnix;
  // What grpc::ServerBuilder::AddListeningPort takes: "unix:/abs/path" or
  // "host:port".
  std::string grpc_target;
  // kUnix: the absolute socket path. Empty for kTcp.
  std::string socket_path;
  // kUnix: socket_path + ".lock", to hold with LockFile while serving.
  // Empty for kTcp (the database lock guards the daemon; a second server on
  // the port fails to bind once GRPC_ARG_ALLOW_REUSEPORT is 0).
  std::string lock_path;

  // The address as a user writes it: "unix:///abs/path" or "host:port".
  std::string ToString() const;
};

// The address a client dials to reach a server bound at `address`: the
// unix socket as ToString() gives it, or for TCP the host with the port the
// server actually bound (`bound_port`; a configured port 0 lets the kernel
// pick a free one), e.g. "127.0.0.1:41234".
std::string ClientAddress(const ListenAddress& address, int bound_port);

// Where ocxd records ClientAddress for clients and test harnesses: the file
// "<database>.address" beside the database, one line.
std::string AddressFilePath(const std::string& database_path);

// The default socket path (common/socket_path.h), shared with the client.
using ::ocx::DefaultSocketPath;
using ::ocx::DefaultSocketPathFor;

// Parses the `listen` setting without touching the file system:
//   ""                       -> unix socket at DefaultSocketPath()
//   "unix:///abs/path", "unix:/abs/path", "/abs/path" -> unix socket
//   "host:port", "[v6addr]:port"                      -> TCP (port 0-65535)
// INVALID_ARGUMENT, with a message starting "listen: ", for relative unix
// paths, unix-abstract:, socket paths longer than kMaxUnixSocketPathBytes,
// and malformed host:port.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view configured);

// ParseListenAddress(), then for a unix socket makes sure its directory
// exists: missing directories are created, the socket's own directory with
// mode 0700 (so only this user can reach the socket), its ancestors 0755.
// With `socket_group` (access.socket_group), a socket directory it creates
// is 0750 and belongs to that group, so its members can reach the socket.
// For the default path (`configured` empty) an existing directory must
// belong to us: FAILED_PRECONDITION otherwise (another user could have
// planted /tmp/ocx-<uid>). Does not remove any socket file: call
// RemoveStaleSocket() once lock_path is held.
absl::StatusOr<ListenAddress> ResolveListenAddress(
    const std::string& configured,
    std::optional<gid_t> socket_group = std::nullopt);

// Removes a socket file left at address.socket_path by a previous daemon.
// Precondition: the caller holds a LockFile on address.lock_path, so the
// socket cannot belong to a live ocxd. OK when there is nothing to remove or
// for kTcp; FAILED_PRECONDITION when something other than a socket is there.
absl::Status RemoveStaleSocket(const ListenAddress& address);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_LISTEN_ADDRESS_H_
