// LocalRunner against real processes and the real ocx-shim (OCX_SHIM_PATH).
#include "runners/local/local_runner.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/local/attempt_files.h"
#include "tests/runners/test_util.h"

namespace ocx::runners {
namespace {

using ::ocx::runners::testing::CleanUp;
using ::ocx::runners::testing::MakeTempDir;
using ::ocx::runners::testing::ProcessGone;
using ::ocx::runners::testing::ReadPidFile;
using ::ocx::runners::testing::Slurp;
using ::ocx::runners::testing::WaitFor;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Kind = AttemptUpdate::Kind;

constexpr int kWaitMs = 10000;

class LocalRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = MakeTempDir(); }
  void TearDown() override { CleanUp(root_); }

  LocalRunner::Options Opts(std::vector<int> gpus = {}) {
    LocalRunner::Options o;
    o.shim_path = OCX_SHIM_PATH;
    o.gpus = std::move(gpus);
    return o;
  }

  LaunchSpec Spec(const std::string& task, int attempt,
                  std::vector<std::string> argv) {
    LaunchSpec s;
    s.key = {task, attempt};
    s.name = absl::StrCat("ocx-", task, "-", attempt);
    s.argv = std::move(argv);
    s.work_dir = root_;
    s.attempt_dir = absl::StrCat(root_, "/attempts/", task, ".", attempt);
    s.log_path = absl::StrCat(root_, "/logs/", task, ".", attempt, ".out");
    // What the dispatcher puts in every launch's environment.
    s.env = {{"OCX_TASK_ID", task}, {"OCX_ATTEMPT", absl::StrCat(attempt)}};
    return s;
  }

  // A shell task: `script` under /bin/sh -c.
  LaunchSpec Sh(const std::string& task, int attempt,
                const std::string& script) {
    return Spec(task, attempt, {"/bin/sh", "-c", script});
  }

  // Polls `runner` until the final update for `key` arrives (or the
  // deadline); returns the updates for `key` in order.
  std::vector<AttemptUpdate> UntilFinal(Runner& runner, const AttemptKey& key,
                                        int timeout_ms = kWaitMs) {
    std::vector<AttemptUpdate> mine;
    WaitFor(
        [&] {
          for (AttemptUpdate& u : runner.Poll()) {
            if (u.key == key) mine.push_back(std::move(u));
          }
          return !mine.empty() && mine.back().kind != Kind::kRunning;
        },
        timeout_ms);
    return mine;
  }

  // Polls until `key` is reported running; returns that update.
  AttemptUpdate UntilRunning(Runner& runner, const AttemptKey& key) {
    AttemptUpdate got;
    got.kind = Kind::kLost;
    got.reason = "timed out waiting for kRunning";
    WaitFor(
        [&] {
          for (AttemptUpdate& u : runner.Poll()) {
            if (u.key == key) {
              got = u;
              return true;
            }
          }
          return false;
        },
        kWaitMs);
    return got;
  }

  // Lines in `path`.
  int Lines(const std::string& path) {
    std::string s = Slurp(path);
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }

  std::string root_;
};

MATCHER_P(IsKind, kind, "") { return arg.kind == kind; }

TEST_F(LocalRunnerTest, LaunchAndPollToCompletion) {
  LocalRunner runner(Opts());
  EXPECT_EQ(runner.backend(), "local");
  LaunchSpec spec = Sh("t1", 1, "echo hi; pwd; exit 3");
  ASSERT_TRUE(runner.Place(spec).ok());
  absl::StatusOr<std::string> id = runner.Launch(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(runner.live_count(), 1);

  std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kRunning), IsKind(Kind::kExited)));
  EXPECT_EQ(ups[0].backend_id, *id);
  EXPECT_EQ(ups[1].backend_id, *id);
  EXPECT_EQ(ups[1].exit_code, 3);
  EXPECT_EQ(ups[1].signal, 0);
  EXPECT_GT(ups[1].start_ms, 0);
  EXPECT_GE(ups[1].end_ms, ups[1].start_ms);
  EXPECT_EQ(runner.live_count(), 0);
  EXPECT_EQ(Slurp(spec.log_path), "hi\n" + root_ + "\n");
  EXPECT_TRUE(runner.Poll().empty());
}

TEST_F(LocalRunnerTest, RunningIsReportedWhileTheTaskRuns) {
  LocalRunner runner(Opts());
  std::string go = root_ + "/go";
  LaunchSpec spec =
      Sh("t1", 1, "while [ ! -e " + go + " ]; do sleep 0.02; done");
  absl::StatusOr<std::string> id = runner.Launch(spec);
  ASSERT_TRUE(id.ok()) << id.status();
  AttemptUpdate running = UntilRunning(runner, spec.key);
  EXPECT_EQ(running.kind, Kind::kRunning) << running.reason;
  EXPECT_EQ(running.backend_id, *id);
  EXPECT_GT(running.start_ms, 0);
  EXPECT_EQ(runner.poll_interval_ms(), 1000);  // our child: SIGCHLD wakes
  ASSERT_TRUE(WriteFileAtomic(go, "").ok());
  std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kExited)));
  EXPECT_EQ(ups[0].exit_code, 0);
}

TEST_F(LocalRunnerTest, EnvironmentHasExactlyThePlacedGpus) {
  // The daemon's own CUDA_VISIBLE_DEVICES must not leak into tasks.
  ASSERT_EQ(setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3", 1), 0);
  ASSERT_EQ(setenv("OCX_TEST_INHERITED", "yes", 1), 0);
  LocalRunner runner(Opts({4, 5}));
  const std::string script =
      "echo \"cvd=[${CUDA_VISIBLE_DEVICES-unset}] task=$OCX_TASK_ID "
      "attempt=$OCX_ATTEMPT foo=$FOO inh=$OCX_TEST_INHERITED\"";
  struct Case {
    int num_gpus;
    std::string want_cvd;
  };
  int n = 0;
  for (const Case& c : {Case{1, "4"}, Case{2, "4,5"}, Case{0, ""}}) {
    LaunchSpec spec = Sh("env", ++n, script);
    spec.num_gpus = c.num_gpus;
    spec.env["FOO"] = "bar";
    absl::StatusOr<std::vector<int>> gpus = runner.Place(spec);
    ASSERT_TRUE(gpus.ok()) << gpus.status();
    spec.gpus = *gpus;
    ASSERT_TRUE(runner.Launch(spec).ok());
    std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
    ASSERT_FALSE(ups.empty());
    EXPECT_EQ(ups.back().exit_code, 0);
    EXPECT_EQ(Slurp(spec.log_path),
              absl::StrCat("cvd=[", c.want_cvd, "] task=env attempt=", n,
                           " foo=bar inh=yes\n"));
  }
  unsetenv("CUDA_VISIBLE_DEVICES");
  unsetenv("OCX_TEST_INHERITED");
}

TEST_F(LocalRunnerTest, GpusAreHeldUntilTheFinalUpdate) {
  LocalRunner runner(Opts({4}));
  std::string go = root_ + "/go";
  LaunchSpec a = Sh("a", 1, "while [ ! -e " + go + " ]; do sleep 0.02; done");
  a.num_gpus = 1;
  absl::StatusOr<std::vector<int>> placed = runner.Place(a);
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_THAT(*placed, ElementsAre(4));
  a.gpus = *placed;
  ASSERT_TRUE(runner.Launch(a).ok());

  LaunchSpec b = Sh("b", 1, "true");
  b.num_gpus = 1;
  EXPECT_EQ(runner.Place(b).status().code(),
            absl::StatusCode::kResourceExhausted);
  LaunchSpec big = Sh("big", 1, "true");
  big.num_gpus = 2;
  EXPECT_EQ(runner.Place(big).status().code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(WriteFileAtomic(go, "").ok());
  ASSERT_FALSE(UntilFinal(runner, a.key).empty());
  EXPECT_TRUE(runner.Place(b).ok());
}

TEST_F(LocalRunnerTest, MaxParallel) {
  LocalRunner::Options o = Opts();
  o.max_parallel = 1;
  LocalRunner runner(o);
  LaunchSpec a = Sh("a", 1, "sleep 0.2");
  LaunchSpec b = Sh("b", 1, "true");
  ASSERT_TRUE(runner.Place(a).ok());
  EXPECT_EQ(runner.Place(b).status().code(),
            absl::StatusCode::kResourceExhausted);
  runner.Unplace(a.key);
  ASSERT_TRUE(runner.Place(b).ok());
  ASSERT_TRUE(runner.Launch(b).ok());
  EXPECT_EQ(runner.Place(a).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_FALSE(UntilFinal(runner, b.key).empty());
  EXPECT_TRUE(runner.Place(a).ok());
}

TEST_F(LocalRunnerTest, CancelStopsTheTask) {
  LocalRunner runner(Opts());
  LaunchSpec spec = Spec("c", 1, {"/bin/sleep", "1000"});
  ASSERT_TRUE(runner.Launch(spec).ok());
  ASSERT_EQ(UntilRunning(runner, spec.key).kind, Kind::kRunning);
  // Running means claimed; wait until the task itself has started, so the
  // cancel stops it rather than preventing its start.
  ASSERT_TRUE(WaitFor(
      [&] { return PathExists(spec.attempt_dir + "/task.pid"); }, kWaitMs));
  ASSERT_TRUE(runner.Cancel(spec.key).ok());
  std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kExited)));
  EXPECT_EQ(ups[0].signal, SIGTERM);
  EXPECT_EQ(ups[0].reason, "cancelled");
  EXPECT_EQ(runner.Cancel(spec.key).code(), absl::StatusCode::kNotFound);
}

TEST_F(LocalRunnerTest, CancelRightAfterLaunchIsNotLost) {
  LocalRunner runner(Opts());
  std::string marker = root_ + "/marker";
  LaunchSpec spec = Sh("c", 1, "echo ran > " + marker + "; sleep 1000");
  ASSERT_TRUE(runner.Launch(spec).ok());
  ASSERT_TRUE(runner.Cancel(spec.key).ok());
  std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
  ASSERT_FALSE(ups.empty());
  EXPECT_EQ(ups.back().kind, Kind::kExited) << ups.back().reason;
  EXPECT_THAT(ups.back().reason, AnyOf("cancelled before start", "cancelled"));
}

TEST_F(LocalRunnerTest, KillGraceAndTimeoutArePassedToTheShim) {
  LocalRunner::Options o = Opts();
  o.kill_grace_s = 1;
  LocalRunner runner(o);
  std::string ready = root_ + "/ready";
  LaunchSpec spec =
      Sh("t", 1,
         "trap '' TERM; touch " + ready + "; while :; do sleep 0.05; done");
  spec.timeout_s = 1;
  ASSERT_TRUE(runner.Launch(spec).ok());
  std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
  ASSERT_FALSE(ups.empty());
  EXPECT_EQ(ups.back().kind, Kind::kExited);
  EXPECT_EQ(ups.back().reason, "timed out after 1 s");
  EXPECT_EQ(ups.back().signal, SIGKILL);  // TERM ignored; killed after grace
}

TEST_F(LocalRunnerTest, AdoptRunningAttemptAfterRestart) {
  std::string go = root_ + "/go";
  std::string marker = root_ + "/marker";
  LaunchSpec spec = Sh("r", 1,
                       "echo ran >> " + marker + "; while [ ! -e " + go +
                           " ]; do sleep 0.02; done; exit 7");
  spec.num_gpus = 1;
  std::string id;
  {
    LocalRunner first(Opts({4}));
    absl::StatusOr<std::vector<int>> gpus = first.Place(spec);
    ASSERT_TRUE(gpus.ok()) << gpus.status();
    spec.gpus = *gpus;
    absl::StatusOr<std::string> launched = first.Launch(spec);
    ASSERT_TRUE(launched.ok()) << launched.status();
    id = *launched;
    ASSERT_EQ(UntilRunning(first, spec.key).kind, Kind::kRunning);
  }  // the daemon "crashes": the shim keeps running

  LocalRunner second(Opts({4}));
  ASSERT_TRUE(second.Adopt(spec, id).ok());
  EXPECT_EQ(second.live_count(), 1);
  EXPECT_EQ(second.poll_interval_ms(), 100);
  LaunchSpec other = Sh("o", 1, "true");
  other.num_gpus = 1;
  EXPECT_EQ(second.Place(other).status().code(),
            absl::StatusCode::kResourceExhausted);

  AttemptUpdate running = UntilRunning(second, spec.key);
  EXPECT_EQ(running.kind, Kind::kRunning) << running.reason;
  EXPECT_EQ(running.backend_id, id);
  ASSERT_TRUE(WriteFileAtomic(go, "").ok());
  std::vector<AttemptUpdate> ups = UntilFinal(second, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kExited)));
  EXPECT_EQ(ups[0].exit_code, 7);
  EXPECT_EQ(ups[0].backend_id, id);
  EXPECT_EQ(second.live_count(), 0);
  EXPECT_EQ(Lines(marker), 1);
  EXPECT_TRUE(second.Place(other).ok());
}

TEST_F(LocalRunnerTest, AdoptFinishedAttemptReportsItsExit) {
  std::string marker = root_ + "/marker";
  LaunchSpec spec = Sh("f", 1, "echo ran >> " + marker + "; exit 5");
  std::string id;
  {
    LocalRunner first(Opts());
    absl::StatusOr<std::string> launched = first.Launch(spec);
    ASSERT_TRUE(launched.ok());
    id = *launched;
    ASSERT_TRUE(WaitFor([&] { return PathExists(spec.attempt_dir + "/exit"); },
                        kWaitMs));
  }  // crashed before it polled
  LocalRunner second(Opts());
  ASSERT_TRUE(second.Adopt(spec, id).ok());
  std::vector<AttemptUpdate> ups = UntilFinal(second, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kRunning), IsKind(Kind::kExited)));
  EXPECT_EQ(ups[1].exit_code, 5);
  EXPECT_EQ(ups[1].backend_id, id);
  EXPECT_EQ(Lines(marker), 1);
}

TEST_F(LocalRunnerTest, AdoptOfNeverStartedAttemptLaunchesItOnce) {
  std::string marker = root_ + "/marker";
  LaunchSpec spec = Sh("n", 1, "echo ran >> " + marker + "; sleep 0.1");
  LocalRunner runner(Opts());
  ASSERT_TRUE(runner.Adopt(spec, "").ok());
  std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kRunning), IsKind(Kind::kExited)));
  EXPECT_EQ(ups[1].exit_code, 0);
  EXPECT_EQ(Lines(marker), 1);
}

TEST_F(LocalRunnerTest, ConcurrentAdoptersRunTheAttemptOnce) {
  // Two runners (a restarted daemon and a leftover launch) both find the
  // attempt unstarted: the claim lets only one shim run it, both see it end.
  std::string marker = root_ + "/marker";
  LaunchSpec spec = Sh("n", 1, "echo ran >> " + marker + "; sleep 0.2");
  LocalRunner a(Opts()), b(Opts());
  ASSERT_TRUE(a.Adopt(spec, "").ok());
  ASSERT_TRUE(b.Adopt(spec, "").ok());
  std::vector<AttemptUpdate> ua = UntilFinal(a, spec.key);
  std::vector<AttemptUpdate> ub = UntilFinal(b, spec.key);
  ASSERT_FALSE(ua.empty());
  ASSERT_FALSE(ub.empty());
  EXPECT_EQ(ua.back().kind, Kind::kExited) << ua.back().reason;
  EXPECT_EQ(ub.back().kind, Kind::kExited) << ub.back().reason;
  EXPECT_EQ(ua.back().exit_code, 0);
  EXPECT_EQ(ub.back().exit_code, 0);
  EXPECT_EQ(ua.back().backend_id, ub.back().backend_id);
  EXPECT_EQ(Lines(marker), 1);
}

TEST_F(LocalRunnerTest, KilledShimIsLostAndTakesItsTaskAlong) {
  LocalRunner runner(Opts());
  LaunchSpec spec = Spec("k", 1, {"/bin/sleep", "1000"});
  absl::StatusOr<std::string> id = runner.Launch(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_EQ(UntilRunning(runner, spec.key).kind, Kind::kRunning);
  ASSERT_TRUE(
      WaitFor([&] { return ReadPidFile(spec.attempt_dir + "/task.pid") > 0; },
              kWaitMs));
  pid_t task = ReadPidFile(spec.attempt_dir + "/task.pid");
  ASSERT_EQ(kill(std::stoi(*id), SIGKILL), 0);
  std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kLost)));
  EXPECT_THAT(ups[0].reason, HasSubstr("killed by signal 9"));
  EXPECT_EQ(ups[0].backend_id, *id);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(task); }, kWaitMs));
  EXPECT_EQ(runner.live_count(), 0);
}

TEST_F(LocalRunnerTest, AdoptedShimKilledIsLost) {
  LaunchSpec spec = Spec("k", 1, {"/bin/sleep", "1000"});
  std::string id;
  {
    LocalRunner first(Opts());
    absl::StatusOr<std::string> launched = first.Launch(spec);
    ASSERT_TRUE(launched.ok());
    id = *launched;
    ASSERT_EQ(UntilRunning(first, spec.key).kind, Kind::kRunning);
  }
  LocalRunner second(Opts());
  ASSERT_TRUE(second.Adopt(spec, id).ok());
  ASSERT_EQ(UntilRunning(second, spec.key).kind, Kind::kRunning);
  // Not a child of `second`: it sees a zombie (nobody reaps it here), which
  // counts as dead.
  ASSERT_EQ(kill(std::stoi(id), SIGKILL), 0);
  std::vector<AttemptUpdate> ups = UntilFinal(second, spec.key);
  ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kLost)));
  EXPECT_THAT(ups[0].reason, HasSubstr("without recording an exit"));
}

TEST_F(LocalRunnerTest, CancelOfAdoptedAttemptVerifiesAndSignalsTheShim) {
  LaunchSpec spec = Spec("k", 1, {"/bin/sleep", "1000"});
  std::string id;
  {
    LocalRunner first(Opts());
    absl::StatusOr<std::string> launched = first.Launch(spec);
    ASSERT_TRUE(launched.ok());
    id = *launched;
    ASSERT_EQ(UntilRunning(first, spec.key).kind, Kind::kRunning);
  }
  LocalRunner second(Opts());
  ASSERT_TRUE(second.Adopt(spec, id).ok());
  // Running means claimed; wait until the task itself has started, so the
  // cancel stops it rather than preventing its start.
  ASSERT_TRUE(WaitFor(
      [&] { return PathExists(spec.attempt_dir + "/task.pid"); }, kWaitMs));
  ASSERT_TRUE(second.Cancel(spec.key).ok());
  std::vector<AttemptUpdate> ups = UntilFinal(second, spec.key);
  ASSERT_FALSE(ups.empty());
  EXPECT_EQ(ups.back().kind, Kind::kExited) << ups.back().reason;
  EXPECT_EQ(ups.back().reason, "cancelled");
}

TEST_F(LocalRunnerTest, StaleClaimIsLost) {
  // A claim whose process is gone, and one whose pid now belongs to another
  // process (same pid, different start time): neither is trusted.
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  absl::StatusOr<ProcStat> self = ReadProcStat(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  std::vector<std::string> claims = {
      absl::StrCat(dead, " ", self->start_time, "\n"),
      absl::StrCat(getpid(), " ", self->start_time + 1, "\n")};
  int n = 0;
  for (const std::string& claim : claims) {
    LaunchSpec spec = Sh("s", ++n, "true");
    ASSERT_TRUE(MakeDirs(spec.attempt_dir).ok());
    ASSERT_TRUE(WriteFileAtomic(spec.attempt_dir + "/claim", claim).ok());
    LocalRunner runner(Opts());
    ASSERT_TRUE(runner.Adopt(spec, "").ok());
    std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
    ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kLost))) << claim;
    EXPECT_FALSE(PathExists(spec.log_path)) << "it must not have run";
  }
}

// The shim does not fsync DIR/exit: after a power loss the file may hold
// stale bytes of another attempt's record. Its claim= line tells: such a
// record makes the attempt lost, never finished with another's exit code.
// A record without the line (a shim from before it) is taken as it is.
TEST_F(LocalRunnerTest, ExitRecordOfAnotherClaimIsLost) {
  const std::string ours = "4242 777\n";
  struct Case {
    std::string exit;
    bool lost;
  };
  std::vector<Case> cases = {
      {"exit_code=0\nsignal=0\nreason=\nclaim=4243 777\n", true},
      {"exit_code=0\nsignal=0\nreason=\nclaim=4242 778\n", true},
      {"exit_code=0\nsignal=0\nreason=\nclaim=4242 777\n", false},
      {"exit_code=0\nsignal=0\nreason=\n", false}};
  int n = 0;
  for (const Case& c : cases) {
    LaunchSpec spec = Sh("x", ++n, "true");
    ASSERT_TRUE(MakeDirs(spec.attempt_dir).ok());
    ASSERT_TRUE(WriteFileAtomic(spec.attempt_dir + "/claim", ours).ok());
    ASSERT_TRUE(WriteFileAtomic(spec.attempt_dir + "/exit", c.exit).ok());
    LocalRunner runner(Opts());
    ASSERT_TRUE(runner.Adopt(spec, "").ok());
    std::vector<AttemptUpdate> ups = UntilFinal(runner, spec.key);
    if (c.lost) {
      ASSERT_THAT(ups, ElementsAre(IsKind(Kind::kLost))) << c.exit;
      EXPECT_THAT(ups[0].reason, HasSubstr("stale")) << c.exit;
    } else {
      ASSERT_THAT(ups,
                  ElementsAre(IsKind(Kind::kRunning), IsKind(Kind::kExited)))
          << c.exit;
      EXPECT_EQ(ups[1].exit_code, 0);
    }
  }
}

TEST_F(LocalRunnerTest, LaunchErrors) {
  LocalRunner::Options bad = Opts();
  bad.shim_path = root_ + "/no-such-shim";
  EXPECT_EQ(LocalRunner::Create(bad).status().code(),
            absl::StatusCode::kFailedPrecondition);
  LocalRunner broken(bad);
  LaunchSpec spec = Sh("e", 1, "true");
  EXPECT_FALSE(broken.Launch(spec).ok());
  EXPECT_EQ(broken.live_count(), 0);

  absl::StatusOr<std::unique_ptr<LocalRunner>> runner =
      LocalRunner::Create(Opts());
  ASSERT_TRUE(runner.ok()) << runner.status();
  LaunchSpec empty = Spec("e", 2, {});
  EXPECT_EQ((*runner)->Launch(empty).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*runner)->Launch(spec).ok());
  EXPECT_EQ((*runner)->Launch(spec).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(UntilFinal(**runner, spec.key).empty());
}

// An argv too long for exec: the error names the task's program, not the
// shim that carries it, and is INVALID_ARGUMENT (no retry shortens it).
TEST_F(LocalRunnerTest, ArgumentListTooLongNamesTheTaskProgram) {
  absl::StatusOr<std::unique_ptr<LocalRunner>> runner =
      LocalRunner::Create(Opts());
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<std::string> argv = {"/bin/echo"};
  for (int i = 0; i < 64; ++i) argv.push_back(std::string(64 * 1024, 'x'));
  absl::StatusOr<std::string> id = (*runner)->Launch(Spec("big", 1, argv));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()),
              HasSubstr("cannot run /bin/echo: its argument list and "
                        "environment are too long (E2BIG"));
  EXPECT_THAT(std::string(id.status().message()), Not(HasSubstr("ocx-shim")));
  EXPECT_EQ((*runner)->live_count(), 0);
}

TEST_F(LocalRunnerTest, LaunchRefusesGpusOtherThanPlaced) {
  LocalRunner runner(Opts({4, 5}));
  LaunchSpec spec = Sh("g", 1, "true");
  spec.num_gpus = 1;
  absl::StatusOr<std::vector<int>> gpus = runner.Place(spec);
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  ASSERT_THAT(*gpus, ElementsAre(4));
  spec.gpus = {5};
  EXPECT_EQ(runner.Launch(spec).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runner.live_count(), 0);
  EXPECT_FALSE(PathExists(spec.attempt_dir));
  spec.gpus = *gpus;
  ASSERT_TRUE(runner.Launch(spec).ok());
  EXPECT_FALSE(UntilFinal(runner, spec.key).empty());
}

}  // namespace
}  // namespace ocx::runners
