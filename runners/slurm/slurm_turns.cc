// SlurmRunner's worker turns (slurm_runner.h): the batched scancel, the
// lookups by name and the status poll (submissions: slurm_submit.cc), and how
// what Slurm says moves an attempt on (the rest of SlurmRunner is in
// slurm_runner.cc).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/time_util.h"
#include "common/utf8_cut.h"
#include "runners/slurm/slurm_array.h"
#include "runners/slurm/slurm_runner.h"

namespace ocx::runners {
namespace {

using slurm::JobRecord;
using slurm::Outcome;

// Job ids per squeue / sacct call (an argv stays far below ARG_MAX).
constexpr size_t kIdsPerQuery = 2000;
// After an scancel, look again soon: the user waits for the outcome.
constexpr int64_t kAfterCancelPollMs = 300;

// The attempt a record found by name belongs to: by its own name, or as
// element i of an array it was submitted in.
std::optional<AttemptKey> MatchLookup(
    const JobRecord& rec, const std::map<std::string, AttemptKey>& by_name,
    const std::map<std::string, std::map<int, AttemptKey>>& arrays) {
  auto n = by_name.find(rec.name);
  if (n != by_name.end()) return n->second;
  auto a = arrays.find(rec.name);
  if (a == arrays.end()) return std::nullopt;
  auto m = a->second.find(slurm::ElementIndex(rec.job_id));
  if (m == a->second.end()) return std::nullopt;
  return m->second;
}

}  // namespace

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
  for (const std::vector<std::string>& batch :
       Chunks(ids, static_cast<size_t>(options_.scancel_batch))) {
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
  // Array name → index → attempt, for attempts submitted in an array.
  std::map<std::string, std::map<int, AttemptKey>> arrays;
  {
    absl::MutexLock lock(&mu_);
    if (backoff_until_ms_ > NowMillis()) return;
    for (const auto& [key, j] : live_) {
      if (j.phase != Phase::kLookup) continue;
      for (int k = j.incarnation; k <= options_.max_resubmits; ++k) {
        by_name[slurm::IncarnationName(j.base_name, k)] = key;
      }
      if (j.array_index >= 0) arrays[j.array_name][j.array_index] = key;
    }
  }
  if (by_name.empty()) return;
  std::vector<std::string> names;
  for (const auto& [name, key] : by_name) names.push_back(name);
  for (const auto& [name, members] : arrays) names.push_back(name);
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
    // sacct -c ignores --name; it also names array elements by their own
    // ids, which are not matched (docs/slurm.md).
    std::optional<AttemptKey> key = MatchLookup(rec, by_name, arrays);
    if (!key.has_value()) continue;
    auto it = live_.find(*key);
    if (it == live_.end() || it->second.phase != Phase::kLookup) continue;
    // An array element is incarnation 0: resubmissions are plain jobs.
    int k = by_name.count(rec.name) > 0
                ? slurm::IncarnationOf(it->second.base_name, rec.name)
                : 0;
    auto b = best.find(*key);
    if (b == best.end() || k > b->second.first ||
        (k == b->second.first &&
         slurm::JobIdLess(b->second.second, rec.job_id))) {
      best[*key] = {k, rec.job_id};
    }
  }
  std::set<AttemptKey> asked;  // attempts adopted since were not looked up
  for (const auto& [name, key] : by_name) asked.insert(key);
  SettleLookups(best, asked);
}

void SlurmRunner::SettleLookups(
    const std::map<AttemptKey, std::pair<int, std::string>>& best,
    const std::set<AttemptKey>& asked) {
  for (auto it = live_.begin(); it != live_.end();) {
    auto next = std::next(it);
    Job& j = it->second;
    if (j.phase == Phase::kLookup && asked.count(it->first) > 0) {
      auto b = best.find(it->first);
      if (b != best.end()) {
        const bool element = slurm::ElementIndex(b->second.second) >= 0;
        Note(j, absl::StrCat("found Slurm job ", b->second.second, " named ",
                             element ? j.array_name
                                     : slurm::IncarnationName(
                                           j.base_name, b->second.first)));
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
  if (!QueryJobs(ids, &found)) return;
  std::set<std::string> seen;
  for (const JobRecord& rec : found) seen.insert(rec.job_id);
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
    if (seen.count(id) == 0) ApplyMissing(by_id.at(id), id, now);
  }
}

bool SlurmRunner::QueryJobs(const std::vector<std::string>& ids,
                            std::vector<JobRecord>* found) {
  std::set<std::string> seen;
  for (const std::vector<std::string>& chunk : Chunks(ids, kIdsPerQuery)) {
    CliResult r = Call(slurm::SqueueByIdArgv(options_.squeue, chunk));
    // One unknown id alone makes squeue fail with "Invalid job id".
    if (!r.ok() && !(r.spawn_status.ok() && !r.timed_out &&
                     slurm::SaysInvalidJobId(r.output))) {
      absl::MutexLock lock(&mu_);
      Backoff("squeue", r);
      return false;
    }
    for (JobRecord& rec : slurm::ParseSqueue(r.output)) {
      seen.insert(rec.job_id);
      found->push_back(std::move(rec));
    }
  }
  std::vector<std::string> missing;
  for (const std::string& id : ids) {
    if (seen.count(id) == 0) missing.push_back(id);
  }
  if (missing.empty()) return true;
  CliResult s =
      Call(slurm::SacctByIdArgv(options_.sacct, options_.sacct_args, missing));
  if (s.ok()) {
    for (JobRecord& rec : slurm::ParseSacct(s.output)) {
      if (seen.insert(rec.job_id).second) found->push_back(std::move(rec));
    }
  }
  return true;
}

void SlurmRunner::ApplyMissing(const AttemptKey& key, const std::string& id,
                               int64_t now) {
  auto it = live_.find(key);
  if (it == live_.end() || it->second.job_id != id) return;
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
    rec.reason = "from the job's exit file; squeue and sacct no longer know it";
    ApplyRecord(key, j, rec, now);
    return;
  }
  if (++j.not_found >= options_.not_found_limit) {
    Finish(key, Lost(key, j,
                     absl::StrCat("Slurm no longer knows job ", id,
                                  " (not in squeue or sacct ", j.not_found,
                                  " times) and it left no exit status")));
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
      Resubmit(key, j, r, job);
      return;
  }
}

void SlurmRunner::Resubmit(const AttemptKey& key, Job& j, const JobRecord& r,
                           const std::string& job) {
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
    j.array_name.clear();
    j.array_index = -1;
    j.state.clear();
    j.running_reported = false;
    j.cancel_sent = false;
    // A daemon that died after that submission left it behind: look before
    // submitting.
    j.phase = Phase::kLookup;
    kick_ = true;
    return;
  }
  Finish(key, Exited(key, j, 1, 0,
                     absl::StrCat(job, slurm::ExplainState(r.state), " after ",
                                  j.incarnation,
                                  " resubmission(s); slurm.max_resubmits is ",
                                  options_.max_resubmits)));
}

}  // namespace ocx::runners
