// The web console's routes on ocxd's HTTP listener (docs/console.md): the
// embedded pages (console_assets.h), the JSON API (console_api.h) and the
// log tail as server-sent events (console_log.h).
//
// Who calls: every /api/ request is identified by `caller`, by the same
// rules as the gRPC API's TCP listener (a verified client certificate, a
// bearer token, or on plain loopback HTTP the kernel's socket table; see
// server/daemon/caller_credentials.h), and authorized as the gRPC API
// authorizes. Against other sites in the same browser:
//   - every request must name a loopback Host (127.0.0.1, ::1, localhost)
//     or, over TLS, a name of the listener's certificate: a page of
//     another site whose name was rebound to our address (DNS rebinding)
//     sends its own name and is refused (over TLS its handshake would
//     fail the browser's name check too);
//   - only GET reads; POST (cancel) needs the `X-Ocx-Console: 1` header,
//     which a cross-site form cannot send and a cross-site fetch cannot
//     send without a CORS preflight this server never grants, and an
//     Origin, when sent, must be this listener's own;
//   - every answer forbids framing and scripts or styles from elsewhere
//     (Content-Security-Policy), and pages build text with textContent.
//
// Thread-safe: cpp-httplib runs handlers on its worker threads.
#ifndef OCX_SERVER_HTTP_CONSOLE_ROUTES_H_
#define OCX_SERVER_HTTP_CONSOLE_ROUTES_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/identity.h"
#include "server/http/console_api.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace ocx::server {

// What the listener knows of one request's client, to identify it.
struct HttpPeer {
  std::string ip;  // the client's address and port
  int port = 0;
  int local_port = 0;  // ours
  bool tls = false;
  // The subject CN of a client certificate the TLS handshake verified;
  // empty: none.
  std::string certificate_user;
  // The Authorization header; nullopt: none.
  std::optional<std::string> authorization;
};

// The caller of a request from `peer`; UNAUTHENTICATED or
// PERMISSION_DENIED with a message for the user otherwise.
using HttpCallerResolver =
    std::function<absl::StatusOr<Identity>(const HttpPeer& peer)>;

struct ConsoleRoutesOptions {
  std::shared_ptr<const ConsoleApi> api;
  HttpCallerResolver caller;
  // Set by HttpServer: true when the listener stops (open log streams
  // end), and the port it bound.
  std::shared_ptr<const std::atomic<bool>> stopping;
  std::shared_ptr<const std::atomic<int>> bound_port;
  // Set by HttpServer: the listener speaks TLS, and the names its
  // certificate is good for, which a Host header may name besides the
  // loopback names.
  bool tls = false;
  std::vector<std::string> server_names;
  // Log streams open at once; more are refused with 503 (each holds one of
  // the listener's threads).
  int max_log_streams = 6;
};

// What `req` tells of its client (HttpPeer).
HttpPeer PeerOf(const httplib::Request& req, int bound_port);

// The request header a state-changing request must carry.
inline constexpr char kConsoleHeader[] = "X-Ocx-Console";

void AddConsoleRoutes(httplib::Server* server, ConsoleRoutesOptions options);

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_CONSOLE_ROUTES_H_
