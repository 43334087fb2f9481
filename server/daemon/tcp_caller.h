// Who calls ocxd's TCP listener (docs/security.md, "Identity and
// transport"). In order:
//   1. a verified TLS client certificate: its subject CN names the local
//      user (PERMISSION_DENIED when no account has that name);
//   2. `authorization: Bearer <token>` metadata, looked up in the token
//      file (UNAUTHENTICATED for an unknown token or when no file is set);
//   3. plain-text loopback only: the uid owning the client's socket, from
//      the kernel's socket table (tcp_peer_uid.h);
//   else UNAUTHENTICATED with a message saying what to present.
// A listener on a non-loopback address is never plain text (ocxd refuses
// to start), so step 3 only ever sees connections from this machine.
//
// With TLS, TlsAuthenticator runs steps 1-2 for every call before any
// handler (gRPC's AuthMetadataProcessor, set on the server credentials),
// so an unauthenticated call never reaches the service, and records the
// user in the call's AuthContext for TcpCallerResolver. Without TLS the
// handlers resolve the caller when they need it.
//
// Thread-safe: the resolver may be called concurrently.
#ifndef OCX_SERVER_DAEMON_TCP_CALLER_H_
#define OCX_SERVER_DAEMON_TCP_CALLER_H_

#include <grpcpp/security/auth_metadata_processor.h>

#include <atomic>
#include <memory>
#include <string>

#include "server/api/caller.h"
#include "server/daemon/token_file.h"

namespace ocx::daemon {

struct TcpCallerOptions {
  // The listener speaks TLS; with client_certificates, it verifies client
  // certificates (access.tls.client_ca_file).
  bool tls = false;
  bool client_certificates = false;
  // Null: no token file configured.
  std::shared_ptr<const TokenFile> tokens;
  std::string admin_group;
  // The port the listener bound, set once the server started (port 0 lets
  // the kernel choose); read by the socket-table lookup.
  std::shared_ptr<std::atomic<int>> bound_port;
};

server::CallerResolver TcpCallerResolver(TcpCallerOptions options);

// The per-call gate of a TLS listener (options.tls must be true).
std::shared_ptr<grpc::AuthMetadataProcessor> TlsAuthenticator(
    TcpCallerOptions options);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_TCP_CALLER_H_
