// Shortening text for messages and records without cutting a UTF-8
// sequence in two (proto JSON and gRPC refuse invalid UTF-8).
//
// Thread-safe: a pure function.
#ifndef OCX_COMMON_UTF8_PREFIX_H_
#define OCX_COMMON_UTF8_PREFIX_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace ocx {

// At most `max_bytes` bytes of `s`, ending on a character boundary.
std::string Utf8Prefix(absl::string_view s, size_t max_bytes);

}  // namespace ocx

#endif  // OCX_COMMON_UTF8_PREFIX_H_
