// ServerPools: the life of replicas (server_pools.h): runner updates of
// their starts, the turn's probes, timers and scaling, placing and
// launching starts, and stopping them. Users, routing, recovery and the
// records are in server_pools.cc.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/attempt_record.h"
#include "server/dispatcher/server_pools.h"
#include "serving/endpoint_file.h"
#include "serving/serve_config.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Replica;

// How many log lines a failed start quotes in its reason.
constexpr int kLogLinesInReason = 8;

}  // namespace

// ---- Runner updates ----

absl::Status ServerPools::ApplyUpdate(const runners::AttemptUpdate& u,
                                      int64_t now) {
  auto it = replicas_.find(u.key.task_id);
  if (it == replicas_.end()) return absl::OkStatus();
  ReplicaEntry& r = it->second;
  Attempt& a = r.start.attempt;
  if (!r.live || a.number() != u.key.attempt) return absl::OkStatus();
  if (!u.backend_id.empty()) {
    a.set_backend_id(u.backend_id);
    r.row.set_backend_id(u.backend_id);
  }
  if (u.start_ms > 0) SetTimestamp(u.start_ms, a.mutable_start_time());
  switch (u.kind) {
    case runners::AttemptUpdate::Kind::kRunning:
      if (r.running_since_ms == 0) r.running_since_ms = now;
      if (!u.reason.empty()) a.set_reason(u.reason);
      a.set_state(Attempt::RUNNING);
      OCX_RETURN_IF_ERROR(PutStart(r));
      return store_->PutReplica(r.row);
    case runners::AttemptUpdate::Kind::kLost:
      return StartEnded(r, Attempt::LOST,
                        u.reason.empty() ? "lost by the backend" : u.reason,
                        now);
    case runners::AttemptUpdate::Kind::kExited:
      break;
  }
  std::string reason = u.signal != 0
                           ? absl::StrCat("killed by signal ", u.signal)
                           : absl::StrCat("exited with code ", u.exit_code);
  if (u.exit_code == 127 && u.signal == 0) {
    absl::StrAppend(&reason, " (command not found?)");
  }
  if (!u.reason.empty()) absl::StrAppend(&reason, "; ", u.reason);
  if (!r.pending_reason.empty()) {
    reason = absl::StrCat(r.pending_reason, " (", reason, ")");
  }
  const Attempt::State state =
      r.row.state() == Replica::STOPPING ? Attempt::CANCELLED : Attempt::FAILED;
  return StartEnded(r, state, std::move(reason), now);
}

absl::Status ServerPools::StartEnded(ReplicaEntry& r, Attempt::State state,
                                     std::string reason, int64_t now) {
  PoolEntry& p = pools_.at(r.row.pool_id());
  const bool was_stopping = r.row.state() == Replica::STOPPING;
  if (state != Attempt::CANCELLED && !was_stopping) {
    std::string tail = LastLines(r.start.attempt.log_path(), kLogLinesInReason);
    if (!tail.empty()) absl::StrAppend(&reason, "; last log lines:\n", tail);
  }
  r.live = false;
  r.placed.reset();
  r.cancel_sent = false;
  r.running_since_ms = 0;
  r.pending_reason.clear();
  Attempt& a = r.start.attempt;
  a.set_state(state);
  a.set_reason(reason);
  SetTimestamp(now, a.mutable_end_time());
  OCX_RETURN_IF_ERROR(PutStart(r));
  if (was_stopping) {
    return SetState(r, Replica::STOPPED, r.row.reason(), now);
  }
  if (r.row.state() == Replica::READY) lost_.push_back(r.row.id());
  const ocx::v1::ServeConfig& serve = p.pool.serve();
  const int max_attempts = std::max(1, serve.max_attempts());
  if (r.row.attempt() >= max_attempts) {
    std::string why = absl::StrCat("start ", r.row.attempt(), " of ",
                                   max_attempts, " failed: ", reason);
    p.failure = absl::StrCat("model server replica ", r.row.id(), " failed (",
                             why, ")");
    return SetState(r, Replica::FAILED, why, now);
  }
  if (p.waiting == 0 || p.users.empty()) {
    return SetState(r, Replica::STOPPED,
                    absl::StrCat("start ", r.row.attempt(), " ended (", reason,
                                 "); not started again: no task needs it"),
                    now);
  }
  const int64_t delay = std::min<int64_t>(
      options_.restart_max_backoff_ms,
      options_.restart_initial_backoff_ms << std::min(r.row.attempt() - 1, 20));
  r.next_start_ms = now + delay;
  return SetState(
      r, Replica::UNHEALTHY,
      absl::StrCat("start ", r.row.attempt(), " failed: ", reason,
                   "; starting again in ", (delay + 999) / 1000, " s"),
      now);
}

// ---- The turn ----

absl::Status ServerPools::Step(int64_t now) {
  OCX_RETURN_IF_ERROR(ApplyProbes(now));
  for (auto& [id, p] : pools_) {
    OCX_RETURN_IF_ERROR(CheckTimers(p, now));
    OCX_RETURN_IF_ERROR(Scale(p, now));
  }
  UpdateProbeTargets();
  return absl::OkStatus();
}

absl::Status ServerPools::ApplyProbes(int64_t now) {
  for (const serving::HealthProber::Result& res : prober_.Take()) {
    auto it = replicas_.find(res.replica_id);
    if (it == replicas_.end()) continue;
    ReplicaEntry& r = it->second;
    if (!r.live || r.start.attempt.number() != res.attempt) continue;
    const ocx::v1::ServeConfig& serve = pools_.at(r.row.pool_id()).pool.serve();
    if (res.endpoint.has_value() && (res.endpoint->port != r.row.port() ||
                                     res.endpoint->host != r.row.host())) {
      r.row.set_host(res.endpoint->host);
      r.row.set_port(res.endpoint->port);
      r.row.set_base_url(serving::BaseUrl(*res.endpoint, serve.api_path()));
      OCX_RETURN_IF_ERROR(store_->PutReplica(r.row));
    }
    if (r.cancel_sent) continue;
    if (r.row.state() == Replica::STARTING && res.ok) {
      SetTimestamp(now, r.row.mutable_ready_time());
      OCX_RETURN_IF_ERROR(SetState(
          r, Replica::READY, absl::StrCat("ready at ", r.row.base_url()), now));
    } else if (r.row.state() == Replica::READY && !res.ok &&
               res.failures >= std::max(1, serve.ready().failures())) {
      const std::string why =
          absl::StrCat("stopped answering GET ", serve.ready().path(), " (",
                       res.detail, "; ", res.failures, " probes in a row)");
      lost_.push_back(r.row.id());
      OCX_RETURN_IF_ERROR(SetState(r, Replica::UNHEALTHY, why, now));
      CancelStart(r, why);
    } else if (r.row.state() == Replica::STARTING && !res.ok) {
      r.row.set_reason(absl::StrCat("not ready yet: GET ", serve.ready().path(),
                                    ": ", res.detail));
    }
  }
  return absl::OkStatus();
}

absl::Status ServerPools::CheckTimers(PoolEntry& p, int64_t now) {
  const ocx::v1::ServeConfig& serve = p.pool.serve();
  for (const std::string& id : p.replicas) {
    ReplicaEntry& r = replicas_.at(id);
    if (r.row.state() == Replica::STARTING && r.live && !r.cancel_sent &&
        r.running_since_ms > 0 &&
        now - r.running_since_ms > int64_t{serve.ready().timeout_s()} * 1000) {
      CancelStart(r, absl::StrCat("not ready after ", serve.ready().timeout_s(),
                                  " s (", r.row.reason(), ")"));
    }
    if (r.row.state() == Replica::UNHEALTHY && !r.live &&
        r.next_start_ms <= now) {
      if (p.waiting == 0 || p.users.empty()) {
        OCX_RETURN_IF_ERROR(SetState(
            r, Replica::STOPPED, "not started again: no task needs it", now));
        continue;
      }
      OCX_ASSIGN_OR_RETURN(bool placed, PlaceStart(p, r, now));
      (void)placed;  // nothing free: tried again next turn
    }
  }
  return absl::OkStatus();
}

int ServerPools::LiveCount(const PoolEntry& p) const {
  int n = 0;
  for (const std::string& id : p.replicas) {
    Replica::State s = replicas_.at(id).row.state();
    if (s == Replica::STARTING || s == Replica::READY ||
        s == Replica::UNHEALTHY) {
      ++n;
    }
  }
  return n;
}

int ServerPools::Wanted(const PoolEntry& p) const {
  if (p.waiting <= 0 || p.users.empty()) return 0;
  const int n = serving::ReplicaCount(p.pool.serve());
  return n > 0 ? std::min(n, p.waiting) : p.waiting;
}

absl::Status ServerPools::Scale(PoolEntry& p, int64_t now) {
  const int want = Wanted(p);
  int live = LiveCount(p);
  // A pool whose replica used up its starts adds none until a new
  // evaluation uses it (AddEvaluation clears the failure).
  while (live < want && p.failure.empty()) {
    const std::string id = serving::ReplicaId(p.pool.id(), p.next_number);
    ReplicaEntry r;
    r.row.set_id(id);
    r.row.set_pool_id(p.pool.id());
    SetTimestamp(now, r.row.mutable_create_time());
    r.last_busy_ms = now;
    auto [it, inserted] = replicas_.emplace(id, std::move(r));
    absl::StatusOr<bool> placed = PlaceStart(p, it->second, now);
    if (!placed.ok() || !*placed) {
      replicas_.erase(it);
      OCX_RETURN_IF_ERROR(placed.status());
      break;
    }
    ++p.next_number;
    p.replicas.push_back(id);
    ++live;
  }
  // Idle replicas beyond what is wanted: `auto` gives slots back at once
  // while tasks still wait; otherwise after idle_stop_s.
  int surplus = live - want;
  const bool at_once =
      serving::ReplicaCount(p.pool.serve()) == 0 && p.waiting > 0;
  const int64_t idle_ms = int64_t{p.pool.serve().idle_stop_s()} * 1000;
  for (auto rit = p.replicas.rbegin(); rit != p.replicas.rend() && surplus > 0;
       ++rit) {
    ReplicaEntry& r = replicas_.at(*rit);
    const Replica::State s = r.row.state();
    if ((s != Replica::READY && s != Replica::STARTING) || r.active > 0 ||
        r.cancel_sent) {
      continue;
    }
    if (!at_once && now - r.last_busy_ms < idle_ms) continue;
    OCX_RETURN_IF_ERROR(StopReplica(
        r,
        at_once ? absl::StrCat("scaled down: ", p.waiting, " task(s) wait")
                : absl::StrCat("idle for ", p.pool.serve().idle_stop_s(), " s"),
        now));
    --surplus;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ServerPools::PlaceStart(PoolEntry& p, ReplicaEntry& r,
                                             int64_t now) {
  runners::Runner* runner = RunnerFor(p);
  if (runner == nullptr) {
    p.failure =
        absl::StrCat("model server pool ", p.pool.id(), ": ",
                     p.pool.runner().type(), " is not available in this ocxd");
    return false;
  }
  if (options_.dir.empty()) {
    p.failure = "model servers need serving.dir in the daemon config";
    return false;
  }
  const int attempt = r.row.attempt() + 1;
  r.row.set_attempt(attempt);
  runners::LaunchSpec spec = SpecFor(p, r);
  absl::StatusOr<std::vector<int>> placed = runner->Place(spec);
  if (!placed.ok()) {
    r.row.set_attempt(attempt - 1);
    if (absl::IsResourceExhausted(placed.status())) return false;
    p.failure =
        absl::StrCat("cannot place a replica of ", p.pool.id(), " on ",
                     runner->backend(), ": ", placed.status().message());
    if (!r.row.state()) return false;  // never stored
    OCX_RETURN_IF_ERROR(SetState(r, Replica::FAILED, p.failure, now));
    return false;
  }
  spec.gpus = *placed;
  r.start = LaunchingAttempt(spec, runner->backend(), now);
  r.live = true;
  r.cancel_sent = false;
  r.pending_reason.clear();
  r.running_since_ms = 0;
  r.row.clear_host();
  r.row.set_port(0);
  r.row.clear_base_url();
  r.row.clear_backend_id();
  r.row.set_backend(runner->backend());
  r.row.set_log_path(spec.log_path);
  r.row.mutable_gpus()->Assign(spec.gpus.begin(), spec.gpus.end());
  SetTimestamp(now, r.row.mutable_start_time());
  r.row.clear_end_time();
  // The replica row first: its starts refer to it.
  OCX_RETURN_IF_ERROR(SetState(
      r, Replica::STARTING,
      absl::StrCat(
          "start ", attempt, " of ", std::max(1, p.pool.serve().max_attempts()),
          " placed on ", runner->backend(),
          spec.gpus.empty()
              ? ""
              : absl::StrCat(" (GPUs ", absl::StrJoin(spec.gpus, ","), ")")),
      now));
  OCX_RETURN_IF_ERROR(PutStart(r));
  r.placed = std::move(spec);
  return true;
}

absl::Status ServerPools::LaunchPlaced(int64_t now) {
  for (auto& [id, r] : replicas_) {
    if (!r.placed.has_value()) continue;
    runners::LaunchSpec spec = *std::move(r.placed);
    r.placed.reset();
    runners::Runner* runner = RunnerFor(pools_.at(r.row.pool_id()));
    absl::StatusOr<std::string> backend_id = runner->Launch(spec);
    if (!backend_id.ok()) {
      runner->Unplace(spec.key);
      OCX_RETURN_IF_ERROR(StartEnded(
          r, Attempt::FAILED,
          absl::StrCat("could not start: ", backend_id.status().message()),
          now));
      continue;
    }
    r.start.attempt.set_backend_id(*backend_id);
    r.start.attempt.set_state(Attempt::RUNNING);
    r.row.set_backend_id(*backend_id);
    OCX_RETURN_IF_ERROR(PutStart(r));
    OCX_RETURN_IF_ERROR(store_->PutReplica(r.row));
  }
  UpdateProbeTargets();
  return absl::OkStatus();
}

bool ServerPools::HasPlaced() const {
  for (const auto& [id, r] : replicas_) {
    if (r.placed.has_value()) return true;
  }
  return false;
}

// ---- Stopping ----

absl::Status ServerPools::StopReplica(ReplicaEntry& r, const std::string& why,
                                      int64_t now) {
  if (r.placed.has_value()) {
    PoolEntry& p = pools_.at(r.row.pool_id());
    if (runners::Runner* runner = RunnerFor(p)) {
      runner->Unplace({r.row.id(), r.start.attempt.number()});
    }
    OCX_RETURN_IF_ERROR(SetState(r, Replica::STOPPING, why, now));
    return StartEnded(r, Attempt::CANCELLED, why, now);
  }
  if (!r.live) return SetState(r, Replica::STOPPED, why, now);
  OCX_RETURN_IF_ERROR(SetState(r, Replica::STOPPING, why, now));
  CancelStart(r, why);
  return absl::OkStatus();
}

void ServerPools::CancelStart(ReplicaEntry& r, const std::string& why) {
  if (r.cancel_sent || !r.live) return;
  r.pending_reason = why;
  r.cancel_sent = true;
  runners::Runner* runner = RunnerFor(pools_.at(r.row.pool_id()));
  if (runner == nullptr) return;
  absl::Status s = runner->Cancel({r.row.id(), r.start.attempt.number()});
  if (!s.ok() && !absl::IsNotFound(s)) {
    fprintf(stderr, "ocxd: stop %s: %s\n", r.row.id().c_str(),
            s.ToString().c_str());
  }
}

}  // namespace ocx::server
