// HttpServer: ocxd's HTTP listener (off unless --http-listen is given). It
// serves /metrics (Prometheus text format, common/metrics.h), /healthz and,
// when given one, the web console (console_routes.h, docs/console.md).
// Built on cpp-httplib (Debian libcpp-httplib-dev), on its own threads: a
// scrape or a page never runs on the dispatcher's loop.
//
// Plain HTTP is allowed on loopback addresses only: a non-loopback address
// is refused until the listener shares the gRPC API's TLS and identity
// (docs/security.md).
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

namespace httplib {
class Server;
}

namespace ocx::server {

class HttpServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free port) and
  // serves; with `console` (its api and caller set; HttpServer fills in
  // `stopping` and `bound_port`), the web console too. INVALID_ARGUMENT for a malformed
  // or non-loopback address, UNAVAILABLE when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address,
      std::optional<ConsoleRoutesOptions> console = std::nullopt);
  ~HttpServer();

  // "host:port" with the bound port.
  const std::string& address() const { return address_; }

  void Stop();

 private:
  HttpServer();

  std::shared_ptr<std::atomic<bool>> stopping_;
  std::shared_ptr<std::atomic<int>> bound_port_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_HTTP_SERVER_H_
