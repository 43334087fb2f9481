#include "task/model/openai_api.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

using ::google::protobuf::Value;

std::string Body(Value body, const google::protobuf::Struct& extra) {
  auto* fields = body.mutable_struct_value()->mutable_fields();
  for (const auto& [key, value] : extra.fields()) (*fields)[key] = value;
  return ToJson(body);
}

Value BaseBody(const GenerationSettings& s) {
  Value body;
  auto* fields = body.mutable_struct_value()->mutable_fields();
  (*fields)["model"].set_string_value(s.model);
  (*fields)["max_tokens"].set_number_value(s.max_out_len);
  if (s.temperature.has_value()) {
    (*fields)["temperature"].set_number_value(*s.temperature);
  }
  return body;
}

const Value* FirstChoice(const Value& response) {
  const Value* choices = Member(response, "choices");
  if (choices == nullptr || !choices->has_list_value() ||
      choices->list_value().values_size() == 0) {
    return nullptr;
  }
  return &choices->list_value().values(0);
}

// The logprobs list of choices[0] (token_logprobs or content), nulls
// included; nullptr when there is none.
const google::protobuf::ListValue* LogprobEntries(const Value& choice) {
  const Value* logprobs = Member(choice, "logprobs");
  if (logprobs == nullptr || !logprobs->has_struct_value()) return nullptr;
  for (const char* key : {"token_logprobs", "content"}) {
    const Value* list = Member(*logprobs, key);
    if (list != nullptr && list->has_list_value()) return &list->list_value();
  }
  return nullptr;
}

}  // namespace

std::optional<int64_t> UsageTokens(const Value& response, const char* key) {
  const Value* usage = Member(response, "usage");
  const Value* n = usage != nullptr ? Member(*usage, key) : nullptr;
  if (n == nullptr || !n->has_number_value() || n->number_value() < 0) {
    return std::nullopt;
  }
  return static_cast<int64_t>(n->number_value());
}

std::string CompletionsBody(const GenerationSettings& s,
                            const std::string& prompt) {
  Value body = BaseBody(s);
  (*body.mutable_struct_value()->mutable_fields())["prompt"].set_string_value(
      prompt);
  return Body(std::move(body), s.extra);
}

std::string ChatBody(const GenerationSettings& s,
                     const std::vector<ChatMessage>& messages) {
  Value body = BaseBody(s);
  auto* list = (*body.mutable_struct_value()->mutable_fields())["messages"]
                   .mutable_list_value();
  for (const ChatMessage& m : messages) {
    auto* fields = list->add_values()->mutable_struct_value()->mutable_fields();
    (*fields)["role"].set_string_value(m.role);
    (*fields)["content"].set_string_value(m.content);
  }
  return Body(std::move(body), s.extra);
}

std::string ScoreBody(const std::string& model, const std::string& prompt,
                      int max_tokens) {
  return absl::StrCat("{\"echo\":true,\"logprobs\":1,\"max_tokens\":",
                      max_tokens, ",\"model\":", JsonQuote(model),
                      ",\"prompt\":", JsonQuote(prompt), ",\"temperature\":0}");
}

absl::StatusOr<std::string> CompletionText(const Value& response, bool chat) {
  const Value* choice = FirstChoice(response);
  if (choice == nullptr) {
    return absl::InvalidArgumentError("the response has no choices[0]");
  }
  if (!chat) {
    const Value* text = Member(*choice, "text");
    if (text == nullptr || !text->has_string_value()) {
      return absl::InvalidArgumentError(
          "the response has no choices[0].text string");
    }
    return text->string_value();
  }
  const Value* message = Member(*choice, "message");
  if (message == nullptr) {
    return absl::InvalidArgumentError("the response has no choices[0].message");
  }
  const Value* content = Member(*message, "content");
  if (content == nullptr || content->has_null_value()) return std::string();
  if (!content->has_string_value()) {
    return absl::InvalidArgumentError(
        "choices[0].message.content is not a string");
  }
  return content->string_value();
}

absl::StatusOr<std::vector<double>> TokenLogprobs(const Value& response) {
  const Value* choice = FirstChoice(response);
  const Value* logprobs = choice ? Member(*choice, "logprobs") : nullptr;
  std::vector<double> out;
  bool found = false;
  if (logprobs != nullptr && logprobs->has_struct_value()) {
    // Legacy: {"tokens": [...], "token_logprobs": [null, -1.2, ...]}.
    if (const Value* legacy = Member(*logprobs, "token_logprobs");
        legacy != nullptr && legacy->has_list_value()) {
      found = true;
      for (const Value& v : legacy->list_value().values()) {
        if (v.has_number_value()) out.push_back(v.number_value());
      }
    } else if (const Value* content = Member(*logprobs, "content");
               content != nullptr && content->has_list_value()) {
      // Chat / llama.cpp: {"content": [{"token", "logprob"}, ...]}.
      found = true;
      for (const Value& entry : content->list_value().values()) {
        const Value* lp = Member(entry, "logprob");
        if (lp != nullptr && lp->has_number_value()) {
          out.push_back(lp->number_value());
        }
      }
    }
  }
  if (!found || out.empty()) {
    return absl::FailedPreconditionError(
        "the response has no log-probabilities, so the server cannot score "
        "prompts");
  }
  return out;
}

absl::Status CheckPromptCovered(const Value& response,
                                const std::string& prompt, int max_tokens) {
  const Value* choice = FirstChoice(response);
  if (choice == nullptr) return absl::OkStatus();
  const google::protobuf::ListValue* entries = LogprobEntries(*choice);
  const int64_t n = entries != nullptr ? entries->values_size() : 0;
  if (std::optional<int64_t> prompt_tokens =
          UsageTokens(response, "prompt_tokens");
      prompt_tokens.has_value() && *prompt_tokens > 0) {
    const int64_t generated = UsageTokens(response, "completion_tokens")
                                  .value_or(std::max(max_tokens, 0));
    if (n - generated + 1 < *prompt_tokens) {
      return absl::FailedPreconditionError(
          absl::StrCat("echo ignored: ", n,
                       n == 1 ? " log-probability" : " log-probabilities",
                       " for a ", *prompt_tokens, "-token prompt"));
    }
    return absl::OkStatus();
  }
  const Value* logprobs = Member(*choice, "logprobs");
  const Value* offsets =
      logprobs != nullptr ? Member(*logprobs, "text_offset") : nullptr;
  if (offsets != nullptr && offsets->has_list_value() &&
      offsets->list_value().values_size() > 0) {
    const Value& first = offsets->list_value().values(0);
    if (first.has_number_value() && first.number_value() != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "echo ignored: the log-probabilities start at text offset ",
          first.number_value(), ", not at the prompt's start"));
    }
    return absl::OkStatus();
  }
  const Value* text = Member(*choice, "text");
  if (text != nullptr && text->has_string_value() &&
      !absl::StartsWith(text->string_value(), prompt)) {
    return absl::FailedPreconditionError(
        "echo ignored: the returned text does not start with the prompt");
  }
  return absl::OkStatus();
}

double Perplexity(const std::vector<double>& logprobs) {
  if (logprobs.empty()) return std::numeric_limits<double>::infinity();
  double nll = 0;
  for (double lp : logprobs) nll -= lp;
  return std::exp(nll / static_cast<double>(logprobs.size()));
}

std::string ServerErrorMessage(const std::string& body) {
  absl::StatusOr<Value> parsed = ParseJson(body);
  if (parsed.ok()) {
    const Value* error = Member(*parsed, "error");
    if (error != nullptr) {
      if (error->has_string_value()) return error->string_value();
      const Value* message = Member(*error, "message");
      if (message != nullptr && message->has_string_value()) {
        return message->string_value();
      }
    }
    for (const char* key : {"message", "detail"}) {
      const Value* m = Member(*parsed, key);
      if (m != nullptr && m->has_string_value()) return m->string_value();
    }
  }
  return Excerpt(body);
}

}  // namespace ocx::task
