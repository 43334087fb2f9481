#include "server/api/task_progress.h"

#include "common/progress_file.h"
#include "google/protobuf/util/time_util.h"

namespace ocx::server {

std::optional<ocx::v1::TaskProgress> ReadTaskProgress(
    const std::string& work_dir, const std::string& task_id, int attempt) {
  std::optional<ProgressReport> r =
      ReadProgressReport(work_dir, task_id, attempt);
  if (!r.has_value()) return std::nullopt;
  ocx::v1::TaskProgress p;
  p.set_done(r->done);
  p.set_total(r->total);
  p.set_rate_per_s(r->rate_per_s);
  if (r->update_time_ms > 0) {
    *p.mutable_update_time() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
            r->update_time_ms);
  }
  return p;
}

void FillTaskProgress(const std::string& work_dir, ocx::v1::Task* task) {
  task->clear_progress();
  if (task->state() != ocx::v1::Task::RUNNING) return;
  std::optional<ocx::v1::TaskProgress> p =
      ReadTaskProgress(work_dir, task->id(), task->attempt_count());
  if (p.has_value()) *task->mutable_progress() = *std::move(p);
}

}  // namespace ocx::server
