// OpenAIModel: a model served over the OpenAI HTTP API (OpenCompass's
// `OpenAISDK` / `OpenAI` model types) — vLLM, LMDeploy, SGLang, llama.cpp's
// server, TGI or OpenAI itself. Generation goes to /chat/completions or
// /completions (ModelConfig.api); perplexity scoring to /completions with
// echo + logprobs.
//
// Every call is asynchronous on an HttpPool. Transient failures (connection
// errors, timeouts, 429, 5xx) are retried with exponential backoff and
// jitter, honouring Retry-After, up to `retry` times per call; a permanent
// one (any other 4xx, a malformed response) ends the call at once with the
// server's message. Failures carry a TaskError tag (task/error/): the kind,
// the HTTP status and the start of the body. The API key is sent as a
// Bearer token and never appears in a message.
//
// Thread-compatible: use from the pool's thread.
#ifndef OCX_TASK_MODEL_OPENAI_MODEL_H_
#define OCX_TASK_MODEL_OPENAI_MODEL_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/spec.pb.h"
#include "task/http/http_pool.h"
#include "task/model/openai_api.h"
#include "task/prompt/prompt_template.h"

namespace ocx::task {

struct ModelSettings {
  std::string abbr;      // the model's abbr, for messages
  std::string base_url;  // ".../v1", no trailing slash
  std::string api_key;   // empty: no Authorization header
  bool chat = true;      // ModelConfig.api: chat (default) or completions
  GenerationSettings generation;
  int retry = 5;  // transient retries per call
  int64_t timeout_ms = 600000;
  int max_concurrency = 8;
  double queries_per_second = 0;
  // Backoff: base * 2^n with jitter in [0.5, 1.5), capped.
  int64_t backoff_base_ms = 500;
  int64_t backoff_cap_ms = 30000;
};

// The settings of `model` for a dataset whose inferencer asks for
// `inferencer_max_out_len` tokens (0: the model's max_out_len, else 256).
// `getenv` reads the key's variable, and OCX_OPENAI_API_BASE, which when
// set overrides model.openai_api_base (the daemon routes a task to a
// managed server's replica through it). Errors name the field:
// INVALID_ARGUMENT "model.openai_api_base: required ..." / "model.type:
// ..."; FAILED_PRECONDITION when key_env names an unset variable.
absl::StatusOr<ModelSettings> SettingsFromConfig(
    const ocx::v1::ModelConfig& model, int inferencer_max_out_len,
    const std::function<const char*(const char*)>& getenv);

class OpenAIModel {
 public:
  using TextCallback = std::function<void(absl::StatusOr<std::string>)>;
  using ScoreCallback = std::function<void(absl::StatusOr<double>)>;

  // `pool` must outlive the model.
  OpenAIModel(ModelSettings settings, HttpPool* pool);

  // The model's answer to `prompt`.
  void Generate(const Prompt& prompt, TextCallback done);

  // The perplexity of `text` as the model reads it. FAILED_PRECONDITION,
  // tagged unsupported_server, when the server does not return the
  // log-probabilities of the echoed text (CheckPromptCovered).
  void Score(const std::string& text, ScoreCallback done);

  const ModelSettings& settings() const { return settings_; }
  // Transient failures that were retried, for the log.
  int64_t retries() const { return retries_; }
  // Tokens the server's `usage` reported for the answers so far (the
  // progress file carries them to ocxd's tokens/s metrics).
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t completion_tokens() const { return completion_tokens_; }

 private:
  using BodyCallback = std::function<void(absl::StatusOr<std::string>)>;
  // Given a permanent failure's HTTP status, takes the call over (true) or
  // lets it fail (false).
  using FallbackFn = std::function<bool(long)>;

  // POSTs `body` to `endpoint` ("/completions") after `delay_ms`, retrying
  // transient failures; `done` gets the 2xx body, or FAILED_PRECONDITION
  // (permanent: the server's status and message) or UNAVAILABLE (retries
  // used up).
  void Post(const std::string& endpoint, std::string body, int attempt,
            int64_t delay_ms, BodyCallback done, FallbackFn fallback = nullptr);
  int64_t BackoffMs(int attempt, int64_t retry_after_ms);
  void ScoreWith(const std::string& text, int max_tokens, ScoreCallback done);
  // Adds a parsed answer's usage to the token counts.
  void CountUsage(const google::protobuf::Value& response);
  // The permanent failure of a score whose response (`body`) did not cover
  // the prompt, for `why`.
  absl::Status CannotScore(const absl::Status& why,
                           const std::string& body) const;

  ModelSettings settings_;
  HttpPool* pool_;
  std::vector<std::string> headers_;
  std::mt19937_64 rng_;
  int64_t retries_ = 0;
  int64_t prompt_tokens_ = 0;
  int64_t completion_tokens_ = 0;
  // Scoring sends max_tokens 0; a server that refuses it gets 1 from then on.
  int score_max_tokens_ = 0;
};

}  // namespace ocx::task

#endif  // OCX_TASK_MODEL_OPENAI_MODEL_H_
