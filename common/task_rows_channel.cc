#include "common/task_rows_channel.h"

#include <algorithm>
#include <utility>

namespace ocx {

TaskRowsChannel::TaskRowsChannel(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)) {}

bool TaskRowsChannel::Push(TaskRows chunk) {
  absl::MutexLock lock(&mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || queue_.size() < capacity_;
  };
  mu_.Await(absl::Condition(&room));
  if (stopped_ || closed_) return false;
  queue_.push_back(std::move(chunk));
  return true;
}

void TaskRowsChannel::Close(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  close_status_ = std::move(status);
}

absl::StatusOr<std::optional<TaskRows>> TaskRowsChannel::Pop() {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || closed_ || !queue_.empty();
  };
  mu_.Await(absl::Condition(&ready));
  if (stopped_) return stop_status_;
  if (closed_ && !close_status_.ok()) {
    queue_.clear();
    return close_status_;
  }
  if (queue_.empty()) return std::optional<TaskRows>();
  std::optional<TaskRows> chunk(std::move(queue_.front()));
  queue_.pop_front();
  return chunk;
}

void TaskRowsChannel::Stop(absl::Status why) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  stop_status_ =
      why.ok() ? absl::CancelledError("the consumer stopped") : std::move(why);
  queue_.clear();
}

absl::Status TaskRowsChannel::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_ ? stop_status_ : absl::OkStatus();
}

}  // namespace ocx
