// TLS for ocxd's TCP listener, from access.tls (docs/security.md,
// "Identity and transport"). The server presents cert_file/key_file; with
// client_ca_file set it asks every client for a certificate and verifies
// one that is offered against those CAs (a certificate from another CA
// fails the handshake). A client without a certificate still connects, so
// that it can present a bearer token instead; TcpCallerResolver refuses its
// calls when it has neither.
//
// Thread-safe: no shared state.
#ifndef OCX_SERVER_DAEMON_TLS_CREDENTIALS_H_
#define OCX_SERVER_DAEMON_TLS_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ocx/v1/daemon_config.pb.h"
#include "server/daemon/caller_credentials.h"  // TlsConfigured

namespace ocx::daemon {

// The server credentials; relative paths are taken against `base`.
// INVALID_ARGUMENT when only one of cert_file/key_file is set; the read
// error, naming the field and path, when a file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const v1::TlsSettings& tls, const std::string& base);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_TLS_CREDENTIALS_H_
