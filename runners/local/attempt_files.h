// The daemon's side of the ocx-shim contract (runners/shim/README.md): the
// names and formats of the files a shim writes into an attempt directory,
// and the /proc check that tells whether the shim that claimed an attempt
// still lives.
//
// Thread-safe: no shared state.
#ifndef OCX_RUNNERS_LOCAL_ATTEMPT_FILES_H_
#define OCX_RUNNERS_LOCAL_ATTEMPT_FILES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::runners {

// File names inside an attempt directory.
inline constexpr char kClaimFile[] = "claim";
inline constexpr char kTaskPidFile[] = "task.pid";
inline constexpr char kExitFile[] = "exit";

// Exit status of ocx-shim when the attempt was already claimed.
inline constexpr int kShimExitClaimed = 75;

// DIR/claim: which shim owns the attempt.
struct Claim {
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat
};

// DIR/exit: how the task ended.
struct ExitRecord {
  int exit_code = -1;
  int signal = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string reason;
  // The task's pid (its `task_pid=` line; 0 when it never started or the
  // record is from a shim before the line was added).
  pid_t task_pid = 0;
  // The claim the shim held when it wrote the record (its `claim=` line;
  // absent in records of shims from before it was added).
  std::optional<Claim> claim;
};

// Parses "<pid> <starttime>\n". INVALID_ARGUMENT when malformed.
absl::StatusOr<Claim> ParseClaim(absl::string_view text);

// Parses the key=value lines of an exit file. INVALID_ARGUMENT when
// exit_code or signal is missing or malformed; unknown keys are ignored.
absl::StatusOr<ExitRecord> ParseExitRecord(absl::string_view text);

// Reads and parses DIR/claim or DIR/exit. NOT_FOUND when the file does not
// exist (yet); INVALID_ARGUMENT when it is a link or not owned by the
// daemon's uid (the shim runs as the daemon; a task's owner may write in
// the attempt dir, never as the daemon), and for an exit record whose
// `claim=` line is not DIR/claim's content: the exit file is not fsynced,
// so after a power loss its blocks may hold stale bytes, such as another
// attempt's record (runners/shim/README.md, "Crash safety").
absl::StatusOr<Claim> ReadClaim(const std::string& attempt_dir);
absl::StatusOr<ExitRecord> ReadExitRecord(const std::string& attempt_dir);

// What /proc says about a process.
struct ProcStat {
  char state = '?';         // field 3: R, S, D, Z, ...
  uint64_t start_time = 0;  // field 22
};

// Reads /proc/<pid>/stat. NOT_FOUND when there is no such process.
absl::StatusOr<ProcStat> ReadProcStat(pid_t pid);

// Whether the process that wrote `claim` still runs: true when
// /proc/<pid>/stat exists, its starttime is the claimed one (so the pid was
// not reused) and it is not a zombie; false when any of that fails. An error
// (e.g. out of file descriptors) means "could not tell": ask again later.
absl::StatusOr<bool> ClaimHolderAlive(const Claim& claim);

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_LOCAL_ATTEMPT_FILES_H_
