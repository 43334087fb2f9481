// Names that become file or directory names (model and dataset abbrs, ids).
#ifndef OCX_COMMON_NAMES_H_
#define OCX_COMMON_NAMES_H_

#include "absl/strings/string_view.h"

namespace ocx {

// True for [A-Za-z0-9._-]+ of at most 128 bytes, other than "." and "..":
// safe as a single path segment.
bool IsSafeName(absl::string_view name);

}  // namespace ocx

#endif  // OCX_COMMON_NAMES_H_
