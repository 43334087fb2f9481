// ServerPools: the dispatcher's managed model servers (docs/serving.md). It
// keeps each pool's replicas, starts them on the infer runner when its
// evaluations have infer tasks waiting, watches them through the runner's
// updates and the health prober, restarts failed ones with backoff, stops
// idle ones, and picks the replica an infer task is routed to.
//
// A replica start is a runner attempt like a task's (key: replica id and
// start number, LaunchSpec::service set): its attempt row is committed
// before the runner hears of it, it runs under ocx-shim or as a Slurm job,
// and after a daemon restart it is adopted, not started again.
//
// Thread-compatible: only the dispatcher's loop thread calls it, inside the
// dispatcher's write transaction unless a method says otherwise. It writes
// the store only through that transaction (one writer).
#ifndef OCX_SERVER_DISPATCHER_SERVER_POOLS_H_
#define OCX_SERVER_DISPATCHER_SERVER_POOLS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ocx/v1/resources.pb.h"
#include "runners/runner.h"
#include "server/store/store.h"
#include "serving/health_prober.h"

namespace ocx::server {

struct ServingOptions {
  // ocx-task: `ocx-task serve` wraps each replica's command.
  std::string task_program;
  // ServingSettings.dir: replica state dirs and logs.
  std::string dir;
  int port_first = 20000;
  int port_last = 29999;
  int probe_timeout_ms = 2000;
  // Backoff between starts of one replica: initial * 2^(n-1), capped.
  int64_t restart_initial_backoff_ms = 1000;
  int64_t restart_max_backoff_ms = 30000;
  // ocxd runs as root (docs/security.md): each owner gets pools of their
  // own (pool id "<pool>-u<uid>"), whose replicas run as that owner, so
  // one user's tasks never talk to a server another user controls.
  bool run_as_owners = false;
};

class ServerPools {
 public:
  // Runners by runner type ("LocalRunner", "SlurmRunner"); not owned, must
  // outlive this. `wake` is called from the prober's thread when a probe
  // result changes.
  ServerPools(store::Store* store,
              std::map<std::string, runners::Runner*> runners,
              ServingOptions options, std::function<void()> wake);
  ~ServerPools();

  // The pool id of each model of `e` that has a `serve` section, by model
  // abbr, and `e` recorded as a user of those pools. With `persist` (a
  // Create) the pool and user rows are written. A new user clears a
  // pool's failure, so it starts replicas again.
  absl::StatusOr<std::map<std::string, std::string>> AddEvaluation(
      const ocx::v1::Evaluation& e, bool persist, int64_t now);
  // `eval_id` no longer uses its pools: it ended, or (with `cancelled`) a
  // cancel was asked — then pools nobody else uses stop their replicas now.
  absl::Status RemoveEvaluation(const std::string& eval_id, bool cancelled,
                                int64_t now);
  // Infer tasks of a pool that have not ended: +1 when tracked, -1 when
  // they end.
  void AddWaiting(const std::string& pool_id, int delta);

  // After AddEvaluation for every unfinished evaluation: loads the pools
  // and the replicas not yet ended, and adopts their running starts.
  absl::Status Recover(int64_t now);

  // Whether a runner's update is about a replica start.
  static bool OwnsKey(const runners::AttemptKey& key);
  absl::Status ApplyUpdate(const runners::AttemptUpdate& u, int64_t now);

  // Once per turn: applies probe results, ready timeouts and idle stops,
  // restarts what is due, and places new replicas where pools want more.
  // Placed starts are committed with this turn and launched by
  // LaunchPlaced() after the commit.
  absl::Status Step(int64_t now);
  // In the dispatcher's launch transaction: starts the placed replicas.
  absl::Status LaunchPlaced(int64_t now);
  // Whether Step() placed starts that LaunchPlaced() has not run.
  bool HasPlaced() const;

  // The READY replica of `pool_id` with the fewest task attempts on it.
  struct Route {
    std::string replica_id;
    std::string base_url;
  };
  std::optional<Route> Pick(const std::string& pool_id) const;
  // A task attempt was routed to / ended on `replica_id`.
  void TaskStarted(const std::string& replica_id);
  void TaskEnded(const std::string& replica_id, int64_t now);
  bool IsReady(const std::string& replica_id) const;
  // The replica's base URL once known.
  std::optional<std::string> BaseUrlOf(const std::string& replica_id) const;
  // Why the pool cannot serve (a replica used up its starts and none is
  // left); "" while it can.
  std::string FailureOf(const std::string& pool_id) const;
  // Replicas that left READY since the last call: their task attempts must
  // be stopped and run again elsewhere.
  std::vector<std::string> TakeLost();

 private:
  struct ReplicaEntry {
    ocx::v1::Replica row;
    store::AttemptRecord start;  // the current (or last) start
    bool live = false;           // the runner has the start (placed or on)
    // Placed this turn, launch pending: the spec Place() was given, with
    // its GPUs (the same one is launched).
    std::optional<runners::LaunchSpec> placed;
    bool cancel_sent = false;
    int64_t running_since_ms = 0;  // the runner said it runs
    int64_t next_start_ms = 0;     // UNHEALTHY: when to start again
    int64_t last_busy_ms = 0;      // last task end (or creation)
    int active = 0;                // task attempts routed here, not ended
    std::string pending_reason;    // why the start is being stopped
  };
  struct PoolEntry {
    ocx::v1::ServerPool pool;
    std::set<std::string> users;  // unfinished evaluations
    int waiting = 0;
    int next_number = 1;
    std::string failure;
    std::vector<std::string> replicas;  // ids, creation order
    ocx::v1::Owner owner;  // of the evaluations (run_as_owners: one owner)
  };

  runners::Runner* RunnerFor(const PoolEntry& p) const;
  // Not const: each spec gets its own first port to try (PortStart).
  runners::LaunchSpec SpecFor(const PoolEntry& p, const ReplicaEntry& r);
  int Wanted(const PoolEntry& p) const;
  int LiveCount(const PoolEntry& p) const;
  absl::Status Scale(PoolEntry& p, int64_t now);
  // Places a start of `r` (its attempt + 1); false when nothing is free.
  absl::StatusOr<bool> PlaceStart(PoolEntry& p, ReplicaEntry& r, int64_t now);
  absl::Status ApplyProbes(int64_t now);
  absl::Status CheckTimers(PoolEntry& p, int64_t now);
  absl::Status StopReplica(ReplicaEntry& r, const std::string& why,
                           int64_t now);
  // Asks the runner to end the current start; `why` becomes its reason.
  void CancelStart(ReplicaEntry& r, const std::string& why);
  // The start ended: records it, then restarts, stops or fails the replica.
  absl::Status StartEnded(ReplicaEntry& r, ocx::v1::Attempt::State state,
                          std::string reason, int64_t now);
  absl::Status SetState(ReplicaEntry& r, ocx::v1::Replica::State state,
                        const std::string& reason, int64_t now);
  absl::Status PutStart(ReplicaEntry& r);
  void UpdateProbeTargets();
  int PortStart();

  store::Store* const store_;
  const std::map<std::string, runners::Runner*> runners_;
  std::map<std::string, runners::Runner*> by_backend_;
  const ServingOptions options_;
  serving::HealthProber prober_;

  std::map<std::string, PoolEntry> pools_;
  std::map<std::string, ReplicaEntry> replicas_;
  std::map<std::string, std::set<std::string>> pools_of_eval_;
  std::vector<std::string> lost_;
  int next_port_offset_ = 0;
  std::string probe_signature_;  // the targets last given to the prober
};

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_SERVER_POOLS_H_
