// How DlcRunner moves an attempt on when a dlc call returns: submissions,
// lookups by name, status and log answers, stops, preemption resubmits, and
// the call backoff (the rest of DlcRunner is in dlc_runner.cc).
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/time_util.h"
#include "runners/dlc/dlc_runner.h"

namespace ocx::runners {
namespace {

using dlc::JobInfo;

// Tries of the last `dlc logs` of a job before it is reported anyway.
constexpr int kFinalLogTries = 3;
// <attempt_dir>/dlc-log-window: "<job id> <epoch s>" of the next window.
constexpr char kLogWindowFile[] = "dlc-log-window";

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
