// The spec-level rule of a stage's `stall_after_s` (docs/metrics.md,
// "Stalled tasks"): the per-stage override of ocxd's stall threshold.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_STALL_CHECK_H_
#define OCX_SPEC_STALL_CHECK_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::spec {

// The largest stall_after_s a stage takes: a week, far above any answer's
// time, small enough that milliseconds stay well inside int64.
inline constexpr int32_t kMaxStallAfterS = 7 * 24 * 3600;

// OK when `stage` ("infer" or "eval") leaves stall_after_s unset. Else
// INVALID_ARGUMENT "<stage>.stall_after_s: ..." when it is outside
// 0..kMaxStallAfterS, or when it is above 0 on a stage whose task reports no
// progress (the eval stage's OpenICLEvalTask, its default): a threshold
// there could never fire, which would read as "no stalls".
absl::Status ValidateStallAfter(const ocx::v1::StageConfig& s,
                                absl::string_view stage);

}  // namespace ocx::spec

#endif  // OCX_SPEC_STALL_CHECK_H_
