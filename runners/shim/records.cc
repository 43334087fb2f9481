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

int Claim(int dirfd, const Buf& content) {
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

}  // namespace ocx::shim
