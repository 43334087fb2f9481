#include "runners/dlc/dlc_runner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace ocx::runners {
namespace {

using dlc::JobInfo;

// Live log windows end this many seconds before now, so that a window never
// covers a second that is still being written.
constexpr int64_t kLogLagS = 2;
constexpr char kNoLogs[] = "[WARN] No logs found for the pod";

// Writes dlc logs output to the attempt log (outside the lock).
void AppendLogOutput(const std::string& path, const std::string& output) {
  if (output.empty() || absl::StrContains(output, kNoLogs)) return;
  if (output.back() == '\n') {
    AppendToFile(path, output);
  } else {
    AppendToFile(path, absl::StrCat(output, "\n"));
  }
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

void DlcRunner::Start(const AttemptKey& key, Attempt& a) {
  if (!a.adopted) {
    Note(a, absl::StrCat("submitting to DLC as ", a.base_name, " (worker_gpu ",
                         a.resources.gpus, ", worker_cpu ", a.resources.cpu,
                         ", worker_memory ", a.resources.memory_gi,
                         "Gi, image ", a.cfg.worker_image(), ")"));
  }
  MaybeStart(key, a, NowMillis());
}

void DlcRunner::Reattach(const AttemptKey& key, Attempt& a,
                         const std::string& backend_id) {
  a.adopted = true;
  if (dlc::IsJobId(backend_id)) {
    a.job_id = backend_id;
    a.phase = Phase::kWatch;
    a.next_get_ms = NowMillis();
    Note(a, absl::StrCat("ocxd restarted; watching DLC job ", backend_id,
                         " again"));
  } else {
    // The daemon stopped before dlc told it the job id: the job may or may
    // not exist. Find it by name; submit only when there is none.
    a.phase = Phase::kLookup;
    Note(a, absl::StrCat("ocxd restarted before the DLC job id of ",
                         a.base_name, " was known; looking it up by name"));
  }
}

void DlcRunner::StartDueWork() {
  const int64_t now = NowMillis();
  for (auto it = live_.begin(); it != live_.end();) {
    auto next = std::next(it);  // MaybeStart may erase `it`
    MaybeStart(it->first, it->second, now);
    it = next;
  }
}

void DlcRunner::CancelLive(const AttemptKey& key, Attempt& a) {
  if (!a.cancel_requested) {
    a.cancel_requested = true;
    a.due_ms = 0;  // act now, not after a backoff
    Note(a, "cancel requested");
  }
  MaybeStart(key, a, NowMillis());
}

int64_t DlcRunner::IdleIntervalMs() const {
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

}  // namespace ocx::runners
