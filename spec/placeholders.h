// Placeholders in a `command` task's argv: {task_json} {task_id}
// {evaluation_id} {work_dir} {attempt} {stage}. `{{` and `}}` stand for
// literal braces. The scanner is common/placeholders.h, shared with serve
// commands.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_PLACEHOLDERS_H_
#define OCX_SPEC_PLACEHOLDERS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/placeholders.h"

namespace ocx::spec {

// The names a command argv may use, in documentation order.
inline constexpr const char* kTaskPlaceholders[] = {
    "task_json", "task_id", "evaluation_id", "work_dir", "attempt", "stage"};

// OK when every `{name}` in `arg` is one of kTaskPlaceholders and every brace
// is paired; INVALID_ARGUMENT otherwise, e.g.
// `unknown placeholder {foo} (known: {task_json}, ...)`. No field path.
absl::Status CheckPlaceholders(absl::string_view arg);

// Expansion is the common scanner's (the dispatcher expands task argv
// through this name).
using ::ocx::ExpandPlaceholders;

}  // namespace ocx::spec

#endif  // OCX_SPEC_PLACEHOLDERS_H_
