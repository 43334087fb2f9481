#include "common/field_check.h"

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ocx::field {

absl::Status Bad(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

std::string Sub(absl::string_view parent, absl::string_view field) {
  return absl::StrCat(parent, ".", field);
}

std::string Index(absl::string_view parent, int i) {
  return absl::StrCat(parent, "[", i, "]");
}

std::string Key(absl::string_view parent, absl::string_view key) {
  return absl::StrCat(parent, "[\"", absl::CHexEscape(key), "\"]");
}

std::string Quote(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

absl::Status CheckNoNul(absl::string_view path, absl::string_view s) {
  if (s.find('\0') != absl::string_view::npos) {
    return Bad(path, "must not contain NUL");
  }
  return absl::OkStatus();
}

absl::Status CheckAtLeastZero(absl::string_view path, int64_t v) {
  if (v < 0) return Bad(path, absl::StrCat("must be >= 0, got ", v));
  return absl::OkStatus();
}

absl::Status CheckAtLeastZero(absl::string_view path, double v) {
  if (!(v >= 0)) return Bad(path, absl::StrCat("must be >= 0, got ", v));
  return absl::OkStatus();
}

absl::Status CheckInRange(absl::string_view path, int64_t v, int64_t lo,
                          int64_t hi) {
  if (v < lo || v > hi) {
    return Bad(path, absl::StrCat("must be in ", lo, "..", hi, ", got ", v));
  }
  return absl::OkStatus();
}

bool IsEnvVarName(absl::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
  });
}

absl::Status CheckEnvMap(
    absl::string_view path,
    const google::protobuf::Map<std::string, std::string>& env) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : env) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    if (!IsEnvVarName(key)) {
      return Bad(Key(path, key),
                 "not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    absl::Status s = CheckNoNul(Key(path, key), env.at(key));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace ocx::field
