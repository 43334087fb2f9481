// DlcRunner against the stand-in `dlc` (tests/tools/fake-dlc, OCX_FAKE_DLC):
// jobs really run (locally, in the background), so these tests see real
// state progressions, logs, stops, preemptions and CLI failures.
#include "runners/dlc/dlc_runner.h"

#include <stdlib.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/cli/cli.h"
#include "runners/dlc/dlc_command.h"
#include "tests/runners/test_util.h"

namespace ocx::runners {
namespace {

using ::ocx::runners::testing::MakeTempDir;
using ::ocx::runners::testing::Slurp;
using ::ocx::runners::testing::WaitFor;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using Kind = AttemptUpdate::Kind;

constexpr int kWaitMs = 30000;

class DlcRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    state_ = root_ + "/dlc-state";
    ASSERT_TRUE(MakeDirs(state_).ok());
    setenv("FAKE_DLC_STATE_DIR", state_.c_str(), 1);
    cfg_path_ = root_ + "/dlc.cfg";
    ASSERT_TRUE(WriteFileAtomic(cfg_path_, "access_id=x\n").ok());
    Control("{\"create_ms\": 100, \"queue_ms\": 100}");
    auto* a = ctx_.runner.mutable_aliyun_cfg();
    a->set_workspace_id("ws-test");
    a->set_worker_image("registry/ocx:1");
    a->set_dlc_config_path(cfg_path_);
    a->set_python_env_path("/usr");
    a->add_data_sources("d-1");
    a->add_data_sources("d-2");
    ctx_.runner.set_type("DLCRunner");
    ASSERT_TRUE(MakeDirs(root_ + "/wd").ok());
  }
  void TearDown() override {
    runner_.reset();
    RunCli({OCX_FAKE_DLC, "_kill-all"}, 10000, nullptr);
    if (getenv("OCX_KEEP_TEST_DIRS") != nullptr) return;
    int rc = system(absl::StrCat("rm -rf '", root_, "'").c_str());
    (void)rc;
  }

  void Control(const std::string& json) {
    ASSERT_TRUE(WriteFileAtomic(state_ + "/control.json", json).ok());
  }

  DlcRunner::Options Opts() {
    DlcRunner::Options o;
    o.dlc_path = OCX_FAKE_DLC;
    o.poll_interval_ms = 100;
    o.max_concurrent_calls = 3;
    o.call_timeout_ms = 20000;
    o.call_initial_backoff_ms = 50;
    o.call_max_backoff_ms = 200;
    o.log_interval_ms = 300;
    return o;
  }

  DlcRunner* Start(DlcRunner::Options o) {
    absl::StatusOr<std::unique_ptr<DlcRunner>> r = DlcRunner::Create(o);
    EXPECT_TRUE(r.ok()) << r.status();
    runner_ = std::move(*r);
    return runner_.get();
  }
  DlcRunner* Start() { return Start(Opts()); }

  LaunchSpec Spec(const std::string& task, int attempt, std::string script) {
    LaunchSpec s;
    s.key = {task, attempt};
    s.name = absl::StrCat("ocx-", task, "-", attempt);
    s.argv = {"/bin/sh", "-c", std::move(script)};
    // What the dispatcher puts in every launch's environment.
    s.env = {{"OCX_WORK_DIR", root_ + "/wd"},
             {"OCX_TASK_ID", task},
             {"OCX_ATTEMPT", absl::StrCat(attempt)}};
    s.work_dir = root_ + "/wd";
    s.attempt_dir = absl::StrCat(root_, "/attempts/", task, ".", attempt);
    s.log_path = absl::StrCat(root_, "/logs/", task, ".", attempt, ".out");
    s.runner = ctx_.runner;
    s.stage = ctx_.eval_stage ? ocx::v1::STAGE_EVAL : ocx::v1::STAGE_INFER;
    s.task_name = ctx_.task_name;
    return s;
  }

  // Polls until `done` holds for the updates so far (or the time is up).
  std::vector<AttemptUpdate> PollUntil(
      const std::function<bool(const std::vector<AttemptUpdate>&)>& done,
      int timeout_ms = kWaitMs) {
    std::vector<AttemptUpdate> all;
    WaitFor(
        [&] {
          for (AttemptUpdate& u : runner_->Poll()) all.push_back(std::move(u));
          return done(all);
        },
        timeout_ms);
    return all;
  }
  static bool HasFinal(const std::vector<AttemptUpdate>& all) {
    for (const AttemptUpdate& u : all) {
      if (u.kind != Kind::kRunning) return true;
    }
    return false;
  }
  static const AttemptUpdate* Final(const std::vector<AttemptUpdate>& all) {
    for (const AttemptUpdate& u : all) {
      if (u.kind != Kind::kRunning) return &u;
    }
    return nullptr;
  }
  static std::vector<std::string> JobIds(
      const std::vector<AttemptUpdate>& all) {
    std::vector<std::string> ids;
    for (const AttemptUpdate& u : all) {
      if (u.kind == Kind::kRunning && !u.backend_id.empty() &&
          (ids.empty() || ids.back() != u.backend_id)) {
        ids.push_back(u.backend_id);
      }
    }
    return ids;
  }

  // name -> how often the stand-in accepted a create for it.
  std::map<std::string, int> Submissions() {
    std::map<std::string, int> n;
    for (absl::string_view line : absl::StrSplit(
             Slurp(state_ + "/submissions.log"), '\n', absl::SkipEmpty())) {
      ++n[std::string(line.substr(0, line.find(' ')))];
    }
    return n;
  }
  std::vector<std::string> Calls() {
    return absl::StrSplit(Slurp(state_ + "/calls.log"), '\n',
                          absl::SkipEmpty());
  }
  // The stand-in's view of a job, through `dlc get job`.
  dlc::JobInfo Job(const std::string& id) {
    CliResult r = RunCli({OCX_FAKE_DLC, "get", "job", id}, 10000, nullptr);
    absl::StatusOr<dlc::JobInfo> info = dlc::ParseJobInfo(r.output);
    EXPECT_TRUE(info.ok()) << r.Describe();
    return info.ok() ? *info : dlc::JobInfo();
  }

  std::string root_, state_, cfg_path_;
  // The stage settings every Spec() carries; tests change them before
  // building the spec they launch.
  struct {
    ocx::v1::RunnerConfig runner;
    bool eval_stage = false;
    std::string task_name;
  } ctx_;
  std::unique_ptr<DlcRunner> runner_;
};

TEST_F(DlcRunnerTest, JobRunsToSuccessWithItsLogsCollectedOnce) {
  DlcRunner* r = Start();
  // Prints over ~5 s, so the log comes in live windows while it runs plus
  // the final fetch; every line must arrive exactly once.
  LaunchSpec spec = Spec("t1", 1,
                         "i=1; while [ $i -le 20 ]; do echo line-$i; "
                         "i=$((i+1)); sleep 0.25; done; echo task=$OCX_TASK_ID "
                         "attempt=$OCX_ATTEMPT wd=$OCX_WORK_DIR; pwd; "
                         "echo oops >&2; touch result");
  absl::StatusOr<std::string> id = r->Launch(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "ocx-t1-1");  // provisional: the name
  EXPECT_EQ(r->live_count(), 1);
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr) << Slurp(spec.log_path);
  EXPECT_EQ(fin->kind, Kind::kExited);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason;
  std::vector<std::string> ids = JobIds(all);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_TRUE(dlc::IsJobId(ids[0])) << ids[0];
  EXPECT_EQ(fin->backend_id, ids[0]);
  // The second kRunning (DLC said Running) carries the start time.
  bool started = false;
  for (const AttemptUpdate& u : all) started |= u.start_ms > 0;
  EXPECT_TRUE(started);
  EXPECT_EQ(r->live_count(), 0);
  EXPECT_TRUE(PathExists(root_ + "/wd/result"));

  std::string log = Slurp(spec.log_path);
  // Some lines came while it ran, before DLC said Succeeded.
  EXPECT_LT(log.find("line-1\n"), log.find("Succeeded")) << log;
  for (int i = 1; i <= 20; ++i) {
    std::string line = absl::StrCat("line-", i, "\n");
    size_t first = log.find(line);
    EXPECT_NE(first, std::string::npos) << line << log;
    EXPECT_EQ(log.find(line, first + 1), std::string::npos)
        << "duplicated " << line << log;
  }
  EXPECT_THAT(log,
              HasSubstr(absl::StrCat("task=t1 attempt=1 wd=", root_, "/wd\n")));
  EXPECT_THAT(log, HasSubstr(absl::StrCat(root_, "/wd\n")));  // pwd
  EXPECT_THAT(log, HasSubstr("oops\n"));
  EXPECT_THAT(log, HasSubstr("[ocx-dlc "));
  EXPECT_THAT(log, HasSubstr("submitted ocx-t1-1 as DLC job " + ids[0]));
  EXPECT_EQ(Submissions(), (std::map<std::string, int>{{"ocx-t1-1", 1}}));

  // The create call as OpenCompass makes it.
  std::vector<std::string> calls = Calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_THAT(calls[0], HasSubstr("\"create\", \"job\", \"--kind\", "
                                  "\"PyTorchJob\", \"--command\""));
  for (const char* want :
       {"\"--name\", \"ocx-t1-1\"", "\"--workspace_id\", \"ws-test\"",
        "\"--worker_count\", \"1\"", "\"--worker_cpu\", \"12\"",
        "\"--worker_gpu\", \"0\"", "\"--worker_memory\", \"192Gi\"",
        "\"--worker_image\", \"registry/ocx:1\"", "\"--data_sources=d-1,d-2\"",
        "\"--enable_priority_preemption=False\"", "\"--priority\", \"1\"",
        "export HF_HUB_OFFLINE=1", "umask 0000"}) {
    EXPECT_THAT(calls[0], HasSubstr(want));
  }
  EXPECT_THAT(calls[0], HasSubstr(absl::StrCat("\"--config\", \"", cfg_path_)));
  EXPECT_THAT(Calls(), Contains(HasSubstr("\"logs\", \"" + ids[0])));
}

TEST_F(DlcRunnerTest, FailedJobIsReportedWithDlcsReason) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t2", 1, "echo about to fail; exit 3");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->kind, Kind::kExited);
  EXPECT_NE(fin->exit_code, 0);
  EXPECT_THAT(fin->reason, HasSubstr("Failed"));
  EXPECT_THAT(fin->reason, HasSubstr("exited with code 3"));
  EXPECT_THAT(Slurp(spec.log_path), HasSubstr("about to fail"));
}

TEST_F(DlcRunnerTest, CancelStopsTheJob) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t3", 1, "echo started; sleep 60");
  ASSERT_TRUE(r->Launch(spec).ok());
  // Until DLC says Running (the kRunning update with a start time).
  std::vector<AttemptUpdate> all = PollUntil([](const auto& all) {
    for (const AttemptUpdate& u : all) {
      if (u.start_ms > 0) return true;
    }
    return false;
  });
  std::vector<std::string> ids = JobIds(all);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(Job(ids[0]).status, "Running");
  ASSERT_TRUE(r->Cancel(spec.key).ok());
  std::vector<AttemptUpdate> rest = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(rest);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->kind, Kind::kExited);
  EXPECT_NE(fin->exit_code, 0);
  EXPECT_THAT(fin->reason, HasSubstr("stopped on request"));
  EXPECT_EQ(Job(ids[0]).status, "Stopped");
  EXPECT_EQ(Job(ids[0]).reason_code, "JobStoppedByUser");
  EXPECT_THAT(Calls(), Contains(HasSubstr("[\"stop\", \"job\", \"" + ids[0])));
  EXPECT_TRUE(absl::IsNotFound(r->Cancel(spec.key)));
}

TEST_F(DlcRunnerTest, CancelRightAfterLaunchLeavesNoJobRunning) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t4", 1, "sleep 60");
  ASSERT_TRUE(r->Launch(spec).ok());
  ASSERT_TRUE(r->Cancel(spec.key).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_NE(fin->exit_code, 0);
  for (const std::string& id : JobIds(all)) {
    EXPECT_EQ(Job(id).status, "Stopped") << id;
  }
}

TEST_F(DlcRunnerTest, PreemptedJobIsResubmittedWithinTheAttempt) {
  Control(
      "{\"create_ms\": 100, \"queue_ms\": 100, \"preempt\": "
      "[{\"name_contains\": \"ocx-t5-1\", \"times\": 1, \"after_ms\": 300}]}");
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t5", 1, "echo run; sleep 1; echo finished");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr) << Slurp(spec.log_path);
  EXPECT_EQ(fin->kind, Kind::kExited);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason << Slurp(spec.log_path);
  std::vector<std::string> ids = JobIds(all);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(Job(ids[0]).reason_code, "JobPreempted");
  EXPECT_EQ(Job(ids[1]).status, "Succeeded");
  EXPECT_EQ(fin->backend_id, ids[1]);
  // Each name once: the attempt and its one resubmission.
  EXPECT_EQ(Submissions(),
            (std::map<std::string, int>{{"ocx-t5-1", 1}, {"ocx-t5-1-p1", 1}}));
  std::string log = Slurp(spec.log_path);
  EXPECT_THAT(log, HasSubstr("was preempted"));
  EXPECT_THAT(log, HasSubstr("retry budget is not used"));
  EXPECT_THAT(log, HasSubstr("finished"));
}

TEST_F(DlcRunnerTest, PreemptionBeyondTheLimitIsAFailure) {
  Control(
      "{\"create_ms\": 100, \"queue_ms\": 100, \"preempt_status\": "
      "\"Stopped\", \"preempt\": [{\"name_contains\": \"ocx-t6\", \"times\": "
      "5, \"after_ms\": 200}]}");
  DlcRunner::Options o = Opts();
  o.max_resubmits = 1;
  DlcRunner* r = Start(o);
  LaunchSpec spec = Spec("t6", 1, "sleep 30");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_NE(fin->exit_code, 0);
  EXPECT_THAT(fin->reason, HasSubstr("was preempted"));
  EXPECT_THAT(fin->reason, HasSubstr("max_resubmits is 1"));
  EXPECT_EQ(Submissions(),
            (std::map<std::string, int>{{"ocx-t6-1", 1}, {"ocx-t6-1-p1", 1}}));
}

TEST_F(DlcRunnerTest, CliFailingItsFirstTwoCallsStillSubmitsOnce) {
  // Call 1 exits 1 with an error, call 2 exits 0 printing garbage.
  Control("{\"create_ms\": 100, \"queue_ms\": 100, \"fail_calls\": 2}");
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t7", 1, "echo ok");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason << Slurp(spec.log_path);
  EXPECT_EQ(Submissions(), (std::map<std::string, int>{{"ocx-t7-1", 1}}));
  std::string log = Slurp(spec.log_path);
  EXPECT_THAT(log, HasSubstr("dlc create job (try 1 of 5) failed"));
  EXPECT_THAT(log, HasSubstr("trying again in"));
}

TEST_F(DlcRunnerTest, TransientFailuresWhileWatchingAreRetried) {
  Control(
      "{\"create_ms\": 100, \"queue_ms\": 100, \"fail_calls\": 4, "
      "\"fail_only\": [\"get\"]}");
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t8", 1, "sleep 0.5; echo ok");
  ASSERT_TRUE(r->Launch(spec).ok());
  const AttemptUpdate* fin = nullptr;
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason;
  EXPECT_THAT(Slurp(spec.log_path), HasSubstr("dlc get job"));
}

TEST_F(DlcRunnerTest, LostCreateReplyIsFoundByNameNotSubmittedAgain) {
  Control("{\"create_ms\": 100, \"queue_ms\": 100, \"lose_create_output\": 1}");
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t9", 1, "echo ok");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason;
  EXPECT_EQ(Submissions(), (std::map<std::string, int>{{"ocx-t9-1", 1}}));
  EXPECT_THAT(Calls(), Contains(HasSubstr("[\"list\", \"job\", "
                                          "\"--display_name\", \"ocx-t9-1\"")));
  EXPECT_THAT(Slurp(spec.log_path), HasSubstr("found DLC job"));
}

TEST_F(DlcRunnerTest, AdoptWithAJobIdWatchesItWithoutSubmitting) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t10", 1, "sleep 1.5; echo adopted-ok");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all =
      PollUntil([](const auto& all) { return !JobIds(all).empty(); });
  std::vector<std::string> ids = JobIds(all);
  ASSERT_EQ(ids.size(), 1u);
  runner_.reset();  // "ocxd died"; the job runs on

  r = Start();
  ASSERT_TRUE(r->Adopt(spec, ids[0]).ok());
  all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason;
  EXPECT_EQ(fin->backend_id, ids[0]);
  EXPECT_EQ(Submissions(), (std::map<std::string, int>{{"ocx-t10-1", 1}}));
  std::string log = Slurp(spec.log_path);
  size_t first = log.find("adopted-ok\n");
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("adopted-ok\n", first + 1), std::string::npos) << log;
}

TEST_F(DlcRunnerTest, AdoptWithoutAJobIdFindsTheJobByName) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t11", 1, "sleep 1; echo by-name");
  ASSERT_TRUE(r->Launch(spec).ok());
  // The create went through, but "ocxd dies" before it records the id.
  ASSERT_TRUE(
      WaitFor([&] { return Submissions().count("ocx-t11-1") > 0; }, kWaitMs));
  runner_.reset();

  r = Start();
  ASSERT_TRUE(r->Adopt(spec, spec.name).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason;
  EXPECT_EQ(Submissions(), (std::map<std::string, int>{{"ocx-t11-1", 1}}));
}

TEST_F(DlcRunnerTest, AdoptWithoutAJobIdSubmitsWhenDlcHasNone) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t12", 1, "echo fresh");
  ASSERT_TRUE(r->Adopt(spec, "").ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason;
  EXPECT_EQ(Submissions(), (std::map<std::string, int>{{"ocx-t12-1", 1}}));
  std::vector<std::string> calls = Calls();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_THAT(calls[0], HasSubstr("\"list\""));    // looked first
  EXPECT_THAT(calls[1], HasSubstr("\"create\""));  // then submitted
}

TEST_F(DlcRunnerTest, SubmissionGivesUpAfterSubmitTries) {
  DlcRunner::Options o = Opts();
  o.dlc_path = root_ + "/no-such-dlc";
  o.submit_tries = 2;
  DlcRunner* r = Start(o);
  LaunchSpec spec = Spec("t13", 1, "echo never");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->kind, Kind::kExited);
  EXPECT_NE(fin->exit_code, 0);
  EXPECT_THAT(fin->reason, HasSubstr("could not submit to DLC after 2 tries"));
  EXPECT_THAT(fin->reason, HasSubstr("no-such-dlc"));
}

TEST_F(DlcRunnerTest, JobDlcForgetsIsLost) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t14", 1, "sleep 60");
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all =
      PollUntil([](const auto& all) { return !JobIds(all).empty(); });
  std::vector<std::string> ids = JobIds(all);
  ASSERT_EQ(ids.size(), 1u);
  RunCli({OCX_FAKE_DLC, "_kill-all"}, 10000, nullptr);
  ASSERT_EQ(
      system(absl::StrCat("rm -rf '", state_, "/jobs/", ids[0], "'").c_str()),
      0);
  all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->kind, Kind::kLost);
  EXPECT_THAT(fin->reason, HasSubstr("DLC no longer knows job " + ids[0]));
}

TEST_F(DlcRunnerTest, TimeoutStopsTheJob) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t15", 1, "sleep 60");
  spec.timeout_s = 1;
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_NE(fin->exit_code, 0);
  EXPECT_THAT(fin->reason, HasSubstr("timed out after 1 s"));
  EXPECT_EQ(Job(fin->backend_id).status, "Stopped");
}

TEST_F(DlcRunnerTest, HostileStringsReachTheJobAsData) {
  DlcRunner* r = Start();
  std::string pwned = root_ + "/pwned";
  std::string hostile = "'; touch " + pwned + "; echo '$(touch " + pwned +
                        ")`touch " + pwned + "`\"";
  ctx_.runner.mutable_aliyun_cfg()->mutable_extra_envs()->insert(
      {"EXTRA", hostile});
  std::string wd = root_ + "/w'd $(touch " + pwned + ")";
  ASSERT_TRUE(MakeDirs(wd).ok());
  LaunchSpec spec = Spec("t16", 1, "");
  spec.work_dir = wd;
  spec.env["HOSTILE"] = hostile;
  spec.argv = {"/usr/bin/printf", "[%s]\\n", hostile, "$HOME"};
  ASSERT_TRUE(r->Launch(spec).ok());
  std::vector<AttemptUpdate> all = PollUntil(HasFinal);
  const AttemptUpdate* fin = Final(all);
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->exit_code, 0) << fin->reason << Slurp(spec.log_path);
  std::string log = Slurp(spec.log_path);
  EXPECT_THAT(log, HasSubstr("[" + hostile + "]\n[$HOME]\n"));
  EXPECT_FALSE(PathExists(pwned)) << "a config string ran as shell code";
}

TEST_F(DlcRunnerTest, ResourcesFromGpusAndEvalWithGpu) {
  DlcRunner* r = Start();
  LaunchSpec spec = Spec("t17", 1, "true");
  spec.num_gpus = 2;
  ASSERT_TRUE(r->Launch(spec).ok());
  ctx_.eval_stage = true;
  ctx_.task_name = "OpenICLEval[m/plugin_eval_x]";
  LaunchSpec eval = Spec("t18", 1, "true");
  ASSERT_TRUE(r->Launch(eval).ok());
  PollUntil([&](const auto&) { return r->live_count() == 0; });
  std::string calls = Slurp(state_ + "/calls.log");
  for (const std::string& line : Calls()) {
    if (absl::StrContains(line, "\"ocx-t17-1\"") &&
        absl::StrContains(line, "\"create\"")) {
      EXPECT_THAT(line, HasSubstr("\"--worker_gpu\", \"2\""));
      EXPECT_THAT(line, HasSubstr("\"--worker_cpu\", \"16\""));
      EXPECT_THAT(line, HasSubstr("\"--worker_memory\", \"256Gi\""));
    }
    if (absl::StrContains(line, "\"ocx-t18-1\"") &&
        absl::StrContains(line, "\"create\"")) {
      EXPECT_THAT(line, HasSubstr("\"--worker_gpu\", \"1\""));
      EXPECT_THAT(line, HasSubstr("\"--worker_cpu\", \"12\""));
    }
  }
  EXPECT_THAT(calls, HasSubstr("ocx-t18-1"));
}

TEST_F(DlcRunnerTest, IncompleteConfigIsRefusedAtLaunch) {
  DlcRunner* r = Start();
  ctx_.runner.mutable_aliyun_cfg()->clear_workspace_id();
  absl::StatusOr<std::string> id = r->Launch(Spec("t19", 1, "true"));
  EXPECT_TRUE(absl::IsInvalidArgument(id.status())) << id.status();
  EXPECT_THAT(id.status().message(),
              HasSubstr("aliyun_cfg.workspace_id: required for DLCRunner"));
  EXPECT_EQ(r->live_count(), 0);
  EXPECT_TRUE(Calls().empty());
}

TEST_F(DlcRunnerTest, PlaceCountsAgainstMaxParallel) {
  DlcRunner::Options o = Opts();
  o.max_parallel = 1;
  DlcRunner* r = Start(o);
  LaunchSpec a = Spec("t20", 1, "sleep 60");
  LaunchSpec b = Spec("t21", 1, "true");
  ASSERT_TRUE(r->Place(a).ok());
  EXPECT_TRUE(r->Place(a)->empty());  // again: same (no) GPUs
  EXPECT_TRUE(absl::IsResourceExhausted(r->Place(b).status()));
  r->Unplace(a.key);
  ASSERT_TRUE(r->Place(b).ok());
  r->Unplace(b.key);
  ASSERT_TRUE(r->Launch(a).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(r->Place(b).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(r->Place(a).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(r->Launch(a).status()));
}

TEST(DlcRunnerCreateTest, RejectsBadOptions) {
  DlcRunner::Options o;
  EXPECT_TRUE(DlcRunner::Create(o).ok());
  o.dlc_path = "";
  EXPECT_FALSE(DlcRunner::Create(o).ok());
  o.dlc_path = "dlc";
  o.max_concurrent_calls = 0;
  EXPECT_FALSE(DlcRunner::Create(o).ok());
}

}  // namespace
}  // namespace ocx::runners
