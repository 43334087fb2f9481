// The one place where absl::Status becomes grpc::Status (same codes; the
// message is cut at 1024 bytes, as TF Serving does).
#ifndef OCX_SERVER_API_GRPC_STATUS_H_
#define OCX_SERVER_API_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace ocx::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace ocx::server

#endif  // OCX_SERVER_API_GRPC_STATUS_H_
