#include "task/prompt/prompt_template.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

using ::google::protobuf::Value;

absl::Status Bad(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

absl::string_view ApiRole(absl::string_view role) {
  if (role == "BOT") return "assistant";
  if (role == "SYSTEM") return "system";
  return "user";
}

// Appends the items of a begin/round/end section. A bare string in `begin`
// is a system instruction; anywhere else it belongs to the user.
absl::Status AppendSection(const Value& section, const std::string& field,
                           absl::string_view bare_role,
                           std::vector<ChatMessage>* out) {
  auto add_item = [&](const Value& item,
                      const std::string& item_field) -> absl::Status {
    if (item.has_string_value()) {
      out->push_back({std::string(bare_role), item.string_value()});
      return absl::OkStatus();
    }
    const Value* role = Member(item, "role");
    if (role == nullptr || !role->has_string_value()) {
      return Bad(item_field, "expected a string or {role, prompt}");
    }
    const std::string& r = role->string_value();
    if (r != "HUMAN" && r != "BOT" && r != "SYSTEM") {
      return Bad(
          absl::StrCat(item_field, ".role"),
          absl::StrCat("unknown role \"", r, "\" (known: HUMAN, BOT, SYSTEM)"));
    }
    const Value* prompt = Member(item, "prompt");
    if (prompt != nullptr && !prompt->has_string_value()) {
      return Bad(absl::StrCat(item_field, ".prompt"), "expected a string");
    }
    out->push_back({r, prompt == nullptr ? "" : prompt->string_value()});
    return absl::OkStatus();
  };
  if (section.has_list_value()) {
    for (int i = 0; i < section.list_value().values_size(); ++i) {
      absl::Status s = add_item(section.list_value().values(i),
                                absl::StrCat(field, "[", i, "]"));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return add_item(section, field);
}

}  // namespace

std::string FlattenPrompt(const Prompt& prompt) {
  if (!prompt.is_chat) return prompt.text;
  std::vector<absl::string_view> parts;
  for (const ChatMessage& m : prompt.messages) {
    if (!m.content.empty()) parts.push_back(m.content);
  }
  return absl::StrJoin(parts, "\n");
}

std::vector<ChatMessage> ApiMessages(const Prompt& prompt) {
  std::vector<ChatMessage> out;
  if (!prompt.is_chat) {
    out.push_back({"user", prompt.text});
    return out;
  }
  size_t end = prompt.messages.size();
  while (end > 0 && prompt.messages[end - 1].role == "BOT" &&
         prompt.messages[end - 1].content.empty()) {
    --end;
  }
  for (size_t i = 0; i < end; ++i) {
    out.push_back({std::string(ApiRole(prompt.messages[i].role)),
                   prompt.messages[i].content});
  }
  return out;
}

std::string PromptJson(const Prompt& prompt) {
  if (!prompt.is_chat) return JsonQuote(prompt.text);
  std::string out = "[";
  bool first = true;
  for (const ChatMessage& m : ApiMessages(prompt)) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "{\"role\":", JsonQuote(m.role),
                    ",\"content\":", JsonQuote(m.content), "}");
  }
  out.push_back(']');
  return out;
}

std::string Substitute(absl::string_view text, const Fill& fill) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool replaced = false;
    for (const auto& [key, value] : fill) {
      if (!key.empty() && text.compare(i, key.size(), key) == 0) {
        out.append(value);
        i += key.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(text[i++]);
  }
  return out;
}

absl::StatusOr<PromptTemplate> PromptTemplate::Parse(const Value& tmpl,
                                                     const std::string& field) {
  PromptTemplate t;
  if (tmpl.has_string_value()) {
    t.text_ = tmpl.string_value();
    return t;
  }
  const Value* round = Member(tmpl, "round");
  if (round == nullptr) {
    return Bad(field,
               "expected a string or a chat template {begin, round: [{role, "
               "prompt}], end}");
  }
  t.is_chat_ = true;
  if (const Value* begin = Member(tmpl, "begin")) {
    absl::Status s = AppendSection(*begin, absl::StrCat(field, ".begin"),
                                   "SYSTEM", &t.messages_);
    if (!s.ok()) return s;
  }
  if (!round->has_list_value()) {
    return Bad(absl::StrCat(field, ".round"), "expected a list of turns");
  }
  absl::Status s = AppendSection(*round, absl::StrCat(field, ".round"), "HUMAN",
                                 &t.messages_);
  if (!s.ok()) return s;
  if (const Value* end = Member(tmpl, "end")) {
    s = AppendSection(*end, absl::StrCat(field, ".end"), "HUMAN", &t.messages_);
    if (!s.ok()) return s;
  }
  for (const auto& [key, unused] : tmpl.struct_value().fields()) {
    if (key != "begin" && key != "round" && key != "end") {
      return Bad(absl::StrCat(field, ".", key),
                 "unknown key (known: begin, round, end)");
    }
  }
  return t;
}

Prompt PromptTemplate::Render(const Fill& fill) const {
  Prompt p;
  p.is_chat = is_chat_;
  if (!is_chat_) {
    p.text = Substitute(text_, fill);
    return p;
  }
  p.messages.reserve(messages_.size());
  for (const ChatMessage& m : messages_) {
    p.messages.push_back({m.role, Substitute(m.content, fill)});
  }
  return p;
}

}  // namespace ocx::task
