#include "runners/slurm/slurm_runner.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace ocx::runners {
namespace {

using slurm::JobRecord;
using slurm::Outcome;

constexpr char kJobFile[] = "slurm-job";
constexpr char kScriptFile[] = "slurm-job.sh";
// Job ids per squeue / sacct call (an argv stays far below ARG_MAX).
constexpr size_t kIdsPerQuery = 2000;
// After an scancel, look again soon: the user waits for the outcome.
constexpr int64_t kAfterCancelPollMs = 300;

// The tasks of one stage of one evaluation share one max_pending.
std::string GroupOf(const LaunchSpec& spec) {
  return absl::StrCat(spec.evaluation_id, "/", static_cast<int>(spec.stage));
}

// Numeric order of job ids ("99" < "100").
bool IdLess(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

std::string MinutesFor(int timeout_s) {
  return absl::StrCat((timeout_s + 59) / 60);
}

std::string Shorten(std::string s) {
  while (!s.empty() && absl::ascii_isspace(s.back())) s.pop_back();
  if (s.size() > 400) s = absl::StrCat(s.substr(0, 400), "...");
  return s;
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
  absl::StatusOr<std::string> script = slurm::BuildBatchScript(task);
  if (!script.ok()) {
    return Annotate(script.status(), absl::StrCat("attempt ", spec.name));
  }
  OCX_RETURN_IF_ERROR(MakeAttemptDirs(spec));
  Job j;
  j.base_name = spec.name;
  j.log_path = spec.log_path;
  j.attempt_dir = spec.attempt_dir;
  j.script_path = JoinPath(spec.attempt_dir, kScriptFile);
  OCX_RETURN_IF_ERROR(WriteFileAtomic(j.script_path, *script));
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
  o.quotatype = spec.runner.quotatype();
  o.gpus = spec.num_gpus;
  o.cpus_per_task = spec.runner.cpus_per_task();
  o.time_limit = spec.runner.time_limit();
  if (o.time_limit.empty() && spec.timeout_s > 0) {
    o.time_limit = MinutesFor(spec.timeout_s);
  }
  o.extra_args.assign(spec.runner.extra_command().begin(),
                      spec.runner.extra_command().end());
  o.script_path = j.script_path;
  return j;
}

absl::StatusOr<std::string> SlurmRunner::Launch(const LaunchSpec& spec) {
  OCX_RETURN_IF_ERROR(CheckNotLive(spec.key));
  OCX_ASSIGN_OR_RETURN(Job j, Prepare(spec));
  absl::MutexLock lock(&mu_);
  Admit(spec.key, std::move(j));
  kick_ = true;
  cv_.Signal();
  return spec.name;
}

absl::Status SlurmRunner::Adopt(const LaunchSpec& spec,
                                const std::string& backend_id) {
  OCX_RETURN_IF_ERROR(CheckNotLive(spec.key));
  OCX_ASSIGN_OR_RETURN(Job j, Prepare(spec));
  // The job file is written right after sbatch answers, so it may know a
  // job id the database never heard of (the daemon died in between).
  std::string id;
  int k = 0;
  absl::StatusOr<std::string> saved =
      ReadFile(JoinPath(j.attempt_dir, kJobFile));
  if (saved.ok()) {
    std::vector<std::string> f =
        absl::StrSplit(absl::StripAsciiWhitespace(*saved), ' ');
    if (f.size() == 2 && slurm::IsJobId(f[0]) && absl::SimpleAtoi(f[1], &k)) {
      id = f[0];
    }
  }
  if (slurm::IsJobId(backend_id) && backend_id != id &&
      (id.empty() || IdLess(id, backend_id))) {
    id = backend_id;
    k = 0;  // learnt from the job's name at the next poll
  }
  absl::MutexLock lock(&mu_);
  Job& ref = Admit(spec.key, std::move(j));
  if (!id.empty()) {
    Note(ref,
         absl::StrCat("ocxd restarted; watching Slurm job ", id, " again"));
    Found(spec.key, ref, id, k);
  } else {
    Note(ref, absl::StrCat("ocxd restarted before the Slurm job id of ",
                           ref.base_name, " was known; looking it up by name"));
    ref.phase = Phase::kLookup;
  }
  kick_ = true;
  cv_.Signal();
  return absl::OkStatus();
}

std::vector<AttemptUpdate> SlurmRunner::Poll() {
  absl::MutexLock lock(&mu_);
  return TakeUpdates();
}

absl::Status SlurmRunner::Cancel(const AttemptKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(key);
  if (it == live_.end()) {
    return NotLiveError(key);
  }
  Job& j = it->second;
  if (j.cancel_requested) return absl::OkStatus();
  j.cancel_requested = true;
  Note(j, "cancel requested");
  if (j.phase == Phase::kSubmit && !j.busy) {
    Finish(key,
           Exited(key, j, 1, 0, "cancelled before it was submitted to Slurm"));
    return absl::OkStatus();
  }
  kick_ = true;
  cv_.Signal();
  return absl::OkStatus();
}

int64_t SlurmRunner::poll_interval_ms() const {
  absl::MutexLock lock(&mu_);
  // The worker wakes the dispatcher when it has news.
  return outbox_.empty() ? 1000 : 0;
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

CliResult SlurmRunner::Call(const std::vector<std::string>& argv) {
  ++calls_;
  return RunCli(argv, options_.call_timeout_ms, &abort_calls_);
}

void SlurmRunner::Backoff(const std::string& what, const CliResult& r) {
  const int64_t delay = BackoffMs(++failures_);
  backoff_until_ms_ = NowMillis() + delay;
  fprintf(stderr, "ocxd: slurm: %s failed (%s); trying again in %s\n",
          what.c_str(), r.Describe().c_str(), FormatDelay(delay).c_str());
}

void SlurmRunner::CancelTurn() {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    if (backoff_until_ms_ > NowMillis()) return;
    for (const auto& [key, j] : live_) {
      if (j.cancel_requested && !j.cancel_sent && j.phase == Phase::kWatch) {
        ids.push_back(j.job_id);
      }
    }
  }
  for (size_t i = 0; i < ids.size();
       i += static_cast<size_t>(options_.scancel_batch)) {
    std::vector<std::string> batch(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() +
            static_cast<std::ptrdiff_t>(std::min(
                ids.size(), i + static_cast<size_t>(options_.scancel_batch))));
    CliResult r = Call(slurm::ScancelArgv(options_.scancel, batch));
    absl::MutexLock lock(&mu_);
    // A finished or purged job is no reason to try again.
    if (!r.ok() && !(r.spawn_status.ok() && !r.timed_out &&
                     slurm::SaysInvalidJobId(r.output))) {
      Backoff("scancel", r);
      return;
    }
    failures_ = 0;
    std::set<std::string> sent(batch.begin(), batch.end());
    for (auto& [key, j] : live_) {
      if (j.phase == Phase::kWatch && sent.count(j.job_id) > 0) {
        if (!j.cancel_sent) {
          Note(j, absl::StrCat("scancel ", j.job_id));
        }
        j.cancel_sent = true;
      }
    }
    next_poll_ms_ = std::min(next_poll_ms_, NowMillis() + kAfterCancelPollMs);
  }
}

void SlurmRunner::LookupTurn() {
  std::map<std::string, AttemptKey> by_name;  // every incarnation's name
  {
    absl::MutexLock lock(&mu_);
    if (backoff_until_ms_ > NowMillis()) return;
    for (const auto& [key, j] : live_) {
      if (j.phase != Phase::kLookup) continue;
      for (int k = j.incarnation; k <= options_.max_resubmits; ++k) {
        by_name[slurm::IncarnationName(j.base_name, k)] = key;
      }
    }
  }
  if (by_name.empty()) return;
  std::vector<std::string> names;
  for (const auto& [name, key] : by_name) names.push_back(name);
  CliResult r = Call(slurm::SqueueByNameArgv(options_.squeue, names));
  if (!r.ok()) {
    absl::MutexLock lock(&mu_);
    Backoff("squeue --name", r);
    return;
  }
  std::vector<JobRecord> found = slurm::ParseSqueue(r.output);
  std::set<std::string> seen;
  for (const JobRecord& rec : found) seen.insert(rec.name);
  std::vector<std::string> rest;
  for (const std::string& n : names) {
    if (seen.count(n) == 0) rest.push_back(n);
  }
  if (!rest.empty()) {
    CliResult s =
        Call(slurm::SacctByNameArgv(options_.sacct, options_.sacct_args, rest));
    // Without accounting there is nothing more to learn; any other failure
    // is retried, since a job found only there must not be submitted again.
    if (!s.ok() &&
        !absl::StrContains(s.output, "accounting storage is disabled")) {
      absl::MutexLock lock(&mu_);
      Backoff("sacct --name", s);
      return;
    }
    if (s.ok()) {
      for (JobRecord& rec : slurm::ParseSacct(s.output)) {
        found.push_back(std::move(rec));
      }
    }
  }
  absl::MutexLock lock(&mu_);
  failures_ = 0;
  std::map<AttemptKey, std::pair<int, std::string>> best;  // k, id
  for (const JobRecord& rec : found) {
    auto n = by_name.find(rec.name);  // sacct -c ignores --name
    if (n == by_name.end()) continue;
    auto it = live_.find(n->second);
    if (it == live_.end() || it->second.phase != Phase::kLookup) continue;
    int k = slurm::IncarnationOf(it->second.base_name, rec.name);
    auto b = best.find(n->second);
    if (b == best.end() || k > b->second.first ||
        (k == b->second.first && IdLess(b->second.second, rec.job_id))) {
      best[n->second] = {k, rec.job_id};
    }
  }
  for (auto it = live_.begin(); it != live_.end();) {
    auto next = std::next(it);
    Job& j = it->second;
    if (j.phase == Phase::kLookup) {
      auto b = best.find(it->first);
      if (b != best.end()) {
        Note(j, absl::StrCat(
                    "found Slurm job ", b->second.second, " named ",
                    slurm::IncarnationName(j.base_name, b->second.first)));
        Found(it->first, j, b->second.second, b->second.first);
      } else if (j.cancel_requested) {
        Finish(it->first, Exited(it->first, j, 1, 0,
                                 "cancelled before Slurm accepted the job"));
      } else {
        j.phase = Phase::kSubmit;
      }
    }
    it = next;
  }
}

void SlurmRunner::SubmitTurn() {
  while (true) {
    AttemptKey key;
    std::vector<std::string> argv;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || backoff_until_ms_ > NowMillis()) return;
      // A long run of submissions must not hold up the poll: finished jobs
      // free slots the dispatcher fills with the next submissions.
      if (NowMillis() >= next_poll_ms_) {
        kick_ = true;
        return;
      }
      std::map<std::string, int> pending;  // per group
      for (const auto& [k, j] : live_) {
        if (j.busy || (j.phase == Phase::kWatch &&
                       slurm::ClassifyState(j.state) == Outcome::kPending)) {
          ++pending[j.group];
        }
      }
      Job* next = nullptr;
      for (auto& [k, j] : live_) {
        if (j.phase != Phase::kSubmit || j.busy || j.cancel_requested) continue;
        if (j.max_pending > 0 && pending[j.group] >= j.max_pending) continue;
        key = k;
        next = &j;
        break;
      }
      if (next == nullptr) return;
      next->busy = true;
      next->submit.job_name =
          slurm::IncarnationName(next->base_name, next->incarnation);
      argv = slurm::SbatchArgv(next->submit);
    }
    CliResult r = Call(argv);
    absl::MutexLock lock(&mu_);
    auto it = live_.find(key);
    if (it == live_.end()) continue;
    Job& j = it->second;
    j.busy = false;
    const std::string name = slurm::IncarnationName(j.base_name, j.incarnation);
    if (r.ok()) {
      failures_ = 0;
      absl::StatusOr<std::string> id = slurm::ParseSbatchOutput(r.output);
      if (id.ok()) {
        Note(j, absl::StrCat("submitted ", name, " as Slurm job ", *id));
        Found(key, j, *id, j.incarnation);
      } else {
        Note(j, absl::StrCat(id.status().message(), "; looking it up by name"));
        j.phase = Phase::kLookup;
      }
      continue;
    }
    if (!r.spawn_status.ok()) {
      Finish(key, Exited(key, j, 1, 0,
                         absl::StrCat("could not run sbatch: ", r.Describe())));
      continue;
    }
    if (r.timed_out || r.aborted) {
      // It may have been submitted: look before trying again.
      j.phase = Phase::kLookup;
      Backoff(absl::StrCat("sbatch of ", name), r);
      return;
    }
    if (slurm::SaysControllerUnreachable(r.output)) {
      Note(j, absl::StrCat("sbatch: Slurm controller unreachable; waiting (",
                           Shorten(r.output), ")"));
      Backoff(absl::StrCat("sbatch of ", name), r);
      return;
    }
    Finish(key,
           Exited(key, j, 1, 0,
                  absl::StrCat("sbatch refused the job: ", Shorten(r.output))));
  }
}

void SlurmRunner::PollTurn() {
  std::map<std::string, AttemptKey> by_id;
  {
    absl::MutexLock lock(&mu_);
    next_poll_ms_ = NowMillis() + options_.poll_interval_ms;
    for (const auto& [key, j] : live_) {
      if (j.phase == Phase::kWatch) by_id[j.job_id] = key;
    }
  }
  if (by_id.empty()) return;
  std::vector<std::string> ids;
  for (const auto& [id, key] : by_id) ids.push_back(id);
  std::vector<JobRecord> found;
  for (size_t i = 0; i < ids.size(); i += kIdsPerQuery) {
    std::vector<std::string> chunk(
        ids.begin() + static_cast<std::ptrdiff_t>(i),
        ids.begin() + static_cast<std::ptrdiff_t>(
                          std::min(ids.size(), i + kIdsPerQuery)));
    CliResult r = Call(slurm::SqueueByIdArgv(options_.squeue, chunk));
    // One unknown id alone makes squeue fail with "Invalid job id".
    if (!r.ok() && !(r.spawn_status.ok() && !r.timed_out &&
                     slurm::SaysInvalidJobId(r.output))) {
      absl::MutexLock lock(&mu_);
      Backoff("squeue", r);
      return;
    }
    for (JobRecord& rec : slurm::ParseSqueue(r.output)) {
      found.push_back(std::move(rec));
    }
  }
  std::set<std::string> seen;
  for (const JobRecord& rec : found) seen.insert(rec.job_id);
  std::vector<std::string> missing;
  for (const std::string& id : ids) {
    if (seen.count(id) == 0) missing.push_back(id);
  }
  if (!missing.empty()) {
    CliResult s = Call(
        slurm::SacctByIdArgv(options_.sacct, options_.sacct_args, missing));
    if (s.ok()) {
      for (JobRecord& rec : slurm::ParseSacct(s.output)) {
        if (seen.insert(rec.job_id).second) found.push_back(std::move(rec));
      }
    }
  }
  absl::MutexLock lock(&mu_);
  failures_ = 0;
  const int64_t now = NowMillis();
  for (const JobRecord& rec : found) {
    auto k = by_id.find(rec.job_id);
    if (k == by_id.end()) continue;
    auto it = live_.find(k->second);
    if (it == live_.end() || it->second.phase != Phase::kWatch ||
        it->second.job_id != rec.job_id) {
      continue;
    }
    ApplyRecord(k->second, it->second, rec, now);
  }
  for (const std::string& id : ids) {
    if (seen.count(id) > 0) continue;
    const AttemptKey key = by_id.at(id);
    auto it = live_.find(key);
    if (it == live_.end() || it->second.job_id != id) continue;
    Job& j = it->second;
    // The job's own record of how the task ended, when Slurm forgot it.
    absl::StatusOr<std::string> text =
        ReadFile(JoinPath(j.attempt_dir, absl::StrCat("slurm-exit-", id)));
    int rc = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &rc)) {
      JobRecord rec;
      rec.job_id = id;
      rec.state = rc == 0 ? "COMPLETED" : "FAILED";
      rec.has_exit = true;
      rec.exit_code = rc;
      rec.reason =
          "from the job's exit file; squeue and sacct no longer know it";
      ApplyRecord(key, j, rec, now);
      continue;
    }
    if (++j.not_found >= options_.not_found_limit) {
      Finish(key, Lost(key, j,
                       absl::StrCat("Slurm no longer knows job ", id,
                                    " (not in squeue or sacct ", j.not_found,
                                    " times) and it left no exit status")));
    }
  }
}

void SlurmRunner::ApplyRecord(const AttemptKey& key, Job& j, const JobRecord& r,
                              int64_t now) {
  j.not_found = 0;
  const int k = slurm::IncarnationOf(j.base_name, r.name);
  if (k > j.incarnation) j.incarnation = k;
  const bool state_changed = r.state != j.state;
  if (state_changed) {
    j.state = r.state;
    Note(j, absl::StrCat(
                "Slurm job ", r.job_id, ": ", r.state,
                r.reason.empty() ? "" : absl::StrCat(" (", r.reason, ")")));
  }
  const std::string job = absl::StrCat("Slurm job ", r.job_id, " ");
  const std::string why = r.reason.empty() || r.reason == "NonZeroExitCode"
                              ? ""
                              : absl::StrCat(" (", r.reason, ")");
  switch (slurm::ClassifyState(r.state)) {
    case Outcome::kPending:
    case Outcome::kRunning: {
      // Still alive: tell the dispatcher the job's Slurm state when it
      // changes, so `ocxctl status` shows PENDING (Priority) vs RUNNING.
      const bool first_run =
          slurm::ClassifyState(r.state) == Outcome::kRunning &&
          !j.running_reported;
      if (!state_changed && !first_run) return;
      if (first_run) j.running_reported = true;
      outbox_.push_back(Running(key, j, first_run ? now : 0,
                                absl::StrCat(job, r.state, why)));
      return;
    }
    case Outcome::kSucceeded:
      if (r.has_exit && (r.exit_code != 0 || r.signal != 0)) {
        Finish(key,
               Exited(key, j, r.exit_code, r.signal,
                      absl::StrCat(job, "COMPLETED with a non-zero status")));
      } else {
        Finish(key, Exited(key, j, 0, 0, absl::StrCat(job, "COMPLETED")));
      }
      return;
    case Outcome::kFailed: {
      int code = r.has_exit && r.exit_code != 0 ? r.exit_code : 1;
      int sig = r.has_exit && r.exit_code == 0 ? r.signal : 0;
      Finish(key, Exited(key, j, code, sig,
                         absl::StrCat(job, slurm::ExplainState(r.state), why)));
      return;
    }
    case Outcome::kCancelled:
      Finish(key,
             Exited(key, j, 1, 0,
                    j.cancel_requested
                        ? absl::StrCat(job, "CANCELLED by ocx (scancel)")
                        : absl::StrCat(job,
                                       "CANCELLED outside ocx (scancel by a "
                                       "user or an administrator)")));
      return;
    case Outcome::kResubmit:
      if (j.cancel_requested) {
        Finish(key, Exited(key, j, 1, 0,
                           absl::StrCat(job, slurm::ExplainState(r.state),
                                        " while being cancelled")));
        return;
      }
      if (j.incarnation < options_.max_resubmits) {
        ++j.incarnation;
        Note(j, absl::StrCat(job, slurm::ExplainState(r.state),
                             "; submitting it again as ",
                             slurm::IncarnationName(j.base_name, j.incarnation),
                             " (resubmission ", j.incarnation, " of at most ",
                             options_.max_resubmits,
                             "; the task's retry budget is not used)"));
        j.job_id.clear();
        j.state.clear();
        j.running_reported = false;
        j.cancel_sent = false;
        // A daemon that died after that submission left it behind: look
        // before submitting.
        j.phase = Phase::kLookup;
        kick_ = true;
        return;
      }
      Finish(key,
             Exited(key, j, 1, 0,
                    absl::StrCat(job, slurm::ExplainState(r.state), " after ",
                                 j.incarnation,
                                 " resubmission(s); slurm.max_resubmits is ",
                                 options_.max_resubmits)));
      return;
  }
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
  WriteFileAtomic(JoinPath(j.attempt_dir, kJobFile),
                  absl::StrCat(j.job_id, " ", j.incarnation, "\n"))
      .IgnoreError();
}

}  // namespace ocx::runners
