#include "server/api/pending_reason.h"

#include "common/time_util.h"

namespace ocx::server {

void FillPendingReason(const Dispatcher& dispatcher, ocx::v1::Task* task) {
  if (task->state() == ocx::v1::Task::RUNNING) {
    const int64_t since = dispatcher.StalledSince(task->id());
    if (since > 0) SetTimestamp(since, task->mutable_stalled_since());
    return;
  }
  if (task->state() != ocx::v1::Task::READY) return;
  if (TimestampMillis(task->next_attempt_time()) > NowMillis()) {
    task->set_pending_reason("waiting: retry backoff");
    return;
  }
  task->set_pending_reason(
      dispatcher.PendingReason(task->evaluation_id(), task->stage(),
                               task->model_abbr()));
}

}  // namespace ocx::server
