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
#include "server/dispatcher/run_as.h"
#include "serving/endpoint_file.h"
#include "serving/serve_config.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Replica;

// Probe period of a start that is not ready yet: short, because up to one
// period passes between the server listening and its first task.
constexpr int kStartingProbeMs = 200;

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
    if (options_.run_as_owners) {
      pool.set_id(absl::StrCat(pool.id(), "-u", e.owner().uid()));
    }
    SetTimestamp(now, pool.mutable_create_time());
    PoolEntry& p = pools_[pool.id()];
    if (p.pool.id().empty()) {
      p.pool = pool;
      p.owner = e.owner();
    }
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
  const PoolEntry& p = it->second;
  // Each replica that is up or coming up (its process runs) gets its share
  // of the pool's tasks: a task waits for a starting replica rather than
  // piling onto the first ready one, which would leave the others idle.
  int coming = 0;
  for (const std::string& id : p.replicas) {
    const ReplicaEntry& r = replicas_.at(id);
    if (IsReady(id) || (r.row.state() == Replica::STARTING &&
                        r.running_since_ms > 0 && !r.cancel_sent)) {
      ++coming;
    }
  }
  const int share =
      coming > 0 ? (std::max(p.waiting, 1) + coming - 1) / coming : 1;
  const ReplicaEntry* best = nullptr;
  for (const std::string& id : p.replicas) {
    const ReplicaEntry& r = replicas_.at(id);
    if (!IsReady(id) || r.row.base_url().empty()) continue;
    if (best == nullptr || r.active < best->active) best = &r;
  }
  if (best == nullptr || best->active >= share) return std::nullopt;
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
    const bool has_start =
        rec.last_attempt.has_value() &&
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
      absl::Status ok = runner == nullptr
                            ? absl::FailedPreconditionError(absl::StrCat(
                                  p.pool.runner().type(), " is not available"))
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
      options_.task_program, p.pool, serving::EndpointFileIn(spec.attempt_dir),
      local ? "127.0.0.1" : "", options_.port_first, options_.port_last,
      PortStart());
  for (const auto& [k, v] : p.pool.serve().env()) spec.env[k] = v;
  spec.env["OCX_REPLICA_ID"] = id;
  spec.num_gpus = p.pool.serve().num_gpus();
  spec.max_workers_per_gpu = 1;
  spec.runner = p.pool.runner();
  spec.stage = ocx::v1::STAGE_INFER;
  spec.task_name = absl::StrCat("serve[", p.pool.model_abbr(), "]");
  spec.service = true;
  if (options_.run_as_owners) spec.run_as = RunAsAccount(p.owner);
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
    if (!r.live || r.placed.has_value()) continue;
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
