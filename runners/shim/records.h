// ocx-shim's records in the attempt directory (README.md, contracts a, d
// and f): the claim, task.pid and the exit record, each appearing whole
// (written as an unnamed O_TMPFILE, or beside, and hard-linked or renamed
// into place), and the small fixed buffer they are formatted in. Plain
// POSIX/Linux calls, like the rest of the shim; nothing here allocates.
#ifndef OCX_RUNNERS_SHIM_RECORDS_H_
#define OCX_RUNNERS_SHIM_RECORDS_H_

#include <stddef.h>

namespace ocx::shim {

// Appends to a fixed buffer, truncating silently.
struct Buf {
  char data[1024];
  size_t len = 0;

  Buf& S(const char* s);
  Buf& N(long long v);
};

// Writes all of `data` to `fd`, retrying on EINTR; gives up on an error.
void WriteAll(int fd, const char* data, size_t len);

// Field 22 of /proc/self/stat (start time in clock ticks since boot), or 0.
unsigned long long SelfStartTime();

// Writes `b` to dirfd/name through dirfd/name.tmp + rename, without fsync
// (README.md, "Crash safety" says why). False with errno set on failure.
bool WriteAtomic(int dirfd, const char* name, const Buf& b);

// Creates dirfd/claim exclusively with `content`, atomically. Returns 0,
// EEXIST when already claimed, or another errno.
int Claim(int dirfd, const Buf& content);

// Creates dirfd/task.pid with `b`, appearing whole, and returns it open for
// reading and writing (RecordExitOver reuses it), or -1 with errno.
int WriteTaskPid(int dirfd, const Buf& b);

// Writes the exit record `b` into the open task.pid file `fd` and renames
// it to dirfd/exit: the record appears whole and costs no new file (on an
// unjournaled ext4 each new inode costs about a millisecond of CPU under
// churn, README.md "Cost per attempt"). False with errno set on failure.
bool RecordExitOver(int dirfd, int fd, const Buf& b);

}  // namespace ocx::shim

#endif  // OCX_RUNNERS_SHIM_RECORDS_H_
