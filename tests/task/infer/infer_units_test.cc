// The pure parts of ocx-task infer: datasets with ranges, prompt templates
// and retrievers, response parsing (both log-probability shapes), request
// bodies, and the journal that makes attempts resumable.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "datasets/row_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/evaluation_spec.h"
#include "task/infer/journal.h"
#include "task/json/json.h"
#include "task/model/openai_api.h"
#include "task/model/openai_model.h"
#include "task/prompt/prompt_builder.h"
#include "task/prompt/prompt_template.h"

namespace ocx::task {
namespace {

using ::google::protobuf::Value;
using ::ocx::datasets::LoadTestRows;
using ::ocx::datasets::LoadTrainRows;
using ::ocx::datasets::ParseRows;
using ::ocx::datasets::SelectIndices;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ocx-infer-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

Value Json(const std::string& text) {
  absl::StatusOr<Value> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status() << " in " << text;
  return v.ok() ? *v : Value();
}

// A dataset as a config file writes it (the spec loader's YAML).
ocx::v1::DatasetConfig Dataset(const std::string& yaml) {
  auto spec = spec::LoadEvaluationSpec(
      absl::StrCat("models: [{abbr: m}]\ndatasets:\n  - ", yaml, "\n"));
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? spec->datasets(0) : ocx::v1::DatasetConfig();
}

std::vector<std::string> Column(const std::vector<Row>& rows,
                                const std::string& column) {
  std::vector<std::string> out;
  for (const Row& r : rows) out.push_back(CellText(*Member(r, column)));
  return out;
}

// --- datasets -------------------------------------------------------------

// Excerpts of server answers go into error messages and gRPC statuses,
// which must be valid UTF-8: a cut never splits a character.
TEST(ExcerptTest, CutsOnACharacterBoundary) {
  EXPECT_EQ(Excerpt("short", 200), "short");
  EXPECT_EQ(Excerpt("abcdef", 3), "abc...");
  // "é" is 2 bytes and "好" 3: a cut inside either backs up to its start.
  EXPECT_EQ(Excerpt("a\xC3\xA9b", 2), "a...");
  EXPECT_EQ(Excerpt("\xE5\xA5\xBDxyz", 2), "...");
  EXPECT_EQ(Excerpt("\xE5\xA5\xBDxyz", 3), "\xE5\xA5\xBD...");
}

TEST(SelectIndicesTest, FollowsTheRangeGrammar) {
  EXPECT_THAT(*SelectIndices("", 4), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(*SelectIndices("[1:3]", 5), ElementsAre(1, 2));
  EXPECT_THAT(*SelectIndices("[::-2]", 5), ElementsAre(4, 2, 0));
  EXPECT_THAT(*SelectIndices("2", 5), ElementsAre(0, 1));
  EXPECT_THAT(*SelectIndices("0", 3), ElementsAre(0, 1, 2));
  EXPECT_THAT(*SelectIndices("0.5", 5), ElementsAre(0, 1));
  // A partitioner's part of a count: the slice of the selected rows.
  EXPECT_THAT(*SelectIndices("4[2:4]", 10), ElementsAre(2, 3));
  EXPECT_THAT(*SelectIndices("[2:][::2]", 7), ElementsAre(2, 4, 6));
  EXPECT_FALSE(SelectIndices("[0:1:0]", 3).ok());
}

TEST(DatasetReaderTest, ReadsJsonlJsonAndCsvWithTheTestRange) {
  TempDir dir;
  dir.Write("d.jsonl",
            "{\"q\": \"a\", \"n\": 1}\n\n{\"q\": \"b\", \"n\": 2}\n"
            "{\"q\": \"c\", \"n\": 3}\n");
  dir.Write("d.json",
            "{\"train\": [{\"q\": \"t0\"}], \"test\": [{\"q\": "
            "\"x\"}, {\"q\": \"y\"}]}");
  dir.Write("d.csv", "q,n\n\"a, quoted\",1\nplain,2\n\"multi\nline\",3\n");
  auto jsonl =
      LoadTestRows(Dataset(absl::StrCat("{abbr: j, path: ", dir.path(),
                                        "/d.jsonl, reader_cfg: {test_range: "
                                        "'[1:]'}}")));
  ASSERT_TRUE(jsonl.ok()) << jsonl.status();
  EXPECT_THAT(Column(*jsonl, "q"), ElementsAre("b", "c"));
  EXPECT_THAT(Column(*jsonl, "n"), ElementsAre("2", "3"));
  auto json = LoadTestRows(
      Dataset(absl::StrCat("{abbr: j, path: ", dir.path(), "/d.json}")));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(Column(*json, "q"), ElementsAre("x", "y"));
  auto train = LoadTrainRows(
      Dataset(absl::StrCat("{abbr: j, path: ", dir.path(), "/d.json}")));
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_THAT(Column(*train, "q"), ElementsAre("t0"));
  auto csv = LoadTestRows(Dataset(absl::StrCat(
      "{abbr: c, path: ", dir.path(), "/d.csv, reader_cfg: {test_range: 2}}")));
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_THAT(Column(*csv, "q"), ElementsAre("a, quoted", "plain"));
  auto all = LoadTestRows(
      Dataset(absl::StrCat("{abbr: c, path: ", dir.path(), "/d.csv}")));
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Column(*all, "q"),
              ElementsAre("a, quoted", "plain", "multi\nline"));
}

TEST(DatasetReaderTest, ErrorsNameTheFileAndLine) {
  TempDir dir;
  dir.Write("bad.jsonl", "{\"q\": 1}\n{\"q\": \n");
  auto rows = LoadTestRows(
      Dataset(absl::StrCat("{abbr: b, path: ", dir.path(), "/bad.jsonl}")));
  ASSERT_FALSE(rows.ok());
  EXPECT_THAT(std::string(rows.status().message()),
              HasSubstr(dir.path() + "/bad.jsonl:2:7: "));
  auto missing = LoadTestRows(
      Dataset(absl::StrCat("{abbr: b, path: ", dir.path(), "/none.jsonl}")));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("none.jsonl"));
  auto empty = ParseRows("", datasets::DatasetFormat::kJsonl, "test");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// --- prompts --------------------------------------------------------------

TEST(PromptTemplateTest, PlainStringFillsColumnsInOnePass) {
  auto t = PromptTemplate::Parse(Json("\"Q: {q}\\nA: {a}\""), "tmpl");
  ASSERT_TRUE(t.ok());
  // A value that looks like a placeholder is never expanded again.
  Prompt p = t->Render({{"{q}", "what is {a}?"}, {"{a}", ""}});
  EXPECT_FALSE(p.is_chat);
  EXPECT_EQ(p.text, "Q: what is {a}?\nA: ");
  EXPECT_EQ(PromptJson(p), "\"Q: what is {a}?\\nA: \"");
}

TEST(PromptTemplateTest, ChatRoundsRenderForBothApis) {
  auto t = PromptTemplate::Parse(Json(R"({"begin": "Be brief.", "round": [
                {"role": "HUMAN", "prompt": "{q}"},
                {"role": "BOT", "prompt": "{a}"}]})"),
                                 "tmpl");
  ASSERT_TRUE(t.ok()) << t.status();
  Prompt p = t->Render({{"{q}", "2+2?"}, {"{a}", ""}});
  ASSERT_TRUE(p.is_chat);
  EXPECT_EQ(FlattenPrompt(p), "Be brief.\n2+2?");
  EXPECT_EQ(PromptJson(p), R"([{"role":"system","content":"Be brief."},)"
                           R"({"role":"user","content":"2+2?"}])");
  auto bad = PromptTemplate::Parse(
      Json(R"({"round": [{"role": "USER", "prompt": "x"}]})"), "t");
  EXPECT_EQ(bad.status().message(),
            "t.round[0].role: unknown role \"USER\" (known: HUMAN, BOT, "
            "SYSTEM)");
  EXPECT_FALSE(PromptTemplate::Parse(Json("[1]"), "t").ok());
}

TEST(PromptBuilderTest, FixKRetrieverPlacesExamplesAtTheIceToken) {
  auto d = Dataset(
      "{abbr: d, reader_cfg: {input_columns: [q], output_column: a}, "
      "infer_cfg: {ice_template: {template: \"Q: {q}\\nA: {a}\"}, "
      "prompt_template: {template: \"</E>Q: {q}\\nA:\", ice_token: '</E>'}, "
      "retriever: {type: FixKRetriever, fix_id_list: [1, 0]}, "
      "inferencer: {type: GenInferencer}}}");
  std::vector<Row> train = {Json(R"({"q": "1+1", "a": 2})"),
                            Json(R"({"q": "2+3", "a": "5"})")};
  auto b = PromptBuilder::Create(d, /*ppl=*/false, train);
  ASSERT_TRUE(b.ok()) << b.status();
  auto p = b->GenPrompt(Json(R"({"q": "4+4", "a": "8"})"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->text, "Q: 2+3\nA: 5\nQ: 1+1\nA: 2\nQ: 4+4\nA:");
  auto out_of_range = Dataset(
      "{abbr: d, infer_cfg: {prompt_template: {template: '{q}'}, "
      "retriever: {type: FixKRetriever, fix_id_list: [0, 5]}}}");
  EXPECT_EQ(
      PromptBuilder::Create(out_of_range, false, train).status().message(),
      "infer_cfg.retriever.fix_id_list[1]: example 5 is outside the "
      "train split's 2 rows");
  auto no_column = PromptBuilder::Create(
      Dataset("{abbr: d, reader_cfg: {input_columns: [x]}, infer_cfg: "
              "{prompt_template: {template: '{x}'}}}"),
      false, {});
  ASSERT_TRUE(no_column.ok());
  EXPECT_THAT(
      std::string(no_column->GenPrompt(Json("{\"q\": 1}")).status().message()),
      HasSubstr("no input column \"x\""));
}

TEST(PromptBuilderTest, PplLabelsComeFromTheInferencerOrSortedKeys) {
  auto d = Dataset(
      "{abbr: d, reader_cfg: {input_columns: [s]}, infer_cfg: "
      "{prompt_template: {template: {B: '{s} no', A: '{s} yes'}}, "
      "inferencer: {type: PPLInferencer}}}");
  auto b = PromptBuilder::Create(d, /*ppl=*/true, {});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->labels(), ElementsAre("A", "B"));
  EXPECT_EQ(FlattenPrompt(*b->LabelPrompt(Json("{\"s\": \"ok?\"}"), 1)),
            "ok? no");
  d.mutable_infer_cfg()->mutable_inferencer()->add_labels("B");
  d.mutable_infer_cfg()->mutable_inferencer()->add_labels("C");
  EXPECT_EQ(PromptBuilder::Create(d, true, {}).status().message(),
            "infer_cfg.inferencer.labels[1]: label \"C\" has no template in "
            "infer_cfg.prompt_template.template");
  auto not_map =
      Dataset("{abbr: d, infer_cfg: {prompt_template: {template: '{s}'}}}");
  EXPECT_EQ(PromptBuilder::Create(not_map, true, {}).status().message(),
            "infer_cfg.prompt_template.template: must map each label to its "
            "template for PPLInferencer");
}

// --- the OpenAI API -------------------------------------------------------

TEST(OpenAiApiTest, ParsesLegacyLogprobs) {
  auto lp = TokenLogprobs(Json(R"({"choices": [{"text": "a b c", "logprobs":
      {"tokens": ["a", " b", " c"], "token_logprobs": [null, -1.0, -3.0]}}]})"));
  ASSERT_TRUE(lp.ok()) << lp.status();
  EXPECT_THAT(*lp, ElementsAre(-1.0, -3.0));
  EXPECT_DOUBLE_EQ(Perplexity(*lp), std::exp(2.0));
}

TEST(OpenAiApiTest, ParsesContentLogprobs) {
  auto lp = TokenLogprobs(Json(R"({"choices": [{"logprobs": {"content": [
      {"token": "a", "logprob": null}, {"token": " b", "logprob": -0.5},
      {"token": " c", "logprob": -1.5}]}}]})"));
  ASSERT_TRUE(lp.ok()) << lp.status();
  EXPECT_THAT(*lp, ElementsAre(-0.5, -1.5));
  EXPECT_DOUBLE_EQ(Perplexity(*lp), std::exp(1.0));
}

TEST(OpenAiApiTest, NoLogprobsMeansTheServerCannotScore) {
  for (const char* body :
       {R"({"choices": [{"text": "x", "logprobs": null}]})",
        R"({"choices": [{"text": "x"}]})",
        R"({"choices": [{"logprobs": {"token_logprobs": [null]}}]})"}) {
    auto lp = TokenLogprobs(Json(body));
    EXPECT_EQ(lp.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(lp.status().message()),
                HasSubstr("cannot score prompts"));
  }
}

// A server that ignores echo (llama.cpp's llama-server) returns the
// log-probabilities of generated tokens only: scoring them would be wrong.
TEST(OpenAiApiTest, LogprobsOfGeneratedTokensOnlyDoNotCoverThePrompt) {
  // llama-server: one generated token, usage says the prompt had 12.
  absl::Status s = CheckPromptCovered(
      Json(R"({"choices": [{"text": " the", "logprobs": {"content": [
          {"token": " the", "logprob": -0.7}]}}],
          "usage": {"prompt_tokens": 12, "completion_tokens": 1}})"),
      "Once upon a time there was a little girl", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "echo ignored: 1 log-probability for a 12-token prompt");
  // Legacy shape without echo: offsets start after the prompt.
  s = CheckPromptCovered(
      Json(R"({"choices": [{"text": " x", "logprobs": {"tokens": [" x"],
          "token_logprobs": [-1.0], "text_offset": [5]}}]})"),
      "hello", 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("text offset 5"));
  // No usage, no offsets: the text is not the echoed prompt.
  s = CheckPromptCovered(
      Json(R"({"choices": [{"text": " x", "logprobs": {"content": [
          {"token": " x", "logprob": -1.0}]}}]})"),
      "hello", 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("does not start with"));
}

TEST(OpenAiApiTest, AnEchoedPromptIsCovered) {
  // vLLM: every prompt token (the first one's null) and max_tokens 0.
  EXPECT_TRUE(
      CheckPromptCovered(Json(R"({"choices": [{"text": "a b c", "logprobs": {
          "tokens": ["a", " b", " c"], "token_logprobs": [null, -1.0, -3.0],
          "text_offset": [0, 1, 3]}}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 0}})"),
                         "a b c", 0)
          .ok());
  // One generated token after the echo (a server that refused max_tokens 0).
  EXPECT_TRUE(
      CheckPromptCovered(Json(R"({"choices": [{"text": "a b c d", "logprobs": {
          "token_logprobs": [null, -1.0, -3.0, -2.0]}}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 1}})"),
                         "a b c", 1)
          .ok());
  // A BOS token counted in usage but not echoed.
  EXPECT_TRUE(
      CheckPromptCovered(Json(R"({"choices": [{"text": "a b c", "logprobs": {
          "token_logprobs": [null, -1.0, -3.0]}}],
          "usage": {"prompt_tokens": 4, "completion_tokens": 0}})"),
                         "a b c", 0)
          .ok());
  // No usage, no offsets, the text starts with the prompt.
  EXPECT_TRUE(
      CheckPromptCovered(Json(R"({"choices": [{"text": "a b c", "logprobs": {
          "content": [{"logprob": null}, {"logprob": -1.0}]}}]})"),
                         "a b c", 0)
          .ok());
}

TEST(OpenAiApiTest, ReadsTextAndErrors) {
  EXPECT_EQ(*CompletionText(Json(R"({"choices": [{"text": " hi"}]})"), false),
            " hi");
  EXPECT_EQ(*CompletionText(
                Json(R"({"choices": [{"message": {"content": "yo"}}]})"), true),
            "yo");
  EXPECT_FALSE(CompletionText(Json(R"({"choices": []})"), false).ok());
  EXPECT_EQ(ServerErrorMessage(R"({"error": {"message": "bad key"}})"),
            "bad key");
  EXPECT_EQ(ServerErrorMessage("<html>oops"), "<html>oops");
}

TEST(OpenAiApiTest, RequestBodiesCarrySettingsAndKwargs) {
  GenerationSettings s;
  s.model = "m";
  s.max_out_len = 7;
  s.temperature = 0;
  (*s.extra.mutable_fields())["top_p"].set_number_value(0.5);
  (*s.extra.mutable_fields())["max_tokens"].set_number_value(9);
  EXPECT_EQ(CompletionsBody(s, "hi"),
            R"({"max_tokens":9,"model":"m","prompt":"hi","temperature":0,)"
            R"("top_p":0.5})");
  EXPECT_EQ(ChatBody(s, {{"user", "q"}}),
            R"({"max_tokens":9,"messages":[{"content":"q","role":"user"}],)"
            R"("model":"m","temperature":0,"top_p":0.5})");
  Value score = Json(ScoreBody("m", "a \"b\"", 0));
  EXPECT_TRUE(Member(score, "echo")->bool_value());
  EXPECT_EQ(Member(score, "prompt")->string_value(), "a \"b\"");
  EXPECT_EQ(Member(score, "max_tokens")->number_value(), 0);
}

TEST(ModelSettingsTest, ReadsTheConfigAndTheKeyFromTheEnvironment) {
  ocx::v1::ModelConfig m;
  m.set_abbr("m");
  m.set_type("OpenAISDK");
  m.set_path("served");
  m.set_openai_api_base("http://h:1/v1/");
  m.set_key_env("MY_KEY");
  m.set_max_out_len(64);
  auto env = [](const char* name) -> const char* {
    return std::string(name) == "MY_KEY" ? "sk-123" : nullptr;
  };
  auto s = SettingsFromConfig(m, 0, env);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->base_url, "http://h:1/v1");
  EXPECT_EQ(s->api_key, "sk-123");
  EXPECT_TRUE(s->chat);
  EXPECT_EQ(s->generation.max_out_len, 64);
  EXPECT_EQ(SettingsFromConfig(m, 5, env)->generation.max_out_len, 5);
  m.set_key_env("OTHER");
  EXPECT_EQ(SettingsFromConfig(m, 0, env).status().message(),
            "model.key_env: the environment variable OTHER that should hold "
            "the API key is not set");
  m.clear_key_env();
  m.clear_openai_api_base();
  EXPECT_THAT(std::string(SettingsFromConfig(m, 0, env).status().message()),
              HasSubstr("model.openai_api_base: required"));
  m.set_type("HuggingFaceCausalLM");
  EXPECT_THAT(std::string(SettingsFromConfig(m, 0, env).status().message()),
              HasSubstr("model.type:"));
}

// The daemon routes a managed model's task to a replica through
// OCX_OPENAI_API_BASE; it wins over the config's base URL.
TEST(OpenAIModelSettingsTest, RoutedBaseUrlOverridesTheConfig) {
  ocx::v1::ModelConfig m;
  m.set_type("OpenAISDK");
  auto routed = [](const char* name) -> const char* {
    return std::string(name) == "OCX_OPENAI_API_BASE"
               ? "http://127.0.0.1:20001/v1/"
               : nullptr;
  };
  auto s = SettingsFromConfig(m, 0, routed);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->base_url, "http://127.0.0.1:20001/v1");
  m.set_openai_api_base("http://h:1/v1");
  EXPECT_EQ(SettingsFromConfig(m, 0, routed)->base_url,
            "http://127.0.0.1:20001/v1");
}

// --- journal --------------------------------------------------------------

TEST(JournalTest, ResumesCompleteLinesAndDropsATornOne) {
  TempDir dir;
  const std::string path = dir.path() + "/j/part.jsonl";
  {
    auto j = Journal::Open(path, "fp1");
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_TRUE((*j)->records().empty());
    ASSERT_TRUE((*j)->Append(0, "{\"p\":0}").ok());
    ASSERT_TRUE((*j)->Append(2, "{\"p\":2}").ok());
  }
  // A write cut short by kill -9.
  {
    std::ofstream out(path, std::ios::app);
    out << "1\t{\"p\":";
  }
  {
    auto j = Journal::Open(path, "fp1");
    ASSERT_TRUE(j.ok());
    ASSERT_EQ((*j)->records().size(), 2u);
    EXPECT_EQ((*j)->records().at(2), "{\"p\":2}");
    ASSERT_TRUE((*j)->Append(1, "{\"p\":1}").ok());
  }
  auto j = Journal::Open(path, "fp1");
  ASSERT_TRUE(j.ok());
  ASSERT_EQ((*j)->records().size(), 3u);
  EXPECT_EQ((*j)->records().at(1), "{\"p\":1}");
  ASSERT_TRUE((*j)->Remove().ok());
  EXPECT_FALSE(PathExists(path));
}

TEST(JournalTest, AnotherFingerprintDiscardsTheJournal) {
  TempDir dir;
  const std::string path = dir.path() + "/part.jsonl";
  {
    auto j = Journal::Open(path, "old");
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append(0, "{}").ok());
  }
  auto j = Journal::Open(path, "new");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE((*j)->records().empty());
  EXPECT_EQ(*ReadFile(path), "ocx-journal v1 new\n");
}

}  // namespace
}  // namespace ocx::task
