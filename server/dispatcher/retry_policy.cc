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

std::string RetryPolicy::PermanentWhy(const FailureFacts& facts) {
  if (facts.exit_code == 126 || facts.exit_code == 127) {
    return absl::StrCat("exit code ", facts.exit_code,
                        " means the program cannot be run");
  }
  if (facts.error_kind == "invalid_input" ||
      facts.error_kind == "unsupported_server") {
    return absl::StrCat("the task reported ", facts.error_kind);
  }
  if (facts.http_status == 401 || facts.http_status == 403 ||
      facts.http_status == 404) {
    return absl::StrCat("the model server answered HTTP ", facts.http_status);
  }
  if (facts.launch_error == absl::StatusCode::kInvalidArgument) {
    return "the runner cannot start it as it is";
  }
  return "";
}

RetryDecision RetryPolicy::AfterAttempt(Attempt::State state,
                                        const std::string& reason, int attempt,
                                        int attempts_used, int max_attempts,
                                        bool cancelling,
                                        const FailureFacts& facts) const {
  if (state == Attempt::SUCCEEDED) {
    return {Task::SUCCEEDED, absl::StrCat("attempt ", attempt, " succeeded")};
  }
  if (state == Attempt::CANCELLED || cancelling) {
    return {Task::CANCELLED, absl::StrCat("attempt ", attempt, ": ", reason)};
  }
  const std::string failed =
      absl::StrCat("attempt ", attempt, "/", max_attempts, " failed: ", reason);
  if (const std::string why = PermanentWhy(facts); !why.empty()) {
    if (attempts_used >= max_attempts) return {Task::FAILED, failed};
    return {Task::FAILED, absl::StrCat(failed, "; not retried: ", why)};
  }
  if (attempts_used < max_attempts) {
    const int64_t delay = BackoffMs(attempt);
    return {Task::READY,
            absl::StrCat(failed, "; retrying in ", FormatSeconds(delay)),
            delay};
  }
  return {Task::FAILED, failed};
}

}  // namespace ocx::server
