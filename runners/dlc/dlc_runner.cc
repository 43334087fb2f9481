#include "runners/dlc/dlc_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace ocx::runners {
namespace {

using dlc::JobInfo;

// Live log windows end this many seconds before now, so that a window never
// covers a second that is still being written.
constexpr int64_t kLogLagS = 2;
// Tries of the last `dlc logs` of a job before it is reported anyway.
constexpr int kFinalLogTries = 3;
constexpr char kNoLogs[] = "[WARN] No logs found for the pod";
constexpr char kLogWindowFile[] = "dlc-log-window";

// Writes dlc logs output to the attempt log (outside the lock).
void AppendLogOutput(const std::string& path, const std::string& output) {
  if (output.empty() || absl::StrContains(output, kNoLogs)) return;
  if (output.back() == '\n') {
    AppendToFile(path, output);
  } else {
    AppendToFile(path, absl::StrCat(output, "\n"));
  }
}

std::string DescribeStatus(const JobInfo& info) {
  std::string s = info.status;
  if (!info.reason_code.empty() || !info.reason_message.empty()) {
    absl::StrAppend(
        &s, " (", info.reason_code,
        info.reason_code.empty() || info.reason_message.empty() ? "" : ": ",
        info.reason_message, ")");
  }
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DlcRunner>> DlcRunner::Create(Options options) {
  if (options.dlc_path.empty()) {
    return absl::InvalidArgumentError("DlcRunner: dlc_path is empty");
  }
  if (options.poll_interval_ms <= 0 || options.max_concurrent_calls <= 0 ||
      options.submit_tries <= 0 || options.call_timeout_ms <= 0 ||
      options.call_initial_backoff_ms <= 0 ||
      options.call_max_backoff_ms < options.call_initial_backoff_ms ||
      options.not_found_limit <= 0) {
    return absl::InvalidArgumentError(
        "DlcRunner: poll_interval_ms, max_concurrent_calls, submit_tries, "
        "call_timeout_ms, call_initial_backoff_ms and not_found_limit must "
        "be > 0, and call_max_backoff_ms >= call_initial_backoff_ms");
  }
  if (options.max_resubmits < 0 || options.log_interval_ms < 0 ||
      options.max_parallel < 0) {
    return absl::InvalidArgumentError(
        "DlcRunner: max_resubmits, log_interval_ms and max_parallel must "
        "be >= 0");
  }
  return std::make_unique<DlcRunner>(std::move(options));
}

DlcRunner::DlcRunner(Options options)
    : AsyncCliRunner({"dlc", "DLC", options.max_parallel,
                      options.call_initial_backoff_ms,
                      options.call_max_backoff_ms}),
      options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.max_concurrent_calls); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

DlcRunner::~DlcRunner() {
  BeginShutdown();
  work_cv_.SignalAll();
  for (std::thread& t : workers_) t.join();
}

// ---- Dispatcher-thread entry points ----

absl::StatusOr<DlcRunner::Attempt> DlcRunner::Prepare(
    const LaunchSpec& spec) const {
  if (spec.log_path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attempt ", spec.name, ": log_path must be set"));
  }
  if (spec.name.empty()) {
    return absl::InvalidArgumentError("the attempt has no name");
  }
  const ocx::v1::AliyunConfig& cfg = spec.runner.aliyun_cfg();
  OCX_RETURN_IF_ERROR(dlc::CheckAliyunConfig(cfg));

  // OpenCompass's eval_with_gpu: eval tasks named after these get a GPU.
  int gpus = spec.num_gpus;
  if (spec.stage == ocx::v1::STAGE_EVAL && gpus == 0) {
    std::vector<std::string> names(spec.runner.eval_with_gpu().begin(),
                                   spec.runner.eval_with_gpu().end());
    if (names.empty()) names.push_back("plugin_eval");
    for (const std::string& n : names) {
      if (!n.empty() && absl::StrContains(spec.task_name, n)) {
        gpus = 1;
        break;
      }
    }
  }
  dlc::RemoteTask task;
  task.argv = spec.argv;
  task.work_dir = spec.work_dir;
  task.env = spec.env;
  absl::StatusOr<std::string> shell = dlc::BuildRemoteShell(cfg, task);
  if (!shell.ok()) {
    return Annotate(shell.status(), absl::StrCat("attempt ", spec.name));
  }

  Attempt a;
  a.base_name = spec.name;
  a.log_path = spec.log_path;
  a.attempt_dir = spec.attempt_dir;
  a.cfg = cfg;
  a.preemptible = spec.runner.preemptible();
  a.resources = dlc::ComputeResources(gpus, cfg);
  a.shell = std::move(*shell);
  a.timeout_s = spec.timeout_s;
  OCX_RETURN_IF_ERROR(MakeAttemptDirs(spec));
  return a;
}

absl::StatusOr<std::string> DlcRunner::Launch(const LaunchSpec& spec) {
  OCX_RETURN_IF_ERROR(CheckNotLive(spec.key));
  OCX_ASSIGN_OR_RETURN(Attempt a, Prepare(spec));
  Note(a, absl::StrCat("submitting to DLC as ", a.base_name, " (worker_gpu ",
                       a.resources.gpus, ", worker_cpu ", a.resources.cpu,
                       ", worker_memory ", a.resources.memory_gi, "Gi, image ",
                       a.cfg.worker_image(), ")"));
  absl::MutexLock lock(&mu_);
  Attempt& ref = Admit(spec.key, std::move(a));
  MaybeStart(spec.key, ref, NowMillis());
  return spec.name;
}

absl::Status DlcRunner::Adopt(const LaunchSpec& spec,
                              const std::string& backend_id) {
  OCX_RETURN_IF_ERROR(CheckNotLive(spec.key));
  OCX_ASSIGN_OR_RETURN(Attempt a, Prepare(spec));
  a.adopted = true;
  const int64_t now = NowMillis();
  if (dlc::IsJobId(backend_id)) {
    a.job_id = backend_id;
    a.phase = Phase::kWatch;
    a.next_get_ms = now;
    Note(a, absl::StrCat("ocxd restarted; watching DLC job ", backend_id,
                         " again"));
  } else {
    // The daemon stopped before dlc told it the job id: the job may or may
    // not exist. Find it by name; submit only when there is none.
    a.phase = Phase::kLookup;
    Note(a, absl::StrCat("ocxd restarted before the DLC job id of ",
                         a.base_name, " was known; looking it up by name"));
  }
  absl::MutexLock lock(&mu_);
  Attempt& ref = Admit(spec.key, std::move(a));
  MaybeStart(spec.key, ref, now);
  return absl::OkStatus();
}

std::vector<AttemptUpdate> DlcRunner::Poll() {
  absl::MutexLock lock(&mu_);
  const int64_t now = NowMillis();
  for (auto it = live_.begin(); it != live_.end();) {
    auto next = std::next(it);  // MaybeStart may erase `it`
    MaybeStart(it->first, it->second, now);
    it = next;
  }
  return TakeUpdates();
}

absl::Status DlcRunner::Cancel(const AttemptKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(key);
  if (it == live_.end()) {
    return NotLiveError(key);
  }
  Attempt& a = it->second;
  if (!a.cancel_requested) {
    a.cancel_requested = true;
    a.due_ms = 0;  // act now, not after a backoff
    Note(a, "cancel requested");
  }
  MaybeStart(key, a, NowMillis());
  return absl::OkStatus();
}

int64_t DlcRunner::poll_interval_ms() const {
  absl::MutexLock lock(&mu_);
  if (!outbox_.empty()) return 0;
  const int64_t now = NowMillis();
  int64_t wait = 1000;
  for (const auto& [key, a] : live_) {
    if (a.busy) continue;
    wait = std::min(wait, a.due_ms - now);
  }
  return std::clamp<int64_t>(wait, 10, 1000);
}

// ---- Deciding the next call ----

DlcRunner::Op DlcRunner::MakeOp(Op::Kind kind, const AttemptKey& key,
                                std::vector<std::string> argv) {
  Op op;
  op.kind = kind;
  op.key = key;
  op.argv = std::move(argv);
  return op;
}

std::string DlcRunner::CurrentName(const Attempt& a) {
  return a.incarnation == 0 ? a.base_name
                            : absl::StrCat(a.base_name, "-p", a.incarnation);
}

void DlcRunner::Enqueue(Op op, Attempt& a) {
  a.busy = true;
  if (op.kind == Op::Kind::kStop) {
    queue_.push_front(std::move(op));  // a cancel goes before routine polls
  } else {
    queue_.push_back(std::move(op));
  }
  work_cv_.Signal();
}

void DlcRunner::MaybeStart(const AttemptKey& key, Attempt& a, int64_t now) {
  if (a.busy || stopping_ || a.due_ms > now) return;
  const std::string& dlc = options_.dlc_path;
  switch (a.phase) {
    case Phase::kCreate:
      if (a.cancel_requested) {
        if (!a.create_unknown) {
          Finish(key, Exited(key, a, 1, 0,
                             "cancelled before it was submitted to DLC"));
          return;
        }
        a.phase = Phase::kLookup;  // a failed create may have made the job
        Enqueue(MakeOp(Op::Kind::kLookup, key,
                       dlc::ListJobsArgv(dlc, a.cfg, a.base_name)),
                a);
        return;
      }
      Enqueue(MakeOp(Op::Kind::kCreate, key,
                     dlc::CreateJobArgv(dlc, a.cfg, a.preemptible,
                                        CurrentName(a), a.shell, a.resources)),
              a);
      return;
    case Phase::kLookup:
      Enqueue(MakeOp(Op::Kind::kLookup, key,
                     dlc::ListJobsArgv(dlc, a.cfg, a.base_name)),
              a);
      return;
    case Phase::kFinalLogs: {
      Op op = MakeOp(Op::Kind::kFinalLogs, key,
                     dlc::LogsArgv(dlc, a.cfg, a.job_id, a.log_from_s, 0));
      op.log_path = a.log_path;
      Enqueue(std::move(op), a);
      return;
    }
    case Phase::kWatch:
      break;
  }
  if (a.cancel_requested && !a.stop_sent) {
    Enqueue(
        MakeOp(Op::Kind::kStop, key, dlc::StopJobArgv(dlc, a.cfg, a.job_id)),
        a);
    return;
  }
  if (a.deadline_ms > 0 && now >= a.deadline_ms && !a.stop_sent) {
    a.timed_out = true;
    Note(a, absl::StrCat("timed out after ", a.timeout_s,
                         " s of running; stopping DLC job ", a.job_id));
    Enqueue(
        MakeOp(Op::Kind::kStop, key, dlc::StopJobArgv(dlc, a.cfg, a.job_id)),
        a);
    return;
  }
  const bool live_logs =
      a.running_seen && options_.log_interval_ms > 0 && a.log_from_s > 0;
  if (live_logs && now >= a.next_logs_ms) {
    int64_t end_s = now / 1000 - kLogLagS;
    if (end_s > a.log_from_s) {
      Op op = MakeOp(Op::Kind::kLogs, key,
                     dlc::LogsArgv(dlc, a.cfg, a.job_id, a.log_from_s, end_s));
      op.log_path = a.log_path;
      op.window_end_s = end_s;
      Enqueue(std::move(op), a);
      return;
    }
    a.next_logs_ms = now + options_.log_interval_ms;
  }
  if (now >= a.next_get_ms) {
    Enqueue(MakeOp(Op::Kind::kGet, key, dlc::GetJobArgv(dlc, a.cfg, a.job_id)),
            a);
    return;
  }
  int64_t next = a.next_get_ms;
  if (live_logs) next = std::min(next, a.next_logs_ms);
  if (a.deadline_ms > 0 && !a.stop_sent) next = std::min(next, a.deadline_ms);
  a.due_ms = next;
}

// ---- Worker threads ----

void DlcRunner::WorkerLoop() {
  while (true) {
    Op op;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) work_cv_.Wait(&mu_);
      if (stopping_) return;
      op = std::move(queue_.front());
      queue_.pop_front();
    }
    CliResult r = RunCli(op.argv, options_.call_timeout_ms, &abort_calls_);
    if ((op.kind == Op::Kind::kLogs || op.kind == Op::Kind::kFinalLogs) &&
        r.ok()) {
      AppendLogOutput(op.log_path, r.output);
    }
    bool notify = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      notify = Apply(op, r);
    }
    if (notify && options_.wakeup) options_.wakeup();
  }
}

bool DlcRunner::Apply(const Op& op, const CliResult& r) {
  auto it = live_.find(op.key);
  if (it == live_.end()) return false;  // cannot happen: it was busy
  Attempt& a = it->second;
  a.busy = false;
  const size_t before = outbox_.size();
  const int64_t now = NowMillis();
  a.due_ms = now;
  switch (op.kind) {
    case Op::Kind::kCreate:
      ApplyCreate(op.key, a, r, now);
      break;
    case Op::Kind::kLookup:
      ApplyLookup(op.key, a, r, now);
      break;
    case Op::Kind::kGet:
      ApplyGet(op.key, a, r, now);
      break;
    case Op::Kind::kLogs:
      ApplyLogs(op, a, r, now);
      break;
    case Op::Kind::kFinalLogs:
      ApplyFinalLogs(op.key, a, r, now);
      break;
    case Op::Kind::kStop:
      ApplyStop(op.key, a, r, now);
      break;
  }
  // The attempt may be gone (finished); look it up again.
  it = live_.find(op.key);
  if (it != live_.end()) MaybeStart(op.key, it->second, now);
  return outbox_.size() > before;
}

void DlcRunner::Backoff(Attempt& a, const std::string& what,
                        const std::string& why, int64_t now) const {
  ++a.failures;
  double delay = static_cast<double>(options_.call_initial_backoff_ms);
  for (int i = 1; i < a.failures && delay < options_.call_max_backoff_ms; ++i) {
    delay *= 2;
  }
  int64_t ms = std::min<int64_t>(static_cast<int64_t>(delay),
                                 options_.call_max_backoff_ms);
  a.due_ms = now + ms;
  a.last_error = absl::StrCat(what, ": ", why);
  Note(a, absl::StrCat(what, " failed (", why, "); trying again in ",
                       FormatDelay(ms)));
}

void DlcRunner::ApplyCreate(const AttemptKey& key, Attempt& a,
                            const CliResult& r, int64_t now) {
  ++a.create_tries;
  std::string why;
  if (r.ok()) {
    absl::StatusOr<std::string> id = dlc::ParseJobId(r.output);
    if (id.ok()) {
      a.failures = 0;
      Note(a, absl::StrCat("submitted ", CurrentName(a), " as DLC job ", *id));
      Found(key, a, *id, now);
      return;
    }
    why = std::string(id.status().message());
  } else {
    why = r.Describe();
  }
  // Unless dlc could not even be started, the job may exist now.
  if (r.spawn_status.ok()) a.create_unknown = true;
  const std::string what = absl::StrCat("dlc create job (try ", a.create_tries,
                                        " of ", options_.submit_tries, ")");
  if (a.create_tries >= options_.submit_tries) {
    a.last_error = absl::StrCat(what, ": ", why);
    if (!a.create_unknown) {
      Finish(key,
             Exited(key, a, 1, 0,
                    absl::StrCat("could not submit to DLC after ",
                                 a.create_tries, " tries: ", a.last_error)));
      return;
    }
    a.give_up_after_lookup = true;
  }
  Backoff(a, what, why, now);
  if (a.create_unknown) a.phase = Phase::kLookup;
}

void DlcRunner::ApplyLookup(const AttemptKey& key, Attempt& a,
                            const CliResult& r, int64_t now) {
  absl::StatusOr<std::vector<JobInfo>> jobs =
      r.ok() ? dlc::ParseJobList(r.output)
             : absl::StatusOr<std::vector<JobInfo>>(
                   absl::UnavailableError(r.Describe()));
  if (!jobs.ok()) {
    std::string why(jobs.status().message());
    if ((a.give_up_after_lookup || a.cancel_requested) &&
        a.failures + 1 >= options_.submit_tries) {
      Finish(key,
             Exited(key, a, 1, 0,
                    absl::StrCat(a.cancel_requested ? "cancelled"
                                                    : "could not submit to DLC",
                                 "; could not find out whether a job "
                                 "named ",
                                 CurrentName(a), " exists (dlc list job: ", why,
                                 ")")));
      return;
    }
    Backoff(a, "dlc list job", why, now);
    return;
  }
  a.failures = 0;
  // This attempt's jobs are its name and its later incarnations; DLC matches
  // names fuzzily, so compare exactly here.
  const JobInfo* best = nullptr;
  int best_k = -1;
  std::set<int> seen;
  bool duplicates = false;
  for (const JobInfo& j : *jobs) {
    int k = dlc::IncarnationOf(a.base_name, j.display_name);
    if (k < a.incarnation || j.job_id.empty()) continue;
    if (!seen.insert(k).second) duplicates = true;
    if (best == nullptr || k > best_k ||
        (k == best_k && j.create_time > best->create_time)) {
      best = &j;
      best_k = k;
    }
  }
  if (best != nullptr) {
    if (duplicates) {
      Note(a, absl::StrCat("DLC lists more than one job under one name of ",
                           a.base_name, "; watching the newest"));
    }
    a.incarnation = best_k;
    Note(a, absl::StrCat("found DLC job ", best->job_id, " named ",
                         best->display_name, " (", best->status, ")"));
    Found(key, a, best->job_id, now);
    return;
  }
  // DLC has no such job.
  if (a.cancel_requested) {
    Finish(key, Exited(key, a, 1, 0, "cancelled before DLC accepted the job"));
    return;
  }
  if (a.give_up_after_lookup) {
    Finish(key, Exited(key, a, 1, 0,
                       absl::StrCat("could not submit to DLC after ",
                                    a.create_tries, " tries: ", a.last_error)));
    return;
  }
  a.create_unknown = false;
  a.phase = Phase::kCreate;
}

void DlcRunner::Found(const AttemptKey& key, Attempt& a,
                      const std::string& job_id, int64_t now) {
  a.job_id = job_id;
  a.phase = Phase::kWatch;
  a.create_unknown = false;
  a.give_up_after_lookup = false;
  a.not_found = 0;
  a.status.clear();
  a.next_get_ms = now + options_.poll_interval_ms;
  outbox_.push_back(Running(key, a, 0));
}

void DlcRunner::ApplyGet(const AttemptKey& key, Attempt& a, const CliResult& r,
                         int64_t now) {
  absl::StatusOr<JobInfo> info =
      r.ok() ? dlc::ParseJobInfo(r.output)
             : absl::StatusOr<JobInfo>(absl::UnavailableError(r.Describe()));
  if (!info.ok()) {
    if (r.spawn_status.ok() && dlc::SaysNotFound(r.output)) {
      if (++a.not_found >= options_.not_found_limit) {
        Finish(key, Lost(key, a,
                         absl::StrCat("DLC no longer knows job ", a.job_id,
                                      " (dlc get job, ", a.not_found,
                                      " times: ", r.Describe(), ")")));
        return;
      }
    } else {
      a.not_found = 0;
    }
    Backoff(a, absl::StrCat("dlc get job ", a.job_id),
            std::string(info.status().message()), now);
    return;
  }
  a.failures = 0;
  a.not_found = 0;
  // An adopted job's name says which incarnation it is.
  int k = dlc::IncarnationOf(a.base_name, info->display_name);
  if (k >= 0) a.incarnation = k;
  if (info->status != a.status) {
    a.status = info->status;
    Note(a, absl::StrCat("DLC job ", a.job_id, ": ", DescribeStatus(*info)));
  }
  const bool final = dlc::IsFinalStatus(info->status);
  if (!a.running_seen && (info->status == "Running" || final)) {
    a.running_seen = true;
    int64_t created = dlc::ParseUtc(info->create_time);
    int64_t saved = LoadLogWindow(a);
    a.log_from_s = saved > 0 ? saved : created > 0 ? created : now / 1000 - 1;
    a.next_logs_ms = now + options_.log_interval_ms;
    if (a.timeout_s > 0 && !final) {
      a.deadline_ms = now + int64_t{a.timeout_s} * 1000;
    }
    int64_t started = dlc::ParseUtc(info->running_time) * 1000;
    if (started <= 0 && !a.adopted) started = now;
    outbox_.push_back(Running(key, a, started));
  }
  if (!final) {
    a.next_get_ms = now + options_.poll_interval_ms;
    return;
  }
  const std::string job = absl::StrCat("DLC job ", a.job_id);
  if (dlc::IsSuccessStatus(info->status)) {
    a.final_update = Exited(key, a, 0, 0, absl::StrCat(job, " Succeeded"));
  } else if (a.cancel_requested) {
    a.final_update =
        Exited(key, a, 1, 0,
               absl::StrCat("stopped on request (dlc stop job): ", job, " ",
                            DescribeStatus(*info)));
  } else if (a.timed_out) {
    a.final_update =
        Exited(key, a, 1, 0,
               absl::StrCat("timed out after ", a.timeout_s, " s; ", job, " ",
                            DescribeStatus(*info)));
  } else if (dlc::IsPreempted(*info) &&
             a.incarnation < options_.max_resubmits) {
    a.requeue = true;
    a.requeue_reason = DescribeStatus(*info);
  } else if (dlc::IsPreempted(*info)) {
    a.final_update =
        Exited(key, a, 1, 0,
               absl::StrCat(job, " was preempted (", DescribeStatus(*info),
                            ") after ", a.incarnation,
                            " earlier preemption(s); dlc.max_resubmits is ",
                            options_.max_resubmits));
  } else {
    a.final_update =
        Exited(key, a, 1, 0, absl::StrCat(job, " ", DescribeStatus(*info)));
  }
  a.phase = Phase::kFinalLogs;
  a.final_log_tries = 0;
}

void DlcRunner::ApplyLogs(const Op& op, Attempt& a, const CliResult& r,
                          int64_t now) {
  // Logs are best effort: a failed window is asked for again next time.
  if (r.ok()) {
    a.log_from_s = op.window_end_s;
    SaveLogWindow(a);
  }
  a.next_logs_ms = now + options_.log_interval_ms;
}

void DlcRunner::ApplyFinalLogs(const AttemptKey& key, Attempt& a,
                               const CliResult& r, int64_t now) {
  if (!r.ok()) {
    if (++a.final_log_tries < kFinalLogTries) {
      Backoff(a, absl::StrCat("dlc logs ", a.job_id), r.Describe(), now);
      return;
    }
    Note(a, absl::StrCat("could not fetch the last logs of DLC job ", a.job_id,
                         ": ", r.Describe()));
  } else {
    // Fetched: a daemon restarted before the final update is committed
    // must not append them again.
    a.log_from_s = now / 1000 + 1;
    SaveLogWindow(a);
  }
  if (a.requeue) {
    Requeue(a, now);
    return;
  }
  Finish(key, std::move(a.final_update));
}

void DlcRunner::Requeue(Attempt& a, int64_t now) const {
  const std::string old_job = a.job_id;
  ++a.incarnation;
  Note(a, absl::StrCat("DLC job ", old_job, " was preempted (",
                       a.requeue_reason, "); submitting it again as ",
                       CurrentName(a), " (preemption ", a.incarnation,
                       " of at "
                       "most ",
                       options_.max_resubmits,
                       "; the task's retry budget is not used)"));
  a.requeue = false;
  a.requeue_reason.clear();
  a.job_id.clear();
  a.status.clear();
  a.running_seen = false;
  a.deadline_ms = 0;
  a.log_from_s = 0;
  a.stop_sent = false;
  a.create_tries = 0;
  a.create_unknown = false;
  a.give_up_after_lookup = false;
  a.failures = 0;
  // A daemon that died after submitting it may have left the next
  // incarnation behind: look before submitting.
  a.phase = Phase::kLookup;
  a.due_ms = now;
}

void DlcRunner::ApplyStop(const AttemptKey& key, Attempt& a, const CliResult& r,
                          int64_t now) {
  if (r.ok() || (r.spawn_status.ok() && dlc::SaysNotFound(r.output))) {
    a.stop_sent = true;
    a.failures = 0;
    Note(a, absl::StrCat("asked DLC to stop job ", a.job_id));
    a.next_get_ms = now + std::min<int64_t>(options_.poll_interval_ms, 1000);
    return;
  }
  Backoff(a, absl::StrCat("dlc stop job ", a.job_id), r.Describe(), now);
}

void DlcRunner::SaveLogWindow(const Attempt& a) {
  if (a.attempt_dir.empty()) return;
  WriteFileAtomic(JoinPath(a.attempt_dir, kLogWindowFile),
                  absl::StrCat(a.job_id, " ", a.log_from_s, "\n"))
      .IgnoreError();
}

int64_t DlcRunner::LoadLogWindow(const Attempt& a) {
  if (a.attempt_dir.empty()) return 0;
  absl::StatusOr<std::string> text =
      ReadFile(JoinPath(a.attempt_dir, kLogWindowFile));
  if (!text.ok()) return 0;
  std::vector<std::string> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(*text), ' ');
  int64_t s = 0;
  if (parts.size() != 2 || parts[0] != a.job_id ||
      !absl::SimpleAtoi(parts[1], &s)) {
    return 0;
  }
  return s;
}

}  // namespace ocx::runners
