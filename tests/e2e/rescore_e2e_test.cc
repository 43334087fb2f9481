// End to end with a real model: `ocxctl rescore` scores an evaluation's
// predictions again without inference. A real ocxd runs the real ocx-task
// against the real-model test server (tests/tools/llm_server.h); the server
// is then stopped, so a rescore that tried inference would fail (and the
// server's request log would grow). Nothing is mocked.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kData = std::string(OCX_SOURCE_DIR) + "/tests/data/";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t Lines(const std::string& text) {
  std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  return lines.size();
}

class RescoreE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start({"--request-log", request_log()}).ok());
    daemon_ = std::make_unique<OcxdProcess>(dir_.path());
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }

  std::string request_log() const { return dir_.path() + "/requests.jsonl"; }
  std::string work_dir() const { return dir_.path() + "/out"; }

  // story-gen (20 greedy generations, exact match), and story-choice (30
  // samples x 3 labels by perplexity, accuracy) split in parts of 10.
  std::string Config() {
    const std::string path = dir_.path() + "/eval.yaml";
    std::ofstream(path) << absl::StrCat(
        "models:\n"
        "  - {abbr: stories260K, type: OpenAISDK, path: stories260K,\n"
        "     openai_api_base: \"",
        server_.base_url(),
        "\", api: completions, temperature: 0,\n"
        "     max_out_len: 16, retry: 0}\n"
        "datasets:\n"
        "  - abbr: story-gen\n"
        "    path: ",
        kData,
        "story_gen.jsonl\n"
        "    reader_cfg: {input_columns: [prompt], output_column: answer}\n"
        "    infer_cfg:\n"
        "      prompt_template: {type: PromptTemplate, template: "
        "\"{prompt}\"}\n"
        "      retriever: {type: ZeroRetriever}\n"
        "      inferencer: {type: GenInferencer, max_out_len: 16}\n"
        "    eval_cfg: {evaluator: {type: EMEvaluator}}\n"
        "  - abbr: story-choice\n"
        "    path: ",
        kData,
        "story_choice.jsonl\n"
        "    reader_cfg: {input_columns: [context, A, B, C], output_column: "
        "label}\n"
        "    infer_cfg:\n"
        "      prompt_template:\n"
        "        type: PromptTemplate\n"
        "        template: {A: \"{context} {A}\", B: \"{context} {B}\", "
        "C: \"{context} {C}\"}\n"
        "      retriever: {type: ZeroRetriever}\n"
        "      inferencer: {type: PPLInferencer}\n"
        "    eval_cfg: {evaluator: {type: AccEvaluator}}\n"
        "work_dir: ",
        work_dir(),
        "\n"
        "infer:\n"
        "  partitioner: {type: SizePartitioner, max_task_size: 30, "
        "gen_task_coef: 1, strategy: split}\n"
        "  runner: {type: LocalRunner, retry: 0}\n"
        "eval:\n"
        "  runner: {type: LocalRunner, retry: 0}\n");
    return path;
  }

  RunResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), OcxctlPath());
    return RunProgram(args, {"OCX_SERVER=" + daemon_->server()});
  }

  // `ocxctl -o name <args>`: the id it printed.
  std::string IdFrom(std::vector<std::string> args) {
    args.insert(args.begin(), {"-o", "name"});
    RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << daemon_->log();
    return std::string(absl::StripAsciiWhitespace(r.out));
  }

  Evaluation Wait(const std::string& id) {
    auto done = WaitForEnd(daemon_->stub(), id, 240);
    EXPECT_TRUE(done.ok()) << done.status() << daemon_->log();
    return done.ok() ? *done : Evaluation();
  }

  std::string Results(const std::string& id) {
    RunResult r = Ctl({"results", id, "--format", "csv"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // Model-server requests logged so far.
  int Requests() {
    const std::string log = Slurp(request_log());
    return static_cast<int>(std::count(log.begin(), log.end(), '\n'));
  }

  // Infer tasks done without an attempt, eval tasks run.
  void ExpectNoInference(const std::string& id) {
    int infer = 0, eval = 0;
    for (const Task& t : AllTasks(daemon_->stub(), id)) {
      EXPECT_EQ(t.state(), Task::SUCCEEDED) << t.id() << " " << t.reason();
      if (t.stage() == ocx::v1::STAGE_INFER) {
        ++infer;
        EXPECT_EQ(t.attempt_count(), 0) << t.id();
        EXPECT_THAT(t.reason(), HasSubstr("reused: predictions"));
      } else {
        ++eval;
        EXPECT_EQ(t.attempt_count(), 1) << t.id();
      }
    }
    EXPECT_GE(infer, 3);  // story-choice alone is split in 3 parts
    EXPECT_EQ(eval, 2);
  }

  TempDir dir_;
  LlmServer server_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(RescoreE2ETest, RescoresWithoutInferenceAndRefusesMissingPredictions) {
  const std::string first = IdFrom({"submit", Config()});
  ASSERT_EQ(Wait(first).state(), Evaluation::SUCCEEDED) << daemon_->log();
  const std::string scores = Results(first);
  ASSERT_THAT(scores, HasSubstr("story-gen,"));
  ASSERT_THAT(scores, ContainsRegex("story-gen,[0-9a-f]+,score,"));
  const std::string source_result =
      Slurp(work_dir() + "/results/stories260K/story-gen.json");
  server_.Stop();
  const int requests = Requests();
  ASSERT_GT(requests, 0);

  // The same evaluators: the same table, no request, no infer attempt.
  const std::string again = IdFrom({"rescore", first});
  ASSERT_NE(again, first);
  Evaluation e = Wait(again);
  ASSERT_EQ(e.state(), Evaluation::SUCCEEDED) << daemon_->log();
  EXPECT_EQ(e.rescored_from(), first);
  EXPECT_EQ(e.predictions_work_dir(), work_dir());
  EXPECT_NE(e.work_dir(), work_dir());
  ExpectNoInference(again);
  EXPECT_EQ(Results(again), scores);
  EXPECT_EQ(Requests(), requests);
  EXPECT_EQ(access((e.work_dir() + "/summary/summary.csv").c_str(), F_OK), 0);
  EXPECT_EQ(access((e.work_dir() + "/predictions").c_str(), F_OK), -1)
      << "predictions are shared, not copied";
  RunResult status = Ctl({"status", again});
  EXPECT_THAT(status.out, ContainsRegex(absl::StrCat("Rescores: +", first)));

  // Another evaluator for story-gen: its metric column changes; the other
  // dataset and the source's own results stay as they were.
  const std::string rouge =
      IdFrom({"rescore", first, "--evaluator", "story-gen=RougeEvaluator"});
  ASSERT_EQ(Wait(rouge).state(), Evaluation::SUCCEEDED) << daemon_->log();
  ExpectNoInference(rouge);
  const std::string rouge_scores = Results(rouge);
  EXPECT_THAT(rouge_scores, ContainsRegex("story-gen,[0-9a-f]+,rouge1,"));
  EXPECT_NE(rouge_scores, scores);
  for (absl::string_view line : absl::StrSplit(rouge_scores, '\n')) {
    if (absl::StartsWith(line, "story-gen")) {
      EXPECT_THAT(std::string(line), Not(HasSubstr(",score,")));
    }
    if (absl::StartsWith(line, "story-choice")) {
      EXPECT_THAT(scores, HasSubstr(std::string(line)));
    }
  }
  EXPECT_EQ(Slurp(work_dir() + "/results/stories260K/story-gen.json"),
            source_result);
  EXPECT_EQ(Results(first), scores);

  // A rescore of a rescore reads the first evaluation's predictions.
  const std::string twice = IdFrom({"rescore", rouge});
  Evaluation t = Wait(twice);
  ASSERT_EQ(t.state(), Evaluation::SUCCEEDED) << daemon_->log();
  EXPECT_EQ(t.predictions_work_dir(), work_dir());
  EXPECT_EQ(Results(twice), rouge_scores);
  EXPECT_EQ(Requests(), requests);

  // Unknown evaluator types and datasets are refused naming them.
  RunResult bad = Ctl({"rescore", first, "--evaluator", "NoSuchEvaluator"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_THAT(bad.err, HasSubstr("NoSuchEvaluator"));
  bad = Ctl({"rescore", first, "--evaluator", "nope=EMEvaluator"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_THAT(bad.err, HasSubstr("no dataset \"nope\""));

  // A deleted prediction: a clear error naming its dataset and file, and
  // nothing stored.
  const size_t evaluations = Lines(IdFrom({"list"}));
  const std::string deleted =
      work_dir() + "/predictions/stories260K/story-choice_1.json";
  ASSERT_EQ(unlink(deleted.c_str()), 0);
  RunResult missing = Ctl({"rescore", first});
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_THAT(missing.err, HasSubstr("dataset story-choice "));
  EXPECT_THAT(missing.err, HasSubstr(deleted));
  EXPECT_THAT(missing.err, HasSubstr("is missing"));
  EXPECT_EQ(Lines(IdFrom({"list"})), evaluations);
  EXPECT_EQ(Requests(), requests);
}

}  // namespace
}  // namespace ocx::testing
