// ocx-shim --run-as against real accounts (tests/test_users.h): the task's
// /proc/self/status shows the owner's uid, gid and groups; root is refused
// without --allow-root; the log is the owner's, 0640; a symbolic link in
// the attempt dir's path is not followed. Skipped unless run as root.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/cli/cli.h"
#include "runners/local/attempt_files.h"
#include "tests/runners/test_util.h"
#include "tests/test_users.h"

namespace ocx::runners {
namespace {

using ::ocx::runners::testing::CleanUp;
using ::ocx::runners::testing::MakeTempDir;
using ::ocx::runners::testing::Slurp;
using ::testing::HasSubstr;

// "--run-as" value for `id`.
std::string RunAsArg(const Identity& id) {
  return absl::StrCat(id.uid, ":", id.gid, ":", absl::StrJoin(id.groups, ","));
}

// The value of `key` ("Uid:") in /proc/<pid>/status text: its fields.
std::vector<std::string> StatusField(const std::string& text,
                                     const std::string& key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, key)) {
      return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    }
  }
  return {};
}

class ShimRunAsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = ocx::testing::RunAsSkipReason();
    if (!why.empty()) GTEST_SKIP() << why;
    absl::StatusOr<Identity> a = ocx::testing::TestUser("ocxrun-a", "ocxrun-g");
    ASSERT_TRUE(a.ok()) << a.status();
    user_ = *a;
    root_ = MakeTempDir();
    chmod(root_.c_str(), 0711);  // the owner passes through to its dirs
    dir_ = root_ + "/attempt";
    log_ = root_ + "/logs/task.out";
  }
  void TearDown() override {
    if (!root_.empty()) CleanUp(root_);
  }

  // Runs the shim to its end; returns its exit status.
  int Run(const std::vector<std::string>& opts,
          const std::vector<std::string>& program) {
    std::vector<std::string> all = {OCX_SHIM_PATH, "--attempt-dir", dir_,
                                    "--log", log_};
    all.insert(all.end(), opts.begin(), opts.end());
    all.push_back("--");
    all.insert(all.end(), program.begin(), program.end());
    std::vector<char*> argv;
    for (std::string& s : all) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) !=
        0) {
      return -1;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  Identity user_;
  std::string root_, dir_, log_;
};

TEST_F(ShimRunAsTest, TaskRunsWithTheOwnersUidGidAndGroups) {
  ASSERT_EQ(Run({"--run-as", RunAsArg(user_)},
                {"/bin/sh", "-c", "cat /proc/self/status; umask"}),
            0);
  absl::StatusOr<ExitRecord> rec = ReadExitRecord(dir_);
  ASSERT_TRUE(rec.ok()) << rec.status() << Slurp(log_);
  EXPECT_EQ(rec->exit_code, 0) << rec->reason << Slurp(log_);
  const std::string status = Slurp(log_);
  const std::string uid = absl::StrCat(user_.uid);
  const std::string gid = absl::StrCat(user_.gid);
  // Real, effective, saved and filesystem ids: all the owner's.
  EXPECT_THAT(StatusField(status, "Uid:"),
              ::testing::ElementsAre(uid, uid, uid, uid));
  EXPECT_THAT(StatusField(status, "Gid:"),
              ::testing::ElementsAre(gid, gid, gid, gid));
  std::set<std::string> want;
  for (gid_t g : user_.groups) want.insert(absl::StrCat(g));
  std::vector<std::string> got_list = StatusField(status, "Groups:");
  std::set<std::string> got(got_list.begin(), got_list.end());
  EXPECT_EQ(got, want);
  EXPECT_GE(want.size(), 2u) << "ocxrun-a is in ocxrun-g too";
  EXPECT_THAT(status, HasSubstr("0027"));  // the task's umask
  // The log is the owner's and not world-readable.
  struct stat st;
  ASSERT_EQ(stat(log_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user_.uid);
  EXPECT_EQ(st.st_gid, user_.gid);
  EXPECT_EQ(st.st_mode & 0777, 0640);
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user_.uid);
  EXPECT_EQ(st.st_mode & 0777, 0750);
  // The shim's own records stay root's: ocxd trusts only those.
  ASSERT_EQ(stat((dir_ + "/exit").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(ShimRunAsTest, RootIsRefusedUnlessAllowed) {
  ASSERT_EQ(Run({"--run-as", "0:0"}, {"/bin/true"}), 0);
  absl::StatusOr<ExitRecord> rec = ReadExitRecord(dir_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->exit_code, 126);
  EXPECT_THAT(rec->reason, HasSubstr("refusing to run the task as root"));
  EXPECT_THAT(rec->reason, HasSubstr("allow_root_tasks"));

  dir_ = root_ + "/attempt2";
  ASSERT_EQ(
      Run({"--run-as", "0:0", "--allow-root"}, {"/bin/sh", "-c", "id -u"}), 0);
  rec = ReadExitRecord(dir_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->exit_code, 0);
}

TEST_F(ShimRunAsTest, SymbolicLinkInTheAttemptPathIsNotFollowed) {
  // The owner swapped a directory for a link to one they may not write.
  const std::string target = root_ + "/elsewhere";
  ASSERT_TRUE(MakeDirs(target).ok());
  ASSERT_EQ(symlink(target.c_str(), (root_ + "/swapped").c_str()), 0);
  dir_ = root_ + "/swapped/attempt";
  EXPECT_EQ(Run({"--run-as", RunAsArg(user_)}, {"/bin/true"}), 71);
  EXPECT_FALSE(PathExists(target + "/attempt"));
  // The same for the log's directory: the task never starts.
  dir_ = root_ + "/attempt3";
  log_ = root_ + "/swapped/task.out";
  ASSERT_EQ(Run({"--run-as", RunAsArg(user_)}, {"/bin/true"}), 0);
  absl::StatusOr<ExitRecord> rec = ReadExitRecord(dir_);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->exit_code, -1);
  EXPECT_THAT(rec->reason, HasSubstr("cannot open log"));
  EXPECT_FALSE(PathExists(target + "/task.out"));
}

TEST_F(ShimRunAsTest, AForgedClaimOwnedByTheUserIsNotTrusted) {
  ASSERT_TRUE(MakeDirs(dir_).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/claim", "1 1\n").ok());
  ASSERT_EQ(chown((dir_ + "/claim").c_str(), user_.uid, user_.gid), 0);
  absl::StatusOr<Claim> claim = ReadClaim(dir_);
  EXPECT_TRUE(absl::IsInvalidArgument(claim.status())) << claim.status();
  EXPECT_THAT(claim.status().message(), HasSubstr("not written by ocx-shim"));
}

// The same switch for backend commands (sbatch for an owner).
TEST_F(ShimRunAsTest, RunCliRunsTheCommandAsTheOwner) {
  CliResult r = RunCli({"/bin/sh", "-c", "id -u; id -g; id -G; echo $USER"},
                       10000, nullptr, &user_);
  ASSERT_TRUE(r.ok()) << r.Describe();
  std::vector<std::string> lines =
      absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << r.output;
  EXPECT_EQ(lines[0], absl::StrCat(user_.uid));
  EXPECT_EQ(lines[1], absl::StrCat(user_.gid));
  std::set<std::string> want, got;
  for (gid_t g : user_.groups) want.insert(absl::StrCat(g));
  for (absl::string_view g : absl::StrSplit(lines[2], ' ', absl::SkipEmpty())) {
    got.insert(std::string(g));
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(lines[3], "ocxrun-a");
  // Without run_as: the daemon's own account.
  r = RunCli({"/bin/sh", "-c", "id -u"}, 10000, nullptr);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(absl::StripAsciiWhitespace(r.output), "0");
}

}  // namespace
}  // namespace ocx::runners
