#include "server/http/http_server.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/loopback.h"
#include "common/metrics.h"
#include "httplib.h"

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#error "cpp-httplib without OpenSSL: the HTTP listener needs its SSLServer"
#endif

namespace ocx::server {
namespace {

struct HostPort {
  std::string host;  // without brackets
  int port = -1;
};

absl::StatusOr<HostPort> ParseAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  HostPort hp;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &hp.port) || hp.port < 0 ||
      hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http-listen: expected host:port, e.g. 127.0.0.1:9464, got \"",
        address, "\""));
  }
  hp.host = address.substr(0, colon);
  if (hp.host.size() > 1 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  return hp;
}

// The server of `tls`: an SSLServer when it is enabled.
absl::StatusOr<std::unique_ptr<httplib::Server>> NewServer(
    const HttpTlsFiles& tls) {
  if (!tls.enabled()) return std::make_unique<httplib::Server>();
  absl::Status configured;
  auto server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    configured = ConfigureTls(tls, &ctx);
    return configured.ok();
  });
  if (!configured.ok()) return configured;
  if (!server->is_valid()) {
    return absl::InternalError("--http-listen: OpenSSL could not set up TLS");
  }
  return server;
}

// GET /metrics; over TLS only for an identified caller.
void AddMetrics(httplib::Server* server, const ConsoleRoutesOptions* console,
                std::shared_ptr<std::atomic<int>> bound_port) {
  HttpCallerResolver caller;
  if (console != nullptr && console->tls) caller = console->caller;
  server->Get("/metrics", [caller, bound_port](const httplib::Request& req,
                                               httplib::Response& res) {
    if (caller != nullptr) {
      absl::StatusOr<Identity> id = caller(PeerOf(req, *bound_port));
      if (!id.ok()) {
        res.status = absl::IsUnauthenticated(id.status()) ? 401 : 403;
        if (res.status == 401) {
          res.set_header("WWW-Authenticate", "Bearer realm=\"ocxd\"");
        }
        res.set_content(absl::StrCat(id.status().message(), "\n"),
                        "text/plain");
        return;
      }
    }
    res.set_content(metrics::Render(), "text/plain; version=0.0.4");
  });
}

}  // namespace

absl::Status CheckHttpTransport(const std::string& address, bool tls) {
  absl::StatusOr<HostPort> hp = ParseAddress(address);
  if (!hp.ok()) return hp.status();
  if (tls || IsLoopbackHost(hp->host)) return absl::OkStatus();
  // A configuration error (exit 78): restarting cannot fix it.
  return absl::InvalidArgumentError(absl::StrCat(
      "--http-listen: refusing plain HTTP on ", address,
      ": anyone who reaches it could read and cancel evaluations. Enable "
      "TLS with access.tls.cert_file and access.tls.key_file (--tls-cert, "
      "--tls-key; the gRPC API's), and identify clients with "
      "access.tls.client_ca_file (--tls-client-ca) or access.token_file "
      "(--token-file); or listen on 127.0.0.1 (an SSH tunnel forwards it)"));
}

HttpServer::HttpServer()
    : stopping_(std::make_shared<std::atomic<bool>>(false)),
      bound_port_(std::make_shared<std::atomic<int>>(0)) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::optional<ConsoleRoutesOptions> console,
    HttpTlsFiles tls) {
  if (absl::Status s = CheckHttpTransport(address, tls.enabled()); !s.ok()) {
    return s;
  }
  absl::StatusOr<HostPort> hp = ParseAddress(address);
  const std::string& host = hp->host;
  std::unique_ptr<HttpServer> http(new HttpServer());
  absl::StatusOr<std::unique_ptr<httplib::Server>> server = NewServer(tls);
  if (!server.ok()) return server.status();
  http->server_ = *std::move(server);
  http->tls_ = tls.enabled();
  if (console.has_value()) {
    console->stopping = http->stopping_;
    console->bound_port = http->bound_port_;
    console->tls = tls.enabled();
    if (tls.enabled()) {
      absl::StatusOr<std::vector<std::string>> names =
          CertificateNames(tls.cert_file);
      if (!names.ok()) return names.status();
      console->server_names = *std::move(names);
    }
  }
  AddMetrics(http->server_.get(), console.has_value() ? &*console : nullptr,
             http->bound_port_);
  http->server_->Get("/healthz",
                     [](const httplib::Request&, httplib::Response& res) {
                       res.set_content("ok\n", "text/plain");
                     });
  if (console.has_value()) {
    AddConsoleRoutes(http->server_.get(), *std::move(console));
  }
  int bound =
      hp->port == 0
          ? http->server_->bind_to_any_port(host)
          : (http->server_->bind_to_port(host, hp->port) ? hp->port : -1);
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
  httplib::Server* raw = http->server_.get();
  http->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  return http;
}

std::string HttpServer::url() const {
  return absl::StrCat(tls_ ? "https://" : "http://", address_);
}

void HttpServer::Stop() {
  *stopping_ = true;  // ends log streams, which stop() waits for
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ocx::server
