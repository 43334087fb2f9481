#include "task/error/task_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "common/file_util.h"
#include "common/utf8_cut.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::task {
namespace {

constexpr char kPayloadUrl[] = "type.googleapis.com/ocx.v1.TaskError";

}  // namespace

absl::Status WithTaskError(absl::Status status, absl::string_view kind,
                           int http_status, absl::string_view body) {
  if (status.ok()) return status;
  ocx::v1::TaskError tag;
  tag.set_kind(std::string(kind));
  tag.set_http_status(http_status);
  tag.set_body_excerpt(std::string(ocx::Utf8Prefix(body, kMaxBodyExcerpt)));
  status.SetPayload(kPayloadUrl, absl::Cord(tag.SerializeAsString()));
  return status;
}

ocx::v1::TaskError TaskErrorOf(const absl::Status& status) {
  ocx::v1::TaskError error;
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value() || !error.ParseFromString(std::string(*payload))) {
    error.Clear();
    error.set_kind(absl::IsInvalidArgument(status) ? kInvalidInput : kInternal);
  }
  error.set_message(std::string(status.message()));
  return error;
}

absl::Status WriteTaskError(const std::string& path,
                            const ocx::v1::TaskError& error) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto printed =
      google::protobuf::util::MessageToJsonString(error, &json, options);
  if (!printed.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", printed.ToString()));
  }
  json.push_back('\n');
  return WriteFileAtomic(path, json, /*sync=*/false);
}

}  // namespace ocx::task
