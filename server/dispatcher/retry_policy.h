// The retry policy: what becomes of a task when one of its attempts ends
// (DESIGN.md, state machines). A failed attempt with attempts left sends
// the task back to READY after an exponential backoff; a cancelled one, or
// any failure while its evaluation is being cancelled, cancels the task;
// otherwise the task fails. A permanent failure (PermanentWhy) fails the
// task at once, whatever attempts are left: no other attempt can fix it.
// Placement errors other than "no free slot" are permanent too.
//
// Thread-compatible; pure apart from its options.
#ifndef OCX_SERVER_DISPATCHER_RETRY_POLICY_H_
#define OCX_SERVER_DISPATCHER_RETRY_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::server {

struct RetryOptions {
  // Backoff before attempt n+1: initial * multiplier^(n-1), capped at max.
  int64_t initial_backoff_ms = 1000;
  double backoff_multiplier = 2.0;
  int64_t max_backoff_ms = 100000;
};

// What is known about how an attempt failed besides its reason text: the
// policy decides from it whether another attempt could help.
struct FailureFacts {
  // The task's exit code; 0 when it did not exit (signal, lost, launch).
  int exit_code = 0;
  // The TaskError ocx-task left (ocx/v1/resources.proto): its kind ("" when
  // there is none) and the model server's HTTP status (0: none).
  std::string error_kind;
  int http_status = 0;
  // The code of the Runner::Launch error that kept it from starting (OK
  // when it started).
  absl::StatusCode launch_error = absl::StatusCode::kOk;
  // ocxd stopped it because its progress stalled (stall_action: KILL).
  bool stalled = false;
};

// The task's next state after an attempt ended, with the reason it records.
struct RetryDecision {
  ocx::v1::Task::State state;  // SUCCEEDED, CANCELLED, READY or FAILED
  std::string reason;
  int64_t delay_ms = 0;  // READY: when the next attempt may start
};

class RetryPolicy {
 public:
  explicit RetryPolicy(const RetryOptions& options) : options_(options) {}

  // The backoff before the attempt after `failed_attempt` (1-based).
  int64_t BackoffMs(int failed_attempt) const;

  // The task's fate after its attempt number `attempt` ended in `state`
  // for `reason`, with `attempts_used` of `max_attempts` made so far;
  // `cancelling` when its evaluation is being cancelled; `facts` may make
  // a failure permanent.
  RetryDecision AfterAttempt(ocx::v1::Attempt::State state,
                             const std::string& reason, int attempt,
                             int attempts_used, int max_attempts,
                             bool cancelling,
                             const FailureFacts& facts = {}) const;

  // Why a failure with `facts` is permanent ("" when another attempt may
  // succeed): exit code 126/127 (the program cannot be run, as the shim and
  // shells report it), a TaskError of kind invalid_input or
  // unsupported_server, HTTP 401/403/404 from the model server, or a
  // launch refused as INVALID_ARGUMENT (e.g. an argument list too long).
  static std::string PermanentWhy(const FailureFacts& facts);

  // Whether a Runner::Place error fails the task for good (anything but
  // RESOURCE_EXHAUSTED, which only means "no free slot now").
  static bool IsPermanentPlacementError(const absl::Status& status) {
    return !absl::IsResourceExhausted(status);
  }

 private:
  const RetryOptions options_;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_RETRY_POLICY_H_
