// CallerResolver: who makes a call. The listener that accepted the
// connection supplies it (server/daemon): the unix socket's peer
// credentials, a TLS client certificate, or a bearer token, each mapped to a
// local account. Handlers ask it once per call and authorize on the answer;
// an error (UNAUTHENTICATED, PERMISSION_DENIED) is returned to the caller as
// is, so its message must say what the caller can do about it.
#ifndef OCX_SERVER_API_CALLER_H_
#define OCX_SERVER_API_CALLER_H_

#include <grpcpp/server_context.h>

#include <functional>

#include "absl/status/statusor.h"
#include "common/identity.h"

namespace ocx::server {

using CallerResolver =
    std::function<absl::StatusOr<Identity>(const grpc::ServerContext&)>;

}  // namespace ocx::server

#endif  // OCX_SERVER_API_CALLER_H_
