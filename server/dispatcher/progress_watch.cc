// Dispatcher: a look at the running tasks' progress files on a timer (not
// per turn): stall detection (DaemonConfig.stall_after_s, stall_action; a
// stage's StageConfig.stall_after_s overrides the threshold) and the infer
// samples and tokens counters (docs/metrics.md). Each look reads one small file
// per RUNNING task; a task's last report is read once more when its attempt
// ends, so the counters miss nothing.
#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/progress_file.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/dispatcher.h"

namespace ocx::server {
namespace {

using ocx::v1::Task;

// How often the running tasks' progress is read; more often when
// stall_after is short.
constexpr int64_t kProgressEveryMs = 5000;
constexpr int64_t kMinProgressEveryMs = 500;

const char* StageLabel(const Task& t) {
  return t.stage() == ocx::v1::STAGE_EVAL ? "eval" : "infer";
}

// The stall threshold of `t`: its stage's stall_after_s when the spec sets
// it (0 turns stall detection off for the stage), else ocxd's.
int64_t StallAfterMs(const ocx::v1::EvaluationSpec& spec, const Task& t,
                     int64_t daemon_ms) {
  const ocx::v1::StageConfig& stage =
      t.stage() == ocx::v1::STAGE_EVAL ? spec.eval() : spec.infer();
  return stage.has_stall_after_s() ? int64_t{stage.stall_after_s()} * 1000
                                   : daemon_ms;
}

// How often the progress files are read while a task with this threshold
// runs: often enough that a stall is seen within a quarter of it.
int64_t LookEvery(int64_t stall_after_ms) {
  if (stall_after_ms <= 0) return kProgressEveryMs;
  return std::clamp(stall_after_ms / 4, kMinProgressEveryMs, kProgressEveryMs);
}

std::string ForHowLong(int64_t ms) {
  return absl::FormatDuration(absl::Seconds(std::max<int64_t>(ms, 0) / 1000));
}

metrics::Family& StalledGauge() {
  static metrics::Family& stalled = metrics::Gauge(
      "ocx_tasks_stalled",
      "Running tasks whose progress has not advanced for stall_after_s.", {});
  return stalled;
}

metrics::Family& Stalls() {
  static metrics::Family& stalls = metrics::Counter(
      "ocx_stalls_total", "Running tasks found stalled, by stage.", {"stage"});
  return stalls;
}

}  // namespace

int64_t Dispatcher::StalledSince(const std::string& task_id) const {
  absl::MutexLock lock(&stalled_mu_);
  auto it = stalled_.find(task_id);
  return it == stalled_.end() ? 0 : it->second;
}

void Dispatcher::SetStalled(const std::string& task_id, int64_t since_ms) {
  absl::MutexLock lock(&stalled_mu_);
  if (since_ms > 0) {
    stalled_[task_id] = since_ms;
  } else {
    stalled_.erase(task_id);
  }
  StalledGauge().Set({}, static_cast<double>(stalled_.size()));
}

void Dispatcher::WatchRunning(TaskEntry& t, int delta) {
  TaskEntry::Progress& p = t.progress;
  if (delta > 0) {
    running_ids_.insert(t.task.id());
    p.last_done = -1;
    p.change_ms = NowMillis();
    p.stalled_ms = 0;
    p.stall_killed = false;
    p.stall_reason.clear();
    p.prompt_tokens = 0;
    p.completion_tokens = 0;
    // A stage threshold shorter than the running tasks' is looked for from
    // now on, not from the next look planned for the longer one.
    next_progress_check_ms_ = std::min(
        next_progress_check_ms_,
        p.change_ms + LookEvery(StallAfterMs(SpecOf(t), t.task,
                                             options_.stall_after_ms)));
    return;
  }
  running_ids_.erase(t.task.id());
  // The attempt's last report: what it did since the last look counts.
  if (t.task.stage() == ocx::v1::STAGE_INFER) {
    if (std::optional<ProgressReport> r = ReadProgressReport(
            t.task.params().work_dir(), t.task.id(), t.task.attempt_count())) {
      CountProgress(t, *r);
    }
  }
  if (p.stalled_ms > 0) SetStalled(t.task.id(), 0);
  p.stalled_ms = 0;
}

void Dispatcher::CountProgress(TaskEntry& t, const ProgressReport& r) {
  if (t.task.stage() != ocx::v1::STAGE_INFER) return;
  static metrics::Family& samples = metrics::Counter(
      "ocx_infer_samples_total",
      "Samples inferred, by model, as the infer tasks report them; its "
      "rate() is samples/s.",
      {"model"});
  static metrics::Family& tokens = metrics::Counter(
      "ocx_infer_tokens_total",
      "Tokens the model servers reported (usage) for infer tasks, by model "
      "and kind (prompt, completion); its rate() is tokens/s.",
      {"model", "kind"});
  TaskEntry::Progress& p = t.progress;
  const std::string& model = t.task.model_abbr();
  if (r.done > p.samples) {
    samples.Add({model}, static_cast<double>(r.done - p.samples));
    p.samples = r.done;
  }
  if (r.prompt_tokens > p.prompt_tokens) {
    tokens.Add({model, "prompt"},
               static_cast<double>(r.prompt_tokens - p.prompt_tokens));
    p.prompt_tokens = r.prompt_tokens;
  }
  if (r.completion_tokens > p.completion_tokens) {
    tokens.Add({model, "completion"},
               static_cast<double>(r.completion_tokens - p.completion_tokens));
    p.completion_tokens = r.completion_tokens;
  }
}

absl::Status Dispatcher::CheckProgress(int64_t now) {
  if (now < next_progress_check_ms_) return absl::OkStatus();
  // The next look: soon enough for the shortest threshold now running.
  int64_t every = LookEvery(options_.stall_after_ms);
  next_progress_check_ms_ = now + every;
  StalledGauge().Add({}, 0);  // present (as 0) from the first look
  for (const char* stage : {"infer", "eval"}) Stalls().Add({stage}, 0);
  for (const std::string& id : running_ids_) {
    TaskEntry& t = tasks_.at(id);
    if (t.task.state() != Task::RUNNING) continue;
    TaskEntry::Progress& p = t.progress;
    const int64_t stall_after =
        StallAfterMs(SpecOf(t), t.task, options_.stall_after_ms);
    if (LookEvery(stall_after) < every) {
      every = LookEvery(stall_after);
      next_progress_check_ms_ = now + every;
    }
    std::optional<ProgressReport> r = ReadProgressReport(
        t.task.params().work_dir(), id, t.task.attempt_count());
    if (r.has_value()) {
      CountProgress(t, *r);
      if (r->done != p.last_done) {
        if (p.stalled_ms > 0 && !p.stall_killed) {
          OCX_RETURN_IF_ERROR(AddEvent(
              t.task.evaluation_id(), id, t.task.attempt_count(), "RUNNING",
              absl::StrCat("progress resumed after ",
                           ForHowLong(now - p.change_ms), " (", r->done,
                           " samples done)"),
              now));
          SetStalled(id, 0);
          p.stalled_ms = 0;
        }
        p.last_done = r->done;
        p.change_ms = now;
      }
    }
    // Only a task that reports can be seen not to advance.
    if (stall_after > 0 && p.last_done >= 0 && p.stalled_ms == 0 &&
        now - p.change_ms >= stall_after) {
      OCX_RETURN_IF_ERROR(MarkStalled(t, now));
    }
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::MarkStalled(TaskEntry& t, int64_t now) {
  TaskEntry::Progress& p = t.progress;
  p.stalled_ms = now;
  SetStalled(t.task.id(), now);
  Stalls().Add({StageLabel(t.task)});
  const int attempt = t.task.attempt_count();
  // The threshold it passed, not the time measured (which depends on when
  // the timer looked): "no progress for 10m" reads the same in every event.
  const std::string quiet =
      ForHowLong(StallAfterMs(SpecOf(t), t.task, options_.stall_after_ms));
  std::string message = absl::StrCat("no progress for ", quiet, " (",
                                     p.last_done, " samples done)");
  if (options_.stall_kill) {
    runners::Runner* runner = RunnerOfAttempt(t);
    absl::Status stopped = runner == nullptr
                               ? absl::NotFoundError("no runner")
                               : runner->Cancel({t.task.id(), attempt});
    if (stopped.ok()) {
      p.stall_killed = true;
      p.stall_reason = absl::StrCat("stalled: no progress for ", quiet);
      absl::StrAppend(&message, "; stopping attempt ", attempt,
                      " (stall_action: KILL)");
    } else {
      absl::StrAppend(&message, "; could not stop attempt ", attempt, ": ",
                      stopped.message());
    }
  }
  return AddEvent(t.task.evaluation_id(), t.task.id(), attempt, "STALLED",
                  message, now);
}

}  // namespace ocx::server
