#include "server/dispatcher/server_pools.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/work_dir_layout.h"
#include "serving/endpoint_file.h"
#include "serving/serve_config.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Replica;

// How many log lines a failed start quotes in its reason.
constexpr int kLogLinesInReason = 8;
// Probe period of a start that is not ready yet.
constexpr int kStartingProbeMs = 500;

bool Ended(Replica::State s) {
  return s == Replica::STOPPED || s == Replica::FAILED;
}

}  // namespace

ServerPools::ServerPools(store::Store* store,
                         std::map<std::string, runners::Runner*> runners,
                         ServingOptions options, std::function<void()> wake)
    : store_(store),
      runners_(std::move(runners)),
      options_(std::move(options)),
      prober_(options_.probe_timeout_ms, std::move(wake)) {
  for (const auto& [type, runner] : runners_) {
    if (runner != nullptr) by_backend_.emplace(runner->backend(), runner);
  }
}

ServerPools::~ServerPools() = default;

bool ServerPools::OwnsKey(const runners::AttemptKey& key) {
  return serving::IsReplicaId(key.task_id);
}

// ---- Users and demand ----

absl::StatusOr<std::map<std::string, std::string>> ServerPools::AddEvaluation(
    const ocx::v1::Evaluation& e, bool persist, int64_t now) {
  std::map<std::string, std::string> out;
  for (const ocx::v1::ModelConfig& model : e.spec().models()) {
    if (!model.has_serve()) continue;
    ocx::v1::ServerPool pool =
        serving::PoolFor(model, e.spec().infer().runner());
    SetTimestamp(now, pool.mutable_create_time());
    PoolEntry& p = pools_[pool.id()];
    if (p.pool.id().empty()) p.pool = pool;
    p.users.insert(e.id());
    p.failure.clear();  // a new user: the pool may try again
    pools_of_eval_[e.id()].insert(pool.id());
    if (persist) {
      OCX_RETURN_IF_ERROR(store_->PutServerPool(pool));
      OCX_RETURN_IF_ERROR(
          store_->PutPoolUser({pool.id(), e.id(), model.abbr()}));
    }
    out[model.abbr()] = pool.id();
  }
  return out;
}

absl::Status ServerPools::RemoveEvaluation(const std::string& eval_id,
                                           bool cancelled, int64_t now) {
  auto it = pools_of_eval_.find(eval_id);
  if (it == pools_of_eval_.end()) return absl::OkStatus();
  for (const std::string& pool_id : it->second) {
    PoolEntry& p = pools_.at(pool_id);
    p.users.erase(eval_id);
    if (!cancelled || !p.users.empty()) continue;
    for (const std::string& id : p.replicas) {
      ReplicaEntry& r = replicas_.at(id);
      if (Ended(r.row.state()) || r.row.state() == Replica::STOPPING) continue;
      OCX_RETURN_IF_ERROR(StopReplica(
          r, absl::StrCat("its last evaluation (", eval_id, ") was cancelled"),
          now));
    }
  }
  pools_of_eval_.erase(it);
  return absl::OkStatus();
}

void ServerPools::AddWaiting(const std::string& pool_id, int delta) {
  auto it = pools_.find(pool_id);
  if (it != pools_.end()) it->second.waiting += delta;
}

// ---- Routing ----

std::optional<ServerPools::Route> ServerPools::Pick(
    const std::string& pool_id) const {
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return std::nullopt;
  const ReplicaEntry* best = nullptr;
  for (const std::string& id : it->second.replicas) {
    const ReplicaEntry& r = replicas_.at(id);
    if (!IsReady(id) || r.row.base_url().empty()) continue;
    if (best == nullptr || r.active < best->active) best = &r;
  }
  if (best == nullptr) return std::nullopt;
  return Route{best->row.id(), best->row.base_url()};
}

void ServerPools::TaskStarted(const std::string& replica_id) {
  auto it = replicas_.find(replica_id);
  if (it != replicas_.end()) ++it->second.active;
}

void ServerPools::TaskEnded(const std::string& replica_id, int64_t now) {
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end()) return;
  it->second.active = std::max(0, it->second.active - 1);
  it->second.last_busy_ms = now;
}

bool ServerPools::IsReady(const std::string& replica_id) const {
  auto it = replicas_.find(replica_id);
  return it != replicas_.end() && it->second.row.state() == Replica::READY &&
         !it->second.cancel_sent;
}

std::optional<std::string> ServerPools::BaseUrlOf(
    const std::string& replica_id) const {
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end() || it->second.row.base_url().empty()) {
    return std::nullopt;
  }
  return it->second.row.base_url();
}

std::string ServerPools::FailureOf(const std::string& pool_id) const {
  auto it = pools_.find(pool_id);
  if (it == pools_.end() || it->second.failure.empty()) return "";
  return LiveCount(it->second) == 0 ? it->second.failure : "";
}

std::vector<std::string> ServerPools::TakeLost() {
  std::vector<std::string> out;
  out.swap(lost_);
  return out;
}

// ---- Recovery ----

absl::Status ServerPools::Recover(int64_t now) {
  OCX_ASSIGN_OR_RETURN(auto pools, store_->LoadServerPools());
  for (ocx::v1::ServerPool& pool : pools) {
    PoolEntry& p = pools_[pool.id()];
    p.pool = std::move(pool);
  }
  OCX_ASSIGN_OR_RETURN(auto numbers, store_->MaxReplicaNumbers());
  for (const auto& [pool_id, n] : numbers) {
    auto it = pools_.find(pool_id);
    if (it != pools_.end()) it->second.next_number = n + 1;
  }
  OCX_ASSIGN_OR_RETURN(auto active, store_->LoadActiveReplicas());
  for (store::ReplicaRecord& rec : active) {
    auto pit = pools_.find(rec.replica.pool_id());
    if (pit == pools_.end()) continue;
    PoolEntry& p = pit->second;
    const std::string id = rec.replica.id();
    ReplicaEntry& r = replicas_[id];
    r.row = std::move(rec.replica);
    r.last_busy_ms = now;
    p.replicas.push_back(id);
    const bool has_start = rec.last_attempt.has_value() &&
                           rec.last_attempt->attempt.number() == r.row.attempt();
    if (has_start) r.start = *rec.last_attempt;
    const Attempt::State s = r.start.attempt.state();
    if (has_start && (s == Attempt::LAUNCHING || s == Attempt::RUNNING)) {
      runners::Runner* runner = RunnerFor(p);
      runners::LaunchSpec spec = SpecFor(p, r);
      spec.attempt_dir = r.start.attempt_dir;
      spec.log_path = r.start.attempt.log_path();
      spec.gpus.assign(r.start.attempt.gpus().begin(),
                       r.start.attempt.gpus().end());
      absl::Status ok =
          runner == nullptr
              ? absl::FailedPreconditionError(
                    absl::StrCat(p.pool.runner().type(), " is not available"))
              : runner->Adopt(spec, r.start.attempt.backend_id());
      if (!ok.ok()) {
        OCX_RETURN_IF_ERROR(StartEnded(
            r, Attempt::LOST,
            absl::StrCat("could not re-attach after restart: ", ok.message()),
            now));
        continue;
      }
      r.live = true;
      r.running_since_ms = now;
      if (r.row.state() == Replica::STOPPING) {
        CancelStart(r, r.row.reason());
      }
      continue;
    }
    if (r.row.state() == Replica::STOPPING) {
      OCX_RETURN_IF_ERROR(SetState(r, Replica::STOPPED, r.row.reason(), now));
    } else if (r.row.state() != Replica::UNHEALTHY) {
      OCX_RETURN_IF_ERROR(
          SetState(r, Replica::UNHEALTHY, "not running after restart", now));
    }
    r.next_start_ms = now;
  }
  UpdateProbeTargets();
  return absl::OkStatus();
}

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
  std::string reason =
      u.signal != 0 ? absl::StrCat("killed by signal ", u.signal)
                    : absl::StrCat("exited with code ", u.exit_code);
  if (u.exit_code == 127 && u.signal == 0) {
    absl::StrAppend(&reason, " (command not found?)");
  }
  if (!u.reason.empty()) absl::StrAppend(&reason, "; ", u.reason);
  if (!r.pending_reason.empty()) {
    reason = absl::StrCat(r.pending_reason, " (", reason, ")");
  }
  const Attempt::State state = r.row.state() == Replica::STOPPING
                                   ? Attempt::CANCELLED
                                   : Attempt::FAILED;
  return StartEnded(r, state, std::move(reason), now);
}

absl::Status ServerPools::StartEnded(ReplicaEntry& r, Attempt::State state,
                                     std::string reason, int64_t now) {
  PoolEntry& p = pools_.at(r.row.pool_id());
  const bool was_stopping = r.row.state() == Replica::STOPPING;
  if (state != Attempt::CANCELLED && !was_stopping) {
    std::string tail =
        LastLines(r.start.attempt.log_path(), kLogLinesInReason);
    if (!tail.empty()) absl::StrAppend(&reason, "; last log lines:\n", tail);
  }
  r.live = false;
  r.placed_only = false;
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
  return SetState(r, Replica::UNHEALTHY,
                  absl::StrCat("start ", r.row.attempt(), " failed: ", reason,
                               "; starting again in ", (delay + 999) / 1000,
                               " s"),
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
      const std::string why = absl::StrCat(
          "stopped answering GET ", serve.ready().path(), " (", res.detail,
          "; ", res.failures, " probes in a row)");
      lost_.push_back(r.row.id());
      OCX_RETURN_IF_ERROR(SetState(r, Replica::UNHEALTHY, why, now));
      CancelStart(r, why);
    } else if (r.row.state() == Replica::STARTING && !res.ok) {
      r.pending_reason.clear();
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
        OCX_RETURN_IF_ERROR(SetState(r, Replica::STOPPED,
                                     "not started again: no task needs it",
                                     now));
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
  const bool at_once = serving::ReplicaCount(p.pool.serve()) == 0 &&
                       p.waiting > 0;
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
    p.failure = absl::StrCat("model server pool ", p.pool.id(), ": ",
                             p.pool.runner().type(),
                             " is not available in this ocxd");
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
    p.failure = absl::StrCat("cannot place a replica of ", p.pool.id(), " on ",
                             runner->backend(), ": ",
                             placed.status().message());
    if (!r.row.state()) return false;  // never stored
    OCX_RETURN_IF_ERROR(SetState(r, Replica::FAILED, p.failure, now));
    return false;
  }
  spec.gpus = *placed;
  r.start = store::AttemptRecord();
  r.start.attempt_dir = spec.attempt_dir;
  Attempt& a = r.start.attempt;
  a.set_task_id(r.row.id());
  a.set_number(attempt);
  a.set_state(Attempt::LAUNCHING);
  a.set_name(spec.name);
  a.set_backend(runner->backend());
  a.set_log_path(spec.log_path);
  for (int g : spec.gpus) a.add_gpus(g);
  SetTimestamp(now, a.mutable_start_time());
  r.live = true;
  r.placed_only = true;
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
      absl::StrCat("start ", attempt, " of ",
                   std::max(1, p.pool.serve().max_attempts()), " placed on ",
                   runner->backend(),
                   spec.gpus.empty() ? ""
                                     : absl::StrCat(" (GPUs ",
                                                    absl::StrJoin(spec.gpus,
                                                                  ","),
                                                    ")")),
      now));
  OCX_RETURN_IF_ERROR(PutStart(r));
  return true;
}

absl::Status ServerPools::LaunchPlaced(int64_t now) {
  for (auto& [id, r] : replicas_) {
    if (!r.placed_only) continue;
    r.placed_only = false;
    PoolEntry& p = pools_.at(r.row.pool_id());
    runners::Runner* runner = RunnerFor(p);
    runners::LaunchSpec spec = SpecFor(p, r);
    spec.gpus.assign(r.start.attempt.gpus().begin(),
                     r.start.attempt.gpus().end());
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
    if (r.placed_only) return true;
  }
  return false;
}

// ---- Stopping ----

absl::Status ServerPools::StopReplica(ReplicaEntry& r, const std::string& why,
                                      int64_t now) {
  if (r.placed_only) {
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

// ---- Records ----

absl::Status ServerPools::SetState(ReplicaEntry& r, Replica::State state,
                                   const std::string& reason, int64_t now) {
  const bool changed = r.row.state() != state;
  r.row.set_state(state);
  r.row.set_reason(reason);
  if (Ended(state)) SetTimestamp(now, r.row.mutable_end_time());
  OCX_RETURN_IF_ERROR(store_->PutReplica(r.row));
  if (!changed) return absl::OkStatus();
  fprintf(stderr, "ocxd: model server %s: %s: %s\n", r.row.id().c_str(),
          Replica::State_Name(state).c_str(), reason.c_str());
  // Every evaluation that uses the pool sees its replicas' changes in its
  // event log (ocxctl submit --watch).
  const PoolEntry& p = pools_.at(r.row.pool_id());
  for (const std::string& eval_id : p.users) {
    ocx::v1::Event event;
    SetTimestamp(now, event.mutable_time());
    event.set_evaluation_id(eval_id);
    event.set_task_id(r.row.id());
    event.set_attempt(r.row.attempt());
    event.set_state(Replica::State_Name(state));
    event.set_message(absl::StrCat("model server ", r.row.id(), ": ", reason));
    OCX_RETURN_IF_ERROR(store_->AppendEvent(event).status());
  }
  return absl::OkStatus();
}

absl::Status ServerPools::PutStart(ReplicaEntry& r) {
  return store_->PutReplicaAttempt(r.start);
}

// ---- Launch specs and probes ----

runners::Runner* ServerPools::RunnerFor(const PoolEntry& p) const {
  auto it = runners_.find(p.pool.runner().type());
  return it == runners_.end() ? nullptr : it->second;
}

runners::LaunchSpec ServerPools::SpecFor(const PoolEntry& p,
                                         const ReplicaEntry& r) {
  const std::string& id = r.row.id();
  const int attempt = r.row.attempt();
  runners::LaunchSpec spec;
  spec.key = {id, attempt};
  spec.name = absl::StrCat("ocx-", id, "-", attempt);
  spec.work_dir = layout::ReplicaDir(options_.dir, id);
  spec.attempt_dir = layout::ReplicaAttemptDir(options_.dir, id, attempt);
  spec.log_path = layout::ReplicaLogFile(options_.dir, id, attempt);
  const bool local = p.pool.runner().type() == "LocalRunner";
  spec.argv = serving::ReplicaArgv(
      options_.task_program, p.pool,
      serving::EndpointFileIn(spec.attempt_dir), local ? "127.0.0.1" : "",
      options_.port_first, options_.port_last, PortStart());
  for (const auto& [k, v] : p.pool.serve().env()) spec.env[k] = v;
  spec.env["OCX_REPLICA_ID"] = id;
  spec.num_gpus = p.pool.serve().num_gpus();
  spec.max_workers_per_gpu = 1;
  spec.runner = p.pool.runner();
  spec.stage = ocx::v1::STAGE_INFER;
  spec.task_name = absl::StrCat("serve[", p.pool.model_abbr(), "]");
  spec.service = true;
  return spec;
}

int ServerPools::PortStart() {
  const int span = std::max(1, options_.port_last - options_.port_first + 1);
  std::set<int> used;
  for (const auto& [id, r] : replicas_) {
    if (r.live && r.row.port() > 0) used.insert(r.row.port());
  }
  for (int i = 0; i < span; ++i) {
    const int port = options_.port_first + (next_port_offset_ + i) % span;
    if (used.count(port) == 0) {
      next_port_offset_ = (next_port_offset_ + i + 1) % span;
      return port;
    }
  }
  return options_.port_first;
}

void ServerPools::UpdateProbeTargets() {
  std::vector<serving::HealthProber::Target> targets;
  std::string signature;
  for (const auto& [id, r] : replicas_) {
    if (!r.live || r.placed_only) continue;
    const Replica::State s = r.row.state();
    if (s != Replica::STARTING && s != Replica::READY) continue;
    const ocx::v1::ServeConfig& serve = pools_.at(r.row.pool_id()).pool.serve();
    serving::HealthProber::Target t;
    t.replica_id = id;
    t.attempt = r.start.attempt.number();
    t.endpoint_file = serving::EndpointFileIn(r.start.attempt_dir);
    t.ready_path = serve.ready().path();
    t.interval_ms = s == Replica::STARTING
                        ? kStartingProbeMs
                        : std::max(1, serve.ready().interval_s()) * 1000;
    absl::StrAppend(&signature, id, "#", t.attempt, "@", t.interval_ms, ";");
    targets.push_back(std::move(t));
  }
  if (signature == probe_signature_) return;
  probe_signature_ = signature;
  prober_.SetTargets(std::move(targets));
}

}  // namespace ocx::server
