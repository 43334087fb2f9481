#include "server/api/task_progress.h"

#include <cmath>

#include "common/file_util.h"
#include "common/names.h"
#include "common/work_dir_layout.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace ocx::server {
namespace {

std::optional<double> Number(const google::protobuf::Struct& s,
                             const char* key) {
  auto it = s.fields().find(key);
  if (it == s.fields().end() ||
      it->second.kind_case() != google::protobuf::Value::kNumberValue ||
      !std::isfinite(it->second.number_value()) ||
      it->second.number_value() < 0) {
    return std::nullopt;
  }
  return it->second.number_value();
}

}  // namespace

std::optional<ocx::v1::TaskProgress> ReadTaskProgress(
    const std::string& work_dir, const std::string& task_id, int attempt) {
  if (work_dir.empty() || !IsSafeName(task_id)) return std::nullopt;
  absl::StatusOr<std::string> text =
      ReadFile(layout::ProgressFileIn(layout::TaskDir(work_dir, task_id)));
  if (!text.ok()) return std::nullopt;
  google::protobuf::Struct s;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(*text, &s, options).ok()) {
    return std::nullopt;
  }
  std::optional<double> n = Number(s, "attempt");
  std::optional<double> done = Number(s, "done");
  if (!n.has_value() || static_cast<int>(*n) != attempt || !done.has_value()) {
    return std::nullopt;
  }
  ocx::v1::TaskProgress p;
  p.set_done(static_cast<int64_t>(*done));
  p.set_total(static_cast<int64_t>(Number(s, "total").value_or(0)));
  p.set_rate_per_s(Number(s, "rate_per_s").value_or(0));
  if (std::optional<double> ms = Number(s, "update_time_ms"); ms.has_value()) {
    *p.mutable_update_time() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
            static_cast<int64_t>(*ms));
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
