// Cutting text for messages (errors, reasons, log excerpts) without
// splitting a UTF-8 character: a cut inside a multi-byte sequence would
// leave invalid UTF-8, which protobuf refuses in string fields and
// terminals show as garbage. Bytes that are not valid UTF-8 to begin with
// are cut as they are.
//
// Thread-safe: pure functions.
#ifndef OCX_COMMON_UTF8_CUT_H_
#define OCX_COMMON_UTF8_CUT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace ocx {

// The longest prefix of `text` of at most `max_bytes` bytes that does not
// end inside a UTF-8 character.
absl::string_view Utf8Prefix(absl::string_view text, size_t max_bytes);

// `text` when it has at most `max_bytes` bytes; otherwise its Utf8Prefix
// of `max_bytes` followed by "...".
std::string Abbreviate(absl::string_view text, size_t max_bytes);

// `text` with each byte that does not start a valid UTF-8 sequence (stray
// continuation bytes, overlong forms, surrogates, truncated sequences)
// replaced by U+FFFD: log excerpts shown to a browser or put into a
// protobuf string field must be valid UTF-8.
std::string ValidUtf8(absl::string_view text);

}  // namespace ocx

#endif  // OCX_COMMON_UTF8_CUT_H_
