#include "client/rpc_client.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

  // Tells options.on_waiting once per client when the daemon does not
  // accept a connection within a second, so that a wait-for-ready call is
  // not a silent hang.
  void NoticeIfWaiting(const RpcClientOptions& options, absl::Time deadline) {
    if (!options.on_waiting || noticed.exchange(true)) return;
    absl::Time soon = std::min(deadline, absl::Now() + absl::Seconds(1));
    if (channel->WaitForConnected(absl::ToChronoTime(soon))) return;
    if (absl::Now() < deadline) {
      options.on_waiting(absl::StrCat(
          "waiting for ocxd at ", options.target, " (up to ",
          absl::FormatDuration(deadline - absl::Now()), "; --timeout)"));
    }
  }
  std::atomic<bool> noticed{false};
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
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the minimum
  // connect timeout, and 250 ms made connecting to a daemon that is busy
  // recovering fail ("timed out before receiving SETTINGS frame").
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

// Whether a call may be sent again after UNAVAILABLE (its connection broke
// as the daemon restarted): reads, and Cancel, which `ocxctl cancel` treats
// as done when the evaluation is CANCELLED. Create is retried by `ocxctl
// submit` itself, with its request_id.
enum class Retry { kSafe, kNever };

// Tries after the first, with pauses of 100, 200, 400 ms: enough to ride out
// a restart (the new daemon answers within a fraction of a second and
// wait-for-ready waits for it), few enough that a daemon that answers
// UNAVAILABLE on purpose is believed soon.
constexpr int kMaxRetries = 3;
constexpr absl::Duration kFirstRetryPause = absl::Milliseconds(100);

// One unary call that waits for the daemon (wait-for-ready) until
// `timeout`: a daemon restarting is waited for, not failed on. With
// Retry::kSafe, a connection that breaks during the call is tried again
// while the deadline allows. A deadline passed without ever connecting is
// UNAVAILABLE ("nothing answered"), one passed on a live connection
// DEADLINE_EXCEEDED: a missing daemon and a hung one read differently.
template <typename Request, typename Response>
absl::StatusOr<Response> CallUnary(
    RpcClient::Impl* impl,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    const Request& request, const RpcClientOptions& options, Retry retry) {
  const absl::Time deadline = absl::Now() + options.timeout;
  impl->NoticeIfWaiting(options, deadline);
  absl::Duration pause = kFirstRetryPause;
  for (int retries = 0;; ++retries) {
    grpc::ClientContext context;
    if (!impl->authorization.empty()) {
      context.AddMetadata("authorization", impl->authorization);
    }
    context.set_deadline(absl::ToChronoTime(deadline));
    context.set_wait_for_ready(true);
    Response response;
    grpc::Status status =
        (impl->stub.get()->*method)(&context, request, &response);
    if (status.ok()) return response;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        retry == Retry::kSafe && retries < kMaxRetries &&
        absl::Now() + pause < deadline) {
      absl::SleepFor(pause);
      pause *= 2;
      continue;
    }
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
        impl->channel->GetState(false) != GRPC_CHANNEL_READY) {
      return absl::UnavailableError(absl::StrCat(
          "nothing answered within ", absl::FormatDuration(options.timeout)));
    }
    return ToAbslStatus(status);
  }
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
  return CallUnary(impl_.get(), &Stub::CreateEvaluation, request, options_,
                   Retry::kNever);
}

absl::StatusOr<v1::PlanEvaluationResponse> RpcClient::PlanEvaluation(
    const v1::PlanEvaluationRequest& request) {
  return CallUnary(impl_.get(), &Stub::PlanEvaluation, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::CheckEvaluationResponse> RpcClient::CheckEvaluation(
    const v1::CheckEvaluationRequest& request) {
  return CallUnary(impl_.get(), &Stub::CheckEvaluation, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::Evaluation> RpcClient::GetEvaluation(
    const v1::GetEvaluationRequest& request) {
  return CallUnary(impl_.get(), &Stub::GetEvaluation, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::ListEvaluationsResponse> RpcClient::ListEvaluations(
    const v1::ListEvaluationsRequest& request) {
  return CallUnary(impl_.get(), &Stub::ListEvaluations, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::Evaluation> RpcClient::CancelEvaluation(
    const v1::CancelEvaluationRequest& request) {
  return CallUnary(impl_.get(), &Stub::CancelEvaluation, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::ListTasksResponse> RpcClient::ListTasks(
    const v1::ListTasksRequest& request) {
  return CallUnary(impl_.get(), &Stub::ListTasks, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::Task> RpcClient::GetTask(const v1::GetTaskRequest& request) {
  return CallUnary(impl_.get(), &Stub::GetTask, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::EvaluationResults> RpcClient::GetEvaluationResults(
    const v1::GetEvaluationResultsRequest& request) {
  return CallUnary(impl_.get(), &Stub::GetEvaluationResults, request, options_,
                   Retry::kSafe);
}

absl::StatusOr<v1::Evaluation> RpcClient::RescoreEvaluation(
    const v1::RescoreEvaluationRequest& request) {
  return CallUnary(impl_.get(), &Stub::RescoreEvaluation, request, options_,
                   Retry::kNever);
}

absl::StatusOr<v1::ListServersResponse> RpcClient::ListServers(
    const v1::ListServersRequest& request) {
  return CallUnary(impl_.get(), &Stub::ListServers, request, options_,
                   Retry::kSafe);
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
