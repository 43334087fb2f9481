// UnixListener: ocxd's unix socket, created and accepted by ocxd itself
// rather than by gRPC, so that every connection's caller comes from the
// kernel (SO_PEERCRED) when it is accepted; gRPC C++ does not expose peer
// credentials (grpc/grpc#15511). Each accepted connection is handed, with
// its credentials, to a callback (UidServers hands it to the gRPC server of
// that uid), so the identity is bound to the connection and a client
// cannot claim another.
//
// The socket is created under a umask that leaves it 0600, then, before
// listen(), given its group and mode: 0660 and `group` when a group is
// set, else 0600. Nobody can connect before it has its final mode.
//
// Preconditions: the caller holds the socket's LockFile and has removed a
// stale socket (listen_address.h). Stop() stops accepting and removes the
// socket file. Thread-safe: Start and Stop from one thread.
#ifndef OCX_SERVER_DAEMON_UNIX_LISTENER_H_
#define OCX_SERVER_DAEMON_UNIX_LISTENER_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace ocx::daemon {

// The gid of group `name`; NOT_FOUND naming access.socket_group otherwise.
absl::StatusOr<gid_t> LookUpGroup(const std::string& name);

class UnixListener {
 public:
  // Takes ownership of `fd`, a connected non-blocking socket.
  using OnConnection = std::function<void(int fd, const struct ucred& peer)>;

  // Creates, binds and listens on `path`; `group`: see above.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Listen(
      const std::string& path, std::optional<gid_t> group);
  ~UnixListener();  // Stop()

  // Accepts on a thread of its own until Stop().
  void Start(OnConnection on_connection);
  void Stop();

 private:
  UnixListener(std::string path, int listen_fd, int stop_fd);
  void AcceptLoop(const OnConnection& on_connection);

  const std::string path_;
  int listen_fd_;
  int stop_fd_;  // an eventfd that wakes the accept loop to end
  std::thread thread_;
};

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_UNIX_LISTENER_H_
