// SCAFFOLD, replaced by the issue-4 implementation.
#include "task/eval/eval_task.h"
namespace ocx::task {
absl::Status RunEvalTask(const ocx::v1::TaskParams&, const std::string&) {
  return absl::UnimplementedError("ocx-task eval is not built yet");
}
}  // namespace ocx::task
