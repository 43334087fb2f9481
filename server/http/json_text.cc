#include "server/http/json_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/utf8_cut.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::server {

std::string MessageJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options)
           .ok()) {
    return "null";  // only for invalid UTF-8, which the store never holds
  }
  // These characters can only occur inside JSON strings, where their \u
  // escapes mean the same.
  return absl::StrReplaceAll(
      out, {{"<", "\\u003c"}, {">", "\\u003e"}, {"&", "\\u0026"}});
}

std::string JsonString(absl::string_view text) {
  google::protobuf::Value value;
  value.set_string_value(ValidUtf8(text));
  return MessageJson(value);
}

std::string JsonObject(
    std::initializer_list<std::pair<absl::string_view, std::string>> members) {
  std::string out = "{";
  for (const auto& [key, value] : members) {
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, JsonString(key), ":", value);
  }
  out.push_back('}');
  return out;
}

}  // namespace ocx::server
