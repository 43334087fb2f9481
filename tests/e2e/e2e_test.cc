// End to end: a real ocxd process, real ocxctl, a real database file, real
// task processes. Each test starts its own daemon in a temporary directory.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/e2e/journal.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::HasSubstr;

class E2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<OcxdProcess>(dir_.path(), ExtraArgs());
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }
  virtual std::vector<std::string> ExtraArgs() { return {}; }

  std::string journal() const { return dir_.path() + "/journal"; }

  Evaluation Create(const ocx::v1::EvaluationSpec& spec,
                    const std::string& request_id = "") {
    return CreateOrFail(daemon_->stub(), spec, request_id);
  }

  Task GetTask(const std::string& id) {
    return GetTaskOrFail(daemon_->stub(), id);
  }

  TempDir dir_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(E2ETest, SixtyTasksRunToSuccessAndEvalStartsPerPair) {
  // 5 models x 6 datasets: 30 infer + 30 eval tasks. model0's infer of ds0
  // is slow: the eval of other pairs must not wait for it.
  auto spec =
      TestSpec(5, 6, {"--journal", journal(), "--slow", "-infer-0:2500"},
               /*max_num_workers=*/4);
  Evaluation e = Create(spec);
  ASSERT_EQ(e.task_count(), 60);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 120);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  ASSERT_EQ(done->stage_counts_size(), 2);
  EXPECT_EQ(done->stage_counts(0).succeeded(), 30);
  EXPECT_EQ(done->stage_counts(1).succeeded(), 30);

  auto runs = ReadJournal(journal());
  EXPECT_EQ(runs.size(), 60u);
  for (auto& [task, list] : runs) EXPECT_EQ(list.size(), 1u) << task;
  // Outputs exist where OpenCompass puts them.
  for (int m = 0; m < 5; ++m) {
    for (int d = 0; d < 6; ++d) {
      std::string pred = absl::StrCat(e.work_dir(), "/predictions/model", m,
                                      "/ds", d, ".json");
      std::string res =
          absl::StrCat(e.work_dir(), "/results/model", m, "/ds", d, ".json");
      EXPECT_EQ(access(pred.c_str(), F_OK), 0) << pred;
      EXPECT_EQ(access(res.c_str(), F_OK), 0) << res;
    }
  }
  // Each eval task started after its own infer task ended, and at least one
  // eval ended before the slow infer task did (no stage barrier).
  std::vector<Task> tasks = AllTasks(daemon_->stub(), e.id());
  std::map<std::string, Task> by_id;
  for (auto& t : tasks) by_id[t.id()] = t;
  int64_t slow_end = runs[e.id() + "-infer-0"].at(0).end_ms;
  int evals_before_slow_end = 0;
  for (auto& t : tasks) {
    if (t.stage() != ocx::v1::STAGE_EVAL) continue;
    ASSERT_EQ(t.depends_on_size(), 1) << t.id();
    const JournalRun& eval_run = runs[t.id()].at(0);
    const JournalRun& infer_run = runs[t.depends_on(0)].at(0);
    EXPECT_GE(eval_run.start_ms, infer_run.end_ms) << t.id();
    if (eval_run.end_ms < slow_end) ++evals_before_slow_end;
  }
  EXPECT_GT(evals_before_slow_end, 0);
}

TEST_F(E2ETest, FailingTaskIsRetriedAndEveryAttemptIsRecorded) {
  // Attempts 1 and 2 fail with exit code 3; retry 2 allows a third.
  auto spec = TestSpec(1, 1, {"--journal", journal(), "--fail-attempts", "2"},
                       4, /*retry=*/2);
  Evaluation e = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  Task infer = GetTask(e.id() + "-infer-0");
  ASSERT_EQ(infer.attempts_size(), 3);
  for (int i = 0; i < 2; ++i) {
    const Attempt& a = infer.attempts(i);
    EXPECT_EQ(a.number(), i + 1);
    EXPECT_EQ(a.state(), Attempt::FAILED);
    EXPECT_EQ(a.exit_code(), 3);
    EXPECT_THAT(a.reason(), HasSubstr("exit code 3"));
    EXPECT_EQ(a.name(), absl::StrCat("ocx-", infer.id(), "-", i + 1));
    EXPECT_FALSE(a.backend_id().empty());
    EXPECT_GT(TimestampMillis(a.end_time()), 0);
    // One log per attempt, never overwritten.
    std::ifstream log(a.log_path());
    std::string text((std::istreambuf_iterator<char>(log)), {});
    EXPECT_THAT(text, HasSubstr(absl::StrCat("failing attempt ", i + 1)));
  }
  EXPECT_EQ(infer.attempts(2).state(), Attempt::SUCCEEDED);
  EXPECT_NE(infer.attempts(0).log_path(), infer.attempts(1).log_path());
  EXPECT_EQ(ReadJournal(journal())[infer.id()].size(), 3u);
}

TEST_F(E2ETest, RetriesRunOutThenTheTaskAndItsDependentFail) {
  auto spec = TestSpec(1, 2, {"--fail-attempts", "9"}, 4, /*retry=*/1);
  // Only ds1's infer fails: give ds0 its own (succeeding) argv is not
  // possible per dataset, so both fail; check the dependent eval tasks.
  Evaluation e = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), Evaluation::FAILED);
  Task infer = GetTask(e.id() + "-infer-0");
  EXPECT_EQ(infer.state(), Task::FAILED);
  EXPECT_EQ(infer.attempts_size(), 2);
  EXPECT_THAT(infer.reason(), HasSubstr("attempt 2/2 failed: exit code 3"));
  Task eval = GetTask(e.id() + "-eval-0");
  EXPECT_EQ(eval.state(), Task::FAILED);
  EXPECT_EQ(eval.attempts_size(), 0);
  EXPECT_THAT(eval.reason(), HasSubstr("dependency " + infer.id()));
}

// A program that cannot be run is permanent: one attempt despite retry 2,
// and the reason names the program, not ocx-shim.
TEST_F(E2ETest, AProgramThatCannotBeRunIsNotRetried) {
  auto spec = TestSpec(1, 1, {}, 4, /*retry=*/2);
  spec.mutable_infer()->mutable_runner()->mutable_task()->set_argv(
      0, "/nonexistent/ocx-no-such-program");
  Evaluation e = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), Evaluation::FAILED);
  Task infer = GetTask(e.id() + "-infer-0");
  EXPECT_EQ(infer.state(), Task::FAILED);
  ASSERT_EQ(infer.attempts_size(), 1);
  EXPECT_EQ(infer.attempts(0).exit_code(), 127);
  EXPECT_THAT(infer.reason(),
              HasSubstr("attempt 1/3 failed: exit code 127; cannot run "
                        "/nonexistent/ocx-no-such-program: No such file or "
                        "directory; not retried: exit code 127 means the "
                        "program cannot be run"));
}

TEST_F(E2ETest, ExitZeroWithoutOutputsIsAFailure) {
  auto spec = TestSpec(1, 1, {"--no-outputs"}, 4, /*retry=*/0);
  Evaluation e = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), Evaluation::FAILED);
  Task infer = GetTask(e.id() + "-infer-0");
  ASSERT_EQ(infer.attempts_size(), 1);
  EXPECT_EQ(infer.attempts(0).exit_code(), 0);
  EXPECT_THAT(
      infer.attempts(0).reason(),
      HasSubstr("expected outputs are missing: predictions/model0/ds0.json"));
}

TEST_F(E2ETest, CancelStopsRunningTasksAndCancelsTheRest) {
  auto spec = TestSpec(2, 3, {"--journal", journal(), "--sleep-ms", "60000"},
                       /*max_num_workers=*/2);
  Evaluation e = Create(spec);
  // Wait until two tasks run.
  for (int i = 0; i < 200; ++i) {
    auto runs = ReadJournal(journal());
    if (runs.size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(ReadJournal(journal()).size(), 2u);
  ocx::v1::CancelEvaluationRequest req;
  req.set_id(e.id());
  Evaluation after;
  grpc::ClientContext ctx;
  ASSERT_TRUE(daemon_->stub()->CancelEvaluation(&ctx, req, &after).ok());
  EXPECT_TRUE(after.state() == Evaluation::CANCELLING ||
              after.state() == Evaluation::CANCELLED);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 30);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), Evaluation::CANCELLED);
  int cancelled_attempts = 0;
  for (const Task& t : AllTasks(daemon_->stub(), e.id())) {
    EXPECT_EQ(t.state(), Task::CANCELLED) << t.id();
    Task full = GetTask(t.id());
    for (const Attempt& a : full.attempts()) {
      EXPECT_EQ(a.state(), Attempt::CANCELLED);
      EXPECT_EQ(a.signal(), SIGTERM);
      // The task's process is gone.
      ++cancelled_attempts;
    }
  }
  EXPECT_EQ(cancelled_attempts, 2);
  // The killed processes never wrote their end line.
  for (auto& [task, runs] : ReadJournal(journal())) {
    EXPECT_EQ(runs.at(0).end_ms, 0) << task;
  }
  // Cancelling again is a precondition error: it already ended.
  grpc::ClientContext ctx2;
  grpc::Status again = daemon_->stub()->CancelEvaluation(&ctx2, req, &after);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(E2ETest, SecondDaemonOnTheSameSocketOrDatabaseRefusesToStart) {
  RunResult same_socket = RunProgram({OcxdPath(), "--listen", daemon_->server(),
                                      "--database", dir_.path() + "/other.db",
                                      "--work-root", dir_.path() + "/w2"});
  EXPECT_NE(same_socket.exit_code, 0);
  EXPECT_THAT(same_socket.err, HasSubstr("another ocxd"));
  RunResult same_db = RunProgram(
      {OcxdPath(), "--listen", "unix://" + dir_.path() + "/other.sock",
       "--database", daemon_->database(), "--work-root", dir_.path() + "/w3"});
  EXPECT_NE(same_db.exit_code, 0);
  EXPECT_THAT(same_db.err, HasSubstr("another ocxd"));
  // The same database reached through links: a path-named lock file would
  // differ, the database file's inode does not.
  const std::string hard = dir_.path() + "/hard.db";
  const std::string soft = dir_.path() + "/soft.db";
  ASSERT_EQ(link(daemon_->database().c_str(), hard.c_str()), 0);
  ASSERT_EQ(symlink(daemon_->database().c_str(), soft.c_str()), 0);
  for (const std::string& linked : {hard, soft}) {
    RunResult via_link = RunProgram(
        {OcxdPath(), "--listen", "unix://" + dir_.path() + "/link.sock",
         "--database", linked, "--work-root", dir_.path() + "/w4"});
    EXPECT_NE(via_link.exit_code, 0) << linked;
    EXPECT_THAT(via_link.err, HasSubstr("symbolic or hard link")) << linked;
  }
  // The first daemon still serves.
  ocx::v1::ListEvaluationsRequest req;
  ocx::v1::ListEvaluationsResponse resp;
  grpc::ClientContext ctx;
  EXPECT_TRUE(daemon_->stub()->ListEvaluations(&ctx, req, &resp).ok());
}

// What a restart cannot fix exits with its own status, which the systemd
// unit lists in RestartPreventExitStatus (deploy/ocxd.service).
TEST_F(E2ETest, ConditionsARestartCannotFixHaveTheirOwnExitStatus) {
  const std::string corrupt = dir_.path() + "/corrupt.db";
  {
    std::ofstream out(corrupt);
    out << std::string(8192, 'x');  // Not an SQLite file.
  }
  RunResult bad_db =
      RunProgram({OcxdPath(), "--listen", "unix://" + dir_.path() + "/c.sock",
                  "--database", corrupt, "--work-root", dir_.path() + "/wc"});
  EXPECT_EQ(bad_db.exit_code, 65) << bad_db.err;
  EXPECT_THAT(bad_db.err, HasSubstr("not a database"));

  const std::string config = dir_.path() + "/bad-ocxd.yaml";
  {
    std::ofstream out(config);
    out << "local: {gpuz: \"0\"}\n";
  }
  RunResult bad_config =
      RunProgram({OcxdPath(), "--config", config, "--listen",
                  "unix://" + dir_.path() + "/d.sock", "--database",
                  dir_.path() + "/d.db", "--work-root", dir_.path() + "/wd"});
  EXPECT_EQ(bad_config.exit_code, 78) << bad_config.err;
  EXPECT_THAT(bad_config.err, HasSubstr("local.gpuz"));
}

TEST_F(E2ETest, BadSpecIsRejectedWithTheFieldPathAndNothingIsStored) {
  auto spec = TestSpec(2, 2, {});
  spec.mutable_datasets(1)->set_abbr("ds0");  // duplicate
  ocx::v1::CreateEvaluationRequest req;
  *req.mutable_spec() = spec;
  Evaluation e;
  grpc::ClientContext ctx;
  grpc::Status s = daemon_->stub()->CreateEvaluation(&ctx, req, &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("datasets[1].abbr"));
  ocx::v1::ListEvaluationsRequest list;
  ocx::v1::ListEvaluationsResponse resp;
  grpc::ClientContext ctx2;
  ASSERT_TRUE(daemon_->stub()->ListEvaluations(&ctx2, list, &resp).ok());
  EXPECT_EQ(resp.evaluations_size(), 0);
}

TEST_F(E2ETest, CreateWithTheSameRequestIdIsIdempotent) {
  auto spec = TestSpec(1, 1, {});
  Evaluation a = Create(spec, "req-123");
  Evaluation b = Create(spec, "req-123");
  EXPECT_EQ(a.id(), b.id());
  ocx::v1::ListEvaluationsRequest list;
  ocx::v1::ListEvaluationsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(daemon_->stub()->ListEvaluations(&ctx, list, &resp).ok());
  EXPECT_EQ(resp.evaluations_size(), 1);
}

TEST_F(E2ETest, KilledDaemonReattachesToRunningTasksWithoutRerunningThem) {
  auto spec = TestSpec(2, 2, {"--journal", journal(), "--sleep-ms", "1500"},
                       /*max_num_workers=*/4);
  Evaluation e = Create(spec);
  for (int i = 0; i < 200 && ReadJournal(journal()).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  daemon_->Stop(SIGKILL);
  ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  for (auto& [task, runs] : ReadJournal(journal())) {
    EXPECT_EQ(runs.size(), 1u) << task << " ran more than once";
  }
}

TEST_F(E2ETest, SigtermExitsCleanlyAndLeavesTasksToBeReattached) {
  auto spec = TestSpec(1, 2, {"--journal", journal(), "--sleep-ms", "1500"});
  Evaluation e = Create(spec);
  for (int i = 0; i < 200 && ReadJournal(journal()).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int status = daemon_->Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << daemon_->log();
  // The tasks kept running without the daemon and finished.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  auto runs = ReadJournal(journal());
  ASSERT_EQ(runs.size(), 2u);
  for (auto& [task, list] : runs) EXPECT_GT(list.at(0).end_ms, 0) << task;
  ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  for (auto& [task, list] : ReadJournal(journal())) {
    EXPECT_EQ(list.size(), 1u) << task << " ran again after the restart";
  }
}

TEST_F(E2ETest, WatchStreamsEventsAndResumesFromASequenceNumber) {
  auto spec = TestSpec(1, 2, {});
  Evaluation e = Create(spec);
  auto watch = [&](int64_t after) {
    ocx::v1::WatchEvaluationRequest req;
    req.set_id(e.id());
    req.set_after_sequence(after);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(60));
    auto reader = daemon_->stub()->WatchEvaluation(&ctx, req);
    std::vector<ocx::v1::Event> events;
    ocx::v1::WatchEvaluationResponse resp;
    Evaluation last;
    while (reader->Read(&resp)) {
      for (const auto& ev : resp.events()) events.push_back(ev);
      last = resp.evaluation();
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(last.state(), Evaluation::SUCCEEDED);
    return events;
  };
  std::vector<ocx::v1::Event> all = watch(0);
  // Created, per-task READY/RUNNING/SUCCEEDED, evaluation states.
  ASSERT_GE(all.size(), 8u);
  EXPECT_EQ(all.front().state(), "QUEUED");
  EXPECT_EQ(all.back().state(), "SUCCEEDED");
  EXPECT_EQ(all.back().task_id(), "");
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GT(all[i].sequence(), all[i - 1].sequence());
  }
  size_t half = all.size() / 2;
  std::vector<ocx::v1::Event> rest = watch(all[half - 1].sequence());
  ASSERT_EQ(rest.size(), all.size() - half);
  EXPECT_EQ(rest.front().sequence(), all[half].sequence());
}

TEST_F(E2ETest, ListEvaluationsPagesNewestFirstAndFiltersByState) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Create(TestSpec(1, 1, {})).id());
  for (const auto& id : ids)
    ASSERT_TRUE(WaitForEnd(daemon_->stub(), id, 60).ok());
  ocx::v1::ListEvaluationsRequest req;
  req.set_page_size(2);
  ocx::v1::ListEvaluationsResponse page1, page2;
  grpc::ClientContext c1;
  ASSERT_TRUE(daemon_->stub()->ListEvaluations(&c1, req, &page1).ok());
  ASSERT_EQ(page1.evaluations_size(), 2);
  EXPECT_EQ(page1.evaluations(0).id(), ids[2]);
  EXPECT_EQ(page1.evaluations(1).id(), ids[1]);
  ASSERT_FALSE(page1.next_page_token().empty());
  req.set_page_token(page1.next_page_token());
  grpc::ClientContext c2;
  ASSERT_TRUE(daemon_->stub()->ListEvaluations(&c2, req, &page2).ok());
  ASSERT_EQ(page2.evaluations_size(), 1);
  EXPECT_EQ(page2.evaluations(0).id(), ids[0]);
  EXPECT_TRUE(page2.next_page_token().empty());

  ocx::v1::ListEvaluationsRequest failed;
  failed.set_state(Evaluation::FAILED);
  ocx::v1::ListEvaluationsResponse none;
  grpc::ClientContext c3;
  ASSERT_TRUE(daemon_->stub()->ListEvaluations(&c3, failed, &none).ok());
  EXPECT_EQ(none.evaluations_size(), 0);

  ocx::v1::ListEvaluationsRequest bad;
  bad.set_page_size(-1);
  grpc::ClientContext c4;
  EXPECT_EQ(daemon_->stub()->ListEvaluations(&c4, bad, &none).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(E2ETest, OcxctlSubmitsWatchesAndReportsBadConfigsByField) {
  std::string config = dir_.path() + "/eval.yaml";
  {
    std::ofstream out(config);
    out << "models:\n  - {abbr: m1, type: OpenAISDK, path: x}\n"
        << "datasets:\n  - {abbr: d1, path: d1.jsonl}\n  - {abbr: d2, path: "
           "d2.jsonl}\n"
        << "infer:\n  runner:\n    task: {type: command, argv: [\""
        << TestTaskPath() << "\", \"{task_json}\"]}\n"
        << "eval:\n  runner:\n    task: {type: command, argv: [\""
        << TestTaskPath() << "\", \"{task_json}\"]}\n";
  }
  std::vector<std::string> env = {"OCX_SERVER=" + daemon_->server()};
  RunResult submit =
      RunProgram({OcxctlPath(), "submit", config, "--watch"}, env);
  EXPECT_EQ(submit.exit_code, 0) << submit.out << submit.err;
  EXPECT_THAT(submit.out, HasSubstr("SUCCEEDED"));

  RunResult list = RunProgram({OcxctlPath(), "list", "-o", "name"}, env);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::string id = list.out.substr(0, list.out.find('\n'));
  RunResult json = RunProgram({OcxctlPath(), "status", id, "-o", "json"}, env);
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_THAT(json.out, HasSubstr("\"state\": \"SUCCEEDED\""));
  RunResult tasks = RunProgram({OcxctlPath(), "tasks", id}, env);
  EXPECT_THAT(tasks.out, HasSubstr(id + "-eval-1"));
  RunResult logs = RunProgram({OcxctlPath(), "logs", id + "-infer-0"}, env);
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_THAT(logs.out, HasSubstr("task " + id + "-infer-0 attempt 1"));

  // --dry-run prints the plan and stores nothing.
  RunResult plan =
      RunProgram({OcxctlPath(), "submit", config, "--dry-run"}, env);
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("dry-run-eval-1"));
  RunResult after = RunProgram({OcxctlPath(), "list", "-o", "name"}, env);
  EXPECT_EQ(after.out, list.out);

  std::string bad = dir_.path() + "/bad.yaml";
  {
    std::ofstream out(bad);
    out << "models:\n  - {abbr: m1, type: OpenAISDK, run_cfg: {num_gpus: "
           "two}}\n"
        << "datasets:\n  - {abbr: d1}\n";
  }
  RunResult rejected = RunProgram({OcxctlPath(), "submit", bad}, env);
  EXPECT_EQ(rejected.exit_code, 2);
  EXPECT_THAT(rejected.err, HasSubstr("models[0].run_cfg.num_gpus"));

  RunResult unreachable =
      RunProgram({OcxctlPath(), "list", "--timeout", "1500ms"},
                 {"OCX_SERVER=unix://" + dir_.path() + "/none.sock"});
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_THAT(unreachable.err, HasSubstr("none.sock"));
  // It waited for a daemon that might be restarting, and said so.
  EXPECT_THAT(unreachable.err, HasSubstr("waiting for ocxd at unix://"));
}

TEST_F(E2ETest, HealthCheckReportsServingForTheServerAndTheService) {
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      "unix:" + daemon_->socket_path(), grpc::InsecureChannelCredentials()));
  for (const char* service : {"", "ocx.v1.EvaluationService"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << service;
  }
  grpc::health::v1::HealthCheckRequest unknown;
  unknown.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(health->Check(&ctx, unknown, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

class GpuE2ETest : public E2ETest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--gpus", "4,5"}; }
};

TEST_F(GpuE2ETest, TaskThatCanNeverFitIsRejectedAndOthersGetListedIds) {
  auto spec = TestSpec(1, 2, {});
  spec.mutable_models(0)->mutable_run_cfg()->set_num_gpus(4);
  ocx::v1::CreateEvaluationRequest req;
  *req.mutable_spec() = spec;
  Evaluation e;
  grpc::ClientContext ctx;
  grpc::Status s = daemon_->stub()->CreateEvaluation(&ctx, req, &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(),
              HasSubstr("models[0].run_cfg.num_gpus: a task needs 4 GPU(s) "
                        "but this ocxd has 2 (4,5)"));

  spec.mutable_models(0)->mutable_run_cfg()->set_num_gpus(1);
  Evaluation ok = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), ok.id(), 60);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  for (int i = 0; i < 2; ++i) {
    Task t = GetTask(absl::StrCat(ok.id(), "-infer-", i));
    ASSERT_EQ(t.attempts_size(), 1);
    ASSERT_EQ(t.attempts(0).gpus_size(), 1);
    int gpu = t.attempts(0).gpus(0);
    EXPECT_TRUE(gpu == 4 || gpu == 5) << gpu;
    std::ifstream log(t.attempts(0).log_path());
    std::string text((std::istreambuf_iterator<char>(log)), {});
    EXPECT_THAT(text, HasSubstr(absl::StrCat("CUDA_VISIBLE_DEVICES=", gpu)));
  }
}

}  // namespace
}  // namespace ocx::testing

namespace ocx::testing {
namespace {

// `--listen 127.0.0.1:0`: ocxd binds a free port, prints the address a
// client dials on its startup line ("listening on <address>;"), records it
// in <database>.address (removed at a clean stop), and ocxctl reaches it.
TEST(ListenPortZeroTest, BindsAFreePortPrintsAndRecordsIt) {
  TempDir dir;
  OcxdProcess ocxd(dir.path());
  ocxd.UseListen("127.0.0.1:0");
  absl::Status started = ocxd.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string address = ocxd.server();
  ASSERT_TRUE(absl::StartsWith(address, "127.0.0.1:")) << address;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(address.substr(10), &port)) << address;
  EXPECT_GT(port, 0);
  EXPECT_THAT(ocxd.log(),
              HasSubstr(absl::StrCat("listening on ", address, ";")));
  RunResult list =
      RunProgram({OcxctlPath(), "--server", address, "list", "-o", "name"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(ocxd.Stop(SIGTERM), 0);
  EXPECT_NE(access((ocxd.database() + ".address").c_str(), F_OK), 0)
      << "the address file outlived a clean stop";
}

}  // namespace
}  // namespace ocx::testing

namespace ocx::testing {
namespace {

// `ocxctl submit --help` lists every output form -o takes for submit.
TEST(OcxctlHelpTest, SubmitHelpListsTheOutputForms) {
  RunResult help = RunProgram({OcxctlPath(), "submit", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* form : {"table", "wide", "json", "yaml", "name"}) {
    EXPECT_THAT(help.out, HasSubstr(absl::StrCat("\n  ", form, " "))) << form;
  }
  EXPECT_THAT(help.out, HasSubstr("Exit codes:"));
}

}  // namespace
}  // namespace ocx::testing
