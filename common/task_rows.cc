#include "common/task_rows.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ocx {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

// A row is its header, then its strings' bytes in header order. The
// header: the 8 strings' lengths, then the 5 ints (as uint32), as varints.
constexpr int kStrings = 8;
constexpr int kInts = 5;
constexpr size_t kMaxHeader = (kStrings + kInts) * 5;

char* PutVarint(uint32_t v, char* out) {
  while (v >= 0x80) {
    *out++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<char>(v);
  return out;
}

const char* GetVarint(const char* in, uint32_t* v) {
  uint32_t result = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(*in++);
    result |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  *v = result;
  return in;
}

}  // namespace

void TaskRows::Add(const ocx::v1::Task& task) {
  const std::string datasets = absl::StrJoin(task.dataset_abbrs(), ",");
  const std::string depends_on = absl::StrJoin(task.depends_on(), ",");
  const size_t params_size =
      task.has_params() ? task.params().ByteSizeLong() : 0;
  const absl::string_view strings[kStrings - 1] = {
      task.id(), task.evaluation_id(), task.name(),  task.model_abbr(),
      datasets,  depends_on,           task.reason()};
  const int32_t ints[kInts] = {task.stage(), task.index(), task.state(),
                               task.num_gpus(), task.max_attempts()};
  char header[kMaxHeader];
  char* end = header;
  size_t size = params_size;
  for (absl::string_view s : strings) {
    end = PutVarint(static_cast<uint32_t>(s.size()), end);
    size += s.size();
  }
  end = PutVarint(static_cast<uint32_t>(params_size), end);
  for (int32_t v : ints) end = PutVarint(static_cast<uint32_t>(v), end);
  size += static_cast<size_t>(end - header);
  if (chunks_.empty() ||
      chunks_.back().size() + size > chunks_.back().capacity()) {
    chunks_.emplace_back().reserve(std::max(kChunkBytes, size));
  }
  std::string& chunk = chunks_.back();
  const size_t begin = chunk.size();
  chunk.append(header, static_cast<size_t>(end - header));
  for (absl::string_view s : strings) chunk.append(s.data(), s.size());
  if (params_size > 0) task.params().AppendToString(&chunk);
  rows_.push_back({static_cast<uint32_t>(chunks_.size() - 1),
                   static_cast<uint32_t>(begin)});
  bytes_ += chunk.size() - begin;
}

TaskRowView TaskRows::View(size_t i) const {
  const Row& row = rows_[i];
  const char* p = chunks_[row.chunk].data() + row.begin;
  uint32_t lengths[kStrings];
  for (uint32_t& n : lengths) p = GetVarint(p, &n);
  uint32_t ints[kInts];
  for (uint32_t& v : ints) p = GetVarint(p, &v);
  TaskRowView v;
  absl::string_view* strings[kStrings] = {
      &v.id,         &v.evaluation_id, &v.name,
      &v.model_abbr, &v.dataset_abbrs, &v.depends_on,
      &v.reason,     &v.params};
  for (int k = 0; k < kStrings; ++k) {
    *strings[k] = absl::string_view(p, lengths[k]);
    p += lengths[k];
  }
  v.stage = static_cast<int32_t>(ints[0]);
  v.index = static_cast<int32_t>(ints[1]);
  v.state = static_cast<int32_t>(ints[2]);
  v.num_gpus = static_cast<int32_t>(ints[3]);
  v.max_attempts = static_cast<int32_t>(ints[4]);
  return v;
}

ocx::v1::Task TaskRows::Get(size_t i, bool with_params) const {
  const TaskRowView v = View(i);
  ocx::v1::Task task;
  task.set_id(std::string(v.id));
  task.set_evaluation_id(std::string(v.evaluation_id));
  task.set_stage(static_cast<ocx::v1::Stage>(v.stage));
  task.set_index(v.index);
  task.set_name(std::string(v.name));
  task.set_state(static_cast<ocx::v1::Task::State>(v.state));
  task.set_model_abbr(std::string(v.model_abbr));
  for (absl::string_view abbr :
       absl::StrSplit(v.dataset_abbrs, ',', absl::SkipEmpty())) {
    task.add_dataset_abbrs(std::string(abbr));
  }
  for (absl::string_view dep :
       absl::StrSplit(v.depends_on, ',', absl::SkipEmpty())) {
    task.add_depends_on(std::string(dep));
  }
  task.set_num_gpus(v.num_gpus);
  task.set_max_attempts(v.max_attempts);
  task.set_reason(std::string(v.reason));
  if (with_params && !v.params.empty()) {
    task.mutable_params()->ParseFromArray(v.params.data(),
                                          static_cast<int>(v.params.size()));
  }
  return task;
}

}  // namespace ocx
