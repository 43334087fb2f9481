// ocxd's HTTP listener as the daemon starts it (http_listen): /metrics
// with the store's gauges, and the web console (docs/console.md) reading
// the store, cancelling through the dispatcher, identifying each browser
// connection from the kernel's socket table (tcp_peer_uid.h) and
// authorizing as the gRPC API does (`access`).
#ifndef OCX_SERVER_DAEMON_HTTP_SETUP_H_
#define OCX_SERVER_DAEMON_HTTP_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "ocx/v1/daemon_config.pb.h"
#include "server/api/authorization.h"
#include "server/dispatcher/dispatcher.h"
#include "server/http/http_server.h"
#include "server/store/store.h"

namespace ocx::daemon {

// The listener when config.http_listen is set; else null. `store` and
// `dispatcher` must outlive it.
absl::StatusOr<std::unique_ptr<server::HttpServer>> StartHttp(
    const ocx::v1::DaemonConfig& config, store::Store* store,
    server::Dispatcher* dispatcher, const server::AccessPolicy& access);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_HTTP_SETUP_H_
