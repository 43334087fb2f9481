#include "server/daemon/lock_file.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::daemon {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string MakeTempDir() {
  std::string templ = JoinPath(::testing::TempDir(), "lock_file_test.XXXXXX");
  char* dir = mkdtemp(templ.data());
  EXPECT_NE(dir, nullptr);
  return templ;
}

// Forks and execs `sleep 60` with nothing but the inherited descriptors;
// returns once the child has exec'd (so close-on-exec descriptors are gone).
pid_t SpawnSleeper() {
  int sync_pipe[2];
  EXPECT_EQ(pipe2(sync_pipe, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(sync_pipe[0]);
    execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(sync_pipe[1]);
  char c;
  // EOF when exec closed the child's copy of the write end.
  EXPECT_EQ(read(sync_pipe[0], &c, 1), 0);
  close(sync_pipe[0]);
  return pid;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

TEST(LockFileTest, AcquireWritesOurPid) {
  std::string path = JoinPath(MakeTempDir(), "ocx.db.lock");
  absl::StatusOr<std::unique_ptr<LockFile>> lock = LockFile::Acquire(path);
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_EQ((*lock)->path(), path);
  absl::StatusOr<std::string> content = ReadFile(path);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, absl::StrCat(getpid(), "\n"));
}

TEST(LockFileTest, DescriptorIsCloseOnExec) {
  std::string path = JoinPath(MakeTempDir(), "lock");
  absl::StatusOr<std::unique_ptr<LockFile>> lock = LockFile::Acquire(path);
  ASSERT_TRUE(lock.ok()) << lock.status();
  int flags = fcntl((*lock)->fd_for_testing(), F_GETFD);
  ASSERT_GE(flags, 0);
  EXPECT_TRUE(flags & FD_CLOEXEC);
}

// flock locks belong to the open file description, so a second open of the
// same file in the same process conflicts with the first.
TEST(LockFileTest, SecondAcquireInSameProcessFails) {
  std::string path = JoinPath(MakeTempDir(), "lock");
  absl::StatusOr<std::unique_ptr<LockFile>> first = LockFile::Acquire(path);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<LockFile>> second = LockFile::Acquire(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              AllOf(HasSubstr(absl::StrCat("another ocxd (pid ", getpid(),
                                           ") holds ", path)),
                    HasSubstr("stop it first or use a different "
                              "--database/--listen")));
  // The failed attempt must not have clobbered the holder's pid.
  EXPECT_EQ(*ReadFile(path), absl::StrCat(getpid(), "\n"));
}

TEST(LockFileTest, InodeLockSeesTheSameFileThroughLinksAndKeepsItsContent) {
  std::string dir = MakeTempDir();
  std::string path = JoinPath(dir, "ocx.db");
  ASSERT_TRUE(WriteFileAtomic(path, "sqlite bytes").ok());
  ASSERT_EQ(link(path.c_str(), JoinPath(dir, "hard.db").c_str()), 0);
  ASSERT_EQ(symlink(path.c_str(), JoinPath(dir, "soft.db").c_str()), 0);
  absl::StatusOr<std::unique_ptr<LockFile>> held = LockFile::LockInode(path);
  ASSERT_TRUE(held.ok()) << held.status();
  for (const char* other : {"hard.db", "soft.db", "ocx.db"}) {
    absl::StatusOr<std::unique_ptr<LockFile>> second =
        LockFile::LockInode(JoinPath(dir, other));
    ASSERT_FALSE(second.ok()) << other;
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(second.status().message(),
                HasSubstr("perhaps through a symbolic or hard link"));
  }
  held->reset();
  // Never written: the file belongs to SQLite.
  EXPECT_EQ(*ReadFile(path), "sqlite bytes");
  EXPECT_TRUE(LockFile::LockInode(JoinPath(dir, "hard.db")).ok());
}

TEST(LockFileTest, ReleasedOnDestruction) {
  std::string path = JoinPath(MakeTempDir(), "lock");
  absl::StatusOr<std::unique_ptr<LockFile>> first = LockFile::Acquire(path);
  ASSERT_TRUE(first.ok()) << first.status();
  first->reset();
  EXPECT_EQ(*ReadFile(path), "");  // No stale pid left behind.
  absl::StatusOr<std::unique_ptr<LockFile>> again = LockFile::Acquire(path);
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(LockFileTest, HeldByAnotherProcessNamesItsPid) {
  std::string path = JoinPath(MakeTempDir(), "lock");
  int locked[2];   // child -> parent: "locked"
  int release[2];  // parent -> child: closed = exit
  ASSERT_EQ(pipe(locked), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(locked[0]);
    close(release[1]);
    auto lock = LockFile::Acquire(path);
    char c = lock.ok() ? 'y' : 'n';
    if (write(locked[1], &c, 1) != 1) _exit(2);
    while (read(release[0], &c, 1) > 0) {
    }
    _exit(0);  // The lock goes with the process.
  }
  close(locked[1]);
  close(release[0]);
  char c = 0;
  ASSERT_EQ(read(locked[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');

  absl::StatusOr<std::unique_ptr<LockFile>> ours = LockFile::Acquire(path);
  ASSERT_FALSE(ours.ok());
  EXPECT_EQ(ours.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ours.status().message(),
              HasSubstr(absl::StrCat("another ocxd (pid ", child, ")")));

  close(release[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(locked[0]);
  ours = LockFile::Acquire(path);
  EXPECT_TRUE(ours.ok()) << ours.status();
}

// Tasks outlive the daemon: a process the daemon fork+exec'd must not keep
// the daemon's lock once the daemon lets go of it.
TEST(LockFileTest, ExecdChildDoesNotHoldTheLock) {
  std::string path = JoinPath(MakeTempDir(), "lock");
  absl::StatusOr<std::unique_ptr<LockFile>> lock = LockFile::Acquire(path);
  ASSERT_TRUE(lock.ok()) << lock.status();
  pid_t task = SpawnSleeper();
  lock->reset();  // The daemon stops; the task keeps running.
  ASSERT_EQ(kill(task, 0), 0) << "the child should still be running";

  absl::StatusOr<std::unique_ptr<LockFile>> restarted = LockFile::Acquire(path);
  EXPECT_TRUE(restarted.ok()) << restarted.status();
  KillAndReap(task);
}

// The control for the test above: without close-on-exec the exec'd child
// does keep the lock, so that test can tell the difference.
TEST(LockFileTest, InheritedDescriptorWouldKeepTheLock) {
  std::string path = JoinPath(MakeTempDir(), "lock");
  int fd = open(path.c_str(), O_RDWR | O_CREAT, 0644);  // No O_CLOEXEC.
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  pid_t task = SpawnSleeper();
  close(fd);

  absl::StatusOr<std::unique_ptr<LockFile>> lock = LockFile::Acquire(path);
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kFailedPrecondition);
  KillAndReap(task);
  lock = LockFile::Acquire(path);
  EXPECT_TRUE(lock.ok()) << lock.status();
}

TEST(LockFileTest, MissingDirectoryIsNotFound) {
  std::string path = JoinPath(MakeTempDir(), "no/such/dir/lock");
  absl::StatusOr<std::unique_ptr<LockFile>> lock = LockFile::Acquire(path);
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(lock.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace ocx::daemon
