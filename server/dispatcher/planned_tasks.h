// PlannedTasks: a submission's stored task rows kept as what the dispatcher
// tracks of them (Dispatcher::Track), ~16 bytes a task plus 4 a dependency,
// between their insert and the end of the submission: a streamed plan's
// rows are dropped chunk by chunk as they are stored, and its tasks are
// tracked only once all of it is (a failed submission tracks nothing).
//
// A row whose id and dependencies are its plan's ("<evaluation>-<stage>-
// <index>", as partitioners/plan.h names them) is held as numbers; any
// other row is held as its parsed Task (without params when it is queued:
// Track keeps none). Append-only, in plan order; not thread-safe.
#ifndef OCX_SERVER_DISPATCHER_PLANNED_TASKS_H_
#define OCX_SERVER_DISPATCHER_PLANNED_TASKS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "common/task_rows.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::server {

// Splits a plan's task id "<evaluation>-<stage>-<index>" (read from the
// end: evaluation ids may hold '-'); false when `id` is not one (an
// unknown stage, an index that is not canonical decimal or above 2^30-1).
bool SplitTaskId(absl::string_view id, absl::string_view* eval_id,
                 ocx::v1::Stage* stage, uint32_t* index);

class PlannedTasks {
 public:
  // Appends row `i` of `rows`.
  void Add(const TaskRows& rows, size_t i);
  size_t size() const { return tasks_.size(); }
  ocx::v1::Task::State state(size_t i) const {
    return static_cast<ocx::v1::Task::State>(tasks_[i].state);
  }
  // Task `i` as Dispatcher::Track takes it.
  ocx::v1::Task Get(size_t i) const;

 private:
  struct Compact {
    uint32_t ref;  // stage << 30 | index; kOther: in `others_`
    uint8_t state;
    uint16_t model;  // in models_
    uint16_t max_attempts;
    uint16_t num_gpus;
    uint32_t deps_end;  // its dependencies: deps_[previous deps_end, this)
  };
  static constexpr uint32_t kOther = ~uint32_t{0};
  // Whether the row fits a Compact; fills it and appends its deps if so.
  bool Fit(const TaskRowView& row, Compact* c);

  std::string eval_id_;
  std::vector<Compact> tasks_;
  std::vector<uint32_t> deps_;
  std::vector<std::string> models_;
  absl::flat_hash_map<std::string, uint16_t> model_index_;
  std::vector<ocx::v1::Task> others_;
  std::vector<uint32_t> other_of_;  // per task in `others_`: its position
};

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_PLANNED_TASKS_H_
