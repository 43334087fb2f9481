#include "runners/cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/identity.h"
#include "common/metrics.h"
#include "common/utf8_cut.h"

extern char** environ;

namespace ocx::runners {
namespace {

// Labelled by the program's file name (sbatch, squeue, sacct, scancel,
// dlc): a bounded set, the tools the daemon's config names.
metrics::Family& CommandLatency() {
  static metrics::Family& latency = metrics::Histogram(
      "ocx_runner_command_seconds",
      "Backend command-line calls (sbatch, squeue, dlc, ...) from start to "
      "exit, by program.",
      {"command"}, metrics::kLatencyBuckets);
  return latency;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Appends what is readable now; returns false at EOF or on a hard error.
bool Drain(int fd, std::string* out) {
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (out->size() < kMaxOutputBytes) {
        out->append(buf, std::min(static_cast<size_t>(n),
                                  kMaxOutputBytes - out->size()));
      }
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// argv0 itself when it has a '/', else the first executable of that name in
// PATH (resolved before fork(): execvp is not async-signal-safe).
absl::StatusOr<std::string> FindProgram(const std::string& argv0) {
  if (argv0.find('/') != std::string::npos) return argv0;
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = JoinPath(dir.empty() ? "." : dir, argv0);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return absl::NotFoundError(
      absl::StrCat("cannot run ", argv0, ": not found in PATH"));
}

}  // namespace

std::string CliResult::Describe() const {
  if (!spawn_status.ok()) return std::string(spawn_status.message());
  std::string what;
  if (aborted) {
    what = "aborted (ocxd is stopping)";
  } else if (timed_out) {
    what = "timed out";
  } else if (signal != 0) {
    what = absl::StrCat("killed by signal ", signal);
  } else {
    what = absl::StrCat("exit status ", exit_code);
  }
  constexpr size_t kMax = 300;
  std::string text = Abbreviate(output, kMax);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.empty()) return absl::StrCat(what, ", no output");
  return absl::StrCat(what, ": \"", absl::CHexEscape(text), "\"");
}

namespace {

// What the child of a run-as call switches to, prepared before fork().
struct ChildIds {
  bool set = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// Raw system calls: after fork() in a threaded process, libc's set*id
// (which signals every thread) must not run. All three ids change.
bool SwitchIds(const ChildIds& ids) {
  if (!ids.set) return true;
  return syscall(SYS_setgroups, ids.groups.size(), ids.groups.data()) == 0 &&
         syscall(SYS_setresgid, ids.gid, ids.gid, ids.gid) == 0 &&
         syscall(SYS_setresuid, ids.uid, ids.uid, ids.uid) == 0;
}

// The daemon's environment with the USER, LOGNAME and HOME of `who`.
std::vector<std::string> EnvironmentOf(const Identity& who) {
  std::string home = HomeDirOf(who.uid);
  if (home.empty()) home = "/";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view v(*e);
    if (absl::StartsWith(v, "USER=") || absl::StartsWith(v, "LOGNAME=") ||
        absl::StartsWith(v, "HOME=")) {
      continue;
    }
    env.emplace_back(v);
  }
  env.push_back(absl::StrCat("USER=", who.user));
  env.push_back(absl::StrCat("LOGNAME=", who.user));
  env.push_back(absl::StrCat("HOME=", home));
  return env;
}

// The child after vfork(): it shares ocxd's memory and may only make
// async-signal-safe calls, writing nothing but its own locals. A failed exec is reported through `status_fd`.
[[noreturn]] void ExecChild(const char* program, char** args, char** env,
                            const ChildIds& ids, int out_fd, int status_fd,
                            pid_t parent) {
  // Own process group, so a timeout kills all of it; and it dies with
  // ocxd: a restarted daemon never races a call of its predecessor (a
  // `dlc create job` still running while the new one looks the job up).
  setpgid(0, 0);
  if (!SwitchIds(ids)) {
    int err = errno;
    ssize_t n = write(status_fd, &err, sizeof(err));
    (void)n;
    _exit(127);
  }
  // After the switch: a credential change clears the parent-death signal.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  // ocxd blocks SIGTERM/SIGINT and ignores SIGPIPE: a clean slate.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  int in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
      dup2(out_fd, STDERR_FILENO) < 0) {
    int err = errno;
    ssize_t n = write(status_fd, &err, sizeof(err));
    (void)n;
    _exit(127);
  }
  // Only 0-2 and the status pipe (close-on-exec) stay open.
  const unsigned keep = static_cast<unsigned>(status_fd);
  if ((keep > 3 && syscall(SYS_close_range, 3u, keep - 1, 0u) != 0) ||
      syscall(SYS_close_range, keep + 1, ~0u, 0u) != 0) {
    for (int fd = STDERR_FILENO + 1; fd < 65536; ++fd) {
      if (fd != status_fd) close(fd);
    }
  }
  execve(program, args, env);
  int err = errno;
  ssize_t n = write(status_fd, &err, sizeof(err));
  (void)n;
  _exit(127);
}

// Starts `program` with `argv`; returns its pid and sets *out_fd to the
// read end of its output (non-blocking). -1 with result->spawn_status set
// when it could not be started.
pid_t Spawn(const std::string& program, const std::vector<std::string>& argv,
            const Identity* run_as, int* out_fd, CliResult* result) {
  // Everything the child needs is prepared before fork().
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  ChildIds ids;
  std::vector<std::string> env_text;
  std::vector<char*> env;
  if (run_as != nullptr) {
    ids = {true, run_as->uid, run_as->gid, run_as->groups};
    if (ids.groups.empty()) ids.groups.push_back(run_as->gid);
    env_text = EnvironmentOf(*run_as);
    for (std::string& e : env_text) env.push_back(e.data());
    env.push_back(nullptr);
  }
  int fds[2];
  int status_fds[2];  // the child reports a failed exec through it
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result->spawn_status = PosixError("pipe", errno);
    return -1;
  }
  if (pipe2(status_fds, O_CLOEXEC) != 0) {
    result->spawn_status = PosixError("pipe", errno);
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  const pid_t parent = getpid();
  // vfork, not fork: the child only makes raw, async-signal-safe calls on
  // memory prepared above and then execs (as posix_spawn's child does), so
  // it may share the parent's memory; fork() copied ocxd's page tables on
  // every call, which was most of a dispatcher turn under many submits.
  pid_t pid = vfork();
  if (pid == 0) {
    ExecChild(program.c_str(), args.data(),
              run_as != nullptr ? env.data() : environ, ids, fds[1],
              status_fds[1], parent);
  }
  close(fds[1]);
  close(status_fds[1]);
  if (pid < 0) {
    result->spawn_status = PosixError("vfork", errno);
    close(fds[0]);
    close(status_fds[0]);
    return -1;
  }
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(status_fds[0], &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  close(status_fds[0]);
  if (got == sizeof(exec_errno)) {
    waitpid(pid, nullptr, 0);
    close(fds[0]);
    result->spawn_status =
        PosixError(run_as != nullptr
                       ? absl::StrCat("cannot run ", program, " as ",
                                      run_as->user, " (uid ", run_as->uid, ")")
                       : absl::StrCat("cannot run ", program),
                   exec_errno);
    return -1;
  }
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  *out_fd = fds[0];
  return pid;
}

// Reads the child's output until it exits, killing its process group after
// the deadline or on abort; closes `fd`.
void Collect(pid_t pid, int fd, int64_t timeout_ms,
             const std::atomic<bool>* abort, CliResult* result) {
  const int64_t deadline = timeout_ms > 0 ? SteadyMs() + timeout_ms : 0;
  bool open = true;
  bool killed = false;
  int status = 0;
  while (true) {
    struct pollfd p = {fd, POLLIN, 0};
    if (open) {
      if (poll(&p, 1, 50) > 0) open = Drain(fd, &result->output);
    } else {
      usleep(5000);  // output closed: it is exiting
    }
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      // ECHILD: reaped elsewhere; nothing more to learn.
      result->spawn_status = PosixError("waitpid", errno);
      close(fd);
      return;
    }
    if (!killed && ((deadline > 0 && SteadyMs() >= deadline) ||
                    (abort != nullptr && abort->load()))) {
      if (deadline > 0 && SteadyMs() >= deadline) {
        result->timed_out = true;
      } else {
        result->aborted = true;
      }
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  // What it wrote just before exiting. A descendant that kept the pipe open
  // does not hold us up: read what is there, then stop.
  if (open) Drain(fd, &result->output);
  close(fd);
  if (WIFEXITED(status)) {
    result->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result->signal = WTERMSIG(status);
  }
}

}  // namespace

void RegisterCliMetrics() { CommandLatency(); }

CliResult RunCli(const std::vector<std::string>& argv, int64_t timeout_ms,
                 const std::atomic<bool>* abort, const Identity* run_as) {
  CliResult result;
  if (argv.empty() || argv[0].empty()) {
    result.spawn_status = absl::InvalidArgumentError("no program to run");
    return result;
  }
  absl::StatusOr<std::string> program = FindProgram(argv[0]);
  if (!program.ok()) {
    result.spawn_status = program.status();
    return result;
  }
  const int64_t begin_ms = SteadyMs();
  int fd = -1;
  pid_t pid = Spawn(*program, argv, run_as, &fd, &result);
  if (pid > 0) Collect(pid, fd, timeout_ms, abort, &result);
  const size_t slash = argv[0].rfind('/');
  CommandLatency().Observe(
      {slash == std::string::npos ? argv[0] : argv[0].substr(slash + 1)},
      (SteadyMs() - begin_ms) / 1000.0);
  return result;
}

}  // namespace ocx::runners
