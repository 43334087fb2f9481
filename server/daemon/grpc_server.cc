#include "server/daemon/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>

namespace ocx::daemon {

void InitGrpcServerPlugins() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

void ConfigureServerBuilder(grpc::ServerBuilder* builder,
                            int max_message_bytes) {
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->SetMaxReceiveMessageSize(max_message_bytes);
  builder->SetMaxSendMessageSize(max_message_bytes);
}

void ServingServer::BeginShutdown() {
  if (server != nullptr && server->GetHealthCheckService() != nullptr) {
    server->GetHealthCheckService()->Shutdown();
  }
  if (service != nullptr) service->Shutdown();
}

void ServingServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (server != nullptr) server->Shutdown(deadline);
}

}  // namespace ocx::daemon
