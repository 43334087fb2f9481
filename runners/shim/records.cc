#include "runners/shim/records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace ocx::shim {

Buf& Buf::S(const char* s) {
  while (*s && len + 1 < sizeof(data)) data[len++] = *s++;
  data[len] = '\0';
  return *this;
}

Buf& Buf::N(long long v) {
  char tmp[24];
  snprintf(tmp, sizeof(tmp), "%lld", v);
  return S(tmp);
}

void WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

unsigned long long SelfStartTime() {
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // The command name (field 2) may contain spaces and ')': skip to the last
  // ')'. Field 3 follows it; skip fields 3..21.
  char* p = strrchr(buf, ')');
  if (p == nullptr) return 0;
  ++p;
  for (int field = 3; field < 22; ++field) {
    while (*p == ' ') ++p;
    while (*p != ' ' && *p != '\0') ++p;
  }
  while (*p == ' ') ++p;
  return strtoull(p, nullptr, 10);
}

bool WriteAtomic(int dirfd, const char* name, const Buf& b) {
  char tmp[64];
  snprintf(tmp, sizeof(tmp), "%s.tmp", name);
  int fd = openat(dirfd, tmp,
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return false;
  WriteAll(fd, b.data, b.len);
  close(fd);
  if (renameat(dirfd, tmp, dirfd, name) != 0) {
    int err = errno;
    unlinkat(dirfd, tmp, 0);
    errno = err;
    return false;
  }
  return true;
}

namespace {

// Writes `b` into a new nameless file in dirfd (O_TMPFILE) and links it as
// `name`, so it appears whole without a temporary name to create and
// remove. Returns the file, open for reading and writing, or -1 with errno:
// EEXIST when `name` exists; anything else may mean that the file system
// has no O_TMPFILE or /proc is not mounted (callers fall back).
int LinkNew(int dirfd, const char* name, const Buf& b) {
  int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);
  if (fd < 0) return -1;
  WriteAll(fd, b.data, b.len);
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

bool PwriteAll(int fd, const char* data, size_t len) {
  off_t off = 0;
  while (len > 0) {
    ssize_t n = pwrite(fd, data, len, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    off += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int Claim(int dirfd, const Buf& content) {
  int linked = LinkNew(dirfd, "claim", content);
  if (linked >= 0) {
    close(linked);
    return 0;
  }
  if (errno == EEXIST) return EEXIST;
  // No O_TMPFILE (or no /proc): written beside and hard-linked.
  char tmp[64];
  snprintf(tmp, sizeof(tmp), "claim.tmp.%d", static_cast<int>(getpid()));
  int fd = openat(dirfd, tmp,
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd >= 0) {
    WriteAll(fd, content.data, content.len);
    close(fd);
    int rc = linkat(dirfd, tmp, dirfd, "claim", 0);
    int err = errno;
    unlinkat(dirfd, tmp, 0);
    if (rc == 0) return 0;
    if (err == EEXIST) return EEXIST;
    if (err != EPERM && err != EOPNOTSUPP && err != ENOSYS) return err;
    // No hard links on this file system: fall back to O_EXCL (a reader may
    // then briefly see an empty claim).
  }
  fd = openat(dirfd, "claim", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return errno;
  WriteAll(fd, content.data, content.len);
  close(fd);
  return 0;
}

int WriteTaskPid(int dirfd, const Buf& b) {
  int fd = LinkNew(dirfd, "task.pid", b);
  if (fd >= 0 || errno == EEXIST) return fd;
  if (!WriteAtomic(dirfd, "task.pid", b)) return -1;
  return openat(dirfd, "task.pid", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
}

bool RecordExitOver(int dirfd, int fd, const Buf& b) {
  // Linked by descriptor, not renamed by name: whatever lies at the name
  // task.pid now (under --run-as the directory is the owner's), it is this
  // file that becomes `exit`.
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  if (!PwriteAll(fd, b.data, b.len) || ftruncate(fd, b.len) != 0 ||
      linkat(AT_FDCWD, path, dirfd, "exit", AT_SYMLINK_FOLLOW) != 0) {
    return WriteAtomic(dirfd, "exit", b);
  }
  unlinkat(dirfd, "task.pid", 0);
  return true;
}

}  // namespace ocx::shim
