#include "runners/local/local_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/identity.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "common/time_util.h"

extern char** environ;

namespace ocx::runners {
namespace {

// A claim file that is malformed for longer than this is not being written
// any more (it only happens when the shim had to fall back to O_EXCL).
constexpr int64_t kMalformedClaimGraceMs = 5000;

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return absl::StrCat("exited with status ", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return absl::StrCat("was killed by signal ", WTERMSIG(status), " (",
                        strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("ended with wait status ", status);
}

// mtime of `path` in epoch ms; 0 when it cannot be stat'ed.
int64_t FileMtimeMs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
         st.st_mtim.tv_nsec / 1000000;
}

// RAII for the posix_spawn attribute objects.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// `ocx-shim --attempt-dir ... -- argv...` for `spec`.
std::vector<std::string> ShimArgv(const LocalRunner::Options& options,
                                  const LaunchSpec& spec) {
  std::vector<std::string> args = {
      options.shim_path, "--attempt-dir",
      spec.attempt_dir,  "--log",
      spec.log_path,     "--log-stderr",
      "--kill-grace-s",  absl::StrCat(options.kill_grace_s)};
  if (spec.run_as.has_value()) {
    const Identity& who = *spec.run_as;
    args.push_back("--run-as");
    args.push_back(absl::StrCat(who.uid, ":", who.gid, ":",
                                absl::StrJoin(who.groups, ",")));
    if (options.allow_root_tasks) args.push_back("--allow-root");
  }
  if (!spec.work_dir.empty()) {
    args.push_back("--workdir");
    args.push_back(spec.work_dir);
  }
  if (spec.timeout_s > 0) {
    args.push_back("--timeout-s");
    args.push_back(absl::StrCat(spec.timeout_s));
  }
  args.push_back("--");
  args.insert(args.end(), spec.argv.begin(), spec.argv.end());
  return args;
}

// Environment: ours, then spec.env (OCX_TASK_ID, OCX_ATTEMPT, ... come
// from the dispatcher), then the one variable the runner owns.
std::vector<std::string> TaskEnvironment(const LaunchSpec& spec) {
  std::map<std::string, std::string> overrides(spec.env.begin(),
                                               spec.env.end());
  overrides["CUDA_VISIBLE_DEVICES"] = absl::StrJoin(spec.gpus, ",");
  if (spec.run_as.has_value()) {
    // The task runs as its owner: the owner's name and home, not root's.
    overrides["USER"] = overrides["LOGNAME"] = spec.run_as->user;
    if (std::string home = HomeDirOf(spec.run_as->uid); !home.empty()) {
      overrides["HOME"] = home;
    }
  }
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = strchr(*e, '=');
    if (eq == nullptr) continue;
    if (overrides.count(std::string(*e, eq - *e)) > 0) continue;
    env.emplace_back(*e);
  }
  for (const auto& [k, v] : overrides) env.push_back(absl::StrCat(k, "=", v));
  return env;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalRunner>> LocalRunner::Create(
    Options options) {
  if (options.shim_path.empty()) {
    return absl::InvalidArgumentError(
        "LocalRunner: shim_path is empty (where is ocx-shim?)");
  }
  if (access(options.shim_path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("LocalRunner: cannot execute ocx-shim at ",
                     options.shim_path, ": ", strerror(errno)));
  }
  std::set<int> seen;
  for (int id : options.gpus) {
    if (id < 0 || !seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("LocalRunner: GPU ids must be distinct and >= 0, got ",
                       absl::StrJoin(options.gpus, ",")));
    }
  }
  if (options.max_parallel < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("LocalRunner: max_parallel must be >= 0 (0 = no limit), "
                     "got ",
                     options.max_parallel));
  }
  if (options.kill_grace_s < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LocalRunner: kill_grace_s must be >= 0, got ", options.kill_grace_s));
  }
  return std::make_unique<LocalRunner>(std::move(options));
}

LocalRunner::LocalRunner(Options options)
    : options_(std::move(options)), slots_(options_.gpus) {}

LocalRunner::~LocalRunner() = default;

std::string LocalRunner::backend() const { return "local"; }

absl::StatusOr<std::vector<int>> LocalRunner::Place(const LaunchSpec& spec) {
  if (attempts_.count(spec.key) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("attempt ", spec.key.task_id, "#", spec.key.attempt,
                     " is already launched"));
  }
  if (auto it = placed_.find(spec.key); it != placed_.end()) {
    return it->second;
  }
  if (!spec.service && options_.max_parallel > 0 &&
      TaskCount() >= options_.max_parallel) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", options_.max_parallel,
                     " local slots are taken (max_parallel)"));
  }
  OCX_ASSIGN_OR_RETURN(std::vector<int> gpus,
                       slots_.Acquire(spec.num_gpus, spec.max_workers_per_gpu));
  placed_.emplace(spec.key, gpus);
  if (spec.service) services_.insert(spec.key);
  return gpus;
}

int LocalRunner::TaskCount() const {
  return static_cast<int>(attempts_.size() + placed_.size() - services_.size());
}

void LocalRunner::Unplace(const AttemptKey& key) {
  auto it = placed_.find(key);
  if (it == placed_.end()) return;
  slots_.Release(it->second);
  placed_.erase(it);
  services_.erase(key);
}

absl::StatusOr<pid_t> LocalRunner::SpawnShim(const LaunchSpec& spec) {
  if (spec.argv.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attempt ", spec.name, ": argv is empty"));
  }
  if (spec.attempt_dir.empty() || spec.log_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attempt ", spec.name, ": attempt_dir and log_path must be set"));
  }
  // For an owner (run_as), made as theirs and reached without following
  // links: the directories are theirs to change. The attempt dir and the
  // log are the shim's to create (--log-stderr): each new file costs about
  // a millisecond of CPU on some file systems (runners/shim/README.md,
  // "Cost per attempt"), better spent in the shim than in the dispatcher's
  // turn. The log's directory is shared by the stage's attempts.
  const std::string log_dir = Dirname(spec.log_path);
  if (!PathExists(log_dir)) {
    FileOwner owner;
    if (spec.run_as.has_value()) owner = {spec.run_as->uid, spec.run_as->gid};
    OCX_RETURN_IF_ERROR(MakeDirsFor(log_dir, owner));
  }

  std::vector<std::string> args = ShimArgv(options_, spec);
  std::vector<std::string> env = TaskEnvironment(spec);

  std::vector<char*> argv_ptrs, env_ptrs;
  for (std::string& s : args) argv_ptrs.push_back(s.data());
  argv_ptrs.push_back(nullptr);
  for (std::string& s : env) env_ptrs.push_back(s.data());
  env_ptrs.push_back(nullptr);

  SpawnSetup setup;
  // stdin, stdout and stderr on /dev/null until the shim makes the task log
  // its stderr (--log-stderr), so that its own messages (e.g. "already
  // claimed") land there. Every other descriptor of the daemon is closed.
  posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(setup.actions(), STDOUT_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(setup.actions(), STDOUT_FILENO,
                                   STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(setup.actions(), STDERR_FILENO + 1);
  // A new session: the shim outlives ocxd and ocxd's process-group signals
  // do not reach it. SIGTERM/SIGINT start blocked so a Cancel() right after
  // Launch() stays pending until the shim reads its signalfd; every signal
  // disposition the daemon changed is reset.
  sigset_t mask, all;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigfillset(&all);
  posix_spawnattr_setflags(setup.attr(), POSIX_SPAWN_SETSID |
                                             POSIX_SPAWN_SETSIGMASK |
                                             POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(setup.attr(), &mask);
  posix_spawnattr_setsigdefault(setup.attr(), &all);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, options_.shim_path.c_str(), setup.actions(),
                       setup.attr(), argv_ptrs.data(), env_ptrs.data());
  if (rc == E2BIG) {
    // The shim carries the task's argv and environment: it is the task
    // that is too big, and no retry makes it smaller.
    size_t arg_bytes = 0, env_bytes = 0;
    for (const std::string& a : spec.argv) arg_bytes += a.size() + 1;
    for (const std::string& e : env) env_bytes += e.size() + 1;
    return absl::InvalidArgumentError(absl::StrCat(
        "attempt ", spec.name, ": cannot run ", spec.argv[0],
        ": its argument list and environment are too long (E2BIG: ", arg_bytes,
        " bytes of arguments, ", env_bytes,
        " of environment; shorten the command or its environment)"));
  }
  if (rc != 0) {
    return PosixError(absl::StrCat("attempt ", spec.name, ": cannot start ",
                                   options_.shim_path),
                      rc);
  }
  return pid;
}

absl::StatusOr<std::string> LocalRunner::Launch(const LaunchSpec& spec) {
  if (attempts_.count(spec.key) > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "attempt ", spec.key.task_id, "#", spec.key.attempt, " is live"));
  }
  auto placed = placed_.find(spec.key);
  if (placed != placed_.end()) {
    std::vector<int> want = spec.gpus;
    std::sort(want.begin(), want.end());
    if (want != placed->second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "attempt ", spec.name, ": spec.gpus (", FormatGpuList(spec.gpus),
          ") are not the GPUs Place() chose (", FormatGpuList(placed->second),
          ")"));
    }
  }
  OCX_ASSIGN_OR_RETURN(pid_t pid, SpawnShim(spec));
  Attempt a;
  a.attempt_dir = spec.attempt_dir;
  a.log_path = spec.log_path;
  a.child_pid = pid;
  if (placed != placed_.end()) {
    a.gpus = std::move(placed->second);
    placed_.erase(placed);
  } else {
    a.gpus = spec.gpus;
    slots_.Reserve(a.gpus);
  }
  attempts_.emplace(spec.key, std::move(a));
  if (spec.service) services_.insert(spec.key);
  return absl::StrCat(pid);
}

absl::Status LocalRunner::Adopt(const LaunchSpec& spec,
                                const std::string& backend_id) {
  if (attempts_.count(spec.key) > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "attempt ", spec.key.task_id, "#", spec.key.attempt, " is live"));
  }
  Unplace(spec.key);
  Attempt a;
  a.attempt_dir = spec.attempt_dir;
  a.log_path = spec.log_path;
  a.gpus = spec.gpus;
  if (!PathExists(JoinPath(spec.attempt_dir, kExitFile)) &&
      !PathExists(JoinPath(spec.attempt_dir, kClaimFile))) {
    // Never started (the daemon died between committing the attempt and the
    // shim's claim). A shim spawned before the crash may still claim it
    // first; then ours exits 75 and the attempt is watched by its files.
    OCX_ASSIGN_OR_RETURN(a.child_pid, SpawnShim(spec));
  }
  slots_.Reserve(a.gpus);
  attempts_.emplace(spec.key, std::move(a));
  if (spec.service) services_.insert(spec.key);
  return absl::OkStatus();
}

void LocalRunner::AppendRunning(const AttemptKey& key, Attempt& a,
                                std::vector<AttemptUpdate>& out,
                                int64_t start_ms) {
  if (a.running_reported) return;
  a.running_reported = true;
  AttemptUpdate u;
  u.key = key;
  u.kind = AttemptUpdate::Kind::kRunning;
  u.backend_id = BackendId(a);
  // The claim is written just before the task starts.
  u.start_ms = start_ms > 0 ? start_ms
                            : FileMtimeMs(JoinPath(a.attempt_dir, kClaimFile));
  out.push_back(std::move(u));
}

void LocalRunner::AppendExited(const AttemptKey& key, Attempt& a,
                               const ExitRecord& rec,
                               std::vector<AttemptUpdate>& out) {
  // ReadExitRecord checked the record's claim against DIR/claim.
  if (!a.claim && rec.claim) a.claim = *rec.claim;
  if (!a.claim) {
    if (absl::StatusOr<Claim> c = ReadClaim(a.attempt_dir); c.ok()) {
      a.claim = *c;
    }
  }
  AppendRunning(key, a, out, rec.start_ms);
  AttemptUpdate u;
  u.key = key;
  u.kind = AttemptUpdate::Kind::kExited;
  u.backend_id = BackendId(a);
  u.exit_code = rec.exit_code;
  u.signal = rec.signal;
  u.start_ms = rec.start_ms;
  u.end_ms = rec.end_ms;
  u.reason = rec.reason;
  out.push_back(std::move(u));
}

void LocalRunner::AppendLost(const AttemptKey& key, Attempt& a,
                             std::string reason,
                             std::vector<AttemptUpdate>& out) {
  AttemptUpdate u;
  u.key = key;
  u.kind = AttemptUpdate::Kind::kLost;
  u.backend_id = BackendId(a);
  u.end_ms = NowMillis();
  u.reason = std::move(reason);
  out.push_back(std::move(u));
}

bool LocalRunner::Check(const AttemptKey& key, Attempt& a,
                        std::vector<AttemptUpdate>& out) {
  if (a.child_pid > 0) {
    int status = 0;
    pid_t r = waitpid(a.child_pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
      // Still running. It runs the task once it holds the claim.
      if (!a.running_reported) {
        absl::StatusOr<Claim> c = ReadClaim(a.attempt_dir);
        if (c.ok() && c->pid == a.child_pid) {
          a.claim = *c;
          AppendRunning(key, a, out);
        }
      }
      return false;
    }
    pid_t shim = a.child_pid;
    a.child_pid = 0;
    if (r < 0) {
      // ECHILD: somebody else reaped it (or SIGCHLD is ignored); the files
      // still tell.
      return CheckFiles(key, a, out);
    }
    absl::StatusOr<ExitRecord> rec = ReadExitRecord(a.attempt_dir);
    if (rec.ok()) {
      AppendExited(key, a, *rec, out);
      return true;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == kShimExitClaimed) {
      // Another shim owns the attempt (a leftover from before a restart):
      // watch that one.
      a.claim.reset();
      return CheckFiles(key, a, out);
    }
    if (!absl::IsNotFound(rec.status()) &&
        !absl::IsInvalidArgument(rec.status())) {
      return CheckFiles(key, a, out);  // e.g. out of fds: retry by files
    }
    a.child_pid = shim;  // for the backend id
    std::string why = absl::IsNotFound(rec.status())
                          ? "without recording an exit"
                          : absl::StrCat("leaving an unreadable exit file (",
                                         rec.status().message(), ")");
    AppendLost(
        key, a,
        absl::StrCat("ocx-shim (pid ", shim, ") ", DescribeWaitStatus(status),
                     " ", why, "; see ", a.log_path),
        out);
    return true;
  }
  return CheckFiles(key, a, out);
}

bool LocalRunner::CheckFiles(const AttemptKey& key, Attempt& a,
                             std::vector<AttemptUpdate>& out) {
  absl::StatusOr<ExitRecord> rec = ReadExitRecord(a.attempt_dir);
  if (rec.ok()) {
    AppendExited(key, a, *rec, out);
    return true;
  }
  if (absl::IsInvalidArgument(rec.status())) {
    AppendLost(key, a,
               absl::StrCat("unreadable exit file: ", rec.status().message()),
               out);
    return true;
  }
  if (!absl::IsNotFound(rec.status())) return false;  // transient: retry
  if (!a.claim) {
    std::string claim_path = JoinPath(a.attempt_dir, kClaimFile);
    absl::StatusOr<Claim> c = ReadClaim(a.attempt_dir);
    if (absl::IsNotFound(c.status())) {
      AppendLost(key, a,
                 absl::StrCat("attempt directory ", a.attempt_dir,
                              " has neither a claim nor an exit file"),
                 out);
      return true;
    }
    if (!c.ok()) {
      if (!absl::IsInvalidArgument(c.status())) return false;  // retry
      if (NowMillis() - FileMtimeMs(claim_path) < kMalformedClaimGraceMs) {
        return false;
      }
      AppendLost(key, a, std::string(c.status().message()), out);
      return true;
    }
    a.claim = *c;
  }
  absl::StatusOr<bool> alive = ClaimHolderAlive(*a.claim);
  if (!alive.ok()) return false;  // cannot tell now; ask again next time
  if (*alive) {
    AppendRunning(key, a, out);
    if (a.cancel_requested && !a.cancel_sent_to_claim) {
      a.cancel_sent_to_claim = true;
      kill(a.claim->pid, SIGTERM);
    }
    return false;
  }
  // The shim is gone. It may have written the exit file just before.
  rec = ReadExitRecord(a.attempt_dir);
  if (rec.ok()) {
    AppendExited(key, a, *rec, out);
    return true;
  }
  if (!absl::IsNotFound(rec.status()) &&
      !absl::IsInvalidArgument(rec.status())) {
    return false;  // transient: retry
  }
  AppendLost(
      key, a,
      absl::StrCat("ocx-shim (pid ", a.claim->pid,
                   ") is gone without recording an exit; see ", a.log_path),
      out);
  return true;
}

std::vector<AttemptUpdate> LocalRunner::Poll() {
  std::vector<AttemptUpdate> out;
  for (auto it = attempts_.begin(); it != attempts_.end();) {
    if (Check(it->first, it->second, out)) {
      slots_.Release(it->second.gpus);
      services_.erase(it->first);
      it = attempts_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

absl::Status LocalRunner::Cancel(const AttemptKey& key) {
  auto it = attempts_.find(key);
  if (it == attempts_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no live local attempt ", key.task_id, "#", key.attempt));
  }
  Attempt& a = it->second;
  a.cancel_requested = true;
  if (a.child_pid > 0) {
    // Our unreaped child: its pid cannot have been reused. If it loses the
    // claim, CheckFiles() forwards the cancel to the owner.
    kill(a.child_pid, SIGTERM);
    return absl::OkStatus();
  }
  if (!a.claim) {
    absl::StatusOr<Claim> c = ReadClaim(a.attempt_dir);
    if (!c.ok()) return absl::OkStatus();  // Poll() decides what happened
    a.claim = *c;
  }
  absl::StatusOr<bool> alive = ClaimHolderAlive(*a.claim);
  if (alive.ok() && *alive) {
    a.cancel_sent_to_claim = true;
    kill(a.claim->pid, SIGTERM);
  }
  return absl::OkStatus();
}

std::string LocalRunner::BackendId(const Attempt& a) {
  if (a.claim) return absl::StrCat(a.claim->pid);
  if (a.child_pid > 0) return absl::StrCat(a.child_pid);
  return "";
}

int LocalRunner::live_count() const {
  return static_cast<int>(attempts_.size());
}

int64_t LocalRunner::poll_interval_ms() const {
  for (const auto& [key, a] : attempts_) {
    if (a.child_pid == 0 || !a.running_reported) return 100;
  }
  return 1000;
}

std::string DefaultShimPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return JoinPath(Dirname(std::string(buf, static_cast<size_t>(n))),
                  "ocx-shim");
}

}  // namespace ocx::runners
