// The retry policy: backoff, attempt limits, cancels, permanent failures.
#include "server/dispatcher/retry_policy.h"

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

TEST(RetryPolicyTest, OnlyAFullRunnerIsATransientPlacementError) {
  EXPECT_FALSE(RetryPolicy::IsPermanentPlacementError(
      absl::ResourceExhaustedError("no free GPU")));
  EXPECT_TRUE(RetryPolicy::IsPermanentPlacementError(
      absl::FailedPreconditionError("needs 9 GPUs, has 8")));
}

}  // namespace
}  // namespace ocx::server
