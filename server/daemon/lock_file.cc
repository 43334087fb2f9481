#include "server/daemon/lock_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ocx::daemon {
namespace {

// The pid recorded in a held lock file, as text for a message: "pid 123", or
// "pid unknown" while the holder has not written it yet (or wrote garbage).
std::string HolderDescription(int fd) {
  char buf[32];
  ssize_t n;
  do {
    n = pread(fd, buf, sizeof(buf) - 1, 0);
  } while (n < 0 && errno == EINTR);
  int64_t pid = 0;
  if (n > 0 &&
      absl::SimpleAtoi(absl::StripAsciiWhitespace(
                           absl::string_view(buf, static_cast<size_t>(n))),
                       &pid) &&
      pid > 0) {
    return absl::StrCat("pid ", pid);
  }
  return "pid unknown";
}

absl::Status WriteAll(int fd, absl::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = pwrite(fd, data.data() + off, data.size() - off,
                       static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", errno);
    }
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// flock(LOCK_EX|LOCK_NB) on `fd`: OK, EWOULDBLOCK, or another errno.
int TryLock(int fd) {
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LockFile>> LockFile::Acquire(
    const std::string& path) {
  // O_CLOEXEC is essential: see the header.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) return PosixError(absl::StrCat("open lock file ", path), errno);

  if (int err = TryLock(fd); err != 0) {
    if (err == EWOULDBLOCK) {
      std::string holder = HolderDescription(fd);
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "another ocxd (", holder, ") holds ", path,
          "; stop it first or use a different --database/--listen"));
    }
    close(fd);
    return PosixError(absl::StrCat("flock ", path), err);
  }

  std::string pid = absl::StrCat(getpid(), "\n");
  absl::Status written;
  if (ftruncate(fd, 0) != 0) {
    written = PosixError("truncate", errno);
  } else {
    written = WriteAll(fd, pid);
  }
  if (!written.ok()) {
    close(fd);  // Also releases the lock.
    return absl::Status(written.code(), absl::StrCat("lock file ", path, ": ",
                                                     written.message()));
  }
  return std::unique_ptr<LockFile>(new LockFile(path, fd, true));
}

absl::StatusOr<std::unique_ptr<LockFile>> LockFile::LockInode(
    const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
  if (int err = TryLock(fd); err != 0) {
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another process holds a lock on ", path,
          " (another ocxd using this database, perhaps through a symbolic or "
          "hard link); stop it first or use a different --database"));
    }
    return PosixError(absl::StrCat("flock ", path), err);
  }
  return std::unique_ptr<LockFile>(new LockFile(path, fd, false));
}

LockFile::~LockFile() {
  if (owns_content_ && ftruncate(fd_, 0) != 0) {
    // Best effort: a stale pid is only ever shown in a message.
  }
  close(fd_);
}

}  // namespace ocx::daemon
