// The web console's routes on ocxd's HTTP listener (docs/console.md): the
// embedded pages (console_assets.h), the JSON API (console_api.h) and the
// log tail as server-sent events (console_log.h).
//
// Who calls: every /api/ request is identified by `caller` (ocxd asks the
// kernel's socket table who owns the browser's end of the loopback
// connection, as for plain-TCP gRPC) and authorized by the same rules as
// the gRPC API. Against other sites in the same browser:
//   - every request must name a loopback Host (127.0.0.1, ::1, localhost):
//     a page of another site whose name was rebound to 127.0.0.1 (DNS
//     rebinding) sends its own name and is refused;
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
#include <string>

#include "absl/status/statusor.h"
#include "common/identity.h"
#include "server/http/console_api.h"

namespace httplib {
class Server;
}

namespace ocx::server {

// The caller of a connection from `peer_ip`:`peer_port` to our
// `local_port`; UNAUTHENTICATED or PERMISSION_DENIED with a message for
// the user otherwise.
using HttpCallerResolver = std::function<absl::StatusOr<Identity>(
    const std::string& peer_ip, int peer_port, int local_port)>;

struct ConsoleRoutesOptions {
  std::shared_ptr<const ConsoleApi> api;
  HttpCallerResolver caller;
  // Set by HttpServer: true when the listener stops (open log streams
  // end), and the port it bound.
  std::shared_ptr<const std::atomic<bool>> stopping;
  std::shared_ptr<const std::atomic<int>> bound_port;
  // Log streams open at once; more are refused with 503 (each holds one of
  // the listener's threads).
  int max_log_streams = 6;
};

// The request header a state-changing request must carry.
inline constexpr char kConsoleHeader[] = "X-Ocx-Console";

void AddConsoleRoutes(httplib::Server* server, ConsoleRoutesOptions options);

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_CONSOLE_ROUTES_H_
