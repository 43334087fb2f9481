#include "spec/stall_check.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/field_check.h"
#include "common/status_macros.h"

namespace ocx::spec {

absl::Status ValidateStallAfter(const ocx::v1::StageConfig& s,
                                absl::string_view stage) {
  if (!s.has_stall_after_s()) return absl::OkStatus();
  const std::string path = field::Sub(stage, "stall_after_s");
  OCX_RETURN_IF_ERROR(
      field::CheckInRange(path, s.stall_after_s(), 0, kMaxStallAfterS));
  // ocx-task's infer tasks report progress; of the eval stage's tasks only a
  // `command` may (it writes the progress file itself).
  const std::string& type = s.runner().task().type();
  if (stage == "eval" && s.stall_after_s() > 0 && type != "command") {
    return field::Bad(
        path, absl::StrCat(type.empty() ? "OpenICLEvalTask" : type,
                           " reports no progress, so a stall cannot be seen; "
                           "set it on infer, or on an eval `command` task "
                           "that writes progress.json (docs/metrics.md)"));
  }
  return absl::OkStatus();
}

}  // namespace ocx::spec
