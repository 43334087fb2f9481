// End to end on "DLC": a real ocxd configured with the stand-in `dlc`
// (tests/tools/fake-dlc), which runs every job's command locally in the
// background and keeps its jobs in a state directory — so they outlive a
// kill -9 of ocxd, and the directory shows how often each name was
// submitted.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/journal.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::testing {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DlcE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = dir_.path() + "/dlc-state";
    std::filesystem::create_directories(state_);
    // ocxd runs dlc with its own environment, inherited from this test.
    setenv("FAKE_DLC_STATE_DIR", state_.c_str(), 1);
    cfg_ = dir_.path() + "/dlc.cfg";
    std::ofstream(cfg_) << "access_id=test\n";
    Control("{\"create_ms\": 100, \"queue_ms\": 150}");
    std::string yaml = dir_.path() + "/ocxd.yaml";
    std::ofstream(yaml) << "dlc:\n"
                           "  poll_interval_ms: 200\n"
                           "  call_initial_backoff_ms: 100\n"
                           "  call_max_backoff_ms: 500\n"
                           "  log_interval_ms: 500\n";
    daemon_ = std::make_unique<OcxdProcess>(
        dir_.path(),
        std::vector<std::string>{"--config", yaml, "--dlc", OCX_FAKE_DLC,
                                 "--http-listen", "127.0.0.1:0"});
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }
  void TearDown() override {
    daemon_.reset();
    RunProgram({OCX_FAKE_DLC, "_kill-all"});
  }

  void Control(const std::string& json) {
    std::ofstream(state_ + "/control.json") << json;
  }

  std::string journal() const { return dir_.path() + "/journal"; }

  // TestSpec with both stages on DLCRunner.
  ocx::v1::EvaluationSpec DlcSpec(int models, int datasets,
                                  std::vector<std::string> task_args,
                                  int retry = 2) {
    task_args.insert(task_args.begin(), {"--journal", journal()});
    ocx::v1::EvaluationSpec spec =
        TestSpec(models, datasets, task_args, /*max_num_workers=*/4, retry);
    for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
      auto* r = stage->mutable_runner();
      r->set_type("DLCRunner");
      auto* a = r->mutable_aliyun_cfg();
      a->set_workspace_id("ws-e2e");
      a->set_worker_image("registry/ocx-eval:1");
      a->set_dlc_config_path(cfg_);
      a->set_python_env_path("/usr");
      a->add_data_sources("nas-1");
    }
    return spec;
  }

  Evaluation Create(const ocx::v1::EvaluationSpec& spec) {
    return CreateOrFail(daemon_->stub(), spec);
  }

  Task GetTask(const std::string& id) {
    return GetTaskOrFail(daemon_->stub(), id);
  }

  // name -> how often the stand-in accepted a `dlc create job` for it.
  std::map<std::string, int> Submissions() {
    std::map<std::string, int> n;
    for (absl::string_view line : absl::StrSplit(
             Slurp(state_ + "/submissions.log"), '\n', absl::SkipEmpty())) {
      ++n[std::string(line.substr(0, line.find(' ')))];
    }
    return n;
  }

  // Status of every job the stand-in knows, by job id.
  std::map<std::string, std::string> JobStatuses() {
    std::map<std::string, std::string> out;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(state_ + "/jobs", ec)) {
      std::string job = Slurp(entry.path().string() + "/job.json");
      size_t at = job.find("\"Status\": \"");
      if (at == std::string::npos) continue;
      at += 11;
      out[entry.path().filename().string()] =
          job.substr(at, job.find('"', at) - at);
    }
    return out;
  }
  int CountStatus(const std::string& status) {
    int n = 0;
    for (const auto& [id, s] : JobStatuses()) n += s == status;
    return n;
  }
  bool WaitUntil(const std::function<bool()>& cond, int timeout_s) {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return cond();
  }

  // Every task succeeded with `attempts` attempts, all on DLC, each attempt
  // ran exactly once, and each attempt's name was submitted exactly once.
  void ExpectAllSucceededOnDlc(const std::string& eval_id, int attempts) {
    std::map<std::string, int> submitted = Submissions();
    auto runs = ReadJournal(journal());
    int tasks = 0;
    for (const Task& listed : AllTasks(daemon_->stub(), eval_id)) {
      Task t = GetTask(listed.id());
      ++tasks;
      EXPECT_EQ(t.state(), Task::SUCCEEDED) << t.id() << ": " << t.reason();
      ASSERT_EQ(t.attempts_size(), attempts) << t.id();
      for (const Attempt& a : t.attempts()) {
        EXPECT_EQ(a.backend(), "dlc");
        EXPECT_TRUE(absl::StartsWith(a.backend_id(), "dlc"))
            << t.id() << " attempt " << a.number() << ": " << a.backend_id();
        EXPECT_EQ(submitted[a.name()], 1) << a.name();
      }
      EXPECT_EQ(static_cast<int>(runs[t.id()].size()), attempts) << t.id();
      const Attempt& last = t.attempts(attempts - 1);
      std::string log = Slurp(last.log_path());
      EXPECT_THAT(
          log, HasSubstr(absl::StrCat("task ", t.id(), " attempt ", attempts)));
      EXPECT_THAT(log, HasSubstr("[ocx-dlc "));
    }
    EXPECT_GT(tasks, 0);
    int names = 0;
    for (const auto& [name, n] : submitted) {
      EXPECT_EQ(n, 1) << name << " was submitted " << n << " times";
      ++names;
    }
    EXPECT_EQ(names, tasks * attempts);
  }

  TempDir dir_;
  std::string state_, cfg_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(DlcE2ETest, SmallEvaluationRunsOnDlc) {
  Evaluation e = Create(DlcSpec(2, 2, {"--sleep-ms", "200"}));
  auto done = WaitForEnd(daemon_->stub(), e.id(), 180);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  ExpectAllSucceededOnDlc(e.id(), 1);
  EXPECT_EQ(CountStatus("Succeeded"), 8);
  // Each dlc call's time, under the program's name: at least a submit and
  // a look per job.
  absl::StatusOr<HttpResult> scrape =
      HttpCall("GET", MetricsUrl(daemon_->log()), "", {}, 10000);
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  const std::string series =
      "ocx_runner_command_seconds_count{command=\"fake-dlc\"} ";
  size_t at = scrape->body.find(series);
  ASSERT_NE(at, std::string::npos) << scrape->body;
  EXPECT_GE(std::stod(scrape->body.substr(at + series.size())), 16);
}

TEST_F(DlcE2ETest, FailedAttemptsAreRetriedAsNewJobs) {
  Evaluation e = Create(DlcSpec(1, 1, {"--fail-attempts", "1"}));
  auto done = WaitForEnd(daemon_->stub(), e.id(), 180);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  ExpectAllSucceededOnDlc(e.id(), 2);
  for (const Task& listed : AllTasks(daemon_->stub(), e.id())) {
    Task t = GetTask(listed.id());
    EXPECT_EQ(t.attempts(0).state(), Attempt::FAILED);
    EXPECT_THAT(t.attempts(0).reason(), HasSubstr("Failed"));
    EXPECT_THAT(t.attempts(0).reason(), HasSubstr("exited with code 3"));
    EXPECT_EQ(t.attempts(1).state(), Attempt::SUCCEEDED);
  }
  EXPECT_EQ(CountStatus("Failed"), 2);
  EXPECT_EQ(CountStatus("Succeeded"), 2);
}

TEST_F(DlcE2ETest, PreemptionIsRetriedWithoutUsingTheRetryBudget) {
  // Every infer job is preempted once; retry 0 leaves no budget at all.
  Control(
      "{\"create_ms\": 100, \"queue_ms\": 150, \"preempt\": "
      "[{\"name_contains\": \"-infer-\", \"times\": 2, \"after_ms\": 200}]}");
  Evaluation e = Create(DlcSpec(1, 2, {"--sleep-ms", "800"}, /*retry=*/0));
  auto done = WaitForEnd(daemon_->stub(), e.id(), 180);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  std::map<std::string, int> submitted = Submissions();
  for (const Task& listed : AllTasks(daemon_->stub(), e.id())) {
    Task t = GetTask(listed.id());
    EXPECT_EQ(t.state(), Task::SUCCEEDED) << t.reason();
    ASSERT_EQ(t.attempts_size(), 1);
    if (absl::StrContains(t.id(), "-infer-")) {
      EXPECT_EQ(submitted[t.attempts(0).name() + "-p1"], 1) << t.id();
      EXPECT_THAT(Slurp(t.attempts(0).log_path()),
                  HasSubstr("retry budget is not used"));
    }
  }
  EXPECT_EQ(CountStatus("Succeeded"), 4);
}

TEST_F(DlcE2ETest, CancelStopsTheDlcJobs) {
  Evaluation e = Create(DlcSpec(1, 2, {"--sleep-ms", "60000"}));
  ASSERT_TRUE(WaitUntil([&] { return CountStatus("Running") == 2; }, 60))
      << daemon_->log();
  ocx::v1::CancelEvaluationRequest req;
  req.set_id(e.id());
  Evaluation after;
  grpc::ClientContext ctx;
  ASSERT_TRUE(daemon_->stub()->CancelEvaluation(&ctx, req, &after).ok());
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), Evaluation::CANCELLED);
  for (const Task& listed : AllTasks(daemon_->stub(), e.id())) {
    Task t = GetTask(listed.id());
    EXPECT_EQ(t.state(), Task::CANCELLED);
    for (const Attempt& a : t.attempts()) {
      EXPECT_EQ(a.state(), Attempt::CANCELLED);
      EXPECT_THAT(a.reason(), HasSubstr("dlc stop job"));
    }
  }
  // OpenCompass leaves these running; here DLC has stopped them.
  EXPECT_EQ(CountStatus("Stopped"), 2);
  EXPECT_EQ(CountStatus("Running"), 0);
}

TEST_F(DlcE2ETest, KilledDaemonAdoptsItsDlcJobsInsteadOfSubmittingAgain) {
  // Infer jobs run ~3 s; eval jobs follow as each pair finishes.
  Evaluation e = Create(DlcSpec(2, 2, {"--sleep-ms", "3000"}));
  ASSERT_TRUE(WaitUntil([&] { return CountStatus("Running") >= 2; }, 60))
      << daemon_->log();
  daemon_->Stop(SIGKILL);  // jobs running on "DLC"
  ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  // Once more while eval jobs are being submitted or queued.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& [name, n] : Submissions()) {
          if (absl::StrContains(name, "-eval-")) return true;
        }
        return false;
      },
      60))
      << daemon_->log();
  daemon_->Stop(SIGKILL);
  ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();

  auto done = WaitForEnd(daemon_->stub(), e.id(), 180);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  ExpectAllSucceededOnDlc(e.id(), 1);
  EXPECT_EQ(CountStatus("Succeeded"), 8);
}

// kill -9 at random moments, also between "attempt committed" and "job id
// known": every name is still submitted once and every attempt runs once.
TEST_F(DlcE2ETest, KillLoopNeverSubmitsANameTwice) {
  Evaluation e = Create(DlcSpec(2, 3, {"--sleep-ms", "1000"}));
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> wait_ms(100, 600);
  for (int kill = 0; kill < 8; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms(rng)));
    daemon_->Stop(SIGKILL);
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }
  auto done = WaitForEnd(daemon_->stub(), e.id(), 240);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  ExpectAllSucceededOnDlc(e.id(), 1);
  int by_name = 0, by_id = 0;
  for (const Task& listed : AllTasks(daemon_->stub(), e.id())) {
    std::string log = Slurp(GetTask(listed.id()).attempts(0).log_path());
    by_name += absl::StrContains(log, "looking it up by name");
    by_id += absl::StrContains(log, "watching DLC job");
  }
  printf("dlc kill loop: %d attempts re-attached by job id, %d by name\n",
         by_id, by_name);
}

TEST_F(DlcE2ETest, IncompleteAliyunConfigIsRejectedWithItsFieldPath) {
  ocx::v1::EvaluationSpec spec = DlcSpec(1, 1, {});
  spec.mutable_infer()
      ->mutable_runner()
      ->mutable_aliyun_cfg()
      ->clear_workspace_id();
  ocx::v1::CreateEvaluationRequest req;
  *req.mutable_spec() = spec;
  Evaluation e;
  grpc::ClientContext ctx;
  grpc::Status s = daemon_->stub()->CreateEvaluation(&ctx, req, &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("infer.runner.aliyun_cfg.workspace_id: required for "
                        "DLCRunner"));
  EXPECT_TRUE(Submissions().empty());
}

}  // namespace
}  // namespace ocx::testing
