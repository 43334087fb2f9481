// The gRPC face of ocxd: each handler identifies its caller, checks the
// request's shape, asks authorization.h whether the caller may, calls one
// domain method (Dispatcher for writes, Store for reads, PrepareSubmission
// for validation and planning) and converts the result with ToGrpcStatus.
// No SQL, no scheduling and no authorization rules live here.
//
// Thread-safe: gRPC calls handlers concurrently.
#ifndef OCX_SERVER_API_EVALUATION_SERVICE_H_
#define OCX_SERVER_API_EVALUATION_SERVICE_H_

#include <atomic>
#include <string>

#include "ocx/v1/service.grpc.pb.h"
#include "server/api/authorization.h"
#include "server/api/caller.h"
#include "server/dispatcher/dispatcher.h"
#include "server/preflight.h"
#include "server/store/store.h"
#include "server/submission.h"

namespace ocx::server {

class EvaluationServiceImpl final : public ocx::v1::EvaluationService::Service {
 public:
  // `caller` identifies each call's caller (server/api/caller.h); `access`
  // is what authorization depends on besides the caller (the daemon's
  // account, the admin group).
  EvaluationServiceImpl(store::Store* store, Dispatcher* dispatcher,
                        SubmissionPolicy policy, CallerResolver caller,
                        AccessPolicy access);

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
  // A new evaluation scoring an existing one's predictions again
  // (server/rescore.h).
  grpc::Status RescoreEvaluation(grpc::ServerContext* ctx,
                                 const ocx::v1::RescoreEvaluationRequest* req,
                                 ocx::v1::Evaluation* resp) override;
  // Managed model servers (servers_service.cc).
  grpc::Status ListServers(grpc::ServerContext* ctx,
                           const ocx::v1::ListServersRequest* req,
                           ocx::v1::ListServersResponse* resp) override;
  // Preflight (server/preflight.h), with what set_preflight gave.
  grpc::Status CheckEvaluation(grpc::ServerContext* ctx,
                               const ocx::v1::CheckEvaluationRequest* req,
                               ocx::v1::CheckEvaluationResponse* resp) override;
  // What CheckEvaluation knows of this daemon's runners and probes; call
  // before serving.
  void set_preflight(PreflightSettings settings) {
    preflight_ = std::move(settings);
  }

 private:
  // Whether `id` names a managed-server replica rather than a task: GetTask
  // and ReadTaskLog take both kinds of id (servers_service.cc).
  static bool IsReplica(const std::string& id);

  // Leaves the spec out of `e` (spec_omitted) when `basic` or when it would
  // make the answer larger than limits.max_message_bytes.
  void FitAnswer(bool basic, ocx::v1::Evaluation* e) const;

  // The caller of `ctx`'s call, or the status to answer with.
  absl::StatusOr<Identity> Caller(const grpc::ServerContext& ctx) const;
  // The caller, if it may `action` evaluation `eval_id` (its owner read
  // from the store): NOT_FOUND, PERMISSION_DENIED otherwise.
  absl::StatusOr<Identity> CallerOf(const grpc::ServerContext& ctx,
                                    const std::string& eval_id,
                                    absl::string_view action) const;
  // The caller, if it may `action` the evaluation of task `task_id`.
  absl::StatusOr<Identity> CallerOfTask(const grpc::ServerContext& ctx,
                                        const std::string& task_id,
                                        absl::string_view action) const;
  // OK if the caller may read the log of replica `replica_id`
  // (servers_service.cc).
  absl::Status AuthorizeReplicaLogRead(const grpc::ServerContext& ctx,
                                       const std::string& replica_id) const;
  // OK if `caller` may `action` evaluation `e` (already read).
  absl::Status Authorize(const Identity& caller, const ocx::v1::Evaluation& e,
                         absl::string_view action) const;
  // Shows the daemon's account as the owner of rows from before owners
  // existed.
  void FillOwner(ocx::v1::Evaluation* e) const;

  store::Store* const store_;
  Dispatcher* const dispatcher_;
  const SubmissionPolicy policy_;
  const CallerResolver caller_;
  const AccessPolicy access_;
  std::atomic<bool> shutting_down_{false};
  PreflightSettings preflight_;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_API_EVALUATION_SERVICE_H_
