// SlurmRunner's submissions (slurm_runner.h, turn step 3): queued attempts
// that share every sbatch option go as one job array, a lone one as a
// plain job; sbatch's answer moves each of them on.
#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/utf8_cut.h"
#include "runners/slurm/slurm_array.h"
#include "runners/slurm/slurm_runner.h"

namespace ocx::runners {
namespace {

using slurm::Outcome;

constexpr char kArrayFile[] = "slurm-array";  // as slurm_runner.cc reads it
constexpr char kManifestFile[] = "slurm-array.manifest";
constexpr char kArrayScriptFile[] = "slurm-array.sh";
// Slurm's own messages about the array's elements (the tasks' output goes
// to their logs).
constexpr char kArrayOutputFile[] = "slurm-array.out";

std::string Shorten(std::string s) {
  while (!s.empty() && absl::ascii_isspace(s.back())) s.pop_back();
  return Abbreviate(s, 400);
}

}  // namespace

void SlurmRunner::SubmitTurn() {
  while (true) {
    Submission sub;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || backoff_until_ms_ > NowMillis()) return;
      // A long run of submissions must not hold up the poll: finished jobs
      // free slots the dispatcher fills with the next submissions.
      if (NowMillis() >= next_poll_ms_) {
        kick_ = true;
        return;
      }
      if (!PickSubmission(&sub)) return;
    }
    CliResult r;
    if (sub.keys.size() > 1) {
      absl::Status written = WriteArrayFiles(sub);
      if (!written.ok()) {
        r.spawn_status = Annotate(written, "the job array's files");
      }
    }
    // As the owner: Slurm's accounting, limits and fair share see them.
    if (r.spawn_status.ok()) {
      r = Call(sub.argv, sub.run_as.has_value() ? &*sub.run_as : nullptr);
    }
    absl::MutexLock lock(&mu_);
    if (!ApplySubmission(sub, r)) return;
  }
}

bool SlurmRunner::PickSubmission(Submission* sub) {
  std::map<std::string, int> pending;  // per group
  for (const auto& [k, j] : live_) {
    if (j.busy || (j.phase == Phase::kWatch &&
                   slurm::ClassifyState(j.state) == Outcome::kPending)) {
      ++pending[j.group];
    }
  }
  auto ready = [&](const Job& j) {
    return j.phase == Phase::kSubmit && !j.busy && !j.cancel_requested &&
           (j.max_pending <= 0 || pending[j.group] < j.max_pending);
  };
  auto lead = std::find_if(live_.begin(), live_.end(),
                           [&](const auto& kv) { return ready(kv.second); });
  if (lead == live_.end()) return false;
  Job& leader = lead->second;
  // Resubmissions (incarnation > 0) go alone: their names say which.
  size_t room = leader.array_key.empty() || leader.incarnation > 0
                    ? 1
                    : static_cast<size_t>(options_.max_array_size);
  if (leader.max_pending > 0) {
    room = std::min<size_t>(room, leader.max_pending - pending[leader.group]);
  }
  std::vector<Job*> members;
  for (auto it = lead; it != live_.end() && members.size() < room; ++it) {
    Job& j = it->second;
    if (it != lead &&
        (j.array_key != leader.array_key || j.incarnation > 0 || !ready(j))) {
      continue;
    }
    sub->keys.push_back(it->first);
    sub->attempt_dirs.push_back(j.attempt_dir);
    members.push_back(&j);
  }
  sub->run_as = leader.run_as;
  sub->owner = leader.owner;
  slurm::SubmitOptions o = leader.submit;
  if (members.size() == 1) {
    sub->name = slurm::IncarnationName(leader.base_name, leader.incarnation);
    leader.array_name.clear();
    leader.array_index = -1;
  } else {
    sub->name = absl::StrCat(leader.base_name, "-array");
    sub->array_dir = leader.attempt_dir;
    o.log_path = JoinPath(sub->array_dir, kArrayOutputFile);
    o.script_path = JoinPath(sub->array_dir, kArrayScriptFile);
    o.array = slurm::ArrayRange(static_cast<int>(members.size()),
                                leader.array_throttle);
  }
  o.job_name = sub->name;
  sub->argv = slurm::SbatchArgv(o);
  for (size_t i = 0; i < members.size(); ++i) {
    members[i]->busy = true;
    if (members.size() > 1) {
      members[i]->array_name = sub->name;
      members[i]->array_index = static_cast<int>(i);
    }
  }
  return true;
}

absl::Status SlurmRunner::WriteArrayFiles(const Submission& sub) {
  OCX_ASSIGN_OR_RETURN(std::string manifest,
                       slurm::ArrayManifest(sub.attempt_dirs));
  const std::string manifest_path = JoinPath(sub.array_dir, kManifestFile);
  // The elements run as the owner: the manifest and wrapper are theirs.
  OCX_RETURN_IF_ERROR(
      WriteFileAtomicFor(manifest_path, manifest, kFileMode, sub.owner));
  OCX_RETURN_IF_ERROR(WriteFileAtomicFor(
      JoinPath(sub.array_dir, kArrayScriptFile),
      slurm::ArrayScript(manifest_path), kFileMode, sub.owner));
  // Before sbatch: a daemon that dies while it runs finds the elements by
  // the array's name after a restart. The daemon's own files.
  for (size_t i = 0; i < sub.attempt_dirs.size(); ++i) {
    OCX_RETURN_IF_ERROR(WriteFileAtomicFor(
        JoinPath(sub.attempt_dirs[i], kArrayFile),
        absl::StrCat(sub.name, " ", i, "\n"), kFileMode, FileOwner{}));
  }
  return absl::OkStatus();
}

bool SlurmRunner::ApplySubmission(const Submission& sub, const CliResult& r) {
  const bool array = sub.keys.size() > 1;
  absl::StatusOr<std::string> id =
      r.ok() ? slurm::ParseSbatchOutput(r.output)
             : absl::StatusOr<std::string>(absl::UnknownError(""));
  if (r.ok()) failures_ = 0;
  const bool controller_down = r.spawn_status.ok() && !r.ok() && !r.timed_out &&
                               !r.aborted &&
                               slurm::SaysControllerUnreachable(r.output);
  for (size_t i = 0; i < sub.keys.size(); ++i) {
    const AttemptKey& key = sub.keys[i];
    auto it = live_.find(key);
    if (it == live_.end()) continue;
    Job& j = it->second;
    j.busy = false;
    if (id.ok()) {
      const std::string job =
          array ? slurm::ElementId(*id, static_cast<int>(i)) : *id;
      Note(j,
           array ? absl::StrCat("submitted as element ", i, " of ",
                                sub.keys.size(), " of Slurm job array ", *id,
                                " (", sub.name, "): job ", job)
                 : absl::StrCat("submitted ", sub.name, " as Slurm job ", job));
      Found(key, j, job, j.incarnation);
    } else if (r.ok()) {
      Note(j, absl::StrCat(id.status().message(), "; looking it up by name"));
      j.phase = Phase::kLookup;
    } else if (!r.spawn_status.ok()) {
      Finish(key, Exited(key, j, 1, 0,
                         absl::StrCat("could not run sbatch: ", r.Describe())));
    } else if (r.timed_out || r.aborted) {
      j.phase = Phase::kLookup;  // it may have been submitted: look first
    } else if (controller_down) {
      Note(j, absl::StrCat("sbatch: Slurm controller unreachable; waiting (",
                           Shorten(r.output), ")"));
    } else {
      Finish(key, Exited(key, j, 1, 0,
                         absl::StrCat("sbatch refused the job: ",
                                      Shorten(r.output))));
    }
  }
  if (r.spawn_status.ok() && (r.timed_out || r.aborted || controller_down)) {
    Backoff(absl::StrCat("sbatch of ", sub.name), r);
    return false;
  }
  return true;
}

}  // namespace ocx::runners
