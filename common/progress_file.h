// The progress file a task program writes for its running attempt:
// <work_dir>/.ocx/tasks/<task id>/progress.json =
//   {"attempt": N, "done": D, "total": T, "rate_per_s": R,
//    "update_time_ms": unix ms, "prompt_tokens": P, "completion_tokens": C}
// ocx-task infer writes it (task/infer/progress.h) about once a second
// while samples finish; any `command` program may. ocxd reads it for
// GetTask/ListTasks (server/api/task_progress.h) and for stall detection
// and the infer metrics (server/dispatcher/progress_watch.cc). The token
// counts are what the model server's `usage` reported for this attempt's
// requests; absent fields read as 0.
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_PROGRESS_FILE_H_
#define OCX_COMMON_PROGRESS_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

namespace ocx {

struct ProgressReport {
  int attempt = 0;
  int64_t done = 0;   // samples finished, resumed ones included
  int64_t total = 0;  // samples of the task; 0 when unknown
  double rate_per_s = 0;
  int64_t update_time_ms = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// The file's text for `report` (one line).
std::string ProgressJson(const ProgressReport& report);

// The report of `attempt` of `task_id`; nullopt when the file is missing,
// garbled, without `done`, or from another attempt (a stale report of an
// earlier attempt must not count as the current one's).
std::optional<ProgressReport> ReadProgressReport(const std::string& work_dir,
                                                 const std::string& task_id,
                                                 int attempt);

}  // namespace ocx

#endif  // OCX_COMMON_PROGRESS_FILE_H_
