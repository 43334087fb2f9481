#include "common/utf8_cut.h"

#include "absl/strings/str_cat.h"

namespace ocx {
namespace {

bool IsContinuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

absl::string_view Utf8Prefix(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  // text[max_bytes] is the first byte left out. While it continues a
  // character, that character does not fit: step back to its lead byte
  // (a character has at most 3 continuation bytes).
  size_t cut = max_bytes;
  for (int i = 0; i < 3 && cut > 0 && IsContinuation(text[cut]); ++i) --cut;
  if (IsContinuation(text[cut])) cut = max_bytes;  // not UTF-8: cut as is
  return text.substr(0, cut);
}

std::string Abbreviate(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return absl::StrCat(Utf8Prefix(text, max_bytes), "...");
}

}  // namespace ocx
