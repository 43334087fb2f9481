#include "common/progress_file.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/names.h"
#include "common/work_dir_layout.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ocx {
namespace {

// A finite, non-negative number field.
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

int64_t Count(const google::protobuf::Struct& s, const char* key) {
  return static_cast<int64_t>(Number(s, key).value_or(0));
}

}  // namespace

std::string ProgressJson(const ProgressReport& r) {
  return absl::StrFormat(
      "{\"attempt\": %d, \"done\": %d, \"total\": %d, \"rate_per_s\": %.3f, "
      "\"update_time_ms\": %d, \"prompt_tokens\": %d, "
      "\"completion_tokens\": %d}\n",
      r.attempt, r.done, r.total, r.rate_per_s, r.update_time_ms,
      r.prompt_tokens, r.completion_tokens);
}

std::optional<ProgressReport> ReadProgressReport(const std::string& work_dir,
                                                 const std::string& task_id,
                                                 int attempt) {
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
  ProgressReport r;
  r.attempt = attempt;
  r.done = static_cast<int64_t>(*done);
  r.total = Count(s, "total");
  r.rate_per_s = Number(s, "rate_per_s").value_or(0);
  r.update_time_ms = Count(s, "update_time_ms");
  r.prompt_tokens = Count(s, "prompt_tokens");
  r.completion_tokens = Count(s, "completion_tokens");
  return r;
}

}  // namespace ocx
