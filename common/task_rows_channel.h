// TaskRowsChannel: a bounded queue of TaskRows chunks from one producer (a
// planner) to one consumer (the dispatcher storing them), so that a large
// plan flows into the store while it is planned and is never held whole.
//
// The producer Push()es chunks and ends with Close(status): OK when the
// plan is complete, else the error that cut it. The consumer Pop()s until
// the end, or Stop()s early with its own error; either side stopping makes
// the other's next call return at once (Push false, Pop the producer's
// error), so neither waits for a side that has given up. At most
// `capacity` chunks wait in the queue: the producer blocks while it is full.
// Thread-safe.
#ifndef OCX_COMMON_TASK_ROWS_CHANNEL_H_
#define OCX_COMMON_TASK_ROWS_CHANNEL_H_

#include <cstddef>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/task_rows.h"

namespace ocx {

class TaskRowsChannel {
 public:
  explicit TaskRowsChannel(size_t capacity = 2);

  // Producer. Queues `chunk`, waiting while the queue is full; false when
  // the consumer stopped (the chunk is dropped: plan no more).
  bool Push(TaskRows chunk);
  // Producer. The end of the plan: OK after the last chunk, or why the
  // plan failed. Later calls are ignored.
  void Close(absl::Status status = absl::OkStatus());

  // Consumer. The next chunk, waiting for one; nullopt after the last
  // chunk of a plan closed OK; the producer's error when it closed with
  // one (chunks still queued are dropped: the plan is void).
  absl::StatusOr<std::optional<TaskRows>> Pop();
  // Consumer. Takes no more chunks (drops the queued ones) and makes the
  // producer's next Push return false. `why` is kept for status().
  void Stop(absl::Status why);

  // Whether the consumer stopped, and why (OK: it has not).
  absl::Status stopped() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<TaskRows> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stop_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocx

#endif  // OCX_COMMON_TASK_ROWS_CHANNEL_H_
