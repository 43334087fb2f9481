#include "spec/limits.h"

#include "absl/strings/str_cat.h"
#include "common/field_check.h"

namespace ocx::spec {

ocx::v1::LimitSettings EffectiveLimits(const ocx::v1::LimitSettings& limits) {
  ocx::v1::LimitSettings out = limits;
  if (out.max_spec_bytes() == 0) out.set_max_spec_bytes(kDefaultMaxSpecBytes);
  if (out.max_tasks_per_evaluation() == 0) {
    out.set_max_tasks_per_evaluation(kDefaultMaxTasksPerEvaluation);
  }
  if (out.max_message_bytes() == 0) {
    out.set_max_message_bytes(kDefaultMaxMessageBytes);
  }
  return out;
}

absl::Status ValidateLimits(const ocx::v1::LimitSettings& limits) {
  using field::Bad;
  using field::CheckAtLeastZero;
  if (absl::Status s =
          CheckAtLeastZero("limits.max_spec_bytes", limits.max_spec_bytes());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckAtLeastZero("limits.max_tasks_per_evaluation",
                                        limits.max_tasks_per_evaluation());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckAtLeastZero("limits.max_message_bytes",
                                        limits.max_message_bytes());
      !s.ok()) {
    return s;
  }
  const ocx::v1::LimitSettings e = EffectiveLimits(limits);
  // gRPC sizes are ints.
  if (e.max_message_bytes() > (int64_t{1} << 30)) {
    return Bad("limits.max_message_bytes",
               absl::StrCat("at most 1073741824 (1 GiB), got ",
                            e.max_message_bytes()));
  }
  if (e.max_message_bytes() < e.max_spec_bytes() + kAnswerOverheadBytes) {
    return Bad("limits.max_message_bytes",
               absl::StrCat("must be at least max_spec_bytes (",
                            e.max_spec_bytes(), ") + ", kAnswerOverheadBytes,
                            " so that an accepted spec fits in an answer, got ",
                            e.max_message_bytes()));
  }
  return absl::OkStatus();
}

absl::Status CheckSpecSize(absl::string_view what, int64_t size,
                           int64_t limit) {
  if (size <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      what, ": ", size, " bytes is larger than the limit of ", limit,
      " bytes (limits.max_spec_bytes in ocxd's config); split "
      "the sweep into several evaluations"));
}

absl::Status CheckTaskCount(int64_t count, int64_t limit, bool at_least) {
  if (count <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the evaluation has ", at_least ? "at least " : "", count,
      " tasks, more than the limit of ", limit,
      " (limits.max_tasks_per_evaluation in ocxd's config); use fewer "
      "models or datasets, or a larger partitioner max_task_size"));
}

}  // namespace ocx::spec
