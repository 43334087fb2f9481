#include "task/eval/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::task::eval {

std::string JsonQuote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
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

std::string ValueToJson(const google::protobuf::Value& v) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(v, &out, options).ok()) {
    return "null";
  }
  return out;
}

absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text) {
  google::protobuf::Value v;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &v);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", status.message().as_string()));
  }
  return v;
}

std::string ScalarText(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kStringValue:
      return v.string_value();
    case google::protobuf::Value::kNumberValue: {
      const double d = v.number_value();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e16) {
        return absl::StrCat(static_cast<int64_t>(d));
      }
      return JsonNumber(d);
    }
    case google::protobuf::Value::kBoolValue:
      return v.bool_value() ? "True" : "False";
    case google::protobuf::Value::kNullValue:
      return "None";
    default:
      return ValueToJson(v);
  }
}

}  // namespace ocx::task::eval
