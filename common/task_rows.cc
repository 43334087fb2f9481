#include "common/task_rows.h"

#include <algorithm>

namespace ocx {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

}  // namespace

void TaskRows::Add(const ocx::v1::Task& task) {
  const size_t size = task.ByteSizeLong();
  if (chunks_.empty() ||
      chunks_.back().size() + size > chunks_.back().capacity()) {
    chunks_.emplace_back().reserve(std::max(kChunkBytes, size));
  }
  std::string& chunk = chunks_.back();
  const size_t begin = chunk.size();
  task.AppendToString(&chunk);
  rows_.push_back({static_cast<uint32_t>(chunks_.size() - 1),
                   static_cast<uint32_t>(begin),
                   static_cast<uint32_t>(chunk.size() - begin)});
  bytes_ += chunk.size() - begin;
}

ocx::v1::Task TaskRows::Get(size_t i) const {
  const Row& row = rows_[i];
  ocx::v1::Task task;
  task.ParseFromArray(chunks_[row.chunk].data() + row.begin,
                      static_cast<int>(row.size));
  return task;
}

}  // namespace ocx
