// TaskError (ocx/v1/resources.proto): how ocx-task failed, as a record the
// dispatcher reads. Errors are tagged where they arise (the HTTP client
// knows the status and body; the PPL inferencer knows the server cannot
// score prompts) with a Status payload, so context added on the way up
// (ocx::Annotate keeps payloads) does not lose them; ocx-task's main turns
// the final status into the record.
//
// Thread-safe: pure functions, apart from the file WriteTaskError writes.
#ifndef OCX_TASK_ERROR_TASK_ERROR_H_
#define OCX_TASK_ERROR_TASK_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::task {

// TaskError.kind values.
inline constexpr char kEndpointUnreachable[] = "endpoint_unreachable";
inline constexpr char kHttpError[] = "http_error";
inline constexpr char kInvalidInput[] = "invalid_input";
inline constexpr char kUnsupportedServer[] = "unsupported_server";
inline constexpr char kInternal[] = "internal";

// The most body bytes a record keeps.
inline constexpr size_t kMaxBodyExcerpt = 500;

// `status` (not OK) tagged with `kind`, the server's `http_status` (0:
// none) and the start of its `body`. Same code and message.
absl::Status WithTaskError(absl::Status status, absl::string_view kind,
                           int http_status = 0, absl::string_view body = "");

// The record of a failed task's final `status`: its tag when it has one,
// else INVALID_ARGUMENT → invalid_input and anything else → internal. The
// message is the status's message.
ocx::v1::TaskError TaskErrorOf(const absl::Status& status);

// Writes `error` to `path` (proto JSON) atomically.
absl::Status WriteTaskError(const std::string& path,
                            const ocx::v1::TaskError& error);

}  // namespace ocx::task

#endif  // OCX_TASK_ERROR_TASK_ERROR_H_
