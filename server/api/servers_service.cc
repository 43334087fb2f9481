// EvaluationServiceImpl: the managed model servers (docs/serving.md).
#include <string>
#include <utility>
#include <vector>

#include "server/api/evaluation_service.h"
#include "server/api/grpc_status.h"
#include "serving/serve_config.h"

namespace ocx::server {

bool EvaluationServiceImpl::IsReplica(const std::string& id) {
  return serving::IsReplicaId(id);
}

absl::Status EvaluationServiceImpl::AuthorizeReplicaLogRead(
    const grpc::ServerContext& ctx, const std::string& replica_id) const {
  absl::StatusOr<Identity> caller = Caller(ctx);
  if (!caller.ok()) return caller.status();
  absl::StatusOr<store::PoolOwners> pool =
      store_->OwnersOfReplicaPool(replica_id);
  if (!pool.ok()) return pool.status();
  return AuthorizeReplicaLog(*caller, replica_id, *pool, access_);
}

// Servers are shared by every evaluation whose model they serve: any
// identified caller may list them (a replica's log is narrower, above).
grpc::Status EvaluationServiceImpl::ListServers(
    grpc::ServerContext* ctx, const ocx::v1::ListServersRequest* req,
    ocx::v1::ListServersResponse* resp) {
  absl::StatusOr<Identity> caller = Caller(*ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // NOT_FOUND for an unknown evaluation rather than an empty list.
  if (!req->evaluation_id().empty()) {
    absl::Status exists = store_->CheckEvaluationExists(req->evaluation_id());
    if (!exists.ok()) return ToGrpcStatus(exists);
  }
  absl::StatusOr<std::vector<ocx::v1::ServerPool>> pools = store_->ListServers(
      req->evaluation_id(), req->all(), req->with_attempts());
  if (!pools.ok()) return ToGrpcStatus(pools.status());
  for (ocx::v1::ServerPool& pool : *pools) {
    *resp->add_servers() = std::move(pool);
  }
  return grpc::Status::OK;
}

}  // namespace ocx::server
