// A thin client of ocx.v1.EvaluationService: one channel (plain for unix
// sockets and loopback TCP, TLS when `security` asks for it, plus a bearer
// token on every call when it has one), a deadline on every unary call,
// grpc::Status turned into absl::Status with the same code and message.
//
// This is the only client file that includes the generated .grpc.pb.h.
// Thread-safe: calls may run concurrently on one RpcClient.
#ifndef OCX_CLIENT_RPC_CLIENT_H_
#define OCX_CLIENT_RPC_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/client_security.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/service.pb.h"

namespace ocx::client {

struct RpcClientOptions {
  // gRPC target: "unix:///path" or "host:port" (see server_address.h).
  std::string target;
  // Deadline of each unary call. Streams have none.
  absl::Duration timeout = absl::Seconds(30);
  // The channel's reconnect backoff is capped at this, so that a restarted
  // daemon is found again quickly (gRPC's default grows to 120 s).
  absl::Duration max_reconnect_backoff = absl::Seconds(2);
  // Called (at most once per client) with a line to show when the daemon
  // has not accepted a connection within a second: calls wait for it up to
  // `timeout` (a restarting daemon is waited for). Empty: silent.
  std::function<void(const std::string&)> on_waiting;
  // TLS and token (client_security.h); empty: plain text, no token.
  ClientSecurity security;
};

class RpcClient {
 public:
  explicit RpcClient(RpcClientOptions options);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  const RpcClientOptions& options() const { return options_; }

  // Unary calls. Each waits for the daemon up to `timeout`; reads and
  // Cancel are sent again (up to 3 times) when the connection breaks during
  // the call (the daemon restarted); Create is not (submit retries it with
  // its request_id). Errors carry the
  // server's code and message; a daemon never reached within `timeout`
  // gives UNAVAILABLE, one that accepted the connection but did not answer
  // DEADLINE_EXCEEDED.
  absl::StatusOr<v1::Evaluation> CreateEvaluation(
      const v1::CreateEvaluationRequest& request);
  absl::StatusOr<v1::PlanEvaluationResponse> PlanEvaluation(
      const v1::PlanEvaluationRequest& request);
  absl::StatusOr<v1::CheckEvaluationResponse> CheckEvaluation(
      const v1::CheckEvaluationRequest& request);
  absl::StatusOr<v1::Evaluation> GetEvaluation(
      const v1::GetEvaluationRequest& request);
  absl::StatusOr<v1::ListEvaluationsResponse> ListEvaluations(
      const v1::ListEvaluationsRequest& request);
  absl::StatusOr<v1::Evaluation> CancelEvaluation(
      const v1::CancelEvaluationRequest& request);
  absl::StatusOr<v1::ListTasksResponse> ListTasks(
      const v1::ListTasksRequest& request);
  absl::StatusOr<v1::Task> GetTask(const v1::GetTaskRequest& request);
  absl::StatusOr<v1::EvaluationResults> GetEvaluationResults(
      const v1::GetEvaluationResultsRequest& request);
  // Not sent again on a broken connection (rescore retries it itself, with
  // its request_id).
  absl::StatusOr<v1::Evaluation> RescoreEvaluation(
      const v1::RescoreEvaluationRequest& request);
  absl::StatusOr<v1::ListServersResponse> ListServers(
      const v1::ListServersRequest& request);

  // Server streams: `on_message` is called for each message in order; when
  // it returns false the call is cancelled and the result is OK. Returns the
  // stream's final status (OK when the server ended it).
  absl::Status WatchEvaluation(
      const v1::WatchEvaluationRequest& request,
      const std::function<bool(const v1::WatchEvaluationResponse&)>&
          on_message);
  absl::Status ReadTaskLog(
      const v1::ReadTaskLogRequest& request,
      const std::function<bool(const v1::ReadTaskLogResponse&)>& on_message);

  // Defined in rpc_client.cc (the channel and stub).
  struct Impl;

 private:
  const RpcClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocx::client

#endif  // OCX_CLIENT_RPC_CLIENT_H_
