// The structured output forms: proto JSON and its YAML.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/format.h"
#include "google/protobuf/util/json_util.h"
#include "yaml-cpp/yaml.h"

namespace ocx::client {
namespace {

// True when a plain YAML scalar with this text would not read as a string.
bool NeedsQuotes(const std::string& text) {
  if (text.empty()) return true;
  std::string lower = absl::AsciiStrToLower(text);
  for (const char* word : {"~", "null", "true", "false", "yes", "no", "on",
                           "off", "y", "n", ".inf", "-.inf", "+.inf", ".nan"}) {
    if (lower == word) return true;
  }
  double number;
  if (absl::SimpleAtod(text, &number)) return true;
  return absl::StartsWith(lower, "0x") || absl::StartsWith(lower, "0o");
}

void EmitYaml(const YAML::Node& node, YAML::Emitter* out) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      if (node.size() == 0) {
        *out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      *out << YAML::BeginMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        *out << YAML::Key;
        EmitYaml(it->first, out);
        *out << YAML::Value;
        EmitYaml(it->second, out);
      }
      *out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      if (node.size() == 0) {
        *out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      *out << YAML::BeginSeq;
      for (auto it = node.begin(); it != node.end(); ++it) EmitYaml(*it, out);
      *out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar:
      // JSON strings were double-quoted in the source: tag "!".
      if (node.Tag() == "!" && NeedsQuotes(node.Scalar())) {
        *out << YAML::DoubleQuoted << node.Scalar();
      } else {
        *out << node.Scalar();
      }
      return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      *out << YAML::Null;
      return;
  }
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  // Only fails for malformed Any or out-of-range well-known types; show the
  // reason rather than nothing.
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::StrCat("{\"error\": \"", status.ToString(), "\"}\n");
  }
  if (json.empty() || json.back() != '\n') json += "\n";
  return json;
}

absl::StatusOr<std::string> JsonToYaml(absl::string_view json) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(json));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read JSON: ", e.what()));
  }
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  EmitYaml(root, &out);
  if (!out.good()) {
    return absl::InternalError(
        absl::StrCat("cannot write YAML: ", out.GetLastError()));
  }
  return absl::StrCat(out.c_str(), "\n");
}

std::string RenderMessage(const google::protobuf::Message& message,
                          OutputFormat format) {
  std::string json = ToJson(message);
  if (format != OutputFormat::kYaml) return json;
  absl::StatusOr<std::string> yaml = JsonToYaml(json);
  return yaml.ok() ? *yaml : json;
}

}  // namespace ocx::client
