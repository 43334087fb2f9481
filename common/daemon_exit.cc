#include "common/daemon_exit.h"

namespace ocx {

int DaemonExitCode(const absl::Status& status, int fallback) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kDaemonExitOk;
    case absl::StatusCode::kFailedPrecondition:
      return kDaemonExitPrecondition;
    case absl::StatusCode::kDataLoss:
      return kDaemonExitCorrupt;
    case absl::StatusCode::kResourceExhausted:
      return kDaemonExitNoSpace;
    case absl::StatusCode::kInvalidArgument:
      return kDaemonExitConfig;
    default:
      return fallback;
  }
}

}  // namespace ocx
