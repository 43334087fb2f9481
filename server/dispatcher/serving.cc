// Dispatcher: its side of managed model servers (docs/serving.md). The
// pools themselves are in server_pools.cc; here, the turn's serving step
// and what a replica's failure means for the task attempts routed to it.
#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/dispatcher/dispatcher.h"

namespace ocx::server {

using ocx::v1::Task;

absl::Status Dispatcher::ServeStep(int64_t now) {
  OCX_RETURN_IF_ERROR(pools_->Step(now));
  std::vector<std::string> lost = pools_->TakeLost();
  if (lost.empty()) return absl::OkStatus();
  const std::set<std::string> gone(lost.begin(), lost.end());
  // Rare (a replica failed), so a scan of the tracked tasks is fine.
  for (auto& [id, t] : tasks_) {
    if (t.task.state() != Task::LAUNCHING && t.task.state() != Task::RUNNING) {
      continue;
    }
    const ocx::v1::Attempt& a = t.attempt.attempt;
    if (a.replica_id().empty() || gone.count(a.replica_id()) == 0) continue;
    const runners::AttemptKey key{id, a.number()};
    replica_lost_.insert(key);
    runners::Runner* runner = RunnerOfAttempt(t);
    absl::Status s = runner == nullptr ? absl::NotFoundError("no runner")
                                       : runner->Cancel(key);
    if (!s.ok() && !absl::IsNotFound(s)) {
      fprintf(stderr, "ocxd: stop %s on lost replica %s: %s\n", id.c_str(),
              a.replica_id().c_str(), s.ToString().c_str());
    }
  }
  return absl::OkStatus();
}

bool Dispatcher::ReplicaFailedUnder(const TaskEntry& t) {
  const ocx::v1::Attempt& a = t.attempt.attempt;
  const bool stopped_for_it =
      replica_lost_.erase({t.task.id(), a.number()}) > 0;
  return stopped_for_it || !pools_->IsReady(a.replica_id());
}

}  // namespace ocx::server
