// Prompt templates as OpenCompass writes them: a plain string, or a chat
// dict {begin, round: [{role, prompt}], end} with roles HUMAN, BOT and
// SYSTEM, where any string may hold `{column}` placeholders and the
// in-context-example token (`</E>` by default).
//
// Thread-compatible: a parsed template is immutable.
#ifndef OCX_TASK_PROMPT_PROMPT_TEMPLATE_H_
#define OCX_TASK_PROMPT_PROMPT_TEMPLATE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace ocx::task {

struct ChatMessage {
  std::string role;  // HUMAN, BOT or SYSTEM
  std::string content;
};

// A rendered prompt: text for a plain template, messages for a chat one.
struct Prompt {
  bool is_chat = false;
  std::string text;
  std::vector<ChatMessage> messages;
};

// The prompt as one string: the text, or the messages' contents joined
// with "\n" (empty ones skipped), as OpenCompass renders a chat prompt for
// a model without a meta_template.
std::string FlattenPrompt(const Prompt& prompt);

// The messages for /chat/completions: roles user/assistant/system; a plain
// prompt becomes one user message; trailing empty BOT turns (the slot the
// model fills) are dropped.
std::vector<ChatMessage> ApiMessages(const Prompt& prompt);

// What predictions files record as `origin_prompt`: a JSON string, or an
// array of {"role", "content"} with the API roles.
std::string PromptJson(const Prompt& prompt);

// Placeholder → replacement, e.g. {"{question}", "What is 2+2?"},
// {"</E>", "<examples>"}. Replacement is one left-to-right pass, so text
// that was put in is never scanned again.
using Fill = std::vector<std::pair<std::string, std::string>>;

std::string Substitute(absl::string_view text, const Fill& fill);

class PromptTemplate {
 public:
  // `tmpl` is a string or a chat dict. INVALID_ARGUMENT prefixed with
  // `field` (e.g. "infer_cfg.prompt_template.template") when it is neither,
  // or a role is unknown.
  static absl::StatusOr<PromptTemplate> Parse(
      const google::protobuf::Value& tmpl, const std::string& field);

  Prompt Render(const Fill& fill) const;

  bool is_chat() const { return is_chat_; }

 private:
  bool is_chat_ = false;
  std::string text_;
  std::vector<ChatMessage> messages_;  // begin, round and end, in order
};

}  // namespace ocx::task

#endif  // OCX_TASK_PROMPT_PROMPT_TEMPLATE_H_
