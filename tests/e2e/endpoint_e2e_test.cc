// User-given endpoints end to end (docs/endpoints.md): a real ocxd, the
// real ocx-task and the real tiny-model server (tests/tools/llm_server.h).
// Tasks against an endpoint nobody listens on wait without spending
// attempts and run once the server starts on that port; an endpoint that
// stops answering while its tasks are queued is found by a re-check and
// holds them too; each check that changes what ocxd knows is an event; a
// model the server does not serve fails at once.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/e2e/silent_endpoint.h"
#include "tests/serving/child_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::HasSubstr;

const std::string kSource = OCX_SOURCE_DIR;
const std::string kData = kSource + "/tests/data/";

class EndpointE2ETest : public ::testing::Test {
 protected:
  // ocxd re-checks an endpoint at most every `max_backoff_ms` (a second
  // unless given); /metrics on a free port.
  void StartDaemon(const std::string& extra_config = "",
                   int max_backoff_ms = 1000) {
    const std::string config = dir_.path() + "/ocxd.yaml";
    std::ofstream(config) << "endpoint_probe_max_backoff_ms: " << max_backoff_ms
                          << "\n"
                          << extra_config;
    daemon_ = std::make_unique<OcxdProcess>(
        dir_.path(), std::vector<std::string>{"--config", config,
                                              "--http-listen", "127.0.0.1:0"});
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }
  std::vector<std::string> Env() const {
    return {"OCX_SERVER=" + daemon_->server()};
  }

  // Greedy generations from story_gen.jsonl in `parts` infer tasks.
  std::string Config(const std::string& base, const std::string& model,
                     const std::string& data = kData + "story_gen.jsonl",
                     int parts = 2, int retry = 2) {
    const std::string path = dir_.path() + "/eval.yaml";
    std::ofstream(path) << absl::StrCat(
        "models:\n"
        "  - {abbr: stories260K, type: OpenAISDK, path: ",
        model, ",\n     openai_api_base: \"", base,
        "\", api: completions, temperature: 0, max_out_len: 8, retry: 0}\n"
        "datasets:\n"
        "  - abbr: story-gen\n"
        "    path: ",
        data,
        "\n"
        "    reader_cfg: {input_columns: [prompt], output_column: answer}\n"
        "    infer_cfg:\n"
        "      prompt_template: {type: PromptTemplate, template: "
        "\"{prompt}\"}\n"
        "      retriever: {type: ZeroRetriever}\n"
        "      inferencer: {type: GenInferencer, max_out_len: 8}\n"
        "    eval_cfg: {evaluator: {type: EMEvaluator}}\n"
        "work_dir: ",
        dir_.path(), "/out\n",
        "infer:\n"
        "  partitioner: {type: NumWorkerPartitioner, num_worker: ",
        parts,
        "}\n"
        "  runner: {type: LocalRunner, retry: ",
        retry,
        "}\n"
        "eval:\n"
        "  runner: {type: LocalRunner, retry: 0}\n");
    return path;
  }

  std::string Submit(const std::string& config) {
    RunResult r =
        RunProgram({OcxctlPath(), "-o", "name", "submit", config}, Env());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return std::string(absl::StripAsciiWhitespace(r.out));
  }

  std::vector<Task> InferTasks(const std::string& id) {
    std::vector<Task> out;
    for (const Task& t : AllTasks(daemon_->stub(), id)) {
      if (t.stage() == ocx::v1::STAGE_INFER) {
        out.push_back(GetTaskOrFail(daemon_->stub(), t.id()));
      }
    }
    return out;
  }

  // Every event of an ended evaluation.
  std::vector<ocx::v1::Event> Events(const std::string& id) {
    absl::StatusOr<std::vector<ocx::v1::Event>> events =
        EventsOf(daemon_->stub(), id);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *std::move(events) : std::vector<ocx::v1::Event>();
  }
  // "STATE: message" of the ended evaluation's ENDPOINT_REACHABLE and
  // ENDPOINT_UNREACHABLE events, which are the evaluation's (no task).
  std::vector<std::string> EndpointEvents(const std::string& id) {
    std::vector<std::string> out;
    for (const ocx::v1::Event& ev : Events(id)) {
      if (ev.state() != "ENDPOINT_REACHABLE" &&
          ev.state() != "ENDPOINT_UNREACHABLE") {
        continue;
      }
      EXPECT_EQ(ev.task_id(), "") << ev.message();
      out.push_back(ev.state() + ": " + ev.message());
    }
    return out;
  }
  // ocx_endpoint_state of `base` in `state` is 1.
  bool EndpointStateIs(const std::string& base, const std::string& state) {
    absl::StatusOr<HttpResult> r =
        HttpCall("GET", MetricsUrl(daemon_->log()), "", {}, 10000);
    return r.ok() &&
           absl::StrContains(
               r->body, absl::StrCat("ocx_endpoint_state{endpoint=\"", base,
                                     "\",state=\"", state, "\"} 1\n"));
  }

  TempDir dir_;
  std::unique_ptr<OcxdProcess> daemon_;
};

// Nothing listens at the endpoint: the infer tasks stay READY with a
// reason that names the endpoint and spend no attempt; once the real
// server starts on that port, the evaluation runs to the end.
TEST_F(EndpointE2ETest, UnreachableEndpointHoldsTasksUntilTheServerStarts) {
  const int port = ocx::testing::DeadPort();
  const std::string base = absl::StrCat("http://127.0.0.1:", port, "/v1");
  StartDaemon();
  const std::string id = Submit(Config(base, "stories260K"));
  ASSERT_FALSE(id.empty());
  const std::string want =
      "waiting for endpoint: connection refused at " + base;
  std::string seen;
  ASSERT_TRUE(PollUntil(
      [&] {
        std::vector<Task> tasks = InferTasks(id);
        for (const Task& t : tasks) {
          seen = t.pending_reason();
          if (seen != want) return false;
        }
        return tasks.size() == 2;
      },
      20))
      << "last reason: " << seen << "\n"
      << daemon_->log();
  // A few seconds of re-checks spend no attempt.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  for (const Task& t : InferTasks(id)) {
    EXPECT_EQ(t.state(), Task::READY) << t.id();
    EXPECT_EQ(t.attempt_count(), 0) << t.id();
    EXPECT_EQ(t.attempts_size(), 0) << t.id();
    EXPECT_EQ(t.pending_reason(), want) << t.id();
  }
  RunResult status = RunProgram({OcxctlPath(), "status", id}, Env());
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("READY tasks " + want));
  RunResult tasks =
      RunProgram({OcxctlPath(), "-o", "wide", "tasks", id}, Env());
  EXPECT_EQ(tasks.exit_code, 0) << tasks.err;
  EXPECT_THAT(tasks.out, HasSubstr(want));
  RunResult task = RunProgram({OcxctlPath(), "task", id + "-infer-0"}, Env());
  EXPECT_THAT(task.out, HasSubstr(want));

  LlmServer server;
  ASSERT_TRUE(server.Start({"--port", absl::StrCat(port)}).ok());
  ASSERT_EQ(server.base_url(), base);
  absl::StatusOr<Evaluation> end = WaitForEnd(daemon_->stub(), id, 120);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->state(), Evaluation::SUCCEEDED) << daemon_->log();
  for (const Task& t : InferTasks(id)) {
    EXPECT_EQ(t.state(), Task::SUCCEEDED) << t.id();
    EXPECT_EQ(t.attempts_size(), 1) << t.id();
  }
  // The first check's outcome, then the check that found it up: failed
  // re-checks in between add no event.
  std::vector<std::string> events = EndpointEvents(id);
  ASSERT_EQ(events.size(), 2u) << absl::StrJoin(events, "\n");
  EXPECT_EQ(events[0], "ENDPOINT_UNREACHABLE: endpoint " + base +
                           " did not answer its check (connection refused): "
                           "its infer tasks wait without spending attempts; "
                           "checked again with backoff up to 1000 ms");
  EXPECT_THAT(events[1], ::testing::MatchesRegex(
                             "ENDPOINT_REACHABLE: endpoint " + base +
                             " answered a check again \\(HTTP 200 in [0-9]+ "
                             "ms\\) after [0-9]+ that did not: its infer "
                             "tasks launch"));
}

// An endpoint that answered its first check stops answering while its
// infer task is queued (behind another evaluation's task, of a model whose
// server never answers, holding the machine's one slot): a re-check finds
// it, so when the slot frees the task waits instead of spending an
// attempt, and runs once the server is back. (Two evaluations, so that the
// hung task surely has the slot first: within one, whichever endpoint's
// check ends first launches first.)
TEST_F(EndpointE2ETest, EndpointGoneWhileTasksQueuedHoldsThemBack) {
  auto server = std::make_unique<LlmServer>();
  ASSERT_TRUE(server->Start().ok());
  const int port = server->port();
  const std::string base = server->base_url();
  SilentEndpoint hung;
  StartDaemon("local: {max_parallel: 1}\n");
  auto submit = [&](const std::string& model_base, const std::string& model,
                    const std::string& name) {
    std::string yaml =
        FileText(Config(model_base, model, kData + "story_gen.jsonl", 1, 0));
    const std::string path = dir_.path() + "/" + name + ".yaml";
    std::ofstream(path) << yaml;
    return Submit(path);
  };
  auto infer_of = [&](const std::string& id) {
    std::vector<Task> tasks = InferTasks(id);
    return tasks.empty() ? Task() : tasks[0];
  };
  // The hung model's task gets the one slot and holds it.
  const std::string hung_id = submit(hung.base_url(), "hung", "hung");
  ASSERT_FALSE(hung_id.empty());
  ASSERT_TRUE(
      PollUntil([&] { return infer_of(hung_id).state() == Task::RUNNING; }, 30))
      << daemon_->log();
  const std::string id = submit(base, "stories260K", "stories");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(PollUntil([&] { return EndpointStateIs(base, "up"); }, 30))
      << daemon_->log();
  ASSERT_EQ(infer_of(id).state(), Task::READY);

  server.reset();  // gone while its task is queued
  ASSERT_TRUE(PollUntil([&] { return EndpointStateIs(base, "down"); }, 20))
      << daemon_->log();
  hung.Release();  // the slot frees
  const std::string want =
      "waiting for endpoint: connection refused at " + base;
  Task queued;
  ASSERT_TRUE(PollUntil(
      [&] {
        queued = infer_of(id);
        return infer_of(hung_id).state() != Task::RUNNING &&
               queued.pending_reason() == want;
      },
      30))
      << queued.DebugString() << daemon_->log();
  EXPECT_EQ(queued.state(), Task::READY);
  EXPECT_EQ(queued.attempts_size(), 0);

  server = std::make_unique<LlmServer>();
  ASSERT_TRUE(server->Start({"--port", absl::StrCat(port)}).ok());
  absl::StatusOr<Evaluation> end = WaitForEnd(daemon_->stub(), id, 120);
  ASSERT_TRUE(end.ok()) << end.status();
  const Task ran = infer_of(id);
  EXPECT_EQ(ran.state(), Task::SUCCEEDED) << daemon_->log();
  EXPECT_EQ(ran.attempts_size(), 1);
  // The hung server's first check is on its evaluation; the stories
  // server's first check, its going and its coming back on the other.
  bool hung_checked = false;
  for (const std::string& ev : EndpointEvents(hung_id)) {
    hung_checked |=
        absl::StartsWith(ev, "ENDPOINT_REACHABLE: endpoint " + hung.base_url() +
                                 " answered its check (HTTP 200 in ");
  }
  EXPECT_TRUE(hung_checked);
  std::vector<std::string> events;
  for (const std::string& ev : EndpointEvents(id)) {
    if (absl::StrContains(ev, " endpoint " + base + " ")) events.push_back(ev);
  }
  ASSERT_EQ(events.size(), 3u) << absl::StrJoin(events, "\n");
  EXPECT_THAT(events[0], HasSubstr("ENDPOINT_REACHABLE: endpoint " + base +
                                   " answered its check (HTTP 200 in "));
  EXPECT_THAT(events[1], HasSubstr("ENDPOINT_UNREACHABLE: endpoint " + base +
                                   " stopped answering checks (connection "
                                   "refused): its infer tasks wait"));
  EXPECT_THAT(events[2], HasSubstr("ENDPOINT_REACHABLE: endpoint " + base +
                                   " answered a check again (HTTP 200 in "));
}

// The server answers but does not serve the model: permanent, so the infer
// tasks fail at once, without an attempt, naming what it serves.
TEST_F(EndpointE2ETest, ModelNotServedFailsAtOnceNamingTheServedModels) {
  LlmServer server;
  ASSERT_TRUE(server.Start().ok());
  StartDaemon();
  const std::string id = Submit(Config(server.base_url(), "qwen2-7b"));
  absl::StatusOr<Evaluation> end = WaitForEnd(daemon_->stub(), id, 60);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->state(), Evaluation::FAILED);
  for (const Task& t : InferTasks(id)) {
    EXPECT_EQ(t.state(), Task::FAILED) << t.id();
    EXPECT_EQ(t.attempts_size(), 0) << t.id();
    EXPECT_EQ(t.reason(), "model \"qwen2-7b\" is not served at " +
                              server.base_url() +
                              ", which serves: stories260K");
  }
}

// Attempts that fail to connect open the endpoint's breaker (here after 2
// in a row): the tasks left wait instead of spending their attempts, and
// the breaker closes when the server is back on its port. The re-checks of
// the endpoint while it was up come 5 s apart here (the cap is 10 s), so
// the attempts find the server gone first.
TEST_F(EndpointE2ETest, BreakerOpensOnConnectionFailuresAndClosesOnCheck) {
  auto server = std::make_unique<LlmServer>();
  // Dies at the first completion request, after ocxd's check.
  ASSERT_TRUE(server->Start({"--die-after", "0"}).ok());
  const int port = server->port();
  const std::string base = server->base_url();
  StartDaemon("endpoint_breaker_failures: 2\n", /*max_backoff_ms=*/10000);
  const std::string id =
      Submit(Config(base, "stories260K", kData + "story_gen.jsonl", 1, 5));
  const std::string want =
      "waiting for endpoint: circuit breaker open at " + base;
  std::string seen;
  ASSERT_TRUE(PollUntil(
      [&] {
        std::vector<Task> tasks = InferTasks(id);
        seen = tasks.empty() ? "" : tasks[0].pending_reason();
        return absl::StartsWith(seen, want);
      },
      60))
      << "last reason: " << seen << "\n"
      << daemon_->log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  Task held = InferTasks(id)[0];
  EXPECT_EQ(held.state(), Task::READY);
  EXPECT_EQ(held.attempts_size(), 2);  // of 6: the rest are kept
  for (const auto& a : held.attempts()) {
    EXPECT_THAT(a.reason(), HasSubstr("endpoint_unreachable"));
  }
  server = std::make_unique<LlmServer>();
  ASSERT_TRUE(server->Start({"--port", absl::StrCat(port)}).ok());
  absl::StatusOr<Evaluation> end = WaitForEnd(daemon_->stub(), id, 120);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->state(), Evaluation::SUCCEEDED) << daemon_->log();
  EXPECT_EQ(InferTasks(id)[0].attempts_size(), 3);
  // The breaker's events, on the task whose attempt opened it.
  std::vector<std::string> breaker;
  for (const ocx::v1::Event& ev : Events(id)) {
    if (absl::StartsWith(ev.state(), "ENDPOINT_BREAKER_")) {
      EXPECT_EQ(ev.task_id(), id + "-infer-0");
      breaker.push_back(ev.state() + ": " + ev.message());
    }
  }
  ASSERT_EQ(breaker.size(), 2u);
  EXPECT_THAT(breaker[0], HasSubstr("ENDPOINT_BREAKER_OPEN: circuit breaker "
                                    "open at " +
                                    base +
                                    " after 2 task "
                                    "attempts in a row failed to connect"));
  EXPECT_THAT(breaker[1], HasSubstr("ENDPOINT_BREAKER_CLOSED: endpoint " +
                                    base + " answered a check"));
}

// ocxctl check on a good spec: every row ok, exit 0.
TEST_F(EndpointE2ETest, CheckReportsAGoodSpecAndExitsZero) {
  LlmServer server;
  ASSERT_TRUE(server.Start().ok());
  StartDaemon();
  const std::string data = kData + "story_gen.jsonl";
  RunResult r = RunProgram(
      {OcxctlPath(), "check", Config(server.base_url(), "stories260K")}, Env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("KIND       TARGET"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "endpoint +" + server.base_url() +
                         " +stories260K +ok +[0-9]+ ms +model stories260K "
                         "listed\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("dataset +" + data +
                                              " +story-gen +ok +- +20 rows\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "runner +LocalRunner +infer, eval +ok +- +ok; "));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("FAILED")));
  // -o json: the answer as ocxd gave it.
  RunResult json = RunProgram({OcxctlPath(), "-o", "json", "check",
                               Config(server.base_url(), "stories260K")},
                              Env());
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"kind\": \"endpoint\""));
  EXPECT_THAT(json.out, HasSubstr("\"ok\": true"));
}

// A spec with a missing dataset file, an endpoint nobody listens on and,
// on a second model, a model name the server does not serve: each is a
// FAILED row saying why, and the exit code is 1. A spec that does not
// load is exit 2.
TEST_F(EndpointE2ETest, CheckReportsEachProblemAndExitsNonZero) {
  LlmServer server;
  ASSERT_TRUE(server.Start().ok());
  StartDaemon();
  const std::string dead =
      absl::StrCat("http://127.0.0.1:", ocx::testing::DeadPort(), "/v1");
  const std::string missing = dir_.path() + "/no-such.jsonl";
  std::string yaml = FileText(Config(dead, "stories260K", missing));
  yaml = absl::StrReplaceAll(
      yaml,
      {{"datasets:\n", absl::StrCat("  - {abbr: other, type: OpenAISDK, path: "
                                    "qwen2-7b, openai_api_base: \"",
                                    server.base_url(), "\"}\ndatasets:\n")}});
  const std::string bad = dir_.path() + "/bad.yaml";
  std::ofstream(bad) << yaml;
  RunResult r = RunProgram({OcxctlPath(), "check", bad}, Env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // The refusal's latency is "-" or, on a busy machine, "1 ms".
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "endpoint +" + dead +
                         " +stories260K +FAILED +(-|[0-9]+ ms) +connection "
                         "refused\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "endpoint +" + server.base_url() +
                         " +other +FAILED +[0-9]+ ms +model \"qwen2-7b\" is "
                         "not served at " +
                         server.base_url() + ", which serves: stories260K\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("dataset +" + missing +
                                              " +story-gen +FAILED +- +no "
                                              "such file\n"));
  EXPECT_THAT(r.out, HasSubstr("3 of 4 checks failed\n"));

  const std::string broken = dir_.path() + "/broken.yaml";
  std::ofstream(broken) << "models: [{abbr: m, type: OpenAISDK}]\n";
  RunResult usage = RunProgram({OcxctlPath(), "check", broken}, Env());
  EXPECT_EQ(usage.exit_code, 2) << usage.out << usage.err;
}

}  // namespace
}  // namespace ocx::testing
