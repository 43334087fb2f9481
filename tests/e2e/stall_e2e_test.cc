// Stall detection (DaemonConfig.stall_after_s, docs/metrics.md): real ocxd,
// real ocx-task infer tasks against a model endpoint that lists its model
// and never answers a completion, so the task's progress stays at 0
// samples. With stall_action KILL each
// attempt is stopped and retried, its reason says it stalled; with the
// default (mark only) the task shows STALLED in GetTask, `ocxctl task` and
// `ocxctl tasks` and in ocx_tasks_stalled until it ends. A stage's own
// stall_after_s (StageConfig) turns it on where ocxd's is off.
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/e2e/silent_endpoint.h"
#include "tests/tools/llm_server.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kData = std::string(OCX_SOURCE_DIR) + "/tests/data/";

class StallE2ETest : public ::testing::Test {
 protected:
  // ocxd with stall_after_s (default 2; 0 leaves it unset) and `action`,
  // /metrics on a free port.
  void StartDaemon(const std::string& action, int stall_after_s = 2) {
    ASSERT_GT(endpoint_.port(), 0);
    const std::string config = dir_.path() + "/ocxd.yaml";
    std::ofstream(config)
        << (stall_after_s == 0
                ? ""
                : absl::StrCat("stall_after_s: ", stall_after_s, "\n"))
        << (action.empty() ? "" : "stall_action: " + action + "\n");
    daemon_ = std::make_unique<OcxdProcess>(
        dir_.path(), std::vector<std::string>{"--config", config,
                                              "--http-listen", "127.0.0.1:0"});
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }
  std::vector<std::string> Env() const {
    return {"OCX_SERVER=" + daemon_->server()};
  }
  // One generation dataset against the silent endpoint; the infer task
  // has `attempts` attempts; `infer_extra` goes into the infer stage.
  std::string Submit(int attempts, const std::string& infer_extra = "") {
    const std::string path = dir_.path() + "/eval.yaml";
    std::ofstream(path) << absl::StrCat(
        "models:\n"
        "  - {abbr: hung, type: OpenAISDK, path: hung, openai_api_base: \"",
        endpoint_.base_url(),
        "\", api: completions, timeout_s: 300, retry: 0}\n"
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
        "      inferencer: {type: GenInferencer, max_out_len: 8}\n"
        "    eval_cfg: {evaluator: {type: EMEvaluator}}\n"
        "work_dir: ",
        dir_.path(), "/out\n",
        "infer:\n  runner: {type: LocalRunner, retry: ", attempts - 1, "}\n",
        infer_extra);
    RunResult r =
        RunProgram({OcxctlPath(), "-o", "name", "submit", path}, Env());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return std::string(absl::StripAsciiWhitespace(r.out));
  }
  std::string Scrape() {
    absl::StatusOr<HttpResult> r =
        HttpCall("GET", MetricsUrl(daemon_->log()), "", {}, 10000);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->body : "";
  }
  // Every event of the evaluation, once it has ended.
  std::vector<ocx::v1::Event> Events(const std::string& id) {
    absl::StatusOr<std::vector<ocx::v1::Event>> events =
        EventsOf(daemon_->stub(), id);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *std::move(events) : std::vector<ocx::v1::Event>();
  }

  TempDir dir_;
  SilentEndpoint endpoint_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(StallE2ETest, KillStopsEachStalledAttemptAndRetriesIt) {
  StartDaemon("KILL");
  const std::string id = Submit(/*attempts=*/2);
  ASSERT_FALSE(id.empty());
  absl::StatusOr<Evaluation> ended = WaitForEnd(daemon_->stub(), id, 120);
  ASSERT_TRUE(ended.ok()) << ended.status() << daemon_->log();
  EXPECT_EQ(ended->state(), Evaluation::FAILED);

  const Task infer = GetTaskOrFail(daemon_->stub(), id + "-infer-0");
  EXPECT_EQ(infer.state(), Task::FAILED);
  ASSERT_EQ(infer.attempts_size(), 2) << infer.DebugString();
  for (const ocx::v1::Attempt& a : infer.attempts()) {
    EXPECT_THAT(a.reason(), StartsWith("stalled: no progress for 2s; stopped "
                                       "by ocxd ("))
        << "attempt " << a.number();
  }
  EXPECT_THAT(infer.reason(), HasSubstr("stalled: no progress for 2s"));
  EXPECT_FALSE(infer.has_stalled_since());  // it no longer runs

  int stalled = 0;
  for (const ocx::v1::Event& ev : Events(id)) {
    if (ev.state() != "STALLED") continue;
    ++stalled;
    EXPECT_EQ(ev.task_id(), infer.id());
    EXPECT_EQ(ev.attempt(), stalled);
    EXPECT_THAT(ev.message(), HasSubstr("no progress for 2s (0 samples done)"));
    EXPECT_THAT(ev.message(), HasSubstr("stall_action: KILL"));
  }
  EXPECT_EQ(stalled, 2);

  const std::string metrics = Scrape();
  EXPECT_THAT(metrics, HasSubstr("ocx_stalls_total{stage=\"infer\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("ocx_tasks_stalled 0\n"));
  EXPECT_THAT(metrics, HasSubstr("ocx_retries_total{stage=\"infer\",reason="
                                 "\"stalled\"} 1\n"));
  EXPECT_THAT(metrics,
              HasSubstr("ocx_attempts_ended_total{stage=\"infer\",backend="
                        "\"local\",state=\"failed\",reason=\"stalled\"} 2\n"));
}

TEST_F(StallE2ETest, MarkShowsTheStallUntilTheTaskEnds) {
  StartDaemon("");
  const std::string id = Submit(/*attempts=*/1);
  ASSERT_FALSE(id.empty());
  const std::string task_id = id + "-infer-0";
  Task task;
  ASSERT_TRUE(PollUntil(
      [&] {
        task = GetTaskOrFail(daemon_->stub(), task_id);
        return task.has_stalled_since();
      },
      30))
      << task.DebugString() << daemon_->log();
  EXPECT_EQ(task.state(), Task::RUNNING);
  EXPECT_EQ(task.attempt_count(), 1);
  EXPECT_EQ(task.progress().done(), 0);

  RunResult shown = RunProgram({OcxctlPath(), "task", task_id}, Env());
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("RUNNING [STALLED]"));
  EXPECT_THAT(shown.out, HasSubstr("Stalled since"));
  RunResult listed = RunProgram({OcxctlPath(), "tasks", id}, Env());
  EXPECT_THAT(listed.out, HasSubstr("RUNNING [STALLED]"));
  RunResult status = RunProgram({OcxctlPath(), "status", id}, Env());
  EXPECT_THAT(status.out, HasSubstr("RUNNING [STALLED]"));
  EXPECT_THAT(Scrape(), HasSubstr("ocx_tasks_stalled 1\n"));

  // Marked only: the attempt still runs, until the user cancels it.
  RunResult cancel = RunProgram({OcxctlPath(), "cancel", id}, Env());
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  absl::StatusOr<Evaluation> ended = WaitForEnd(daemon_->stub(), id, 60);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->state(), Evaluation::CANCELLED);
  task = GetTaskOrFail(daemon_->stub(), task_id);
  EXPECT_EQ(task.attempts_size(), 1);
  EXPECT_FALSE(task.has_stalled_since());
  EXPECT_THAT(Scrape(), HasSubstr("ocx_tasks_stalled 0\n"));
  int stalled = 0;
  for (const ocx::v1::Event& ev : Events(id)) {
    if (ev.state() == "STALLED") {
      ++stalled;
      EXPECT_THAT(ev.message(), HasSubstr("no progress for 2s"));
      EXPECT_THAT(ev.message(), ::testing::Not(HasSubstr("KILL")));
    }
  }
  EXPECT_EQ(stalled, 1);
}

// ocxd's own threshold is off; the spec's infer stage sets 2 s: its task
// is stopped as stalled, and the message names the stage's threshold.
TEST_F(StallE2ETest, StageStallAfterTurnsItOnWhereTheDaemonHasItOff) {
  StartDaemon("KILL", /*stall_after_s=*/0);
  const std::string id = Submit(/*attempts=*/1, "  stall_after_s: 2\n");
  ASSERT_FALSE(id.empty());
  absl::StatusOr<Evaluation> ended = WaitForEnd(daemon_->stub(), id, 60);
  ASSERT_TRUE(ended.ok()) << ended.status() << daemon_->log();
  EXPECT_EQ(ended->state(), Evaluation::FAILED);
  const Task infer = GetTaskOrFail(daemon_->stub(), id + "-infer-0");
  ASSERT_EQ(infer.attempts_size(), 1) << infer.DebugString();
  EXPECT_THAT(infer.attempts(0).reason(),
              StartsWith("stalled: no progress for 2s; stopped by ocxd ("));
  int stalled = 0;
  for (const ocx::v1::Event& ev : Events(id)) {
    if (ev.state() != "STALLED") continue;
    ++stalled;
    EXPECT_THAT(ev.message(), HasSubstr("no progress for 2s (0 samples done)"));
  }
  EXPECT_EQ(stalled, 1);
  EXPECT_THAT(Scrape(), HasSubstr("ocx_stalls_total{stage=\"infer\"} 1\n"));
}

// ocxd watches at 2 s; a stage with stall_after_s: 0 is not watched. Its
// task (hung on the silent endpoint) still runs well past ocxd's threshold
// and is never marked.
TEST_F(StallE2ETest, StageStallAfterZeroTurnsItOffForTheStage) {
  StartDaemon("KILL");
  const std::string id = Submit(/*attempts=*/1, "  stall_after_s: 0\n");
  ASSERT_FALSE(id.empty());
  const std::string task_id = id + "-infer-0";
  Task task;
  ASSERT_TRUE(PollUntil(
      [&] {
        task = GetTaskOrFail(daemon_->stub(), task_id);
        return task.state() == Task::RUNNING && task.has_progress();
      },
      30))
      << task.DebugString() << daemon_->log();
  // Three times ocxd's threshold, and more than one look (every 500 ms).
  std::this_thread::sleep_for(std::chrono::seconds(6));
  task = GetTaskOrFail(daemon_->stub(), task_id);
  EXPECT_EQ(task.state(), Task::RUNNING);
  EXPECT_EQ(task.attempt_count(), 1);
  EXPECT_FALSE(task.has_stalled_since());
  EXPECT_THAT(Scrape(), HasSubstr("ocx_stalls_total{stage=\"infer\"} 0\n"));
  RunResult cancel = RunProgram({OcxctlPath(), "cancel", id}, Env());
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  ASSERT_TRUE(WaitForEnd(daemon_->stub(), id, 60).ok());
  for (const ocx::v1::Event& ev : Events(id)) {
    EXPECT_NE(ev.state(), "STALLED") << ev.message();
  }
}

// A task that reports progress every half second is never stalled, even
// with KILL and a 2 s threshold: its attempts all succeed at once.
TEST_F(StallE2ETest, SteadyProgressIsNotAStall) {
  StartDaemon("KILL");
  Evaluation e =
      CreateOrFail(daemon_->stub(),
                   TestSpec(1, 1, {"--sleep-ms", "4000", "--progress", "8"}));
  absl::StatusOr<Evaluation> ended = WaitForEnd(daemon_->stub(), e.id(), 120);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->state(), Evaluation::SUCCEEDED) << daemon_->log();
  for (const Task& t : AllTasks(daemon_->stub(), e.id())) {
    EXPECT_EQ(t.attempt_count(), 1) << t.id();
  }
  for (const ocx::v1::Event& ev : Events(e.id())) {
    EXPECT_NE(ev.state(), "STALLED") << ev.message();
  }
  EXPECT_THAT(Scrape(), HasSubstr("ocx_stalls_total{stage=\"infer\"} 0\n"));
}

}  // namespace
}  // namespace ocx::testing
