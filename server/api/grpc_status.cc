#include "server/api/grpc_status.h"

#include <string>

#include "common/utf8_cut.h"
namespace ocx::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // Cut on a character boundary: gRPC sends the message as UTF-8.
  std::string message(Utf8Prefix(status.message(), 1024));
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

}  // namespace ocx::server
