// Runs one command-line call of a backend tool (dlc, sbatch, squeue, ...) as
// argv — never through a shell — and collects what it prints, with a time
// limit.
//
// Thread-safe: calls share no state; any thread may run one.
#ifndef OCX_RUNNERS_CLI_CLI_H_
#define OCX_RUNNERS_CLI_CLI_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/identity.h"

namespace ocx::runners {

struct CliResult {
  // Not OK when the program could not be started (e.g. NOT_FOUND).
  absl::Status spawn_status;
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
  bool aborted = false;
  // stdout and stderr, interleaved as written (as OpenCompass's
  // subprocess.getoutput sees them); at most kMaxOutputBytes.
  std::string output;

  // Started, exited 0, not killed.
  bool ok() const {
    return spawn_status.ok() && !timed_out && !aborted && signal == 0 &&
           exit_code == 0;
  }
  // "exit status 1: <output, shortened>", "timed out after 60 s", ...
  std::string Describe() const;
};

constexpr size_t kMaxOutputBytes = 64 << 20;

// Runs argv[0] (looked up in PATH when it has no '/') with the daemon's
// environment, stdin on /dev/null, in its own process group, with every
// signal at its default and unblocked. Kills the process group with SIGKILL
// after `timeout_ms` (> 0), or as soon as `*abort` becomes true (may be
// null). Returns when the program has exited — also when a process it left
// behind still holds the output pipe open.
//
// With `run_as` (a root daemon submitting for an evaluation's owner, e.g.
// sbatch, so that Slurm's accounting sees the owner): the child takes the
// owner's supplementary groups, gid and uid (raw setgroups/setresgid/
// setresuid, so it cannot switch back) and USER, LOGNAME and HOME before
// exec; a failed switch is a spawn_status error naming the uid.
CliResult RunCli(const std::vector<std::string>& argv, int64_t timeout_ms,
                 const std::atomic<bool>* abort,
                 const Identity* run_as = nullptr);

// Makes the ocx_runner_command_seconds histogram (RunCli observes each
// call's time in it, by program) so that /metrics lists it before the
// first call; ocxd calls it at start.
void RegisterCliMetrics();

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_CLI_CLI_H_
