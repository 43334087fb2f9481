// ocxd's HTTP listener as the daemon starts it (http_listen): /metrics
// with the store's gauges, and the web console (docs/console.md) reading
// the store, cancelling through the dispatcher, and authorizing as the
// gRPC API does (`access`). Its transport and identity follow the gRPC
// TCP listener's (docs/security.md, "Identity and transport"): TLS from
// access.tls when configured (required beyond loopback), and each request's
// caller from a verified client certificate, a bearer token of
// access.token_file, or on plain loopback HTTP the kernel's socket table
// (caller_credentials.h, the same code as gRPC's).
#ifndef OCX_SERVER_DAEMON_HTTP_SETUP_H_
#define OCX_SERVER_DAEMON_HTTP_SETUP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ocx/v1/daemon_config.pb.h"
#include "server/api/authorization.h"
#include "server/dispatcher/dispatcher.h"
#include "server/http/http_server.h"
#include "server/store/store.h"

namespace ocx::daemon {

// What ocxd checks before it opens anything: a malformed http_listen,
// plain HTTP beyond loopback, TLS that no client could pass
// (CheckHttpTransport, CheckClientsCanIdentify). OK when http_listen is
// empty.
absl::Status CheckHttpSecurity(const ocx::v1::DaemonConfig& config);

// The listener when config.http_listen is set; else null. Relative paths
// in config.access are taken against `base`. `store` and `dispatcher` must
// outlive it.
absl::StatusOr<std::unique_ptr<server::HttpServer>> StartHttp(
    const ocx::v1::DaemonConfig& config, const std::string& base,
    store::Store* store, server::Dispatcher* dispatcher,
    const server::AccessPolicy& access);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_HTTP_SETUP_H_
