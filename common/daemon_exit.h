// ocxd's exit statuses. systemd restarts ocxd on failure; the statuses of
// conditions a restart cannot fix are listed in the unit's
// RestartPreventExitStatus (deploy/ocxd.service), so that a corrupt database
// or a full disk stops the service with its reason in the journal instead
// of restarting it every two seconds. Values follow sysexits.h.
#ifndef OCX_COMMON_DAEMON_EXIT_H_
#define OCX_COMMON_DAEMON_EXIT_H_

#include "absl/status/status.h"

namespace ocx {

inline constexpr int kDaemonExitOk = 0;
// Anything else; a restart may well help.
inline constexpr int kDaemonExitError = 1;
// Another ocxd holds the database or socket, or the database is newer than
// this ocxd: fix that first.
inline constexpr int kDaemonExitPrecondition = 3;
// The database file is corrupt or not a database (EX_DATAERR).
inline constexpr int kDaemonExitCorrupt = 65;
// A commit failed for a reason a restart recovers from (EX_SOFTWARE): the
// next start replays from the database.
inline constexpr int kDaemonExitCommitFailed = 70;
// The disk (or memory) is full (EX_IOERR): free space, then start ocxd.
inline constexpr int kDaemonExitNoSpace = 74;
// The configuration is invalid (EX_CONFIG).
inline constexpr int kDaemonExitConfig = 78;

// The exit status for a fatal `status`; `fallback` for codes with no
// status of their own (kDaemonExitError at start-up, kDaemonExitCommitFailed
// for a failed commit).
int DaemonExitCode(const absl::Status& status, int fallback);

}  // namespace ocx

#endif  // OCX_COMMON_DAEMON_EXIT_H_
