#include "task/model/openai_model.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "task/error/task_error.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

constexpr int kDefaultRetry = 5;
constexpr int kDefaultMaxOutLen = 256;
constexpr int kDefaultConcurrency = 8;
constexpr int64_t kDefaultTimeoutMs = 600000;
constexpr int64_t kMaxRetryAfterMs = 120000;

bool IsTransient(const HttpResponse& r) {
  return r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500;
}

std::string Describe(const HttpResponse& r) {
  if (r.status == 0) return r.transport_error;
  return absl::StrCat("HTTP ", r.status, ": ", ServerErrorMessage(r.body));
}

}  // namespace

absl::StatusOr<ModelSettings> SettingsFromConfig(
    const ocx::v1::ModelConfig& model, int inferencer_max_out_len,
    const std::function<const char*(const char*)>& getenv) {
  if (model.type() != "OpenAISDK" && model.type() != "OpenAI") {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.type: ocx-task serves OpenAISDK and OpenAI models, got \"",
        model.type(), "\" (run other models with task type command)"));
  }
  ModelSettings s;
  s.abbr = model.abbr();
  // A managed server's replica (docs/serving.md) is chosen per attempt by
  // the daemon, so it comes through the environment, not task.json.
  const char* routed = getenv("OCX_OPENAI_API_BASE");
  std::string base(absl::StripSuffix(routed != nullptr && *routed != '\0'
                                         ? absl::string_view(routed)
                                         : model.openai_api_base(),
                                     "/"));
  if (base.empty()) {
    return absl::InvalidArgumentError(
        "model.openai_api_base: required for OpenICLInferTask (the server's "
        "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1)");
  }
  if (!absl::StartsWith(base, "http://") &&
      !absl::StartsWith(base, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.openai_api_base: must start with http:// or https://, got \"",
        base, "\""));
  }
  s.base_url = base;
  if (!model.key_env().empty()) {
    const char* key = getenv(model.key_env().c_str());
    if (key == nullptr || *key == '\0') {
      return absl::FailedPreconditionError(absl::StrCat(
          "model.key_env: the environment variable ", model.key_env(),
          " that should hold the API key is not set"));
    }
    s.api_key = key;
  }
  if (model.api().empty() || model.api() == "chat") {
    s.chat = true;
  } else if (model.api() == "completions") {
    s.chat = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("model.api: unknown api \"", model.api(),
                     "\" (known: chat, completions)"));
  }
  s.generation.model = model.path().empty() ? model.abbr() : model.path();
  s.generation.max_out_len = inferencer_max_out_len > 0 ? inferencer_max_out_len
                             : model.max_out_len() > 0  ? model.max_out_len()
                                                        : kDefaultMaxOutLen;
  if (model.has_temperature()) s.generation.temperature = model.temperature();
  s.generation.extra = model.generation_kwargs();
  s.retry = model.has_retry() ? model.retry() : kDefaultRetry;
  s.timeout_ms = model.timeout_s() > 0 ? int64_t{model.timeout_s()} * 1000
                                       : kDefaultTimeoutMs;
  s.max_concurrency = model.max_concurrency() > 0 ? model.max_concurrency()
                      : model.batch_size() > 0    ? model.batch_size()
                                                  : kDefaultConcurrency;
  s.queries_per_second = model.query_per_second();
  return s;
}

OpenAIModel::OpenAIModel(ModelSettings settings, HttpPool* pool)
    : settings_(std::move(settings)),
      pool_(pool),
      rng_(std::random_device{}()) {
  if (!settings_.api_key.empty()) {
    headers_.push_back(
        absl::StrCat("Authorization: Bearer ", settings_.api_key));
  }
}

int64_t OpenAIModel::BackoffMs(int attempt, int64_t retry_after_ms) {
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  if (retry_after_ms >= 0) {
    return std::min(retry_after_ms, kMaxRetryAfterMs) +
           static_cast<int64_t>(jitter(rng_) * 50);
  }
  int64_t base = settings_.backoff_base_ms << std::min(attempt, 20);
  base = std::min(base, settings_.backoff_cap_ms);
  return static_cast<int64_t>(static_cast<double>(base) * jitter(rng_));
}

void OpenAIModel::Post(const std::string& endpoint, std::string body,
                       int attempt, int64_t delay_ms, BodyCallback done,
                       FallbackFn fallback) {
  HttpRequest request;
  request.url = settings_.base_url + endpoint;
  request.headers = headers_;
  request.timeout_ms = settings_.timeout_ms;
  request.body = body;
  auto on_response = [this, endpoint, body = std::move(body), attempt,
                      done = std::move(done),
                      fallback = std::move(fallback)](HttpResponse r) mutable {
    const std::string where =
        absl::StrCat("POST ", settings_.base_url, endpoint);
    if (r.status >= 200 && r.status < 300) {
      done(std::move(r.body));
      return;
    }
    if (fallback && fallback(r.status)) return;
    if (!IsTransient(r)) {
      done(WithTaskError(absl::FailedPreconditionError(
                             absl::StrCat(where, " failed: ", Describe(r))),
                         kHttpError, static_cast<int>(r.status), r.body));
      return;
    }
    if (attempt >= settings_.retry) {
      done(WithTaskError(
          absl::UnavailableError(absl::StrCat(
              where, " failed after ", attempt + 1, " tries: ", Describe(r))),
          r.status == 0 ? kEndpointUnreachable : kHttpError,
          static_cast<int>(r.status), r.body));
      return;
    }
    const int64_t delay = BackoffMs(attempt, r.retry_after_ms);
    ++retries_;
    std::printf("%s: %s; retry %d of %d in %lld ms\n", where.c_str(),
                Describe(r).c_str(), attempt + 1, settings_.retry,
                static_cast<long long>(delay));
    std::fflush(stdout);
    Post(endpoint, std::move(body), attempt + 1, delay, std::move(done),
         std::move(fallback));
  };
  pool_->Submit(std::move(request), std::move(on_response), delay_ms);
}

namespace {

// The parsed JSON of a 2xx body; a body that is not JSON fails with the
// endpoint and the start of the body.
absl::StatusOr<google::protobuf::Value> ParseBody(const std::string& where,
                                                  const std::string& body) {
  absl::StatusOr<google::protobuf::Value> parsed = ParseJson(body);
  if (!parsed.ok()) {
    return WithTaskError(
        absl::DataLossError(absl::StrCat(
            "malformed JSON from ", where, ": ", parsed.status().message(),
            "; the body starts with: ", JsonQuote(Excerpt(body)))),
        kHttpError, 200, body);
  }
  return parsed;
}

// The response body parsed, or the transfer's error.
absl::StatusOr<google::protobuf::Value> ParseResponse(
    const std::string& where, const absl::StatusOr<std::string>& body) {
  if (!body.ok()) return body.status();
  return ParseBody(where, *body);
}

}  // namespace

void OpenAIModel::CountUsage(const google::protobuf::Value& response) {
  prompt_tokens_ += UsageTokens(response, "prompt_tokens").value_or(0);
  completion_tokens_ += UsageTokens(response, "completion_tokens").value_or(0);
}

void OpenAIModel::Generate(const Prompt& prompt, TextCallback done) {
  const bool chat = settings_.chat;
  const std::string endpoint = chat ? "/chat/completions" : "/completions";
  std::string body =
      chat ? ChatBody(settings_.generation, ApiMessages(prompt))
           : CompletionsBody(settings_.generation, FlattenPrompt(prompt));
  const std::string where = absl::StrCat("POST ", settings_.base_url, endpoint);
  Post(
      endpoint, std::move(body), 0, 0,
      [this, chat, where,
       done = std::move(done)](absl::StatusOr<std::string> body) {
        absl::StatusOr<google::protobuf::Value> parsed =
            ParseResponse(where, body);
        if (!parsed.ok()) {
          done(parsed.status());
          return;
        }
        CountUsage(*parsed);
        absl::StatusOr<std::string> text = CompletionText(*parsed, chat);
        if (!text.ok()) {
          done(absl::DataLossError(absl::StrCat(
              "unexpected response from ", where, ": ", text.status().message(),
              "; the body starts with: ", JsonQuote(Excerpt(*body)))));
          return;
        }
        done(std::move(text));
      });
}

absl::Status OpenAIModel::CannotScore(const absl::Status& why,
                                      const std::string& body) const {
  return WithTaskError(
      absl::FailedPreconditionError(absl::StrCat(
          "model ", settings_.abbr, ": the server at ", settings_.base_url,
          " does not return prompt log-probabilities (", why.message(),
          "); PPLInferencer needs a server that echoes the prompt with "
          "logprobs (vLLM, LMDeploy, SGLang do; llama.cpp's llama-server "
          "does not)")),
      kUnsupportedServer, 200, body);
}

void OpenAIModel::Score(const std::string& text, ScoreCallback done) {
  ScoreWith(text, score_max_tokens_, std::move(done));
}

void OpenAIModel::ScoreWith(const std::string& text, int max_tokens,
                            ScoreCallback done) {
  const std::string where =
      absl::StrCat("POST ", settings_.base_url, "/completions");
  auto shared_done = std::make_shared<ScoreCallback>(std::move(done));
  // vLLM and OpenAI accept max_tokens 0 with echo; some servers refuse it
  // with 400, and then get 1 (whose one generated token is dropped).
  FallbackFn fallback = nullptr;
  if (max_tokens == 0) {
    fallback = [this, text, shared_done](long status) {
      if (status != 400 && status != 422) return false;
      score_max_tokens_ = 1;
      ScoreWith(text, 1, std::move(*shared_done));
      return true;
    };
  }
  Post(
      "/completions", ScoreBody(settings_.generation.model, text, max_tokens),
      0, 0,
      [this, where, text, max_tokens,
       shared_done](absl::StatusOr<std::string> body) {
        ScoreCallback& done = *shared_done;
        absl::StatusOr<google::protobuf::Value> parsed =
            ParseResponse(where, body);
        if (!parsed.ok()) {
          done(parsed.status());
          return;
        }
        CountUsage(*parsed);
        absl::StatusOr<std::vector<double>> logprobs = TokenLogprobs(*parsed);
        absl::Status covered =
            logprobs.ok() ? CheckPromptCovered(*parsed, text, max_tokens)
                          : logprobs.status();
        if (covered.ok()) {
          // The tokens generated after the prompt are not part of its score.
          const size_t generated = std::min(
              logprobs->size(), static_cast<size_t>(std::max(max_tokens, 0)));
          logprobs->resize(logprobs->size() - generated);
          if (logprobs->empty()) {
            covered = absl::FailedPreconditionError(
                "echo ignored: no log-probability for the prompt's tokens");
          }
        }
        if (!covered.ok()) {
          done(CannotScore(covered, *body));
          return;
        }
        done(Perplexity(*logprobs));
      },
      std::move(fallback));
}

}  // namespace ocx::task
