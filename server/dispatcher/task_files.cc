#include "server/dispatcher/task_files.h"

#include <sys/stat.h>

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/task_params.h"
#include "common/work_dir_layout.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::server {
namespace {

// The paths of `files` (relative to `work_dir`) that do not exist, joined
// with ", "; after `named` of them, only a count ("and 3 more").
std::string MissingFiles(
    const std::string& work_dir,
    const google::protobuf::RepeatedPtrField<std::string>& files, int named) {
  std::vector<std::string> missing;
  int more = 0;
  for (const std::string& file : files) {
    if (PathExists(layout::InWorkDir(work_dir, file))) continue;
    if (static_cast<int>(missing.size()) < named) {
      missing.push_back(file);
    } else {
      ++more;
    }
  }
  std::string text = absl::StrJoin(missing, ", ");
  if (more > 0) absl::StrAppend(&text, " and ", more, " more");
  return text;
}

}  // namespace

std::string MissingOutputs(const ocx::v1::TaskParams& params) {
  return MissingFiles(params.work_dir(), params.expected_outputs(),
                      std::numeric_limits<int>::max());
}

std::string MissingInputs(const ocx::v1::TaskParams& params) {
  return MissingFiles(params.work_dir(), params.required_inputs(),
                      /*named=*/10);
}

absl::Status RecordOutputs(store::Store* store, const std::string& task_id,
                           const ocx::v1::TaskParams& p, int64_t now) {
  if (p.output_fingerprints_size() != p.expected_outputs_size()) {
    return absl::OkStatus();  // planned before fingerprints existed
  }
  for (int i = 0; i < p.expected_outputs_size(); ++i) {
    store::OutputRecord r;
    r.path = layout::InWorkDir(p.work_dir(), p.expected_outputs(i));
    struct stat st;
    if (stat(r.path.c_str(), &st) != 0) continue;
    r.fingerprint = p.output_fingerprints(i);
    r.size = st.st_size;
    r.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    r.task_id = task_id;
    OCX_RETURN_IF_ERROR(store->PutOutput(r, now));
  }
  return absl::OkStatus();
}

std::optional<ocx::v1::TaskError> ReadTaskError(
    const std::string& attempt_dir) {
  absl::StatusOr<std::string> text =
      ReadFile(layout::ErrorRecordFileIn(attempt_dir));
  if (!text.ok()) return std::nullopt;
  ocx::v1::TaskError error;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(*text, &error, options)
           .ok() ||
      error.kind().empty()) {
    return std::nullopt;
  }
  return error;
}

absl::Status WriteTaskJson(const ocx::v1::TaskParams& stored,
                           const ocx::v1::EvaluationSpec& spec,
                           const FileOwner& owner) {
  const std::string path =
      layout::TaskJsonFile(stored.work_dir(), stored.task_id());
  if (PathExists(path)) return absl::OkStatus();
  ocx::v1::TaskParams params = stored;
  OCX_RETURN_IF_ERROR(ExpandTaskParams(spec, &params));
  OCX_RETURN_IF_ERROR(
      MakeDirsFor(layout::TaskDir(params.work_dir(), params.task_id()), owner));
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  auto status =
      google::protobuf::util::MessageToJsonString(params, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("task.json: ", status.ToString()));
  }
  return WriteFileAtomicFor(path, json, kFileMode, owner);
}

}  // namespace ocx::server
