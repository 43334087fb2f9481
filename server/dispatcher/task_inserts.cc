// Dispatcher: storing a submission's task rows (InsertSubmission's part
// that grows with the plan).
#include <algorithm>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/dispatcher.h"

namespace ocx::server {
using ocx::v1::Task;

absl::StatusOr<int> Dispatcher::InsertTasks(Submission& sub, int64_t now) {
  int reused = 0;
  auto stamp = [&](Task& t) {
    SetTimestamp(now, t.mutable_create_time());
    // Reused outputs: the only tasks that are created ended.
    if (t.state() == Task::SUCCEEDED) {
      SetTimestamp(now, t.mutable_end_time());
      ++reused;
    }
  };
  for (Task& t : sub.tasks) stamp(t);
  OCX_RETURN_IF_ERROR(store_->InsertTasks(sub.tasks));
  // Serialized tasks are parsed and stored a batch at a time.
  constexpr size_t kBatch = 1024;
  std::vector<Task> batch;
  batch.reserve(std::min(kBatch, sub.task_rows.size()));
  for (Task t : sub.task_rows) {
    stamp(t);
    batch.push_back(std::move(t));
    if (batch.size() == kBatch) {
      OCX_RETURN_IF_ERROR(store_->InsertTasks(batch));
      batch.clear();
    }
  }
  OCX_RETURN_IF_ERROR(store_->InsertTasks(batch));
  return reused;
}

}  // namespace ocx::server
