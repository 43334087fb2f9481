#include "client/rpc_client.h"

#include <algorithm>
#include <utility>

#include "grpcpp/grpcpp.h"
#include "ocx/v1/service.grpc.pb.h"

namespace ocx::client {
namespace {

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace

struct RpcClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::EvaluationService::Stub> stub;
  // "Bearer <token>", or empty.
  std::string authorization;
};

namespace {

std::shared_ptr<grpc::ChannelCredentials> CredentialsOf(
    const ClientSecurity& security) {
  if (!security.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = security.root_certs;
  ssl.pem_cert_chain = security.cert_chain;
  ssl.pem_private_key = security.private_key;
  return grpc::SslCredentials(ssl);
}

}  // namespace

RpcClient::RpcClient(RpcClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  grpc::ChannelArguments args;
  int max_backoff_ms = static_cast<int>(
      absl::ToInt64Milliseconds(options_.max_reconnect_backoff));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              std::min(max_backoff_ms, 250));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(max_backoff_ms, 250));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff_ms);
  impl_->channel = grpc::CreateCustomChannel(
      options_.target, CredentialsOf(options_.security), args);
  if (!options_.security.token.empty()) {
    impl_->authorization = "Bearer " + options_.security.token;
  }
  impl_->stub = v1::EvaluationService::NewStub(impl_->channel);
}

RpcClient::~RpcClient() = default;

namespace {

using Stub = v1::EvaluationService::Stub;

template <typename Request, typename Response>
absl::StatusOr<Response> CallUnary(
    Stub* stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    const Request& request, absl::Duration timeout,
    const std::string& authorization) {
  grpc::ClientContext context;
  if (!authorization.empty()) {
    context.AddMetadata("authorization", authorization);
  }
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Response response;
  grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

// A server stream: `on_message` for each message until it returns false
// (then the call is cancelled and the result is OK) or the stream ends (its
// final status).
template <typename Request, typename Response>
absl::Status CallStream(
    Stub* stub,
    std::unique_ptr<grpc::ClientReader<Response>> (Stub::*method)(
        grpc::ClientContext*, const Request&),
    const Request& request, const std::string& authorization,
    const std::function<bool(const Response&)>& on_message) {
  grpc::ClientContext context;
  if (!authorization.empty()) {
    context.AddMetadata("authorization", authorization);
  }
  std::unique_ptr<grpc::ClientReader<Response>> reader =
      (stub->*method)(&context, request);
  Response response;
  while (reader->Read(&response)) {
    if (!on_message(response)) {
      context.TryCancel();
      reader->Finish().IgnoreError();
      return absl::OkStatus();
    }
  }
  return ToAbslStatus(reader->Finish());
}

}  // namespace

absl::StatusOr<v1::Evaluation> RpcClient::CreateEvaluation(
    const v1::CreateEvaluationRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::CreateEvaluation, request,
                   options_.timeout, impl_->authorization);
}

absl::StatusOr<v1::PlanEvaluationResponse> RpcClient::PlanEvaluation(
    const v1::PlanEvaluationRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::PlanEvaluation, request,
                   options_.timeout, impl_->authorization);
}

absl::StatusOr<v1::Evaluation> RpcClient::GetEvaluation(
    const v1::GetEvaluationRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::GetEvaluation, request,
                   options_.timeout, impl_->authorization);
}

absl::StatusOr<v1::ListEvaluationsResponse> RpcClient::ListEvaluations(
    const v1::ListEvaluationsRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::ListEvaluations, request,
                   options_.timeout, impl_->authorization);
}

absl::StatusOr<v1::Evaluation> RpcClient::CancelEvaluation(
    const v1::CancelEvaluationRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::CancelEvaluation, request,
                   options_.timeout, impl_->authorization);
}

absl::StatusOr<v1::ListTasksResponse> RpcClient::ListTasks(
    const v1::ListTasksRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::ListTasks, request,
                   options_.timeout, impl_->authorization);
}

absl::StatusOr<v1::Task> RpcClient::GetTask(const v1::GetTaskRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::GetTask, request, options_.timeout,
                   impl_->authorization);
}

absl::StatusOr<v1::EvaluationResults> RpcClient::GetEvaluationResults(
    const v1::GetEvaluationResultsRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::GetEvaluationResults, request,
                   options_.timeout, impl_->authorization);
}

absl::StatusOr<v1::ListServersResponse> RpcClient::ListServers(
    const v1::ListServersRequest& request) {
  return CallUnary(impl_->stub.get(), &Stub::ListServers, request,
                   options_.timeout, impl_->authorization);
}

absl::Status RpcClient::WatchEvaluation(
    const v1::WatchEvaluationRequest& request,
    const std::function<bool(const v1::WatchEvaluationResponse&)>& on_message) {
  return CallStream(impl_->stub.get(), &Stub::WatchEvaluation, request,
                    impl_->authorization, on_message);
}

absl::Status RpcClient::ReadTaskLog(
    const v1::ReadTaskLogRequest& request,
    const std::function<bool(const v1::ReadTaskLogResponse&)>& on_message) {
  return CallStream(impl_->stub.get(), &Stub::ReadTaskLog, request,
                    impl_->authorization, on_message);
}

}  // namespace ocx::client
