#include "common/placeholders.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ocx {
namespace {

std::string KnownList(const std::vector<std::string>& names) {
  return absl::StrCat(
      "(known: ",
      absl::StrJoin(names, ", ",
                    [](std::string* out, const std::string& name) {
                      absl::StrAppend(out, "{", name, "}");
                    }),
      ")");
}

// Walks `arg`; for each placeholder calls lookup(name, &value), which returns
// false when the name is unknown. Appends the expansion to *out.
template <typename Lookup>
absl::Status Scan(absl::string_view arg, Lookup lookup,
                  const std::vector<std::string>& known, std::string* out) {
  size_t i = 0;
  while (i < arg.size()) {
    char c = arg[i];
    if (c == '{') {
      if (i + 1 < arg.size() && arg[i + 1] == '{') {
        out->push_back('{');
        i += 2;
        continue;
      }
      size_t close = arg.find('}', i + 1);
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unclosed \"{\" at offset ", i, " (write {{ for a literal brace)"));
      }
      absl::string_view name = arg.substr(i + 1, close - i - 1);
      std::string value;
      if (!lookup(name, &value)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown placeholder {", name, "} ", KnownList(known)));
      }
      out->append(value);
      i = close + 1;
      continue;
    }
    if (c == '}') {
      if (i + 1 < arg.size() && arg[i + 1] == '}') {
        out->push_back('}');
        i += 2;
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "unpaired \"}\" at offset ", i, " (write }} for a literal brace)"));
    }
    out->push_back(c);
    ++i;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPlaceholders(absl::string_view arg,
                               absl::Span<const char* const> known) {
  std::vector<std::string> names(known.begin(), known.end());
  std::string ignored;
  return Scan(
      arg,
      [&](absl::string_view name, std::string*) {
        for (const std::string& k : names) {
          if (k == name) return true;
        }
        return false;
      },
      names, &ignored);
}

absl::StatusOr<std::string> ExpandPlaceholders(
    absl::string_view arg, const std::map<std::string, std::string>& values) {
  std::vector<std::string> known;
  for (const auto& [name, value] : values) known.push_back(name);
  std::string out;
  absl::Status status = Scan(
      arg,
      [&](absl::string_view name, std::string* value) {
        auto it = values.find(std::string(name));
        if (it == values.end()) return false;
        *value = it->second;
        return true;
      },
      known, &out);
  if (!status.ok()) return status;
  return out;
}

}  // namespace ocx
