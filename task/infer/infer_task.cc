// SCAFFOLD, replaced by the issue-4 implementation.
#include "task/infer/infer_task.h"
namespace ocx::task {
absl::Status RunInferTask(const ocx::v1::TaskParams&, const std::string&) {
  return absl::UnimplementedError("ocx-task infer is not built yet");
}
}  // namespace ocx::task
