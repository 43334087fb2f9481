#include "runners/slurm/slurm_runner.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "runners/slurm/slurm_array.h"

namespace ocx::runners {
namespace {

using slurm::JobRecord;
using slurm::Outcome;

using slurm::kScriptFile;

constexpr char kJobFile[] = "slurm-job";
// "<array name> <index>": written before the array's sbatch runs.
constexpr char kArrayFile[] = "slurm-array";

// The words of a file in the attempt dir that only ocxd writes; none when
// it is missing or not the daemon's own (an owner must not point ocxd at
// another user's job).
std::vector<std::string> ReadOwnFile(const std::string& attempt_dir,
                                     const char* name) {
  const std::string path = JoinPath(attempt_dir, name);
  absl::StatusOr<std::string> text = ReadFile(path);
  struct stat st;
  if (!text.ok() || lstat(path.c_str(), &st) != 0 || st.st_uid != geteuid() ||
      !S_ISREG(st.st_mode)) {
    return {};
  }
  return absl::StrSplit(absl::StripAsciiWhitespace(*text), ' ');
}

// The tasks of one stage of one evaluation share one max_pending.
std::string GroupOf(const LaunchSpec& spec) {
  return absl::StrCat(spec.evaluation_id, "/", static_cast<int>(spec.stage));
}

std::string MinutesFor(int timeout_s) {
  return absl::StrCat((timeout_s + 59) / 60);
}

// Which jobs may share an array: every sbatch option but the job's own
// name, log and script, in one group, for one owner.
std::string ArrayKeyOf(const slurm_internal::SlurmJob& j) {
  if (!slurm::FitsManifest(j.attempt_dir)) return "";
  slurm::SubmitOptions o = j.submit;
  o.job_name.clear();
  o.log_path.clear();
  o.script_path.clear();
  return absl::StrCat(j.group, "\n",
                      j.run_as.has_value() ? absl::StrCat(j.run_as->uid) : "-",
                      "\n", absl::StrJoin(slurm::SbatchArgv(o), "\n"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SlurmRunner>> SlurmRunner::Create(
    Options options) {
  if (options.sbatch.empty() || options.squeue.empty() ||
      options.sacct.empty() || options.scancel.empty()) {
    return absl::InvalidArgumentError(
        "SlurmRunner: the sbatch, squeue, sacct and scancel paths must be set");
  }
  if (options.poll_interval_ms <= 0 || options.call_timeout_ms <= 0 ||
      options.call_initial_backoff_ms <= 0 ||
      options.call_max_backoff_ms < options.call_initial_backoff_ms ||
      options.not_found_limit <= 0 || options.scancel_batch <= 0 ||
      options.max_parallel < 0 || options.max_resubmits < 0) {
    return absl::InvalidArgumentError(
        "SlurmRunner: poll_interval_ms, call_timeout_ms, "
        "call_initial_backoff_ms, "
        "not_found_limit and scancel_batch must be > 0, max_parallel and "
        "max_resubmits >= 0, call_max_backoff_ms >= call_initial_backoff_ms");
  }
  return std::make_unique<SlurmRunner>(std::move(options));
}

SlurmRunner::SlurmRunner(Options options)
    : AsyncCliRunner({"slurm", "Slurm", options.max_parallel,
                      options.call_initial_backoff_ms,
                      options.call_max_backoff_ms}),
      options_(std::move(options)) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

SlurmRunner::~SlurmRunner() {
  BeginShutdown();
  cv_.SignalAll();
  worker_.join();
}

// ---- Dispatcher-thread entry points ----

absl::StatusOr<SlurmRunner::Job> SlurmRunner::Prepare(
    const LaunchSpec& spec) const {
  if (spec.name.empty() || spec.log_path.empty() || spec.attempt_dir.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attempt ", KeyName(spec.key),
                     ": name, log_path and attempt_dir must be set"));
  }
  slurm::BatchTask task;
  task.argv = spec.argv;
  task.env = spec.env;
  task.work_dir = spec.work_dir;
  task.attempt_dir = spec.attempt_dir;
  task.log_path = spec.log_path;
  absl::StatusOr<std::string> script = slurm::BuildBatchScript(task);
  if (!script.ok()) {
    return Annotate(script.status(), absl::StrCat("attempt ", spec.name));
  }
  OCX_RETURN_IF_ERROR(MakeAttemptDirs(spec));
  Job j;
  j.base_name = spec.name;
  j.log_path = spec.log_path;
  j.attempt_dir = spec.attempt_dir;
  j.run_as = spec.run_as;
  if (spec.run_as.has_value()) j.owner = {spec.run_as->uid, spec.run_as->gid};
  j.script_path = JoinPath(spec.attempt_dir, kScriptFile);
  // The script carries the task's environment (secrets): its owner's only.
  OCX_RETURN_IF_ERROR(
      WriteFileAtomicFor(j.script_path, *script, kSecretMode, j.owner));
  j.group = GroupOf(spec);
  j.max_pending = spec.runner.max_pending();
  slurm::SubmitOptions& o = j.submit;
  o.sbatch = options_.sbatch;
  o.default_args = options_.sbatch_args;
  o.log_path = spec.log_path;
  o.work_dir = spec.work_dir;
  o.partition = spec.runner.partition().empty() ? options_.default_partition
                                                : spec.runner.partition();
  o.qos = spec.runner.qos();
  if (!spec.runner.quotatype().empty()) {
    // Only Shanghai AI Lab's srun wrapper knows it; vanilla sbatch would
    // refuse the whole job (docs/slurm.md, "quotatype").
    Note(j, absl::StrCat("quotatype \"", spec.runner.quotatype(),
                         "\" is not passed to sbatch (not a Slurm option); "
                         "use qos, or extra_command for a site whose sbatch "
                         "accepts --quotatype"));
  }
  o.gpus = spec.num_gpus;
  o.cpus_per_task = spec.runner.cpus_per_task();
  o.time_limit = spec.runner.time_limit();
  if (o.time_limit.empty() && spec.timeout_s > 0) {
    o.time_limit = MinutesFor(spec.timeout_s);
  }
  o.extra_args.assign(spec.runner.extra_command().begin(),
                      spec.runner.extra_command().end());
  o.script_path = j.script_path;
  j.array_throttle = spec.runner.max_num_workers();
  if (options_.max_array_size > 1) j.array_key = ArrayKeyOf(j);
  return j;
}

void SlurmRunner::Start(const AttemptKey&, Job&) {
  kick_ = true;
  cv_.Signal();
}

void SlurmRunner::Reattach(const AttemptKey& key, Job& j,
                           const std::string& backend_id) {
  // The job file is written right after sbatch answers, so it may know a
  // job id the database never heard of (the daemon died in between).
  std::string id;
  int k = 0;
  std::vector<std::string> f = ReadOwnFile(j.attempt_dir, kJobFile);
  if (f.size() == 2 && slurm::IsJobId(f[0]) && absl::SimpleAtoi(f[1], &k)) {
    id = f[0];
  }
  if (slurm::IsJobId(backend_id) && backend_id != id &&
      (id.empty() || slurm::JobIdLess(id, backend_id))) {
    id = backend_id;
    k = 0;  // learnt from the job's name at the next poll
  }
  if (!id.empty()) {
    Note(j, absl::StrCat("ocxd restarted; watching Slurm job ", id, " again"));
    Found(key, j, id, k);
  } else {
    // It may have gone as an element of an array: look that up too.
    std::vector<std::string> a = ReadOwnFile(j.attempt_dir, kArrayFile);
    int index = -1;
    if (a.size() == 2 && absl::SimpleAtoi(a[1], &index) && index >= 0) {
      j.array_name = a[0];
      j.array_index = index;
    }
    Note(j, absl::StrCat("ocxd restarted before the Slurm job id of ",
                         j.base_name, " was known; looking it up by name"));
    j.phase = Phase::kLookup;
  }
}

void SlurmRunner::CancelLive(const AttemptKey& key, Job& j) {
  if (j.cancel_requested) return;
  j.cancel_requested = true;
  Note(j, "cancel requested");
  if (j.phase == Phase::kSubmit && !j.busy) {
    Finish(key,
           Exited(key, j, 1, 0, "cancelled before it was submitted to Slurm"));
    return;
  }
  kick_ = true;
  cv_.Signal();
}

// ---- The worker ----

void SlurmRunner::WorkerLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_) {
        const int64_t now = NowMillis();
        int64_t due = now + 1000;
        if (backoff_until_ms_ > now) {
          due = backoff_until_ms_;
        } else if (kick_) {
          break;
        } else if (!live_.empty()) {
          if (next_poll_ms_ <= now) break;
          due = std::min(due, next_poll_ms_);
        }
        cv_.WaitWithTimeout(
            &mu_, absl::Milliseconds(std::max<int64_t>(1, due - now)));
      }
      if (stopping_) return;
      kick_ = false;
    }
    if (Turn() && options_.wakeup) options_.wakeup();
  }
}

bool SlurmRunner::Turn() {
  CancelTurn();
  LookupTurn();
  SubmitTurn();
  bool due = false;
  {
    absl::MutexLock lock(&mu_);
    due = NowMillis() >= next_poll_ms_ && backoff_until_ms_ <= NowMillis();
  }
  if (due) PollTurn();
  absl::MutexLock lock(&mu_);
  return !outbox_.empty();
}

CliResult SlurmRunner::Call(const std::vector<std::string>& argv,
                            const Identity* run_as) {
  ++calls_;
  return RunCli(argv, options_.call_timeout_ms, &abort_calls_, run_as);
}

void SlurmRunner::Backoff(const std::string& what, const CliResult& r) {
  const int64_t delay = BackoffMs(++failures_);
  backoff_until_ms_ = NowMillis() + delay;
  fprintf(stderr, "ocxd: slurm: %s failed (%s); trying again in %s\n",
          what.c_str(), r.Describe().c_str(), FormatDelay(delay).c_str());
}

void SlurmRunner::Found(const AttemptKey& key, Job& j,
                        const std::string& job_id, int incarnation) {
  j.job_id = job_id;
  j.incarnation = incarnation;
  j.phase = Phase::kWatch;
  j.state.clear();
  j.not_found = 0;
  SaveJobFile(j);
  outbox_.push_back(
      Running(key, j, 0, absl::StrCat("Slurm job ", job_id, " submitted")));
  if (j.cancel_requested) kick_ = true;
}

void SlurmRunner::SaveJobFile(const Job& j) {
  // The daemon's own file (never the owner's: a forged job id would have
  // ocxd watch and scancel another user's job), not written through a link.
  WriteFileAtomicFor(JoinPath(j.attempt_dir, kJobFile),
                     absl::StrCat(j.job_id, " ", j.incarnation, "\n"),
                     kFileMode, FileOwner{})
      .IgnoreError();
}

}  // namespace ocx::runners
