// Who calls one of ocxd's TCP listeners, the gRPC API (tcp_caller.h) and
// the HTTP listener (http_setup.h), from what the caller presented
// (docs/security.md, "Identity and transport"). One rule for both, in
// order:
//   1. a verified TLS client certificate: its subject CN names the local
//      user (PERMISSION_DENIED when no account has that name);
//   2. `authorization: Bearer <token>`, looked up in the token file
//      (UNAUTHENTICATED for an unknown token or when no file is set);
//   3. plain-text loopback only: the uid owning the client's socket, from
//      the kernel's socket table (tcp_peer_uid.h);
//   else UNAUTHENTICATED with a message saying what to present.
// A listener on a non-loopback address is never plain text (ocxd refuses
// to start), so step 3 only ever sees connections from this machine.
//
// No gRPC here: the gRPC listener and the HTTP listener each extract the
// certificate's CN and the header their own way, then ask the same
// functions.
//
// Thread-safe: the functions only read their arguments.
#ifndef OCX_SERVER_DAEMON_CALLER_CREDENTIALS_H_
#define OCX_SERVER_DAEMON_CALLER_CREDENTIALS_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/identity.h"
#include "ocx/v1/daemon_config.pb.h"
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
  // The port the gRPC listener bound, set once the server started (port 0
  // lets the kernel choose); read by its socket-table lookup.
  std::shared_ptr<std::atomic<int>> bound_port;
};

// Whether `tls` asks for TLS at all (a certificate or key is named).
bool TlsConfigured(const v1::TlsSettings& tls);

// FAILED_PRECONDITION for TLS with neither access.tls.client_ca_file nor
// access.token_file: no client could make a call.
absl::Status CheckClientsCanIdentify(const v1::AccessSettings& access);

// The options of a TCP listener of `access`, its token file (relative to
// `base`) loaded: TokenFile::Load's errors. bound_port is left null.
absl::StatusOr<TcpCallerOptions> TcpCallerOptionsFrom(
    const v1::AccessSettings& access, const std::string& base);

// Which client the messages tell the caller to configure: ocxctl (and
// gRPC clients) or an HTTP client (a browser, curl).
enum class CallerClient { kGrpc, kHttp };

// What a caller presented with one call.
struct PresentedCredentials {
  // The subject CN of a client certificate the TLS handshake verified;
  // empty: none.
  std::string certificate_user;
  // The token of an `authorization: Bearer` header ("" for a header of
  // another scheme); nullopt: no authorization header.
  std::optional<std::string> bearer_token;
};

// The token of an authorization header value (see bearer_token).
std::string BearerTokenOf(absl::string_view authorization);

// Steps 1-2 (a TLS listener).
absl::StatusOr<Identity> CallerOfCredentials(const TcpCallerOptions& options,
                                             const PresentedCredentials& given,
                                             CallerClient client);

// Steps 1-3; for step 3, `peer` is the client's address as gRPC writes
// it ("ipv4:127.0.0.1:41234", PeerAddress in tcp_peer_uid.h) and
// `server_port` the port it connected to.
absl::StatusOr<Identity> CallerOf(const TcpCallerOptions& options,
                                  const PresentedCredentials& given,
                                  absl::string_view peer, int server_port,
                                  CallerClient client);

// The account `user` named by `via` ("tls certificate", "token");
// PERMISSION_DENIED naming it when it has no local account.
absl::StatusOr<Identity> NamedCaller(const std::string& user, const char* via,
                                     const std::string& admin_group);

// UNAUTHENTICATED: what the caller should present instead of nothing.
absl::Status NotAuthenticated(const TcpCallerOptions& options,
                              CallerClient client);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_CALLER_CREDENTIALS_H_
