// The retry policy: backoff, attempt limits, cancels, permanent failures.
#include "server/dispatcher/retry_policy.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Task;

RetryPolicy Policy() { return RetryPolicy(RetryOptions{100, 2.0, 350}); }

TEST(RetryPolicyTest, BackoffDoublesUpToTheCap) {
  RetryPolicy p = Policy();
  EXPECT_EQ(p.BackoffMs(1), 100);
  EXPECT_EQ(p.BackoffMs(2), 200);
  EXPECT_EQ(p.BackoffMs(3), 350);
  EXPECT_EQ(p.BackoffMs(30), 350);
}

TEST(RetryPolicyTest, AFailureWithAttemptsLeftRetriesAfterTheBackoff) {
  RetryDecision d = Policy().AfterAttempt(Attempt::FAILED, "exit code 1", 2, 2,
                                          3, /*cancelling=*/false);
  EXPECT_EQ(d.state, Task::READY);
  EXPECT_EQ(d.delay_ms, 200);
  EXPECT_EQ(d.reason, "attempt 2/3 failed: exit code 1; retrying in 0.2s");
}

TEST(RetryPolicyTest, TheLastAttemptsFailureFailsTheTask) {
  RetryDecision d =
      Policy().AfterAttempt(Attempt::LOST, "lost", 3, 3, 3, false);
  EXPECT_EQ(d.state, Task::FAILED);
  EXPECT_EQ(d.reason, "attempt 3/3 failed: lost");
}

TEST(RetryPolicyTest, SuccessAndCancelEndTheTask) {
  RetryPolicy p = Policy();
  RetryDecision ok = p.AfterAttempt(Attempt::SUCCEEDED, "", 1, 1, 3, true);
  EXPECT_EQ(ok.state, Task::SUCCEEDED);
  EXPECT_EQ(ok.reason, "attempt 1 succeeded");
  RetryDecision cancelled =
      p.AfterAttempt(Attempt::FAILED, "exit code 1", 1, 1, 3, true);
  EXPECT_EQ(cancelled.state, Task::CANCELLED);
  EXPECT_EQ(cancelled.reason, "attempt 1: exit code 1");
  EXPECT_EQ(p.AfterAttempt(Attempt::CANCELLED, "x", 1, 1, 3, false).state,
            Task::CANCELLED);
}

FailureFacts Exit(int code, std::string kind = "", int http = 0) {
  FailureFacts f;
  f.exit_code = code;
  f.error_kind = std::move(kind);
  f.http_status = http;
  return f;
}

TEST(RetryPolicyTest, PermanentFailuresFailTheTaskWithAttemptsLeft) {
  RetryPolicy p = Policy();
  struct Case {
    FailureFacts facts;
    const char* why;
  };
  FailureFacts launch;
  launch.launch_error = absl::StatusCode::kInvalidArgument;
  for (const Case& c : std::vector<Case>{
           {Exit(127), "exit code 127 means the program cannot be run"},
           {Exit(126), "exit code 126 means the program cannot be run"},
           {Exit(1, "invalid_input"), "the task reported invalid_input"},
           {Exit(1, "unsupported_server"),
            "the task reported unsupported_server"},
           {Exit(1, "http_error", 401), "the model server answered HTTP 401"},
           {Exit(1, "http_error", 403), "the model server answered HTTP 403"},
           {Exit(1, "http_error", 404), "the model server answered HTTP 404"},
           {launch, "the runner cannot start it as it is"}}) {
    RetryDecision d = p.AfterAttempt(Attempt::FAILED, "why", 1, 1, 3,
                                     /*cancelling=*/false, c.facts);
    EXPECT_EQ(d.state, Task::FAILED) << c.why;
    EXPECT_EQ(d.reason,
              absl::StrCat("attempt 1/3 failed: why; not retried: ", c.why));
    EXPECT_EQ(RetryPolicy::PermanentWhy(c.facts), c.why);
  }
  // The last attempt's failure needs no "not retried".
  EXPECT_EQ(
      p.AfterAttempt(Attempt::FAILED, "why", 3, 3, 3, false, Exit(127)).reason,
      "attempt 3/3 failed: why");
  // A cancel still wins.
  EXPECT_EQ(
      p.AfterAttempt(Attempt::FAILED, "why", 1, 1, 3, true, Exit(127)).state,
      Task::CANCELLED);
}

TEST(RetryPolicyTest, TransientFailuresAreRetried) {
  RetryPolicy p = Policy();
  FailureFacts full;
  full.launch_error = absl::StatusCode::kUnavailable;
  for (const FailureFacts& f :
       {Exit(1), Exit(2), Exit(1, "endpoint_unreachable"),
        Exit(1, "http_error", 500), Exit(1, "http_error", 429),
        Exit(1, "internal"), full}) {
    EXPECT_EQ(RetryPolicy::PermanentWhy(f), "");
    EXPECT_EQ(p.AfterAttempt(Attempt::FAILED, "why", 1, 1, 3, false, f).state,
              Task::READY);
  }
}

TEST(RetryPolicyTest, OnlyAFullRunnerIsATransientPlacementError) {
  EXPECT_FALSE(RetryPolicy::IsPermanentPlacementError(
      absl::ResourceExhaustedError("no free GPU")));
  EXPECT_TRUE(RetryPolicy::IsPermanentPlacementError(
      absl::FailedPreconditionError("needs 9 GPUs, has 8")));
}

}  // namespace
}  // namespace ocx::server
