#include "task/model/openai_api.h"

#include <cmath>
#include <limits>

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

}  // namespace

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
        "the server returned no log-probabilities for the echoed prompt, so "
        "it cannot score prompts; PPLInferencer needs /v1/completions with "
        "echo and logprobs (vLLM supports them)");
  }
  return out;
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
