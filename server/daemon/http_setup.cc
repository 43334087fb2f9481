#include "server/daemon/http_setup.h"

#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "server/daemon/caller_credentials.h"
#include "server/daemon/tcp_peer_uid.h"
#include "server/http/console_api.h"
#include "server/http/store_metrics.h"
#include "spec/limits.h"

namespace ocx::daemon {
namespace {

// How the event log names a console caller: the gRPC listener's words
// with "console" in front, "loopback http" for the kernel's answer.
std::string ConsoleVia(const std::string& via) {
  if (via == "loopback tcp") return "loopback http";
  return absl::StrCat("console ", via);
}

server::HttpCallerResolver HttpCaller(TcpCallerOptions options) {
  return [options = std::move(options)](const server::HttpPeer& peer) {
    PresentedCredentials given;
    given.certificate_user = peer.certificate_user;
    if (peer.authorization.has_value()) {
      given.bearer_token = BearerTokenOf(*peer.authorization);
    }
    absl::StatusOr<Identity> id =
        CallerOf(options, given, PeerAddress(peer.ip, peer.port),
                 peer.local_port, CallerClient::kHttp);
    if (id.ok()) id->via = ConsoleVia(id->via);
    return id;
  };
}

server::HttpTlsFiles TlsFiles(const v1::TlsSettings& tls,
                              const std::string& base) {
  server::HttpTlsFiles files;
  if (!TlsConfigured(tls)) return files;
  auto path = [&base](const std::string& p) {
    return p.empty() ? p : AbsolutePath(p, base);
  };
  files.cert_file = path(tls.cert_file());
  files.key_file = path(tls.key_file());
  files.client_ca_file = path(tls.client_ca_file());
  return files;
}

}  // namespace

absl::Status CheckHttpSecurity(const ocx::v1::DaemonConfig& config) {
  if (config.http_listen().empty()) return absl::OkStatus();
  OCX_RETURN_IF_ERROR(server::CheckHttpTransport(
      config.http_listen(), TlsConfigured(config.access().tls())));
  return CheckClientsCanIdentify(config.access());
}

absl::StatusOr<std::unique_ptr<server::HttpServer>> StartHttp(
    const ocx::v1::DaemonConfig& config, const std::string& base,
    store::Store* store, server::Dispatcher* dispatcher,
    const server::AccessPolicy& access) {
  if (config.http_listen().empty()) return nullptr;
  OCX_RETURN_IF_ERROR(CheckHttpSecurity(config));
  OCX_ASSIGN_OR_RETURN(TcpCallerOptions caller,
                       TcpCallerOptionsFrom(config.access(), base));
  server::RegisterStoreMetrics(store);
  server::ConsoleOptions console;
  console.store = store;
  console.dispatcher = dispatcher;
  console.access = access;
  console.max_spec_bytes =
      spec::EffectiveLimits(config.limits()).max_message_bytes() -
      spec::kAnswerOverheadBytes;
  server::ConsoleRoutesOptions routes;
  routes.api = std::make_shared<server::ConsoleApi>(std::move(console));
  routes.caller = HttpCaller(std::move(caller));
  OCX_ASSIGN_OR_RETURN(
      std::unique_ptr<server::HttpServer> http,
      server::HttpServer::Start(config.http_listen(), std::move(routes),
                                TlsFiles(config.access().tls(), base)));
  fprintf(stderr, "ocxd: metrics at %s/metrics\n", http->url().c_str());
  fprintf(stderr, "ocxd: web console at %s/\n", http->url().c_str());
  return http;
}

}  // namespace ocx::daemon
