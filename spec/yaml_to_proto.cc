#include "spec/yaml_to_proto.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "spec/yaml_scalar.h"

namespace ocx::spec {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Nesting of YAML collections below the top level. Each level of a
// google.protobuf.Value tree is two protobuf levels, and protobuf's default
// parse recursion limit is 100, so this keeps every result parseable.
constexpr int kMaxDepth = 40;
// Nodes visited per document: aliases can expand a short text exponentially.
constexpr int64_t kMaxNodes = 1000000;
// What a node is, for "got ..." in messages.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return QuoteScalar(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
    default:
      return "nothing";
  }
}

absl::Status Error(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(path.empty() ? "config" : path, ": ", problem));
}

std::string FieldPath(absl::string_view parent, absl::string_view name) {
  if (parent.empty()) return std::string(name);
  return absl::StrCat(parent, ".", name);
}

std::string IndexPath(absl::string_view parent, size_t i) {
  return absl::StrCat(parent.empty() ? "config" : parent, "[", i, "]");
}

std::string KeyPath(absl::string_view parent, absl::string_view key,
                    bool quoted) {
  if (!quoted) return absl::StrCat(parent, "[", key, "]");
  return absl::StrCat(parent, "[", QuoteScalar(key), "]");
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || absl::ascii_isdigit(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// Quoted ('...', "...", block literals) or tagged !!str: always a string.
bool IsQuoted(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  return tag == "!" || tag == "tag:yaml.org,2002:str";
}

bool IsWrapper(const Descriptor* d) {
  static const char* const kWrappers[] = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
      "google.protobuf.Int64Value",  "google.protobuf.UInt64Value",
      "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue",
      "google.protobuf.BytesValue"};
  for (const char* name : kWrappers) {
    if (d->full_name() == name) return true;
  }
  return false;
}

// One conversion of one document. Not thread-safe; use one per call.
class Converter {
 public:
  // Fills `msg` from the mapping `node`. `path` names `msg` ("" for the
  // top level).
  absl::Status FillFields(const YAML::Node& node, const std::string& path,
                          Message* msg, int depth);

 private:
  absl::Status Visit(const std::string& path, int depth);
  // Sets (singular) or adds (repeated) one value of `f` from a non-null
  // node, or from a null node for a repeated element.
  absl::Status StoreOne(const YAML::Node& node, const std::string& path,
                        Message* msg, const FieldDescriptor* f, int depth);
  absl::Status StoreScalar(const YAML::Node& node, const std::string& path,
                           Message* msg, const FieldDescriptor* f);
  absl::Status FillMessage(const YAML::Node& node, const std::string& path,
                           Message* msg, int depth);
  using EntryFn =
      std::function<absl::Status(const YAML::Node& key, const YAML::Node& value,
                                 const std::string& entry_path)>;
  // Calls `fn` on each entry of the mapping `node`, in order, with the path
  // `entry_path` gives its key; refuses a node that is not a mapping,
  // non-scalar keys and repeated keys.
  absl::Status ForEachEntry(
      const YAML::Node& node, const std::string& path, int depth,
      const std::function<std::string(const std::string&)>& entry_path,
      const EntryFn& fn);
  absl::Status FillMap(const YAML::Node& node, const std::string& path,
                       Message* msg, const FieldDescriptor* f, int depth);
  absl::Status FillValue(const YAML::Node& node, const std::string& path,
                         Message* value, int depth);
  absl::Status FillStruct(const YAML::Node& node, const std::string& path,
                          Message* st, int depth);
  absl::Status FillListValue(const YAML::Node& node, const std::string& path,
                             Message* list, int depth);

  int64_t nodes_ = 0;
};

absl::Status Converter::Visit(const std::string& path, int depth) {
  if (++nodes_ > kMaxNodes) {
    return Error("config", absl::StrCat("more than ", kMaxNodes,
                                        " values (are aliases expanding?)"));
  }
  if (depth > kMaxDepth) {
    return Error(path,
                 absl::StrCat("nested more than ", kMaxDepth, " levels deep"));
  }
  return absl::OkStatus();
}

absl::Status Converter::FillFields(const YAML::Node& node,
                                   const std::string& path, Message* msg,
                                   int depth) {
  OCX_RETURN_IF_ERROR(Visit(path, depth));
  if (!node.IsMap()) {
    return Error(path,
                 absl::StrCat("expected a mapping, got ", Describe(node)));
  }
  const Descriptor* d = msg->GetDescriptor();
  const Reflection* r = msg->GetReflection();
  absl::flat_hash_map<std::string, int> seen;  // key -> 1-based line
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      return Error(path, absl::StrCat("expected field names as keys, got ",
                                      Describe(key)));
    }
    const std::string& name = key.Scalar();
    const FieldDescriptor* f = d->FindFieldByName(name);
    std::string field_path = FieldPath(path, name);
    if (f == nullptr) {
      std::vector<std::string> known;
      for (int i = 0; i < d->field_count(); ++i) {
        known.push_back(d->field(i)->name());
      }
      std::string key_path = IsIdentifier(name)
                                 ? field_path
                                 : absl::StrCat(path.empty() ? "config" : path,
                                                "[", QuoteScalar(name), "]");
      return Error(key_path, absl::StrCat("unknown field (known: ",
                                          absl::StrJoin(known, ", "), ")"));
    }
    int line = key.Mark().line + 1;
    auto [prev, inserted] = seen.emplace(name, line);
    if (!inserted) {
      return Error(field_path, absl::StrCat("duplicate key (first at line ",
                                            prev->second, ")"));
    }
    if (value.IsNull()) continue;  // unset
    if (const auto* oneof = f->real_containing_oneof(); oneof != nullptr) {
      const FieldDescriptor* other = r->GetOneofFieldDescriptor(*msg, oneof);
      if (other != nullptr && other != f) {
        return Error(field_path,
                     absl::StrCat("cannot be set together with ", other->name(),
                                  " (one of ", oneof->name(), ")"));
      }
    }
    if (f->is_map()) {
      OCX_RETURN_IF_ERROR(FillMap(value, field_path, msg, f, depth + 1));
    } else if (f->is_repeated()) {
      if (!value.IsSequence()) {
        return Error(field_path, absl::StrCat("expected a sequence, got ",
                                              Describe(value)));
      }
      OCX_RETURN_IF_ERROR(Visit(field_path, depth + 1));
      for (size_t i = 0; i < value.size(); ++i) {
        OCX_RETURN_IF_ERROR(
            StoreOne(value[i], IndexPath(field_path, i), msg, f, depth + 2));
      }
    } else {
      OCX_RETURN_IF_ERROR(StoreOne(value, field_path, msg, f, depth + 1));
    }
  }
  return absl::OkStatus();
}

absl::Status Converter::StoreOne(const YAML::Node& node,
                                 const std::string& path, Message* msg,
                                 const FieldDescriptor* f, int depth) {
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
    OCX_RETURN_IF_ERROR(Visit(path, depth));
    return StoreScalar(node, path, msg, f);
  }
  const Reflection* r = msg->GetReflection();
  Message* sub =
      f->is_repeated() ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
  return FillMessage(node, path, sub, depth);
}

absl::Status Converter::StoreScalar(const YAML::Node& node,
                                    const std::string& path, Message* msg,
                                    const FieldDescriptor* f) {
  if (!node.IsScalar()) {
    return Error(
        path, absl::StrCat("expected ", Expected(f), ", got ", Describe(node)));
  }
  absl::Status status = SetScalarField(node.Scalar(), msg, f);
  if (!status.ok() && absl::IsInvalidArgument(status)) {
    return Error(path, status.message());
  }
  return status;
}

absl::Status Converter::FillMessage(const YAML::Node& node,
                                    const std::string& path, Message* msg,
                                    int depth) {
  const std::string& type = msg->GetDescriptor()->full_name();
  if (type == "google.protobuf.Value") return FillValue(node, path, msg, depth);
  if (type == "google.protobuf.Struct") {
    return FillStruct(node, path, msg, depth);
  }
  if (type == "google.protobuf.ListValue") {
    return FillListValue(node, path, msg, depth);
  }
  if (IsWrapper(msg->GetDescriptor()) && !node.IsMap()) {
    OCX_RETURN_IF_ERROR(Visit(path, depth));
    return StoreScalar(node, path, msg,
                       msg->GetDescriptor()->FindFieldByName("value"));
  }
  return FillFields(node, path, msg, depth);
}

absl::Status Converter::ForEachEntry(
    const YAML::Node& node, const std::string& path, int depth,
    const std::function<std::string(const std::string&)>& entry_path,
    const EntryFn& fn) {
  OCX_RETURN_IF_ERROR(Visit(path, depth));
  if (!node.IsMap()) {
    return Error(path,
                 absl::StrCat("expected a mapping, got ", Describe(node)));
  }
  absl::flat_hash_map<std::string, int> seen;  // key -> 1-based line
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      return Error(path,
                   absl::StrCat("expected scalar keys, got ", Describe(key)));
    }
    const std::string path_of_entry = entry_path(key.Scalar());
    auto [prev, inserted] = seen.emplace(key.Scalar(), key.Mark().line + 1);
    if (!inserted) {
      return Error(path_of_entry, absl::StrCat("duplicate key (first at line ",
                                               prev->second, ")"));
    }
    OCX_RETURN_IF_ERROR(fn(key, it->second, path_of_entry));
  }
  return absl::OkStatus();
}

absl::Status Converter::FillMap(const YAML::Node& node, const std::string& path,
                                Message* msg, const FieldDescriptor* f,
                                int depth) {
  const Reflection* r = msg->GetReflection();
  const Descriptor* entry_type = f->message_type();
  const FieldDescriptor* key_f = entry_type->map_key();
  const FieldDescriptor* value_f = entry_type->map_value();
  const bool string_key = key_f->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
  return ForEachEntry(
      node, path, depth,
      [&](const std::string& key) { return KeyPath(path, key, string_key); },
      [&](const YAML::Node& key, const YAML::Node& value,
          const std::string& entry_path) -> absl::Status {
        Message* entry = r->AddMessage(msg, f);
        OCX_RETURN_IF_ERROR(StoreScalar(key, entry_path, entry, key_f));
        if (value.IsNull() &&
            !(value_f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
              value_f->message_type()->full_name() ==
                  "google.protobuf.Value")) {
          return Error(entry_path, absl::StrCat("expected ", Expected(value_f),
                                                ", got null"));
        }
        return StoreOne(value, entry_path, entry, value_f, depth + 1);
      });
}

absl::Status Converter::FillValue(const YAML::Node& node,
                                  const std::string& path, Message* value,
                                  int depth) {
  OCX_RETURN_IF_ERROR(Visit(path, depth));
  const Descriptor* d = value->GetDescriptor();
  const Reflection* r = value->GetReflection();
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (!IsQuoted(node)) {
        if (IsTrue(text) || IsFalse(text)) {
          r->SetBool(value, d->FindFieldByName("bool_value"), IsTrue(text));
          return absl::OkStatus();
        }
        double v = 0;
        if (LooksLikeDecimal(text) && absl::SimpleAtod(text, &v) &&
            std::isfinite(v)) {
          r->SetDouble(value, d->FindFieldByName("number_value"), v);
          return absl::OkStatus();
        }
      }
      r->SetString(value, d->FindFieldByName("string_value"), text);
      return absl::OkStatus();
    }
    case YAML::NodeType::Sequence:
      return FillListValue(
          node, path,
          r->MutableMessage(value, d->FindFieldByName("list_value")), depth);
    case YAML::NodeType::Map:
      return FillStruct(
          node, path,
          r->MutableMessage(value, d->FindFieldByName("struct_value")), depth);
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
    default:
      r->SetEnumValue(value, d->FindFieldByName("null_value"), 0);
      return absl::OkStatus();
  }
}

absl::Status Converter::FillStruct(const YAML::Node& node,
                                   const std::string& path, Message* st,
                                   int depth) {
  const FieldDescriptor* fields_f =
      st->GetDescriptor()->FindFieldByName("fields");
  const Reflection* r = st->GetReflection();
  return ForEachEntry(
      node, path, depth,
      [&](const std::string& name) {
        return IsIdentifier(name) ? FieldPath(path, name)
                                  : KeyPath(path, name, true);
      },
      [&](const YAML::Node& key, const YAML::Node& value,
          const std::string& entry_path) {
        Message* entry = r->AddMessage(st, fields_f);
        const Descriptor* entry_type = entry->GetDescriptor();
        const Reflection* er = entry->GetReflection();
        er->SetString(entry, entry_type->map_key(), key.Scalar());
        return FillValue(value, entry_path,
                         er->MutableMessage(entry, entry_type->map_value()),
                         depth + 1);
      });
}

absl::Status Converter::FillListValue(const YAML::Node& node,
                                      const std::string& path, Message* list,
                                      int depth) {
  OCX_RETURN_IF_ERROR(Visit(path, depth));
  if (!node.IsSequence()) {
    return Error(path,
                 absl::StrCat("expected a sequence, got ", Describe(node)));
  }
  const FieldDescriptor* values_f =
      list->GetDescriptor()->FindFieldByName("values");
  const Reflection* r = list->GetReflection();
  for (size_t i = 0; i < node.size(); ++i) {
    OCX_RETURN_IF_ERROR(FillValue(node[i], IndexPath(path, i),
                                  r->AddMessage(list, values_f), depth + 1));
  }
  return absl::OkStatus();
}

absl::Status ParseImpl(absl::string_view text, Message* msg,
                       const YamlParseOptions& options) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::ParserException& e) {
    if (e.mark.is_null()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.msg));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("invalid YAML at line ", e.mark.line + 1, ", column ",
                     e.mark.column + 1, ": ", e.msg));
  }
  if (docs.size() > 1) {
    return Error("config", absl::StrCat("expected one YAML document, found ",
                                        docs.size()));
  }
  YAML::Node root = docs.empty() ? YAML::Node(YAML::NodeType::Null) : docs[0];
  if (root.IsNull() && options.allow_empty_document) {
    msg->Clear();
    return absl::OkStatus();
  }
  if (!root.IsMap()) {
    return Error(
        "config",
        absl::StrCat("expected a mapping at the top level, got ",
                     root.IsNull() ? "an empty document" : Describe(root)));
  }
  std::unique_ptr<Message> result(msg->New());
  Converter converter;
  OCX_RETURN_IF_ERROR(converter.FillFields(root, "", result.get(), 0));
  msg->CopyFrom(*result);
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseYamlToMessage(absl::string_view text, Message* msg) {
  return ParseYamlToMessage(text, msg, YamlParseOptions());
}

absl::Status ParseYamlToMessage(absl::string_view text, Message* msg,
                                const YamlParseOptions& options) {
  // yaml-cpp reports errors by throwing; nothing may escape this module.
  try {
    return ParseImpl(text, msg, options);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading YAML: ", e.what()));
  } catch (...) {
    return absl::InternalError("reading YAML: unknown exception");
  }
}

}  // namespace ocx::spec
