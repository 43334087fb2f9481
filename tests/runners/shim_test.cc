// Runs the real ocx-shim binary (OCX_SHIM_PATH) against real processes.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/time_util.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kWaitMs = 10000;

int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = opendir(path.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// How ShimTest::Start() starts the shim.
struct StartOpts {
  // Start with SIGTERM blocked and pending, as if cancelled right after
  // the launch.
  bool pending_sigterm = false;
  // Start with SIGTERM, SIGINT, SIGQUIT and SIGCHLD ignored, as a shell's
  // background job or a careless parent would.
  bool ignore_signals = false;
  // A descriptor to leak into the shim.
  int extra_fd = -1;
};

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    dir_ = root_ + "/attempt";
    log_ = root_ + "/logs/task.out";
    ASSERT_TRUE(MakeDirs(root_ + "/logs").ok());
  }
  void TearDown() override { CleanUp(root_); }

  // Starts ocx-shim with `args` (after argv[0]); its stderr goes to
  // root_/shim.err.
  pid_t Start(const std::vector<std::string>& args, StartOpts opts = {}) {
    std::vector<std::string> all = {OCX_SHIM_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : all) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::string err = root_ + "/shim.err";
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) dup2(fd, STDERR_FILENO);
      if (opts.extra_fd >= 0) fcntl(opts.extra_fd, F_SETFD, 0);  // no CLOEXEC
      sigset_t mask;
      sigemptyset(&mask);
      if (opts.pending_sigterm) {
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_SETMASK, &mask, nullptr);
        raise(SIGTERM);
      } else {
        sigprocmask(SIG_SETMASK, &mask, nullptr);
      }
      if (opts.ignore_signals) {
        for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGCHLD})
          signal(sig, SIG_IGN);
      }
      execv(argv[0], argv.data());
      _exit(99);
    }
    return pid;
  }

  // The shim's arguments for running `program...` in this attempt.
  std::vector<std::string> Args(const std::vector<std::string>& program,
                                const std::vector<std::string>& opts = {}) {
    std::vector<std::string> args = {"--attempt-dir", dir_, "--log", log_};
    args.insert(args.end(), opts.begin(), opts.end());
    args.push_back("--");
    args.insert(args.end(), program.begin(), program.end());
    return args;
  }

  // Waits for the shim to end and returns its wait status; -1 (after
  // killing it) when it took longer than `timeout_ms`.
  int Wait(pid_t pid, int timeout_ms = kWaitMs) {
    int status = 0;
    bool done = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                        timeout_ms);
    if (!done) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    return status;
  }

  // Runs the shim to completion; returns its exit status (or -1).
  int Run(const std::vector<std::string>& args) {
    int status = Wait(Start(args));
    return (status >= 0 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  }

  ExitRecord Exit() {
    absl::StatusOr<ExitRecord> rec = ReadExitRecord(dir_);
    EXPECT_TRUE(rec.ok()) << rec.status();
    return rec.ok() ? *rec : ExitRecord{};
  }

  std::string root_, dir_, log_;
};

TEST_F(ShimTest, RecordsExitCodeAndAppendsOutputToLog) {
  ASSERT_TRUE(WriteFileAtomic(log_, "previous attempt\n").ok());
  int64_t before = NowMillis();
  ASSERT_EQ(Run(Args({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"})), 0);
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.exit_code, 3);
  EXPECT_EQ(rec.signal, 0);
  EXPECT_EQ(rec.reason, "");
  EXPECT_GE(rec.start_ms, before - 1000);
  EXPECT_LE(rec.start_ms, rec.end_ms);
  EXPECT_EQ(Slurp(log_), "previous attempt\nout\nerr\n");

  absl::StatusOr<Claim> claim = ReadClaim(dir_);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_GT(claim->start_time, 0u);
  // The record names the claim it was written under.
  ASSERT_TRUE(rec.claim.has_value());
  EXPECT_EQ(rec.claim->pid, claim->pid);
  EXPECT_EQ(rec.claim->start_time, claim->start_time);
  // task.pid's file became the exit record, which names the task.
  EXPECT_GT(rec.task_pid, 0);
  EXPECT_NE(rec.task_pid, claim->pid);
  // Nothing but the contract's files is left behind.
  EXPECT_THAT(ListDir(dir_), ElementsAre("claim", "exit"));
}

TEST_F(ShimTest, CreatesMissingAttemptDir) {
  dir_ = root_ + "/a/b/c";
  ASSERT_EQ(Run(Args({"/bin/true"})), 0);
  EXPECT_EQ(Exit().exit_code, 0);
}

TEST_F(ShimTest, RecordsSignalDeath) {
  ASSERT_EQ(Run(Args({"/bin/sh", "-c", "kill -KILL $$"})), 0);
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.exit_code, -1);
  EXPECT_EQ(rec.signal, SIGKILL);
}

TEST_F(ShimTest, ExecFailureExits127WithMessageInLog) {
  ASSERT_EQ(Run(Args({"/nonexistent/ocx-no-such-program", "x"})), 0);
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.exit_code, 127);
  // The record names the task's program, so ocxd can tell it from a task
  // that exits 127 itself.
  EXPECT_EQ(rec.reason,
            "cannot run /nonexistent/ocx-no-such-program: No such file or "
            "directory");
  EXPECT_THAT(Slurp(log_),
              HasSubstr("ocx-shim: cannot run /nonexistent/ocx-no-such-program:"
                        " No such file or directory"));
}

TEST_F(ShimTest, ProgramIsLookedUpInPath) {
  ASSERT_EQ(Run(Args({"sh", "-c", "exit 4"})), 0);
  EXPECT_EQ(Exit().exit_code, 4);
}

TEST_F(ShimTest, ATaskThatExits127ItselfHasNoReason) {
  ASSERT_EQ(Run(Args({"sh", "-c", "exit 127"})), 0);
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.exit_code, 127);
  EXPECT_EQ(rec.reason, "");
}

TEST_F(ShimTest, WorkdirStdinAndSignalState) {
  std::string wd = root_ + "/wd";
  ASSERT_TRUE(MakeDirs(wd).ok());
  ASSERT_EQ(Run(Args({"/bin/sh", "-c",
                      "pwd; read x; echo read=$?; "
                      "grep -E '^Sig(Blk|Ign)' /proc/self/status"},
                     {"--workdir", wd})),
            0);
  EXPECT_EQ(Exit().exit_code, 0);
  std::string log = Slurp(log_);
  EXPECT_THAT(log, HasSubstr(wd + "\n"));
  EXPECT_THAT(log, HasSubstr("read=1\n"));  // stdin is /dev/null: EOF
  // The shim blocks and ignores signals; the task must not inherit that.
  EXPECT_THAT(log, HasSubstr("SigBlk:\t0000000000000000\n"));
  EXPECT_THAT(log, HasSubstr("SigIgn:\t0000000000000000\n"));
}

TEST_F(ShimTest, BadWorkdirExits127) {
  ASSERT_EQ(Run(Args({"/bin/true"}, {"--workdir", root_ + "/missing"})), 0);
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.exit_code, 127);
  EXPECT_THAT(rec.reason, HasSubstr("cannot run /bin/true: cannot enter "
                                    "workdir"));
  EXPECT_THAT(Slurp(log_), HasSubstr("cannot enter workdir"));
}

TEST_F(ShimTest, InheritedDescriptorsAreClosed) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 57);
  close(fd);
  ASSERT_EQ(high, 57);
  StartOpts opts;
  opts.extra_fd = high;
  pid_t shim =
      Start(Args({"/bin/sh", "-c", "ls /proc/$$/fd; ls /proc/$PPID/fd"}), opts);
  close(high);
  int status = Wait(shim);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::vector<std::string> fds = absl::StrSplit(Slurp(log_), '\n');
  EXPECT_THAT(fds, Not(::testing::Contains("57")));
  EXPECT_THAT(fds, ::testing::Contains("0"));
}

TEST_F(ShimTest, SecondShimOnClaimedAttemptExits75WithoutRunning) {
  ASSERT_TRUE(MakeDirs(dir_).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/claim", "1 1\n").ok());
  std::string marker = root_ + "/marker";
  EXPECT_EQ(Run(Args({"/bin/sh", "-c", "echo ran > " + marker})), 75);
  EXPECT_FALSE(PathExists(marker));
  EXPECT_FALSE(PathExists(dir_ + "/exit"));
  EXPECT_FALSE(PathExists(dir_ + "/task.pid"));
  EXPECT_EQ(Slurp(dir_ + "/claim"), "1 1\n");
  EXPECT_THAT(ListDir(dir_), ElementsAre("claim"));
  EXPECT_THAT(Slurp(root_ + "/shim.err"), HasSubstr("already claimed"));
}

// --log-stderr (how LocalRunner starts it): the shim creates the log
// itself and its own messages land there, not on the stderr it was given.
TEST_F(ShimTest, LogStderrPutsTheShimsMessagesInTheLog) {
  ASSERT_TRUE(MakeDirs(dir_).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/claim", "1 1\n").ok());
  ASSERT_FALSE(PathExists(log_));
  EXPECT_EQ(Run(Args({"/bin/true"}, {"--log-stderr"})), 75);
  EXPECT_THAT(Slurp(log_), HasSubstr("already claimed"));
  EXPECT_THAT(Slurp(root_ + "/shim.err"), Not(HasSubstr("already claimed")));
  EXPECT_THAT(ListDir(dir_), ElementsAre("claim"));
}

TEST_F(ShimTest, RacingShimsRunTheTaskOnce) {
  std::string marker = root_ + "/marker";
  std::vector<pid_t> shims;
  for (int i = 0; i < 4; ++i) {
    shims.push_back(Start(
        Args({"/bin/sh", "-c", "echo ran >> " + marker + "; sleep 0.2"})));
  }
  int ok = 0, claimed = 0;
  for (pid_t pid : shims) {
    int status = Wait(pid);
    ASSERT_TRUE(status >= 0 && WIFEXITED(status)) << status;
    if (WEXITSTATUS(status) == 0) ++ok;
    if (WEXITSTATUS(status) == 75) ++claimed;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(claimed, 3);
  EXPECT_EQ(Slurp(marker), "ran\n");
  EXPECT_EQ(Exit().exit_code, 0);
}

TEST_F(ShimTest, SigtermCancelsWholeProcessGroup) {
  std::string gc = root_ + "/grandchild.pid";
  pid_t shim = Start(Args({"/bin/sh", "-c",
                           "sleep 1000 & echo $! > " + gc + ".tmp; mv " + gc +
                               ".tmp " + gc + "; wait"}));
  ASSERT_TRUE(WaitFor([&] { return ReadPidFile(gc) > 0; }, kWaitMs));
  pid_t grandchild = ReadPidFile(gc);
  // The shim writes task.pid once the task has exec'd: the task may have
  // written its grandchild's pid before that.
  ASSERT_TRUE(
      WaitFor([&] { return ReadPidFile(dir_ + "/task.pid") > 0; }, kWaitMs));
  pid_t task = ReadPidFile(dir_ + "/task.pid");
  // The claim names the running shim, with its /proc start time.
  absl::StatusOr<Claim> claim = ReadClaim(dir_);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->pid, shim);
  absl::StatusOr<ProcStat> st = ReadProcStat(shim);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(claim->start_time, st->start_time);
  EXPECT_TRUE(*ClaimHolderAlive(*claim));
  ASSERT_FALSE(ProcessGone(grandchild));
  ASSERT_EQ(kill(shim, SIGTERM), 0);
  int status = Wait(shim);
  ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status;
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.reason, "cancelled");
  EXPECT_EQ(rec.signal, SIGTERM);
  // The record took task.pid's place and names the same task.
  EXPECT_EQ(rec.task_pid, task);
  EXPECT_FALSE(PathExists(dir_ + "/task.pid"));
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(grandchild); }, kWaitMs));
  EXPECT_TRUE(ProcessGone(task));
}

// A descendant that left the task's process group and session (setsid) is
// not reached by the group kill; the shim, a child subreaper, inherits it
// when its parent exits and kills it before the exit record is written.
TEST_F(ShimTest, DescendantInItsOwnSessionEndsWithTheAttempt) {
  const std::string gc = root_ + "/detached.pid";
  const std::string detach = "setsid sleep 1000 & echo $! > " + gc +
                             ".tmp; mv " + gc + ".tmp " + gc + ";";
  ASSERT_EQ(Run(Args({"/bin/sh", "-c", detach + " exit 0"})), 0);
  pid_t detached = ReadPidFile(gc);
  ASSERT_GT(detached, 0);
  EXPECT_EQ(Exit().exit_code, 0);
  EXPECT_TRUE(ProcessGone(detached)) << "pid " << detached << " outlived it";

  // And at cancel: the shell waits on it, the cancel kills the shell's group.
  std::filesystem::remove_all(dir_);  // a second attempt dir, same path
  unlink(gc.c_str());
  pid_t shim = Start(Args({"/bin/sh", "-c", detach + " wait"}));
  ASSERT_TRUE(WaitFor([&] { return ReadPidFile(gc) > 0; }, kWaitMs));
  detached = ReadPidFile(gc);
  ASSERT_FALSE(ProcessGone(detached));
  ASSERT_EQ(kill(shim, SIGTERM), 0);
  ASSERT_EQ(WEXITSTATUS(Wait(shim)), 0);
  EXPECT_EQ(Exit().reason, "cancelled");
  EXPECT_TRUE(ProcessGone(detached)) << "pid " << detached << " outlived it";
}

TEST_F(ShimTest, SigintCancelsToo) {
  pid_t shim = Start(Args({"/bin/sleep", "1000"}));
  ASSERT_TRUE(WaitFor([&] { return PathExists(dir_ + "/task.pid"); }, kWaitMs));
  ASSERT_EQ(kill(shim, SIGINT), 0);
  ASSERT_EQ(WEXITSTATUS(Wait(shim)), 0);
  EXPECT_EQ(Exit().reason, "cancelled");
  EXPECT_EQ(Exit().signal, SIGTERM);
}

TEST_F(ShimTest, InheritedIgnoredSignalsDoNotDisableCancel) {
  StartOpts opts;
  opts.ignore_signals = true;
  pid_t shim = Start(
      Args({"/bin/sh", "-c", "grep SigIgn /proc/self/status; exec sleep 1000"}),
      opts);
  ASSERT_TRUE(
      WaitFor([&] { return Slurp(log_).find("SigIgn") != std::string::npos; },
              kWaitMs));
  ASSERT_EQ(kill(shim, SIGINT), 0);
  int status = Wait(shim);
  ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status;
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.reason, "cancelled");
  EXPECT_EQ(rec.signal, SIGTERM);
  // The task starts with nothing ignored.
  EXPECT_EQ(Slurp(log_), "SigIgn:\t0000000000000000\n");
}

TEST_F(ShimTest, TaskIgnoringSigtermIsKilledAfterGrace) {
  std::string ready = root_ + "/ready";
  pid_t shim = Start(
      Args({"/bin/sh", "-c",
            "trap '' TERM; touch " + ready + "; while :; do sleep 0.05; done"},
           {"--kill-grace-s", "1"}));
  ASSERT_TRUE(WaitFor([&] { return PathExists(ready); }, kWaitMs));
  int64_t t0 = MonoMs();
  ASSERT_EQ(kill(shim, SIGTERM), 0);
  int status = Wait(shim);
  int64_t took = MonoMs() - t0;
  ASSERT_TRUE(status >= 0 && WIFEXITED(status)) << status;
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.signal, SIGKILL);
  EXPECT_EQ(rec.reason, "cancelled");
  EXPECT_GE(took, 900);
  EXPECT_LT(took, 5000);
}

TEST_F(ShimTest, TimeoutStopsTask) {
  int64_t t0 = MonoMs();
  ASSERT_EQ(Run(Args({"/bin/sleep", "1000"}, {"--timeout-s", "1"})), 0);
  int64_t took = MonoMs() - t0;
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.reason, "timed out after 1 s");
  EXPECT_EQ(rec.signal, SIGTERM);
  EXPECT_GE(took, 900);
  EXPECT_LT(took, 5000);
}

TEST_F(ShimTest, CancelPendingAtStartRunsNothing) {
  std::string marker = root_ + "/marker";
  StartOpts opts;
  opts.pending_sigterm = true;
  int status =
      Wait(Start(Args({"/bin/sh", "-c", "echo ran > " + marker}), opts));
  ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status;
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.reason, "cancelled before start");
  EXPECT_EQ(rec.exit_code, -1);
  EXPECT_EQ(rec.signal, 0);
  EXPECT_FALSE(PathExists(marker));
  EXPECT_TRUE(PathExists(dir_ + "/claim"));
}

TEST_F(ShimTest, TaskDiesWithKilledShim) {
  pid_t shim = Start(Args({"/bin/sleep", "1000"}));
  ASSERT_TRUE(
      WaitFor([&] { return ReadPidFile(dir_ + "/task.pid") > 0; }, kWaitMs));
  pid_t task = ReadPidFile(dir_ + "/task.pid");
  ASSERT_FALSE(ProcessGone(task));
  ASSERT_EQ(kill(shim, SIGKILL), 0);
  Wait(shim);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(task); }, kWaitMs));
  EXPECT_FALSE(PathExists(dir_ + "/exit"));
}

TEST_F(ShimTest, UnwritableLogIsRecorded) {
  log_ = root_ + "/no/such/dir/task.out";
  ASSERT_EQ(Run(Args({"/bin/true"})), 0);
  ExitRecord rec = Exit();
  EXPECT_EQ(rec.exit_code, -1);
  EXPECT_THAT(rec.reason, HasSubstr("cannot open log"));
}

TEST_F(ShimTest, UsageErrorsExit64) {
  EXPECT_EQ(Run({"--attempt-dir", dir_, "--log", log_}), 64);
  EXPECT_EQ(Run({"--log", log_, "--", "/bin/true"}), 64);
  EXPECT_EQ(Run({"--attempt-dir", dir_, "--log", log_, "--timeout-s", "x", "--",
                 "/bin/true"}),
            64);
  EXPECT_EQ(Run({"--attempt-dir", dir_, "--log", log_, "--bogus", "1", "--",
                 "/bin/true"}),
            64);
  EXPECT_FALSE(PathExists(dir_));
}

TEST_F(ShimTest, UncreatableAttemptDirExits71) {
  ASSERT_TRUE(WriteFileAtomic(root_ + "/file", "").ok());
  dir_ = root_ + "/file/attempt";
  EXPECT_EQ(Run(Args({"/bin/true"})), 71);
}

}  // namespace
}  // namespace ocx::runners
