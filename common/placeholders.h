// Placeholders in an argv element: `{name}` stands for a value, `{{` and
// `}}` for literal braces. A command task's argv (spec/placeholders.h) and a
// serve command (serving/serve_config.h) use this one scanner, so what
// validates is exactly what expands.
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_PLACEHOLDERS_H_
#define OCX_COMMON_PLACEHOLDERS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ocx {

// OK when every `{name}` in `arg` is one of `known` and every brace is
// paired; INVALID_ARGUMENT otherwise, e.g. `unknown placeholder {foo}
// (known: {a}, {b})` with `known` listed in its order. No field path.
absl::Status CheckPlaceholders(absl::string_view arg,
                               absl::Span<const char* const> known);

// `arg` with each `{name}` replaced by values[name] and `{{`/`}}` by single
// braces. INVALID_ARGUMENT for a name not in `values` or an unpaired brace.
absl::StatusOr<std::string> ExpandPlaceholders(
    absl::string_view arg, const std::map<std::string, std::string>& values);

}  // namespace ocx

#endif  // OCX_COMMON_PLACEHOLDERS_H_
