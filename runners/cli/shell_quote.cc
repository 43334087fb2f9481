#include "runners/cli/shell_quote.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace ocx::runners {
namespace {

bool IsSafeShellChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '/' || c == ':' || c == '@' || c == '%' || c == '+' ||
         c == ',' || c == '-';
}

}  // namespace

std::string ShellQuote(absl::string_view s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), IsSafeShellChar)) {
    return std::string(s);
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

}  // namespace ocx::runners
