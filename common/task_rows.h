// TaskRows: a plan's tasks kept serialized, packed in 1 MiB buffers (no
// allocation per task, and no copy of everything when a buffer grows).
// A parsed Task with its params (configs by reference) costs ~3 KB of
// memory, its encoding a tenth of that: planning and storing a large sweep
// holds rows, and parses one task at a time where it needs one.
// Append-only; iteration yields parsed copies. Not thread-safe.
#ifndef OCX_COMMON_TASK_ROWS_H_
#define OCX_COMMON_TASK_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "ocx/v1/resources.pb.h"

namespace ocx {

class TaskRows {
 public:
  // Appends the task's encoding.
  void Add(const ocx::v1::Task& task);
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  // Task `i` (< size()), parsed.
  ocx::v1::Task Get(size_t i) const;
  // Bytes of the encodings.
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
    uint32_t size;
  };
  std::vector<std::string> chunks_;
  std::vector<Row> rows_;
  size_t bytes_ = 0;
};

}  // namespace ocx

#endif  // OCX_COMMON_TASK_ROWS_H_
