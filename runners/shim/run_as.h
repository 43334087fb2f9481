// ocx-shim's run-as part (README.md, contract g): who the task runs as
// (--run-as UID:GID[:GROUPS]), the way the shim reaches the attempt dir and
// log in a directory tree the task's owner controls (no symbolic link
// followed in any component), and the switch of the task's child to the
// owner. Plain POSIX/Linux calls, like the rest of the shim (no abseil, no
// exceptions); nothing here allocates.
#ifndef OCX_RUNNERS_SHIM_RUN_AS_H_
#define OCX_RUNNERS_SHIM_RUN_AS_H_

#include <sys/types.h>

namespace ocx::shim {

constexpr int kMaxGroups = 256;

// --run-as: who the task runs as.
struct RunAs {
  bool set = false;
  uid_t uid = 0;
  gid_t gid = 0;
  gid_t groups[kMaxGroups];
  int num_groups = 0;  // at least 1 (the gid) once set
};

// Parses "UID:GID[:G1,G2,...]" into `r`; false when malformed.
bool ParseRunAs(const char* s, RunAs* r);

// Opens the directory `path` (absolute; mkdir -p, new directories 0750),
// returning its fd or -1 with errno. With `owner`, every component is
// opened with O_NOFOLLOW (a link is ELOOP/ENOTDIR) and new directories go
// to the owner.
int OpenDirs(const char* path, const RunAs* owner);

// Opens `path` for appending (created 0640; given to `owner` when set and
// reached as OpenDirs does, O_NOFOLLOW on the file too). -1 with errno.
int OpenLog(const char* path, const RunAs* owner);

// In the task's child: the owner's groups, gid and uid by raw system calls
// (the child shares the shim's memory, so libc's process-wide set*id
// machinery must not run). Real, effective and saved ids all change;
// returns false (errno set) when a call fails or root could be regained.
bool DropPrivileges(const RunAs& r);

}  // namespace ocx::shim

#endif  // OCX_RUNNERS_SHIM_RUN_AS_H_
