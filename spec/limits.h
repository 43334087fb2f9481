// Input limits (docs/security.md, "Input limits"): the defaults of ocxd's
// `limits` section, its checks, and the one message for a spec that is too
// large, shared by ocxd and ocxctl so both say the same thing.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_LIMITS_H_
#define OCX_SPEC_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/daemon_config.pb.h"

namespace ocx::spec {

inline constexpr int64_t kDefaultMaxSpecBytes = int64_t{1} << 20;
inline constexpr int64_t kDefaultMaxTasksPerEvaluation = 1000000;
inline constexpr int64_t kDefaultMaxMessageBytes = int64_t{4} << 20;
// What an answer carries besides a spec (counts, ids, framing): room kept
// below max_message_bytes.
inline constexpr int64_t kAnswerOverheadBytes = int64_t{64} << 10;

// `limits` with every unset (0) field given its default.
ocx::v1::LimitSettings EffectiveLimits(const ocx::v1::LimitSettings& limits);

// INVALID_ARGUMENT "limits.<field>: ..." for a negative value, or a
// max_message_bytes below max_spec_bytes + kAnswerOverheadBytes (an
// accepted spec must fit in an answer). Checks the effective values.
absl::Status ValidateLimits(const ocx::v1::LimitSettings& limits);

// INVALID_ARGUMENT "spec: <size> bytes is larger than the limit of <limit>
// bytes (limits.max_spec_bytes in ocxd's config)" when size > limit.
// `what` names the measured thing, e.g. "spec" or "spec file x.yaml".
absl::Status CheckSpecSize(absl::string_view what, int64_t size, int64_t limit);

// INVALID_ARGUMENT naming the task count and the limit
// (limits.max_tasks_per_evaluation) when count > limit. `at_least`: the
// count is of a first stage only, so the evaluation has this many or more.
absl::Status CheckTaskCount(int64_t count, int64_t limit,
                            bool at_least = false);

}  // namespace ocx::spec

#endif  // OCX_SPEC_LIMITS_H_
