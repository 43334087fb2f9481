// Who calls ocxd's gRPC TCP listener: the rule of caller_credentials.h
// (a verified client certificate, a bearer token, or, on plain-text
// loopback, the kernel's socket table) applied to gRPC calls.
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

#include <memory>

#include "server/api/caller.h"
#include "server/daemon/caller_credentials.h"

namespace ocx::daemon {

server::CallerResolver TcpCallerResolver(TcpCallerOptions options);

// The per-call gate of a TLS listener (options.tls must be true).
std::shared_ptr<grpc::AuthMetadataProcessor> TlsAuthenticator(
    TcpCallerOptions options);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_TCP_CALLER_H_
