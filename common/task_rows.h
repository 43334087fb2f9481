// TaskRows: a plan's tasks kept as the columns the store writes, packed in
// 1 MiB buffers (no allocation per task, and no copy of everything when a
// buffer grows). A parsed Task with its params (configs by reference) costs
// ~3 KB of memory, its row a tenth of that: planning and storing a large
// sweep holds rows, parses one task at a time where it needs one, and the
// store inserts a row's bytes as they are (View), with no parse and no
// serialization per task.
//
// A row keeps what a task has when it is planned and what the tasks table
// stores of it at creation: id, evaluation id, stage, index, name, state,
// model abbr, dataset abbrs, depends_on, num_gpus, max_attempts, reason and
// the serialized params. Other Task fields (times, attempts, progress) are
// not kept: a planned task has none, and the store stamps create_time.
// Append-only; iteration yields parsed copies. Not thread-safe.
#ifndef OCX_COMMON_TASK_ROWS_H_
#define OCX_COMMON_TASK_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ocx/v1/resources.pb.h"

namespace ocx {

// One row's columns, pointing into its TaskRows: valid while the TaskRows
// lives (appends do not move stored bytes). Lists are joined with ','
// (abbrs and task ids have no comma), as the tasks table stores them.
struct TaskRowView {
  absl::string_view id;
  absl::string_view evaluation_id;
  absl::string_view name;
  absl::string_view model_abbr;
  absl::string_view dataset_abbrs;
  absl::string_view depends_on;
  absl::string_view reason;
  absl::string_view params;  // TaskParams, serialized
  int32_t stage = 0;
  int32_t index = 0;
  int32_t state = 0;
  int32_t num_gpus = 0;
  int32_t max_attempts = 0;
};

class TaskRows {
 public:
  // Appends the task's row.
  void Add(const ocx::v1::Task& task);
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  // Row `i` (< size()) as its columns.
  TaskRowView View(size_t i) const;
  // Task `i` (< size()), parsed; without its params when not asked for
  // (most of the parse: a caller that drops them need not pay for them).
  ocx::v1::Task Get(size_t i, bool with_params = true) const;
  // Bytes of the rows.
  size_t bytes() const { return bytes_; }

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = ocx::v1::Task;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = ocx::v1::Task;
    const_iterator(const TaskRows* rows, size_t i) : rows_(rows), i_(i) {}
    ocx::v1::Task operator*() const { return rows_->Get(i_); }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const TaskRows* rows_;
    size_t i_;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size()}; }

 private:
  struct Row {
    uint32_t chunk;
    uint32_t begin;
  };
  std::vector<std::string> chunks_;
  std::vector<Row> rows_;
  size_t bytes_ = 0;
};

}  // namespace ocx

#endif  // OCX_COMMON_TASK_ROWS_H_
