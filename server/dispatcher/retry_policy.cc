#include "server/dispatcher/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Task;

std::string FormatSeconds(int64_t ms) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

int64_t RetryPolicy::BackoffMs(int failed_attempt) const {
  double backoff = options_.initial_backoff_ms *
                   std::pow(options_.backoff_multiplier, failed_attempt - 1);
  return static_cast<int64_t>(
      std::min<double>(backoff, static_cast<double>(options_.max_backoff_ms)));
}

RetryDecision RetryPolicy::AfterAttempt(Attempt::State state,
                                        const std::string& reason, int attempt,
                                        int attempts_used, int max_attempts,
                                        bool cancelling) const {
  if (state == Attempt::SUCCEEDED) {
    return {Task::SUCCEEDED, absl::StrCat("attempt ", attempt, " succeeded")};
  }
  if (state == Attempt::CANCELLED || cancelling) {
    return {Task::CANCELLED, absl::StrCat("attempt ", attempt, ": ", reason)};
  }
  const std::string failed =
      absl::StrCat("attempt ", attempt, "/", max_attempts, " failed: ", reason);
  if (attempts_used < max_attempts) {
    const int64_t delay = BackoffMs(attempt);
    return {Task::READY,
            absl::StrCat(failed, "; retrying in ", FormatSeconds(delay)),
            delay};
  }
  return {Task::FAILED, failed};
}

}  // namespace ocx::server
