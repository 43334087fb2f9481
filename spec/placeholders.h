// Placeholders in a `command` task's argv: {task_json} {task_id}
// {evaluation_id} {work_dir} {attempt} {stage}. `{{` and `}}` stand for
// literal braces. Validation and expansion share this one scanner so that
// what validates is exactly what expands.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_PLACEHOLDERS_H_
#define OCX_SPEC_PLACEHOLDERS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::spec {

// The names a command argv may use, in documentation order.
inline constexpr const char* kTaskPlaceholders[] = {
    "task_json", "task_id", "evaluation_id", "work_dir", "attempt", "stage"};

// OK when every `{name}` in `arg` is one of kTaskPlaceholders and every brace
// is paired; INVALID_ARGUMENT otherwise, e.g.
// `unknown placeholder {foo} (known: {task_json}, ...)`. No field path.
absl::Status CheckPlaceholders(absl::string_view arg);

// `arg` with each `{name}` replaced by values[name] and `{{`/`}}` by single
// braces. INVALID_ARGUMENT for a name not in `values` or an unpaired brace.
absl::StatusOr<std::string> ExpandPlaceholders(
    absl::string_view arg, const std::map<std::string, std::string>& values);

}  // namespace ocx::spec

#endif  // OCX_SPEC_PLACEHOLDERS_H_
