#include "server/http/http_server.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/loopback.h"
#include "common/metrics.h"
#include "httplib.h"

namespace ocx::server {

HttpServer::HttpServer()
    : stopping_(std::make_shared<std::atomic<bool>>(false)),
      bound_port_(std::make_shared<std::atomic<int>>(0)),
      server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::optional<ConsoleRoutesOptions> console) {
  size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http-listen: expected host:port, e.g. 127.0.0.1:9464, got \"",
        address, "\""));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http-listen: ", host,
        " is not a loopback address; the HTTP listener serves plain HTTP "
        "and is allowed on 127.0.0.1, ::1 or localhost only (put a TLS "
        "reverse proxy in front of it to reach it from elsewhere)"));
  }
  std::unique_ptr<HttpServer> http(new HttpServer());
  http->server_->Get(
      "/metrics", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics::Render(), "text/plain; version=0.0.4");
      });
  http->server_->Get("/healthz",
                     [](const httplib::Request&, httplib::Response& res) {
                       res.set_content("ok\n", "text/plain");
                     });
  if (console.has_value()) {
    console->stopping = http->stopping_;
    console->bound_port = http->bound_port_;
    AddConsoleRoutes(http->server_.get(), *std::move(console));
  }
  int bound = port == 0 ? http->server_->bind_to_any_port(host)
                        : (http->server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "--http-listen: cannot listen on ", address, " (in use?)"));
  }
  *http->bound_port_ = bound;
  // Log streams hold a thread each (console_routes.h caps them), and a
  // browser keeps a few connections open: more than the default 8.
  http->server_->new_task_queue = [] { return new httplib::ThreadPool(16); };
  http->address_ = absl::StrCat(
      host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host,
      ":", bound);
  httplib::Server* server = http->server_.get();
  http->thread_ = std::thread([server] { server->listen_after_bind(); });
  return http;
}

void HttpServer::Stop() {
  *stopping_ = true;  // ends log streams, which stop() waits for
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ocx::server
