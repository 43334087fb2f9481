// HttpServer: ocxd's HTTP listener (off unless --http-listen is given). It
// serves /metrics (Prometheus text format, common/metrics.h), /healthz and,
// when given one, the web console (console_routes.h, docs/console.md).
// Built on cpp-httplib (Debian libcpp-httplib-dev), on its own threads: a
// scrape or a page never runs on the dispatcher's loop.
//
// With `tls` (access.tls, the gRPC API's files) it serves HTTPS only
// (http_tls.h); plain HTTP is allowed on loopback addresses only
// (docs/security.md, "Identity and transport"). Over TLS, /metrics needs an
// identified caller, as the console's API does: the listener may be
// reachable from other machines. /healthz is always open.
//
// Thread-safe. Stop() (also run by the destructor) ends the listener.
#ifndef OCX_SERVER_HTTP_HTTP_SERVER_H_
#define OCX_SERVER_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/http/console_routes.h"
#include "server/http/http_tls.h"

namespace httplib {
class Server;
}

namespace ocx::server {

// INVALID_ARGUMENT naming --http-listen for a malformed address, and,
// saying how to enable TLS, for plain HTTP (`tls` false) on an address
// other than loopback.
absl::Status CheckHttpTransport(const std::string& address, bool tls);

class HttpServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free port) and
  // serves; with `console` (its api and caller set; HttpServer fills in
  // `stopping`, `bound_port`, `tls` and `server_names`), the web console
  // too. Errors: CheckHttpTransport's; INVALID_ARGUMENT naming the
  // access.tls field of a TLS file that cannot be used; UNAVAILABLE when
  // the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address,
      std::optional<ConsoleRoutesOptions> console = std::nullopt,
      HttpTlsFiles tls = {});
  ~HttpServer();

  // "host:port" with the bound port.
  const std::string& address() const { return address_; }
  // "https://host:port" or "http://host:port".
  std::string url() const;

  void Stop();

 private:
  HttpServer();

  std::shared_ptr<std::atomic<bool>> stopping_;
  std::shared_ptr<std::atomic<int>> bound_port_;
  bool tls_ = false;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_HTTP_SERVER_H_
