// ApiServer: ocxd's gRPC front on its listen address, with the identity of
// every caller (docs/security.md, "Identity and transport"):
//   unix socket  UnixListener accepts, UidServers serves each uid with its
//                kernel-given identity (SO_PEERCRED);
//   TCP          one gRPC server, TLS from access.tls when configured,
//                callers identified by TcpCallerResolver.
// CheckTransportSecurity refuses a plain-text TCP listener on anything but
// loopback, before anything else starts.
//
// Thread-safe: Start and Shutdown from one thread.
#ifndef OCX_SERVER_DAEMON_API_SERVER_H_
#define OCX_SERVER_DAEMON_API_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ocx/v1/daemon_config.pb.h"
#include "server/daemon/grpc_server.h"
#include "server/daemon/listen_address.h"

namespace ocx::daemon {

// FAILED_PRECONDITION, saying how to enable TLS, for a TCP address other
// than loopback (127.0.0.0/8, ::1, localhost) without access.tls; and for
// TLS with neither client_ca_file nor token_file (nobody could call).
absl::Status CheckTransportSecurity(const ListenAddress& address,
                                    const v1::AccessSettings& access);

// Whether a TCP address binds loopback only.
bool IsLoopback(const ListenAddress& address);

class ApiServer {
 public:
  struct Options {
    ListenAddress address;
    v1::AccessSettings access;
    std::string base;  // relative paths in `access` are taken against it
    ServiceFactory factory;
    // limits.max_message_bytes (spec::EffectiveLimits).
    int max_message_bytes = 4 * 1024 * 1024;
  };

  // Listening and serving once this returns; `*listening` is the address
  // clients dial (ClientAddress). Precondition for a unix socket: its
  // LockFile is held and a stale socket removed.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(
      Options options, std::string* listening);
  ~ApiServer();  // Shutdown()

  // Stops accepting, then shuts every server down (2 s for running calls).
  void Shutdown();

 private:
  struct Impl;
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_API_SERVER_H_
