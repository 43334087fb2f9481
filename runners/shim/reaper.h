// ocx-shim's reaper part (README.md, contract f): every descendant of the
// task ends with the attempt, including one that left the task's process
// group and session (setsid, a daemonizing double fork). The shim is a
// child subreaper (PR_SET_CHILD_SUBREAPER), so such orphans are reparented
// to it rather than to init, where KillOrphans finds them. Plain
// POSIX/Linux calls, like the rest of the shim; nothing here allocates.
#ifndef OCX_RUNNERS_SHIM_REAPER_H_
#define OCX_RUNNERS_SHIM_REAPER_H_

#include <sys/types.h>

namespace ocx::shim {

// Makes the calling process a child subreaper. Before the task starts.
void BecomeSubreaper();

// SIGKILLs every remaining child of `self` (the shim) and reaps them,
// again and again as their own children are reparented to the shim, until
// it has none left or `max_ms` passed. After the task itself was reaped.
void KillOrphans(pid_t self, int max_ms);

}  // namespace ocx::shim

#endif  // OCX_RUNNERS_SHIM_REAPER_H_
