#include "server/daemon/http_setup.h"

#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/daemon/tcp_peer_uid.h"
#include "server/http/console_api.h"
#include "server/http/store_metrics.h"
#include "spec/limits.h"

namespace ocx::daemon {

absl::StatusOr<std::unique_ptr<server::HttpServer>> StartHttp(
    const ocx::v1::DaemonConfig& config, store::Store* store,
    server::Dispatcher* dispatcher, const server::AccessPolicy& access) {
  if (config.http_listen().empty()) return nullptr;
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
  routes.caller = [admin_group = access.admin_group](const std::string& ip,
                                                     int port, int local_port) {
    absl::StatusOr<Identity> id =
        LoopbackPeerIdentity(PeerAddress(ip, port), local_port, admin_group);
    if (absl::IsUnauthenticated(id.status())) {
      return absl::StatusOr<Identity>(absl::UnauthenticatedError(
          absl::StrCat(id.status().message(),
                       "; open the console from a browser on the ocxd host "
                       "(an SSH tunnel forwards it)")));
    }
    return id;
  };
  OCX_ASSIGN_OR_RETURN(
      std::unique_ptr<server::HttpServer> http,
      server::HttpServer::Start(config.http_listen(), std::move(routes)));
  fprintf(stderr, "ocxd: metrics at http://%s/metrics\n",
          http->address().c_str());
  fprintf(stderr, "ocxd: web console at http://%s/\n", http->address().c_str());
  return http;
}

}  // namespace ocx::daemon
