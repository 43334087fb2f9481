// UidServers: the gRPC servers behind ocxd's unix socket, one per calling
// uid, each with its own EvaluationService whose CallerResolver answers
// that uid's Identity. UnixListener hands every accepted connection here
// with its SO_PEERCRED; Add() gives it to the server of the peer's uid
// (grpc::AddInsecureChannelFromFd), built on first use. So a call's
// identity is the connection's, fixed by the kernel when it was accepted.
//
// The Identity is looked up again (password and group databases) on each
// new connection of that uid, so group changes apply to new connections.
// A uid with no local account gets a server that answers every call with
// PERMISSION_DENIED naming the uid.
//
// Thread-safe: Add from the accept thread, Shutdown from another.
#ifndef OCX_SERVER_DAEMON_UID_SERVERS_H_
#define OCX_SERVER_DAEMON_UID_SERVERS_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/daemon/grpc_server.h"

namespace ocx::daemon {

class UidServers {
 public:
  UidServers(ServiceFactory factory, std::string admin_group,
             int max_message_bytes);
  ~UidServers();  // Shutdown()

  // Serves the connection `fd` (taken over) as `peer`'s uid. After
  // Shutdown, closes it.
  void Add(int fd, const struct ucred& peer);
  // Shuts every server down; later connections are closed.
  void Shutdown();

 private:
  struct PerUid;
  std::unique_ptr<PerUid> Build(uid_t uid);

  const ServiceFactory factory_;
  const std::string admin_group_;
  const int max_message_bytes_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::map<uid_t, std::unique_ptr<PerUid>> servers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_UID_SERVERS_H_
