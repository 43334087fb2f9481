// ocxd's /metrics: a real daemon with --http-listen on a free port runs an
// evaluation; the scrape reports its tasks, attempts and store
// transactions in the Prometheus text format, which promtool (Debian
// prometheus) accepts. A real tiny-model evaluation (ocx-task against the
// test model server) fills the infer samples and tokens counters, which
// match what the server says it served, and the dispatch latency.
#include <stdlib.h>
#include <string.h>

#include <fstream>
#include <memory>
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

using ::testing::HasSubstr;

bool HavePromtool() {
  return system("promtool --version >/dev/null 2>&1") == 0;
}

// The value of the sample line `series` ("name{labels}"); -1 when absent.
double Sample(const std::string& body, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      return std::stod(std::string(line.substr(series.size() + 1)));
    }
  }
  return -1;
}

// Checks that `promtool check metrics` finds nothing to say about `body`;
// skips the test when promtool is not installed.
void PromtoolAccepts(const std::string& dir, const std::string& body) {
  if (!HavePromtool()) {
    GTEST_SKIP() << "promtool (Debian prometheus) is not installed: the "
                    "format check did not run";
  }
  const std::string file = dir + "/metrics.txt";
  std::ofstream(file) << body;
  RunResult check = RunProgram(
      {"/bin/sh", "-c", absl::StrCat("promtool check metrics < '", file, "'")});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool lint findings";
}

TEST(MetricsE2ETest, ScrapeReportsTasksAttemptsAndTransactions) {
  TempDir dir;
  OcxdProcess daemon(dir.path(), {"--http-listen", "127.0.0.1:0"});
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  const std::string url = MetricsUrl(daemon.log());
  ASSERT_THAT(url, ::testing::StartsWith("http://127.0.0.1:")) << daemon.log();

  ocx::v1::Evaluation e =
      CreateOrFail(daemon.stub(), TestSpec(2, 1, {}, /*max_num_workers=*/2));
  absl::StatusOr<ocx::v1::Evaluation> ended =
      WaitForEnd(daemon.stub(), e.id(), 60);
  ASSERT_TRUE(ended.ok()) << ended.status();
  ASSERT_EQ(ended->state(), ocx::v1::Evaluation::SUCCEEDED) << daemon.log();
  int infer = 0, eval = 0;
  for (const ocx::v1::Task& t : AllTasks(daemon.stub(), e.id())) {
    (t.stage() == ocx::v1::STAGE_INFER ? infer : eval) += 1;
  }

  absl::StatusOr<HttpResult> scrape = HttpCall("GET", url, "", {}, 10000);
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->status, 200);
  EXPECT_THAT(scrape->headers, HasSubstr("text/plain; version=0.0.4"));
  const std::string& body = scrape->body;
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "ocx_tasks{stage=\"infer\",state=\"succeeded\"} ",
                        infer, "\n")));
  EXPECT_THAT(
      body, HasSubstr(absl::StrCat(
                "ocx_tasks{stage=\"eval\",state=\"succeeded\"} ", eval, "\n")));
  EXPECT_THAT(body,
              HasSubstr("ocx_tasks{stage=\"infer\",state=\"failed\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("ocx_evaluations{state=\"succeeded\"} 1\n"));
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "ocx_attempts_ended_total{stage=\"infer\",backend="
                        "\"local\",state=\"succeeded\",reason=\"ok\"} ",
                        infer, "\n")));
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "ocx_dispatch_latency_seconds_count{stage=\"infer\"} ",
                        infer, "\n")));
  EXPECT_THAT(body, HasSubstr("# TYPE ocx_runner_command_seconds histogram\n"));
  EXPECT_THAT(body, HasSubstr("ocx_tasks_stalled 0\n"));
  EXPECT_THAT(body, HasSubstr("ocx_stalls_total{stage=\"infer\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("ocx_queue_depth 0\n"));
  EXPECT_THAT(body,
              HasSubstr("ocx_store_transaction_seconds_bucket{le=\"+Inf\"}"));
  EXPECT_THAT(body, HasSubstr("ocx_dispatcher_turn_seconds_count "));
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "ocx_attempt_duration_seconds_count{stage=\"infer\","
                        "state=\"succeeded\"} ",
                        infer, "\n")));
  EXPECT_THAT(body, HasSubstr("\nprocess_resident_memory_bytes "));
  EXPECT_THAT(body, HasSubstr("\nprocess_open_fds "));

  PromtoolAccepts(dir.path(), body);
}

// A tiny-model evaluation (examples/tiny-model.yaml's story-gen dataset,
// 20 samples, one infer task) against the real test model server.
TEST(MetricsE2ETest, TinyModelEvaluationCountsSamplesTokensAndLatency) {
  TempDir dir;
  LlmServer server;
  absl::Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  OcxdProcess daemon(dir.path(), {"--http-listen", "127.0.0.1:0"});
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  const std::string url = MetricsUrl(daemon.log());
  const std::string config = dir.path() + "/eval.yaml";
  std::ofstream(config) << absl::StrCat(
      "models:\n"
      "  - {abbr: stories260K, type: OpenAISDK, path: stories260K,\n"
      "     openai_api_base: \"",
      server.base_url(),
      "\", api: completions, temperature: 0, max_out_len: 16}\n"
      "datasets:\n"
      "  - abbr: story-gen\n"
      "    path: ",
      OCX_SOURCE_DIR,
      "/tests/data/story_gen.jsonl\n"
      "    reader_cfg: {input_columns: [prompt], output_column: answer}\n"
      "    infer_cfg:\n"
      "      prompt_template: {type: PromptTemplate, template: \"{prompt}\"}\n"
      "      retriever: {type: ZeroRetriever}\n"
      "      inferencer: {type: GenInferencer, max_out_len: 16}\n"
      "    eval_cfg: {evaluator: {type: EMEvaluator}}\n"
      "work_dir: ",
      dir.path(), "/out\n");
  RunResult submitted =
      RunProgram({OcxctlPath(), "-o", "name", "submit", config},
                 {"OCX_SERVER=" + daemon.server()});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.out << submitted.err;
  const std::string id(absl::StripAsciiWhitespace(submitted.out));
  absl::StatusOr<ocx::v1::Evaluation> ended =
      WaitForEnd(daemon.stub(), id, 240);
  ASSERT_TRUE(ended.ok()) << ended.status();
  ASSERT_EQ(ended->state(), ocx::v1::Evaluation::SUCCEEDED) << daemon.log();

  // What the server says it served: every token ocx-task was told about.
  absl::StatusOr<HttpResult> stats = HttpCall(
      "GET", absl::StrCat("http://127.0.0.1:", server.port(), "/ocx/stats"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  auto served = [&](const std::string& key) {
    const std::string marker = absl::StrCat("\"", key, "\":");
    size_t at = stats->body.find(marker);
    return at == std::string::npos
               ? -1.0
               : std::stod(stats->body.substr(at + marker.size()));
  };
  absl::StatusOr<HttpResult> scrape = HttpCall("GET", url, "", {}, 10000);
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  const std::string& body = scrape->body;
  EXPECT_EQ(Sample(body, "ocx_infer_samples_total{model=\"stories260K\"}"), 20);
  const double prompt = Sample(
      body, "ocx_infer_tokens_total{model=\"stories260K\",kind=\"prompt\"}");
  const double completion = Sample(
      body,
      "ocx_infer_tokens_total{model=\"stories260K\",kind=\"completion\"}");
  EXPECT_GT(prompt, 20);  // each prompt is a sentence or more
  EXPECT_GT(completion, 20);
  EXPECT_LE(completion, 20 * 16);  // max_out_len 16
  EXPECT_EQ(prompt, served("prompt_tokens")) << stats->body;
  EXPECT_EQ(completion, served("completion_tokens")) << stats->body;
  EXPECT_EQ(Sample(body, "ocx_dispatch_latency_seconds_count{stage=\"infer\"}"),
            1);
  EXPECT_EQ(Sample(body, "ocx_dispatch_latency_seconds_count{stage=\"eval\"}"),
            1);
  const double latency =
      Sample(body, "ocx_dispatch_latency_seconds_sum{stage=\"infer\"}");
  EXPECT_GE(latency, 0);
  EXPECT_LT(latency, 10);  // an idle daemon launches at once
  EXPECT_EQ(Sample(body,
                   "ocx_attempts_ended_total{stage=\"infer\",backend="
                   "\"local\",state=\"succeeded\",reason=\"ok\"}"),
            1);
  EXPECT_EQ(Sample(body, "ocx_tasks_stalled"), 0);
  EXPECT_EQ(Sample(body, "ocx_stalls_total{stage=\"infer\"}"), 0);
  EXPECT_THAT(body, HasSubstr("# TYPE ocx_runner_command_seconds histogram\n"));

  // Every metric the Grafana dashboard in deploy/ queries is one ocxd
  // exports.
  const std::string dashboard = FileText(std::string(OCX_SOURCE_DIR) +
                                         "/deploy/grafana/ocx-dashboard.json");
  ASSERT_FALSE(dashboard.empty());
  int queried = 0;
  for (size_t at = 0; (at = dashboard.find("ocx_", at)) != std::string::npos;) {
    size_t end = dashboard.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", at);
    std::string name = dashboard.substr(at, end - at);
    at = end;
    if (name == "ocx_") continue;  // "ocx-overview" and the like
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      if (absl::EndsWith(name, suffix) &&
          !absl::StrContains(body, absl::StrCat("# TYPE ", name, " "))) {
        name.resize(name.size() - strlen(suffix));
      }
    }
    EXPECT_THAT(body, HasSubstr(absl::StrCat("# TYPE ", name, " ")))
        << "the dashboard queries " << name;
    ++queried;
  }
  EXPECT_GE(queried, 10);

  PromtoolAccepts(dir.path(), body);
}

TEST(MetricsE2ETest, PlainHttpOnANonLoopbackAddressIsRefusedAtStart) {
  TempDir dir;
  RunResult refused =
      RunProgram({OcxdPath(), "--listen", "unix://" + dir.path() + "/ocxd.sock",
                  "--database", dir.path() + "/ocx.db", "--work-root",
                  dir.path() + "/w", "--http-listen", "0.0.0.0:0"});
  EXPECT_EQ(refused.exit_code, 78) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("refusing plain HTTP on 0.0.0.0:0"));
}

}  // namespace
}  // namespace ocx::testing
