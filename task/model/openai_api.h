// The OpenAI HTTP API's shapes, as pure functions: request bodies for
// /completions and /chat/completions, and reading their responses —
// generated text, and the log-probabilities of an echoed prompt in both
// shapes servers return (legacy `logprobs.token_logprobs`, as vLLM and
// OpenAI's completions do, and `logprobs.content[].logprob`, as llama.cpp's
// server does).
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_MODEL_OPENAI_API_H_
#define OCX_TASK_MODEL_OPENAI_API_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "task/prompt/prompt_template.h"

namespace ocx::task {

struct GenerationSettings {
  std::string model;  // the served model name
  int max_out_len = 256;
  std::optional<double> temperature;
  // Passed through into the request body; they override the fields above.
  google::protobuf::Struct extra;
};

// {"model", "prompt", "max_tokens", "temperature"?, ...extra}.
std::string CompletionsBody(const GenerationSettings& s,
                            const std::string& prompt);
// {"model", "messages": [{"role", "content"}], "max_tokens", ...extra}.
std::string ChatBody(const GenerationSettings& s,
                     const std::vector<ChatMessage>& messages);
// Scoring an echoed prompt: {"model", "prompt", "max_tokens": <max_tokens>,
// "echo": true, "logprobs": 1, "temperature": 0}.
std::string ScoreBody(const std::string& model, const std::string& prompt,
                      int max_tokens);

// usage.<key> of a response ("prompt_tokens", "completion_tokens") when it
// is a number.
std::optional<int64_t> UsageTokens(const google::protobuf::Value& response,
                                   const char* key);

// choices[0].text (completions) or choices[0].message.content (chat; null
// content is ""). INVALID_ARGUMENT naming what is missing.
absl::StatusOr<std::string> CompletionText(
    const google::protobuf::Value& response, bool chat);

// The per-token log-probabilities of choices[0], null entries (the first
// token has none) skipped. FAILED_PRECONDITION when the response carries no
// log-probabilities at all: the server cannot score prompts.
absl::StatusOr<std::vector<double>> TokenLogprobs(
    const google::protobuf::Value& response);

// Whether the log-probabilities in `response` cover `prompt`, sent with
// echo and `max_tokens`. A server that ignores echo (llama.cpp's
// llama-server) returns log-probabilities for the generated tokens only;
// scoring those would score the wrong text. The evidence, in order:
// usage.prompt_tokens against the entries for the prompt (one short is
// allowed: a BOS token some servers do not echo), else text_offset[0] == 0,
// else choices[0].text starting with the prompt; none of them present is
// OK. FAILED_PRECONDITION says what showed the echo was ignored, e.g.
// "echo ignored: 1 log-probability for a 12-token prompt".
absl::Status CheckPromptCovered(const google::protobuf::Value& response,
                                const std::string& prompt, int max_tokens);

// exp(mean negative log-probability). +inf for no tokens.
double Perplexity(const std::vector<double>& logprobs);

// The message of an OpenAI-style error body {"error": {"message"}} (or
// {"error": "..."}, {"message": ...}, {"detail": ...}); else the start of
// the body.
std::string ServerErrorMessage(const std::string& body);

}  // namespace ocx::task

#endif  // OCX_TASK_MODEL_OPENAI_API_H_
