#include "server/api/grpc_status.h"

#include <string>

namespace ocx::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message().substr(0, 1024));
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

}  // namespace ocx::server
