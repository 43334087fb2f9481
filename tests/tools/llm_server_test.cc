// The real-model test server answers like an OpenAI-compatible server with
// the real stories260K model behind it, and each fault flag does what the
// tests of ocx-task rely on.
#include "tests/tools/llm_server.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace ocx::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kPrompt[] = "Once upon a time, there was a little";
// From ../shared/models/README.md.
constexpr char kGreedy[] =
    " girl named Lily. She loved to play outside in the park. One day";

Struct ParseJson(const std::string& text) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(text, &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << text;
  return s;
}

HttpResult Post(const LlmServer& server, const std::string& endpoint,
                const std::string& body,
                const std::vector<std::string>& headers = {}) {
  auto r = HttpCall("POST", server.base_url() + endpoint, body, headers);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : HttpResult{};
}

std::string GreedyBody(const std::string& prompt, int max_tokens) {
  Struct req;
  (*req.mutable_fields())["prompt"].set_string_value(prompt);
  (*req.mutable_fields())["max_tokens"].set_number_value(max_tokens);
  (*req.mutable_fields())["temperature"].set_number_value(0);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(req, &out);
  return out;
}

std::string ErrorMessage(const std::string& body) {
  Struct s = ParseJson(body);
  return s.fields()
      .at("error")
      .struct_value()
      .fields()
      .at("message")
      .string_value();
}

class LlmServerTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args = {}) {
    absl::Status s = server_.Start(std::move(args));
    ASSERT_TRUE(s.ok()) << s;
  }
  LlmServer server_;
};

TEST_F(LlmServerTest, ModelFileIsFoundAndVerified) {
  auto path = LlmServer::ModelPath();
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_TRUE(absl::EndsWith(*path, "stories260K.gguf")) << *path;
}

TEST_F(LlmServerTest, ListsTheModel) {
  Start();
  EXPECT_TRUE(absl::StartsWith(server_.base_url(), "http://127.0.0.1:"));
  EXPECT_GT(server_.port(), 0);
  auto r = HttpCall("GET", server_.base_url() + "/models");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  Struct s = ParseJson(r->body);
  const auto& data = s.fields().at("data").list_value();
  ASSERT_EQ(data.values_size(), 1);
  EXPECT_EQ(data.values(0).struct_value().fields().at("id").string_value(),
            "stories260K");
}

TEST_F(LlmServerTest, GreedyCompletionIsTheReadmeContinuation) {
  Start();
  HttpResult r = Post(server_, "/completions", GreedyBody(kPrompt, 24));
  ASSERT_EQ(r.status, 200) << r.body;
  Struct s = ParseJson(r.body);
  const auto& choice =
      s.fields().at("choices").list_value().values(0).struct_value();
  EXPECT_TRUE(
      absl::StartsWith(choice.fields().at("text").string_value(), kGreedy))
      << choice.fields().at("text").string_value();
  EXPECT_EQ(choice.fields().at("finish_reason").string_value(), "length");
  const auto& usage = s.fields().at("usage").struct_value().fields();
  EXPECT_EQ(usage.at("prompt_tokens").number_value(), 9);
  EXPECT_EQ(usage.at("completion_tokens").number_value(), 24);
  EXPECT_EQ(usage.at("total_tokens").number_value(), 33);

  // The same request again gives the same text: greedy and one thread.
  HttpResult again = Post(server_, "/completions", GreedyBody(kPrompt, 24));
  Struct s2 = ParseJson(again.body);
  EXPECT_EQ(s2.fields()
                .at("choices")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("text")
                .string_value(),
            choice.fields().at("text").string_value());
}

TEST_F(LlmServerTest, StopSequenceEndsTheText) {
  Start();
  HttpResult r = Post(server_, "/completions",
                      R"({"prompt":"Once upon a time, there was a little",)"
                      R"("max_tokens":40,"temperature":0,"stop":["."]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Struct s = ParseJson(r.body);
  const auto& choice =
      s.fields().at("choices").list_value().values(0).struct_value().fields();
  EXPECT_EQ(choice.at("text").string_value(), " girl named Lily");
  EXPECT_EQ(choice.at("finish_reason").string_value(), "stop");
}

double SumLogprobs(const Struct& response, int* count) {
  const auto& lp = response.fields()
                       .at("choices")
                       .list_value()
                       .values(0)
                       .struct_value()
                       .fields()
                       .at("logprobs")
                       .struct_value();
  const auto& values = lp.fields().at("token_logprobs").list_value().values();
  double sum = 0;
  *count = values.size();
  for (int i = 1; i < values.size(); ++i) sum += values[i].number_value();
  return sum;
}

TEST_F(LlmServerTest, EchoLogprobsScoreEveryPromptToken) {
  Start();
  const std::string prompt = "Once upon a time, there was a little girl.";
  HttpResult r =
      Post(server_, "/completions",
           absl::StrCat(R"({"prompt":")", prompt,
                        R"(","max_tokens":0,"echo":true,"logprobs":1})"));
  ASSERT_EQ(r.status, 200) << r.body;
  Struct s = ParseJson(r.body);
  const auto& choice =
      s.fields().at("choices").list_value().values(0).struct_value().fields();
  EXPECT_EQ(choice.at("text").string_value(), prompt);
  const auto& lp = choice.at("logprobs").struct_value().fields();
  const auto& tokens = lp.at("tokens").list_value().values();
  const auto& logprobs = lp.at("token_logprobs").list_value().values();
  const auto& offsets = lp.at("text_offset").list_value().values();
  const int prompt_tokens = s.fields()
                                .at("usage")
                                .struct_value()
                                .fields()
                                .at("prompt_tokens")
                                .number_value();
  ASSERT_GT(prompt_tokens, 5);
  ASSERT_EQ(tokens.size(), prompt_tokens);
  ASSERT_EQ(logprobs.size(), prompt_tokens);
  ASSERT_EQ(offsets.size(), prompt_tokens);
  EXPECT_TRUE(logprobs[0].has_null_value());
  std::string joined;
  for (int i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(offsets[i].number_value(), joined.size()) << i;
    joined += tokens[i].string_value();
    if (i == 0) continue;
    // A log-probability; this easy text is likely under the model.
    EXPECT_LE(logprobs[i].number_value(), 0) << i;
    EXPECT_GT(logprobs[i].number_value(), -12) << i;
  }
  EXPECT_EQ(joined, prompt);

  // The model prefers the natural sentence to the same words shuffled.
  int n_shuffled = 0;
  int n_natural = 0;
  HttpResult shuffled =
      Post(server_, "/completions",
           R"({"prompt":"Once upon girl time, little was a there a.",)"
           R"("max_tokens":0,"echo":true,"logprobs":0})");
  ASSERT_EQ(shuffled.status, 200) << shuffled.body;
  double natural_sum = SumLogprobs(s, &n_natural);
  double shuffled_sum = SumLogprobs(ParseJson(shuffled.body), &n_shuffled);
  EXPECT_GT(natural_sum / n_natural, shuffled_sum / n_shuffled + 1.0)
      << natural_sum << " vs " << shuffled_sum;
}

TEST_F(LlmServerTest, ChatRendersMessagesAsPlainText) {
  Start();
  HttpResult r = Post(
      server_, "/chat/completions",
      absl::StrCat(R"({"messages":[{"role":"user","content":")", kPrompt,
                   R"("}],"max_tokens":24,"temperature":0,"logprobs":true,)",
                   R"("top_logprobs":2})"));
  ASSERT_EQ(r.status, 200) << r.body;
  Struct s = ParseJson(r.body);
  const auto& choice =
      s.fields().at("choices").list_value().values(0).struct_value().fields();
  EXPECT_TRUE(absl::StartsWith(
      choice.at("message").struct_value().fields().at("content").string_value(),
      kGreedy));
  // llama.cpp's shape: one entry per generated token, greedy = the top one.
  const auto& content =
      choice.at("logprobs").struct_value().fields().at("content").list_value();
  ASSERT_EQ(content.values_size(), 24);
  const auto& first = content.values(0).struct_value().fields();
  EXPECT_EQ(first.at("token").string_value(), " g");
  const auto& top = first.at("top_logprobs").list_value();
  ASSERT_EQ(top.values_size(), 2);
  EXPECT_EQ(top.values(0).struct_value().fields().at("logprob").number_value(),
            first.at("logprob").number_value());
}

TEST_F(LlmServerTest, ServesConcurrentClients) {
  Start();
  constexpr int kClients = 8;
  std::vector<std::string> texts(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto r = HttpCall("POST", server_.base_url() + "/completions",
                        GreedyBody(kPrompt, 16));
      if (r.ok() && r->status == 200) {
        texts[i] = ParseJson(r->body)
                       .fields()
                       .at("choices")
                       .list_value()
                       .values(0)
                       .struct_value()
                       .fields()
                       .at("text")
                       .string_value();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& t : texts) {
    EXPECT_TRUE(absl::StartsWith(kGreedy, t)) << t;
    EXPECT_FALSE(t.empty());
  }
}

TEST_F(LlmServerTest, FailFirstAnswersWithTheStatusThenServes) {
  Start({"--fail-first", "2", "--fail-status", "429"});
  for (int i = 0; i < 2; ++i) {
    HttpResult r = Post(server_, "/completions", GreedyBody(kPrompt, 4));
    EXPECT_EQ(r.status, 429);
    EXPECT_TRUE(
        absl::StrContains(absl::AsciiStrToLower(r.headers), "retry-after: 0"))
        << r.headers;
    EXPECT_TRUE(absl::StrContains(ErrorMessage(r.body), "injected failure"));
  }
  EXPECT_EQ(Post(server_, "/completions", GreedyBody(kPrompt, 4)).status, 200);
}

TEST_F(LlmServerTest, DieAfterKillsTheServerBeforeAnswering) {
  Start({"--die-after", "1"});
  EXPECT_EQ(Post(server_, "/completions", GreedyBody(kPrompt, 4)).status, 200);
  auto r = HttpCall("POST", server_.base_url() + "/completions",
                    GreedyBody(kPrompt, 4));
  EXPECT_FALSE(r.ok()) << r->status << " " << r->body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_.running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(server_.running());
}

TEST_F(LlmServerTest, ApiKeyIsRequired) {
  Start({"--api-key", "sk-test-123"});
  HttpResult none = Post(server_, "/completions", GreedyBody(kPrompt, 4));
  EXPECT_EQ(none.status, 401);
  EXPECT_TRUE(absl::StrContains(ErrorMessage(none.body), "API key"));
  HttpResult wrong = Post(server_, "/completions", GreedyBody(kPrompt, 4),
                          {"Authorization: Bearer nope"});
  EXPECT_EQ(wrong.status, 401);
  HttpResult right = Post(server_, "/completions", GreedyBody(kPrompt, 4),
                          {"Authorization: Bearer sk-test-123"});
  EXPECT_EQ(right.status, 200) << right.body;
}

TEST_F(LlmServerTest, MalformedAnswersTruncatedJson) {
  Start({"--malformed"});
  HttpResult r = Post(server_, "/completions", GreedyBody(kPrompt, 4));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(absl::StartsWith(r.body, "{")) << r.body;
  Struct s;
  EXPECT_FALSE(google::protobuf::util::JsonStringToMessage(r.body, &s).ok())
      << r.body;
}

TEST_F(LlmServerTest, NoLogprobsIgnoresEchoAndLogprobs) {
  Start({"--no-logprobs"});
  HttpResult r = Post(server_, "/completions",
                      absl::StrCat(R"({"prompt":")", kPrompt,
                                   R"(","max_tokens":3,"temperature":0,)",
                                   R"("echo":true,"logprobs":1})"));
  ASSERT_EQ(r.status, 200) << r.body;
  Struct s = ParseJson(r.body);
  const auto& choice =
      s.fields().at("choices").list_value().values(0).struct_value().fields();
  EXPECT_TRUE(choice.at("logprobs").has_null_value());
  EXPECT_EQ(choice.at("text").string_value(), " girl");
}

// As llama.cpp's llama-server: echo ignored, at least one token generated
// even for max_tokens 0, log-probabilities for the generated tokens only.
TEST_F(LlmServerTest, LlamaServerLogprobsScoreOnlyGeneratedTokens) {
  Start({"--llama-server-logprobs"});
  HttpResult r = Post(server_, "/completions",
                      absl::StrCat(R"({"prompt":")", kPrompt,
                                   R"(","max_tokens":0,"temperature":0,)",
                                   R"("echo":true,"logprobs":1})"));
  ASSERT_EQ(r.status, 200) << r.body;
  Struct s = ParseJson(r.body);
  const auto& choice =
      s.fields().at("choices").list_value().values(0).struct_value().fields();
  // One token of the " girl" that NoLogprobsIgnoresEchoAndLogprobs gets in 3.
  EXPECT_EQ(choice.at("text").string_value(), " g");
  const auto& content =
      choice.at("logprobs").struct_value().fields().at("content").list_value();
  ASSERT_EQ(content.values_size(), 1);
  const auto& entry = content.values(0).struct_value().fields();
  EXPECT_EQ(entry.at("token").string_value(), " g");
  EXPECT_LT(entry.at("logprob").number_value(), 0);
  const auto& usage = s.fields().at("usage").struct_value().fields();
  EXPECT_EQ(usage.at("completion_tokens").number_value(), 1);
  EXPECT_GT(usage.at("prompt_tokens").number_value(), 1);
}

TEST_F(LlmServerTest, RequestLogHasOneLinePerPost) {
  char tmpl[] = "/tmp/ocx-llm-log.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  Start({"--request-log", tmpl, "--fail-first", "1", "--fail-status", "503"});
  Post(server_, "/completions", GreedyBody("Once upon a time", 2));
  Post(server_, "/completions", GreedyBody("Once upon a time", 2));
  Post(server_, "/chat/completions",
       R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":2})");
  std::ifstream in(tmpl);
  std::vector<Struct> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(ParseJson(line));
  }
  unlink(tmpl);
  ASSERT_EQ(lines.size(), 3);
  EXPECT_EQ(lines[0].fields().at("status").number_value(), 503);
  EXPECT_EQ(lines[0].fields().at("prompt").string_value(), "Once upon a time");
  EXPECT_EQ(lines[1].fields().at("status").number_value(), 200);
  EXPECT_EQ(lines[1].fields().at("endpoint").string_value(), "/v1/completions");
  EXPECT_EQ(lines[2].fields().at("endpoint").string_value(),
            "/v1/chat/completions");
  EXPECT_EQ(lines[2].fields().at("messages").list_value().values_size(), 1);
}

TEST_F(LlmServerTest, UnknownModelAndBadRequestsAreClientErrors) {
  Start();
  HttpResult wrong_model =
      Post(server_, "/completions", R"({"model":"gpt-4","prompt":"Once"})");
  EXPECT_EQ(wrong_model.status, 404);
  EXPECT_TRUE(absl::StrContains(ErrorMessage(wrong_model.body), "gpt-4"));
  HttpResult not_json = Post(server_, "/completions", "{not json");
  EXPECT_EQ(not_json.status, 400);
  HttpResult no_prompt = Post(server_, "/completions", R"({"max_tokens":2})");
  EXPECT_EQ(no_prompt.status, 400);
  EXPECT_TRUE(absl::StrContains(ErrorMessage(no_prompt.body), "prompt"));
}

}  // namespace
}  // namespace ocx::testing
