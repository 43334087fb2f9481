// The gRPC face of ocxd: each handler checks the request's shape, calls one
// domain method (Dispatcher for writes, Store for reads, PrepareSubmission
// for validation and planning) and converts the result with ToGrpcStatus.
// No SQL and no scheduling rules live here.
//
// Thread-safe: gRPC calls handlers concurrently.
#ifndef OCX_SERVER_API_EVALUATION_SERVICE_H_
#define OCX_SERVER_API_EVALUATION_SERVICE_H_

#include <atomic>
#include <string>

#include "ocx/v1/service.grpc.pb.h"
#include "server/api/caller.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/store.h"
#include "server/submission.h"

namespace ocx::server {

class EvaluationServiceImpl final : public ocx::v1::EvaluationService::Service {
 public:
  // `caller` identifies each call's caller (server/api/caller.h).
  EvaluationServiceImpl(store::Store* store, Dispatcher* dispatcher,
                        SubmissionPolicy policy, CallerResolver caller);

  // Makes streaming calls (Watch, ReadTaskLog with follow) end soon, for a
  // clean shutdown.
  void Shutdown() { shutting_down_ = true; }

  grpc::Status CreateEvaluation(grpc::ServerContext* ctx,
                                const ocx::v1::CreateEvaluationRequest* req,
                                ocx::v1::Evaluation* resp) override;
  grpc::Status PlanEvaluation(grpc::ServerContext* ctx,
                              const ocx::v1::PlanEvaluationRequest* req,
                              ocx::v1::PlanEvaluationResponse* resp) override;
  grpc::Status GetEvaluation(grpc::ServerContext* ctx,
                             const ocx::v1::GetEvaluationRequest* req,
                             ocx::v1::Evaluation* resp) override;
  grpc::Status ListEvaluations(grpc::ServerContext* ctx,
                               const ocx::v1::ListEvaluationsRequest* req,
                               ocx::v1::ListEvaluationsResponse* resp) override;
  grpc::Status CancelEvaluation(grpc::ServerContext* ctx,
                                const ocx::v1::CancelEvaluationRequest* req,
                                ocx::v1::Evaluation* resp) override;
  grpc::Status WatchEvaluation(
      grpc::ServerContext* ctx, const ocx::v1::WatchEvaluationRequest* req,
      grpc::ServerWriter<ocx::v1::WatchEvaluationResponse>* writer) override;
  grpc::Status ListTasks(grpc::ServerContext* ctx,
                         const ocx::v1::ListTasksRequest* req,
                         ocx::v1::ListTasksResponse* resp) override;
  grpc::Status GetTask(grpc::ServerContext* ctx,
                       const ocx::v1::GetTaskRequest* req,
                       ocx::v1::Task* resp) override;
  grpc::Status ReadTaskLog(
      grpc::ServerContext* ctx, const ocx::v1::ReadTaskLogRequest* req,
      grpc::ServerWriter<ocx::v1::ReadTaskLogResponse>* writer) override;
  grpc::Status GetEvaluationResults(
      grpc::ServerContext* ctx, const ocx::v1::GetEvaluationResultsRequest* req,
      ocx::v1::EvaluationResults* resp) override;
  // Managed model servers (servers_service.cc).
  grpc::Status ListServers(grpc::ServerContext* ctx,
                           const ocx::v1::ListServersRequest* req,
                           ocx::v1::ListServersResponse* resp) override;

 private:
  // Whether `id` names a managed-server replica rather than a task: GetTask
  // and ReadTaskLog take both kinds of id (servers_service.cc).
  static bool IsReplica(const std::string& id);

  // Leaves the spec out of `e` (spec_omitted) when `basic` or when it would
  // make the answer larger than limits.max_message_bytes.
  void FitAnswer(bool basic, ocx::v1::Evaluation* e) const;

  // The caller of `ctx`'s call, or the status to answer with.
  absl::StatusOr<Identity> Caller(const grpc::ServerContext& ctx) const;

  store::Store* const store_;
  Dispatcher* const dispatcher_;
  const SubmissionPolicy policy_;
  const CallerResolver caller_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace ocx::server

#endif  // OCX_SERVER_API_EVALUATION_SERVICE_H_
