// How ocxd builds each of its gRPC servers (the TCP one and the per-uid
// ones of the unix socket) the same way: message size limits, no port
// reuse, the health and reflection services, and the EvaluationService
// each server gets its own instance of, with the CallerResolver of its
// listener.
#ifndef OCX_SERVER_DAEMON_GRPC_SERVER_H_
#define OCX_SERVER_DAEMON_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>

#include "server/api/caller.h"
#include "server/api/evaluation_service.h"

namespace ocx::daemon {

// Makes the EvaluationService of one server, calling back `caller`.
using ServiceFactory =
    std::function<std::unique_ptr<server::EvaluationServiceImpl>(
        server::CallerResolver caller)>;

// Once per process, before the first server is built: the default health
// service and the reflection plugin.
void InitGrpcServerPlugins();

// Message size limits (limits.max_message_bytes: a larger request is
// refused by gRPC with RESOURCE_EXHAUSTED, never parsed) and options shared
// by every ocxd server.
void ConfigureServerBuilder(grpc::ServerBuilder* builder,
                            int max_message_bytes);

// A built server with its service; stops in that order.
struct ServingServer {
  std::unique_ptr<server::EvaluationServiceImpl> service;
  std::unique_ptr<grpc::Server> server;

  // Health NOT_SERVING and streams told to end; then Shutdown, which
  // cancels calls still running at `deadline`.
  void BeginShutdown();
  void Shutdown(std::chrono::system_clock::time_point deadline);
};

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_GRPC_SERVER_H_
