// ocx-shim: the per-attempt supervisor of a local task (the containerd-shim /
// conmon pattern). ocxd starts one shim per attempt in its own session; the
// shim runs the task, outlives a daemon restart and records how the task
// ended in the attempt directory, where a restarted ocxd finds it.
//
// Usage:
//   ocx-shim --attempt-dir DIR --log FILE [--workdir DIR] [--timeout-s N]
//            [--kill-grace-s N] [--run-as UID:GID[:G1,G2,...]
//            [--allow-root]] [--log-stderr] -- PROGRAM ARGS...
//
// Contract (also in runners/shim/README.md):
//  a. DIR is created if missing (mkdir -p, 0750). The attempt is claimed by
//     creating DIR/claim exclusively; its content "<pid> <starttime>\n" (pid
//     of the shim and field 22 of /proc/<pid>/stat) appears atomically (the
//     file is written unnamed, O_TMPFILE, or beside, and hard-linked into
//     place, so a reader never sees it empty). If DIR/claim already exists,
//     another shim or a recovery pass owns the attempt: exit 75 at once;
//     nothing is run and nothing is left behind in DIR.
//  b. The shim becomes a session leader (setsid; failure ignored when it
//     already is one), closes inherited descriptors >= 3, ignores SIGHUP and
//     SIGPIPE, and takes SIGTERM/SIGINT/SIGCHLD through a signalfd.
//  c. The task runs as a child (clone(CLONE_VM|CLONE_VFORK) as posix_spawn
//     does: cheaper than fork) in its own process group (pgid = its pid) with
//     PR_SET_PDEATHSIG=SIGKILL (it dies if the shim is killed), stdin from
//     /dev/null, stdout and stderr appended to FILE (created 0640), in the
//     working directory --workdir if given, with the shim's environment, an
//     empty signal mask and every signal disposition at its default. PROGRAM
//     is looked up in PATH (execvp). If it cannot be run, "ocx-shim: cannot
//     run PROGRAM: <strerror>" is appended to FILE and the task exits 127
//     (also for a --workdir that cannot be entered); the exit record's
//     reason is then "cannot run PROGRAM: <strerror>".
//  d. DIR/task.pid ("<task pid>\n") appears whole (an O_TMPFILE linked
//     into place; without O_TMPFILE, tmp + rename) while the task runs.
//  e. SIGTERM or SIGINT to the shim, or --timeout-s N seconds (N > 0) after
//     the start: SIGTERM to the task's process group, SIGKILL to the group
//     --kill-grace-s seconds later (default 10) if the task is still alive.
//     The reason is "cancelled" or "timed out after N s" (the first one
//     wins). A SIGTERM that is already pending when the shim is about to
//     start the task (e.g. sent right after the launch) cancels it before it
//     starts: nothing is run, the reason is "cancelled before start".
//  f. When the task has ended, SIGKILL goes to its process group (stragglers
//     it left behind) and to every other descendant (the shim is a child
//     subreaper: reaper.h), then DIR/exit appears whole (written over
//     task.pid's file, which is linked as exit and unlinked as task.pid: no
//     new file; tmp + rename when the task never started; no fsync:
//     README.md "Crash safety") as lines
//         exit_code=<n>   (-1 when killed by a signal or never run)
//         signal=<n>      (0 when it exited)
//         start_ms=<epoch ms>
//         end_ms=<epoch ms>
//         reason=<text, may be empty>
//         task_pid=<n>    (only when the task was started)
//         claim=<the claim's content>
//     and the shim exits 0. If the log cannot be opened or the task cannot be
//     started, the exit file records exit_code=-1 and the reason.
//
//  g. --run-as UID:GID[:GROUPS] (a root ocxd, for the evaluation's owner):
//     DIR and FILE are reached without following links and made the
//     owner's; the task's child switches to the owner before exec (see
//     run_as.h); UID 0 is refused (exit code 126) without --allow-root.
//     Every task starts with umask 027.
//  h. --log-stderr: FILE is opened (created) before a. and becomes the
//     shim's stderr, so its own messages land in the log without its
//     starter creating the log for it.
//
// Exit status: 0 recorded; 64 usage; 71 DIR or claim not set up (no exit
// file); 74 DIR/exit not written; 75 already claimed (stderr says why).
// Lean (one start per task): POSIX/Linux calls, no iostreams or exceptions.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runners/shim/reaper.h"
#include "runners/shim/records.h"
#include "runners/shim/run_as.h"

namespace {

using ocx::shim::Buf;
using ocx::shim::RunAs;
using ocx::shim::WriteAll;

constexpr int kExitUsage = 64;
constexpr int kExitSetup = 71;
constexpr int kExitNotRecorded = 74;
constexpr int kExitClaimed = 75;
constexpr int kExecFailed = 127;
constexpr int kRefused = 126;

struct Options {
  const char* attempt_dir = nullptr;
  const char* log = nullptr;
  const char* workdir = nullptr;
  long timeout_s = 0;
  long kill_grace_s = 10;
  RunAs run_as;
  bool allow_root = false;
  bool log_stderr = false;
  char** argv = nullptr;  // PROGRAM ARGS..., null-terminated
};

void Complain(const Buf& b) {
  WriteAll(STDERR_FILENO, b.data, b.len);
  WriteAll(STDERR_FILENO, "\n", 1);
}

[[noreturn]] void Usage(const char* why) {
  Buf b;
  b.S("ocx-shim: ")
      .S(why)
      .S("\nusage: ocx-shim --attempt-dir DIR --log FILE [--workdir DIR] "
         "[--timeout-s N] [--kill-grace-s N] [--run-as UID:GID[:G1,G2,...] "
         "[--allow-root]] [--log-stderr] -- PROGRAM ARGS...");
  Complain(b);
  _exit(kExitUsage);
}

bool ParseSeconds(const char* s, long* out) {
  if (*s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > 100L * 365 * 24 * 3600) {
    return false;
  }
  *out = v;
  return true;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  int i = 1;
  for (; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "--") == 0) {
      ++i;
      break;
    }
    if (strcmp(a, "--allow-root") == 0) {
      o.allow_root = true;
      continue;
    }
    if (strcmp(a, "--log-stderr") == 0) {
      o.log_stderr = true;
      continue;
    }
    if (i + 1 >= argc) Usage("missing value or PROGRAM");
    const char* v = argv[++i];
    if (strcmp(a, "--attempt-dir") == 0) {
      o.attempt_dir = v;
    } else if (strcmp(a, "--log") == 0) {
      o.log = v;
    } else if (strcmp(a, "--workdir") == 0) {
      o.workdir = v;
    } else if (strcmp(a, "--timeout-s") == 0) {
      if (!ParseSeconds(v, &o.timeout_s)) Usage("bad --timeout-s");
    } else if (strcmp(a, "--kill-grace-s") == 0) {
      if (!ParseSeconds(v, &o.kill_grace_s)) Usage("bad --kill-grace-s");
    } else if (strcmp(a, "--run-as") == 0) {
      if (!ocx::shim::ParseRunAs(v, &o.run_as))
        Usage("bad --run-as (UID:GID[:G,...])");
    } else {
      Usage("unknown option");
    }
  }
  if (o.attempt_dir == nullptr || *o.attempt_dir == '\0') {
    Usage("--attempt-dir is required");
  }
  if (o.log == nullptr || *o.log == '\0') Usage("--log is required");
  if (i >= argc) Usage("PROGRAM is required after --");
  o.argv = argv + i;
  return o;
}

// Closes every descriptor >= 3.
void CloseInheritedFds() {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; ++fd) close(fd);
    return;
  }
  int own = dirfd(d);
  while (struct dirent* e = readdir(d)) {
    int fd = atoi(e->d_name);
    if (fd >= 3 && fd != own) close(fd);
  }
  closedir(d);
}

long long NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

long long MonoMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct Outcome {
  int exit_code = -1;
  int signal = 0;
  long long start_ms = 0;
  long long end_ms = 0;
  const char* reason = "";
  char reason_buf[256];
};

// The claim line names the attempt's claim: a reader tells a record of
// this attempt from stale bytes of another one (README.md, "Crash safety").
// With the task started, the record is written over task.pid (`pid_fd`).
bool RecordExit(int dirfd, const Buf& claim, pid_t task, int pid_fd,
                const Outcome& out) {
  Buf b;
  b.S("exit_code=").N(out.exit_code).S("\nsignal=").N(out.signal);
  b.S("\nstart_ms=").N(out.start_ms).S("\nend_ms=").N(out.end_ms);
  b.S("\nreason=").S(out.reason);
  if (task > 0) b.S("\ntask_pid=").N(task);
  b.S("\nclaim=").S(claim.data);
  if (pid_fd >= 0 ? !ocx::shim::RecordExitOver(dirfd, pid_fd, b)
                  : !ocx::shim::WriteAtomic(dirfd, "exit", b)) {
    Buf e;
    e.S("ocx-shim: cannot write exit file: ").S(strerror(errno));
    Complain(e);
    return false;
  }
  return true;
}

// What the task's child needs; it shares the shim's memory until exec.
struct TaskArgs {
  const Options* o;
  pid_t shim_pid;
  int log_fd;
  int null_fd;
  const sigset_t* empty_mask;
};

// Stack of the task's child between clone() and exec (execvp's PATH search
// uses the stack, not malloc). Only touched pages cost anything.
alignas(64) char g_task_stack[256 * 1024];

// Set by the task's child (shared memory) when it could not exec: the
// errno, and whether it was the workdir that failed. The shim makes it the
// exit record's reason, so ocxd can tell "cannot run" from a task that
// itself exited 127.
int g_exec_errno = 0;
bool g_exec_workdir = false;
bool g_exec_switch = false;

// Runs in the task's child until exec; never returns. It shares the shim's
// memory (CLONE_VM|CLONE_VFORK, as posix_spawn does; the shim is suspended
// meanwhile and has no signal handlers), but has its own descriptor table and
// signal dispositions.
int TaskMain(void* arg) {
  const TaskArgs& t = *static_cast<const TaskArgs*>(arg);
  const Options& o = *t.o;
  setpgid(0, 0);
  if (o.run_as.set && !ocx::shim::DropPrivileges(o.run_as)) {
    g_exec_errno = errno;
    g_exec_switch = true;
    Buf b;
    b.S("ocx-shim: cannot run ").S(o.argv[0]).S(": cannot switch to uid ");
    b.N(o.run_as.uid).S(": ").S(strerror(errno)).S("\n");
    WriteAll(t.log_fd, b.data, b.len);
    _exit(kExecFailed);
  }
  // After the switch: a credential change clears the parent-death signal.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  umask(027);
  if (getppid() != t.shim_pid) _exit(kExecFailed);  // the shim died already
  // Every disposition back to default: the shim ignores SIGHUP/SIGPIPE, and
  // whoever started it may have ignored more (a shell's `cmd &` ignores
  // SIGINT and SIGQUIT).
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  if (t.null_fd >= 0) dup2(t.null_fd, STDIN_FILENO);
  dup2(t.log_fd, STDOUT_FILENO);
  dup2(t.log_fd, STDERR_FILENO);
  sigprocmask(SIG_SETMASK, t.empty_mask, nullptr);
  if (o.workdir != nullptr && chdir(o.workdir) != 0) {
    g_exec_errno = errno;
    g_exec_workdir = true;
    Buf b;
    b.S("ocx-shim: cannot run ").S(o.argv[0]).S(": cannot enter workdir ");
    b.S(o.workdir).S(": ").S(strerror(errno)).S("\n");
    WriteAll(STDERR_FILENO, b.data, b.len);
    _exit(kExecFailed);
  }
  execvp(o.argv[0], o.argv);
  g_exec_errno = errno;
  Buf b;
  b.S("ocx-shim: cannot run ").S(o.argv[0]).S(": ").S(strerror(errno));
  b.S("\n");
  WriteAll(STDERR_FILENO, b.data, b.len);
  _exit(kExecFailed);
}

// Takes SIGTERM/SIGINT/SIGCHLD through a signalfd (blocked in `mask`).
// ocxd starts the shim with SIGTERM/SIGINT already blocked, so a cancel
// sent right after the launch stays pending instead of killing the shim.
void SetUpSignals(sigset_t* mask) {
  sigemptyset(mask);
  sigaddset(mask, SIGTERM);
  sigaddset(mask, SIGINT);
  sigaddset(mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, mask, nullptr);
  // Whoever started the shim may have ignored these. An ignored SIGCHLD
  // makes the kernel reap the task behind our back and never report it;
  // SIGTERM/SIGINT are only kept while blocked because Linux queues blocked
  // signals even when ignored, so make them plain too.
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
}

// Creates and opens the attempt dir and claims it for this shim, with the
// claim's content in *claim_out. Returns the directory's fd, or -(exit
// code) after complaining.
int OpenAndClaim(const Options& o, pid_t self, Buf* claim_out) {
  int dirfd =
      ocx::shim::OpenDirs(o.attempt_dir, o.run_as.set ? &o.run_as : nullptr);
  if (dirfd < 0) {
    Buf b;
    b.S("ocx-shim: cannot open attempt dir ").S(o.attempt_dir).S(": ");
    Complain(b.S(strerror(errno)));
    return -kExitSetup;
  }
  Buf& claim = *claim_out;
  claim.N(self).S(" ").N(static_cast<long long>(ocx::shim::SelfStartTime()));
  claim.S("\n");
  int err = ocx::shim::Claim(dirfd, claim);
  if (err == EEXIST) {
    Buf b;
    b.S("ocx-shim: attempt ").S(o.attempt_dir);
    Complain(b.S(" is already claimed; not starting it again"));
    return -kExitClaimed;
  }
  if (err != 0) {
    Buf b;
    b.S("ocx-shim: cannot claim attempt ").S(o.attempt_dir).S(": ");
    Complain(b.S(strerror(err)));
    return -kExitSetup;
  }
  return dirfd;
}

void SetReason(Outcome* out, const Buf& b) {
  memcpy(out->reason_buf, b.data, b.len + 1);
  out->reason = out->reason_buf;
}

// Starts the task unless a cancel is already pending or the signalfd / log
// could not be opened (then out->reason says why). `log_fd` is FILE when
// already open, else -1. Returns the task's pid or -1.
pid_t StartTask(const Options& o, pid_t self, int sfd,
                const sigset_t* empty_mask, int log_fd, Outcome* out) {
  if (log_fd < 0) {
    log_fd = ocx::shim::OpenLog(o.log, o.run_as.set ? &o.run_as : nullptr);
  }
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  pid_t child = -1;
  if (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)) {
    out->reason = "cancelled before start";
  } else if (sfd < 0 || log_fd < 0) {
    Buf b;
    if (sfd < 0) {
      b.S("ocx-shim: signalfd: ").S(strerror(errno));
    } else {
      b.S("ocx-shim: cannot open log ").S(o.log).S(": ").S(strerror(errno));
    }
    SetReason(out, b);
  } else {
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    TaskArgs args = {&o, self, log_fd, null_fd, empty_mask};
    // Returns once the child has exec'd or exited: its setpgid() is done.
    child = clone(TaskMain, g_task_stack + sizeof(g_task_stack),
                  CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    int clone_errno = errno;
    if (null_fd >= 0) close(null_fd);
    if (child < 0) {
      Buf b;
      b.S("ocx-shim: cannot start the task: ").S(strerror(clone_errno));
      SetReason(out, b);
    } else if (g_exec_errno != 0) {
      // CLONE_VFORK: the child has exec'd or exited by now.
      Buf b;
      b.S("cannot run ").S(o.argv[0]).S(": ");
      if (g_exec_workdir) b.S("cannot enter workdir ").S(o.workdir).S(": ");
      if (g_exec_switch) b.S("cannot switch to uid ").N(o.run_as.uid).S(": ");
      SetReason(out, b.S(strerror(g_exec_errno)));
    }
  }
  if (log_fd >= 0) close(log_fd);
  return child;
}

// Waits for the task, stopping its process group on timeout or cancel
// (SIGTERM, then SIGKILL after kill_grace_s); fills out's end and status.
void Supervise(const Options& o, pid_t child, int sfd, Outcome* out) {
  const long long start_mono = MonoMs();
  const long long timeout_at =
      o.timeout_s > 0 ? start_mono + o.timeout_s * 1000 : -1;
  long long kill_at = -1;  // when SIGKILL follows SIGTERM
  bool stopping = false;
  int status = 0;
  bool reaped = false;
  auto stop = [&](const char* reason) {
    if (stopping) return;
    stopping = true;
    out->reason = reason;
    kill(-child, SIGTERM);
    kill_at = MonoMs() + o.kill_grace_s * 1000;
  };
  while (!reaped) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) {
      reaped = true;
      break;
    }
    if (r < 0 && errno != EINTR) break;  // ECHILD: cannot happen
    long long now = MonoMs();
    if (timeout_at >= 0 && now >= timeout_at && !stopping) {
      snprintf(out->reason_buf, sizeof(out->reason_buf),
               "timed out after %ld s", o.timeout_s);
      stop(out->reason_buf);
    }
    if (kill_at >= 0 && now >= kill_at) {
      kill(-child, SIGKILL);
      kill_at = -1;
    }
    long long wake = -1;
    if (timeout_at >= 0 && !stopping) wake = timeout_at;
    if (kill_at >= 0 && (wake < 0 || kill_at < wake)) wake = kill_at;
    long long wait_ms = wake < 0 ? -1 : (wake > now ? wake - now : 0);
    if (wait_ms > 3600 * 1000) wait_ms = 3600 * 1000;
    struct pollfd pfd = {sfd, POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(wait_ms));
    if (pr < 0 && errno != EINTR) break;
    if (pr > 0) {
      struct signalfd_siginfo si[8];
      ssize_t n = read(sfd, si, sizeof(si));
      for (ssize_t k = 0; k < n / static_cast<ssize_t>(sizeof(si[0])); ++k) {
        if (si[k].ssi_signo == SIGTERM || si[k].ssi_signo == SIGINT) {
          stop("cancelled");
        }
      }
    }
  }
  out->end_ms = NowMs();
  kill(-child, SIGKILL);  // whatever the task left in its group
  ocx::shim::KillOrphans(getpid(), 5000);  // and those that left it
  if (reaped && WIFEXITED(status)) {
    out->exit_code = WEXITSTATUS(status);
    out->signal = 0;
  } else if (reaped && WIFSIGNALED(status)) {
    out->exit_code = -1;
    out->signal = WTERMSIG(status);
  } else {
    snprintf(out->reason_buf, sizeof(out->reason_buf),
             "ocx-shim: lost the task: %s", strerror(errno));
    out->reason = out->reason_buf;
  }
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t empty_mask, mask;
  sigemptyset(&empty_mask);
  SetUpSignals(&mask);

  Options o = ParseArgs(argc, argv);
  CloseInheritedFds();
  setsid();  // fails (harmlessly) when already a session leader
  ocx::shim::BecomeSubreaper();

  // --log-stderr: FILE is opened first and becomes the shim's stderr too,
  // so its own messages (e.g. "already claimed") land in the log that its
  // starter would otherwise have had to create for it.
  int log_fd = -1;
  if (o.log_stderr) {
    log_fd = ocx::shim::OpenLog(o.log, o.run_as.set ? &o.run_as : nullptr);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
  }

  const pid_t self = getpid();
  Buf claim;
  const int dirfd = OpenAndClaim(o, self, &claim);
  if (dirfd < 0) return -dirfd;

  Outcome out;
  out.start_ms = NowMs();
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  pid_t child = -1;
  if (o.run_as.set && o.run_as.uid == 0 && !o.allow_root) {
    out.exit_code = kRefused;
    out.reason =
        "ocx-shim: refusing to run the task as root (uid 0); the daemon "
        "config's confinement.allow_root_tasks allows it";
  } else {
    child = StartTask(o, self, sfd, &empty_mask, log_fd, &out);
  }
  int pid_fd = -1;
  if (child > 0) {
    Buf pid_line;
    pid_line.N(child).S("\n");
    pid_fd = ocx::shim::WriteTaskPid(dirfd, pid_line);
    Supervise(o, child, sfd, &out);
  } else {
    out.end_ms = NowMs();
  }
  return RecordExit(dirfd, claim, child, pid_fd, out) ? 0 : kExitNotRecorded;
}
