// Progress of running tasks as the API shows it, from the file their task
// program writes (common/progress_file.h).
//
// Thread-safe: no shared state.
#ifndef OCX_SERVER_API_TASK_PROGRESS_H_
#define OCX_SERVER_API_TASK_PROGRESS_H_

#include <optional>
#include <string>

#include "ocx/v1/resources.pb.h"

namespace ocx::server {

// The progress of `attempt` of `task_id`; nullopt when the file is
// missing, garbled, or from another attempt (a stale report of an earlier
// attempt must not show as the current one's).
std::optional<ocx::v1::TaskProgress> ReadTaskProgress(
    const std::string& work_dir, const std::string& task_id, int attempt);

// Sets task->progress when the task is RUNNING and its current attempt has
// reported; leaves it unset otherwise.
void FillTaskProgress(const std::string& work_dir, ocx::v1::Task* task);

}  // namespace ocx::server

#endif  // OCX_SERVER_API_TASK_PROGRESS_H_
