#include "task/json/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/utf8_cut.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::task {

using ::google::protobuf::Value;

absl::StatusOr<Value> ParseJson(absl::string_view text) {
  Value value;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &value);
  if (!status.ok()) {
    // protobuf's message spans lines (it draws a caret); keep one line.
    std::string message = status.message().as_string();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", message));
  }
  return value;
}

namespace {

void AppendNumber(double d, std::string* out) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
    absl::StrAppend(out, static_cast<int64_t>(d));
    return;
  }
  if (!std::isfinite(d)) {
    // JSON has no NaN/Infinity; Python's json module writes these names.
    out->append(std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"));
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  // Shortest text that reads back the same.
  for (int precision = 6; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, d);
    if (std::strtod(shorter, nullptr) == d) {
      out->append(shorter);
      return;
    }
  }
  out->append(buf);
}

void Append(const Value& v, std::string* out) {
  switch (v.kind_case()) {
    case Value::kNullValue:
    case Value::KIND_NOT_SET:
      out->append("null");
      return;
    case Value::kNumberValue:
      AppendNumber(v.number_value(), out);
      return;
    case Value::kStringValue:
      out->append(JsonQuote(v.string_value()));
      return;
    case Value::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case Value::kStructValue: {
      // Map order is unspecified; sort keys so that output is stable.
      std::vector<const std::string*> keys;
      for (const auto& [key, unused] : v.struct_value().fields()) {
        keys.push_back(&key);
      }
      std::sort(
          keys.begin(), keys.end(),
          [](const std::string* a, const std::string* b) { return *a < *b; });
      out->push_back('{');
      bool first = true;
      for (const std::string* key : keys) {
        if (!first) out->push_back(',');
        first = false;
        out->append(JsonQuote(*key));
        out->push_back(':');
        Append(v.struct_value().fields().at(*key), out);
      }
      out->push_back('}');
      return;
    }
    case Value::kListValue: {
      out->push_back('[');
      bool first = true;
      for (const Value& item : v.list_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        Append(item, out);
      }
      out->push_back(']');
      return;
    }
  }
}

}  // namespace

std::string ToJson(const Value& value) {
  std::string out;
  Append(value, &out);
  return out;
}

std::string JsonQuote(absl::string_view s) {
  // The characters JSON escapes by name; other control characters as \u.
  static constexpr struct {
    char c;
    const char* escaped;
  } kNamed[] = {{'"', "\\\""},
                {'\\', "\\\\"},
                {'\n', "\\n"},
                {'\r', "\\r"},
                {'\t', "\\t"}};
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    const char* escaped = nullptr;
    for (const auto& named : kNamed) {
      if (named.c == c) escaped = named.escaped;
    }
    if (escaped != nullptr) {
      out.append(escaped);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

const Value* Member(const Value& value, absl::string_view key) {
  if (value.kind_case() != Value::kStructValue) return nullptr;
  const auto& fields = value.struct_value().fields();
  auto it = fields.find(std::string(key));
  return it == fields.end() ? nullptr : &it->second;
}

std::string CellText(const Value& value) {
  if (value.kind_case() == Value::kStringValue) return value.string_value();
  return ToJson(value);
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, res.ptr);
  // Python's repr keeps a float a float: 3.0, not 3.
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string ScalarText(const Value& v) {
  switch (v.kind_case()) {
    case Value::kStringValue:
      return v.string_value();
    case Value::kNumberValue: {
      const double d = v.number_value();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e16) {
        return absl::StrCat(static_cast<int64_t>(d));
      }
      return JsonNumber(d);
    }
    case Value::kBoolValue:
      return v.bool_value() ? "True" : "False";
    case Value::kNullValue:
      return "None";
    default:
      return ToJson(v);
  }
}

std::string Excerpt(absl::string_view s, size_t n) {
  // Never half a character: excerpts end up in proto strings and gRPC
  // messages, which must be valid UTF-8.
  return Abbreviate(s, n);
}

}  // namespace ocx::task
