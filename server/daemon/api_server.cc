#include "server/daemon/api_server.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/loopback.h"
#include "common/status_macros.h"
#include "server/daemon/tcp_caller.h"
#include "server/daemon/tls_credentials.h"
#include "server/daemon/uid_servers.h"
#include "server/daemon/unix_listener.h"

namespace ocx::daemon {
bool IsLoopback(const ListenAddress& address) {
  if (address.kind != ListenAddress::Kind::kTcp) return false;
  const std::string& target = address.grpc_target;
  return IsLoopbackHost(target.substr(0, target.rfind(':')));
}

absl::Status CheckTransportSecurity(const ListenAddress& address,
                                    const v1::AccessSettings& access) {
  if (address.kind == ListenAddress::Kind::kTcp) {
    OCX_RETURN_IF_ERROR(CheckClientsCanIdentify(access));
  }
  if (address.kind != ListenAddress::Kind::kTcp || IsLoopback(address) ||
      TlsConfigured(access.tls())) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "listen: refusing plain-text TCP on ", address.ToString(),
      ": anyone who reaches it could run commands as ocxd's user. Enable "
      "TLS with access.tls.cert_file and access.tls.key_file (--tls-cert, "
      "--tls-key), and identify clients with access.tls.client_ca_file "
      "(--tls-client-ca) or access.token_file (--token-file); or listen on "
      "127.0.0.1 or the unix socket"));
}

struct ApiServer::Impl {
  std::unique_ptr<UnixListener> listener;  // unix socket
  std::unique_ptr<UidServers> uid_servers;
  ServingServer tcp;  // TCP
  bool shut_down = false;

  absl::Status StartUnix(const ApiServer::Options& options);
  absl::StatusOr<int> StartTcp(const ApiServer::Options& options);

  void Shutdown() {
    if (shut_down) return;
    shut_down = true;
    if (listener != nullptr) listener->Stop();
    if (uid_servers != nullptr) uid_servers->Shutdown();
    tcp.BeginShutdown();
    tcp.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
};

absl::Status ApiServer::Impl::StartUnix(const ApiServer::Options& options) {
  Impl* impl = this;
  std::optional<gid_t> group;
  if (!options.access.socket_group().empty()) {
    OCX_ASSIGN_OR_RETURN(group, LookUpGroup(options.access.socket_group()));
  }
  OCX_ASSIGN_OR_RETURN(
      impl->listener, UnixListener::Listen(options.address.socket_path, group));
  impl->uid_servers = std::make_unique<UidServers>(
      options.factory, options.access.admin_group(), options.max_message_bytes);
  UidServers* servers = impl->uid_servers.get();
  impl->listener->Start(
      [servers](int fd, const struct ucred& peer) { servers->Add(fd, peer); });
  return absl::OkStatus();
}

absl::StatusOr<int> ApiServer::Impl::StartTcp(
    const ApiServer::Options& options) {
  Impl* impl = this;
  const v1::AccessSettings& access = options.access;
  OCX_ASSIGN_OR_RETURN(TcpCallerOptions caller,
                       TcpCallerOptionsFrom(access, options.base));
  caller.bound_port = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (caller.tls) {
    OCX_ASSIGN_OR_RETURN(credentials,
                         TlsServerCredentials(access.tls(), options.base));
  }
  if (caller.tls)
    credentials->SetAuthMetadataProcessor(TlsAuthenticator(caller));
  std::shared_ptr<std::atomic<int>> port = caller.bound_port;
  impl->tcp.service = options.factory(TcpCallerResolver(std::move(caller)));
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder, options.max_message_bytes);
  int bound_port = 0;
  builder.AddListeningPort(options.address.grpc_target, credentials,
                           &bound_port);
  builder.RegisterService(impl->tcp.service.get());
  impl->tcp.server = builder.BuildAndStart();
  if (impl->tcp.server == nullptr || bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               options.address.ToString(),
                                               " (in use, or not allowed)"));
  }
  port->store(bound_port);
  impl->tcp.server->GetHealthCheckService()->SetServingStatus(
      "ocx.v1.EvaluationService", true);
  return bound_port;
}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(
    Options options, std::string* listening) {
  OCX_RETURN_IF_ERROR(CheckTransportSecurity(options.address, options.access));
  InitGrpcServerPlugins();
  auto impl = std::make_unique<Impl>();
  int bound_port = 0;
  if (options.address.kind == ListenAddress::Kind::kUnix) {
    OCX_RETURN_IF_ERROR(impl->StartUnix(options));
  } else {
    OCX_ASSIGN_OR_RETURN(bound_port, impl->StartTcp(options));
  }
  *listening = ClientAddress(options.address, bound_port);
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() { Shutdown(); }

void ApiServer::Shutdown() {
  if (impl_ != nullptr) impl_->Shutdown();
}

}  // namespace ocx::daemon
