// Store: managed model servers (docs/serving.md): pools, the evaluations
// that use them, replicas and their starts.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace ocx::store {

using internal::kPutPoolUser;
using internal::kPutReplica;
using internal::kPutReplicaAttempt;
using internal::kPutServerPool;
using internal::kReplicaAttemptColumns;
using internal::kReplicaAttempts;
using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Replica;
using ocx::v1::ServerPool;
using ocx::v1::Task;

namespace {

// Replicas of one pool in number order: their ids share the pool's prefix,
// so the shorter id has the smaller number ("-9" before "-10").
constexpr char kByNumber[] = "length(id), id";

// The stored form of a pool: what ListServers computes is left out.
ServerPool ConfigOnly(const ServerPool& pool) {
  ServerPool config = pool;
  config.clear_evaluation_ids();
  config.clear_outstanding_tasks();
  config.clear_replicas();
  return config;
}

// "(1,2,5)": the states of an evaluation that is not over.
std::string UnfinishedEvaluationStates() {
  return absl::StrCat("(", static_cast<int>(Evaluation::QUEUED), ",",
                      static_cast<int>(Evaluation::RUNNING), ",",
                      static_cast<int>(Evaluation::CANCELLING), ")");
}

// Pools oldest first; only those `eval_id` uses unless it is empty.
absl::StatusOr<std::vector<ServerPool>> ReadPools(Connection* conn,
                                                  const std::string& eval_id) {
  std::string sql = "SELECT config FROM server_pools";
  if (!eval_id.empty()) {
    absl::StrAppend(
        &sql, " WHERE id IN (SELECT pool_id FROM pool_users WHERE eval_id=?)");
  }
  absl::StrAppend(&sql, " ORDER BY create_ms, rowid");
  OCX_ASSIGN_OR_RETURN(auto s, conn->Prepare(sql));
  if (!eval_id.empty()) s->Bind(1, eval_id);
  std::vector<ServerPool> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ServerPool());
    out.back().ParseFromString(s->ColumnBlob(0));
  }
  return out;
}

// The pool's unfinished evaluations (oldest first) and their infer tasks
// of the pool's models that have not ended.
absl::Status FillUsage(Connection* conn, ServerPool* pool) {
  const std::string unfinished = UnfinishedEvaluationStates();
  OCX_ASSIGN_OR_RETURN(
      auto users,
      conn->Prepare(absl::StrCat(
          "SELECT DISTINCT e.id, e.seq FROM pool_users u JOIN evaluations e "
          "ON e.id = u.eval_id WHERE u.pool_id=? AND e.state IN ",
          unfinished, " ORDER BY e.seq")));
  users->Bind(1, pool->id());
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, users->Step());
    if (!row) break;
    pool->add_evaluation_ids(users->ColumnText(0));
  }
  OCX_ASSIGN_OR_RETURN(
      auto tasks,
      conn->Prepare(absl::StrCat(
          "SELECT count(*) FROM pool_users u JOIN evaluations e ON e.id = "
          "u.eval_id JOIN tasks t ON t.eval_id = u.eval_id AND t.model_abbr = "
          "u.model_abbr WHERE u.pool_id=? AND e.state IN ",
          unfinished, " AND t.stage=? AND t.state < ?")));
  tasks->Bind(1, pool->id())
      .Bind(2, static_cast<int64_t>(ocx::v1::STAGE_INFER))
      .Bind(3, static_cast<int64_t>(Task::SUCCEEDED));
  OCX_ASSIGN_OR_RETURN(bool row, tasks->Step());
  if (row)
    pool->set_outstanding_tasks(static_cast<int32_t>(tasks->ColumnInt(0)));
  return absl::OkStatus();
}

// The task attempts routed to the replica: running now, and ever.
absl::Status FillTaskCounts(Connection* conn, Replica* replica) {
  // `replica_id != ''` lets SQLite use the partial index attempts_by_replica.
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare("SELECT count(*), coalesce(sum(state IN (?,?)), 0) "
                            "FROM attempts WHERE replica_id=? AND "
                            "replica_id != ''"));
  s->Bind(1, static_cast<int64_t>(Attempt::LAUNCHING))
      .Bind(2, static_cast<int64_t>(Attempt::RUNNING))
      .Bind(3, replica->id());
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (row) {
    replica->set_served_tasks(s->ColumnInt(0));
    replica->set_active_tasks(static_cast<int32_t>(s->ColumnInt(1)));
  }
  return absl::OkStatus();
}

// The pool's replicas by number (only those not ended unless `all`), with
// their task counts and, if asked, their starts.
absl::Status FillReplicas(Connection* conn, bool all, bool with_attempts,
                          ServerPool* pool) {
  std::string sql = "SELECT data FROM replicas WHERE pool_id=?";
  if (!all) absl::StrAppend(&sql, " AND state < ?");
  absl::StrAppend(&sql, " ORDER BY ", kByNumber);
  OCX_ASSIGN_OR_RETURN(auto s, conn->Prepare(sql));
  s->Bind(1, pool->id());
  if (!all) s->Bind(2, static_cast<int64_t>(Replica::STOPPED));
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    Replica* replica = pool->add_replicas();
    replica->ParseFromString(s->ColumnBlob(0));
    OCX_RETURN_IF_ERROR(FillTaskCounts(conn, replica));
    if (!with_attempts) continue;
    OCX_ASSIGN_OR_RETURN(
        std::vector<AttemptRecord> attempts,
        internal::ListAttempts(conn, kReplicaAttempts, replica->id()));
    for (AttemptRecord& r : attempts) {
      *replica->add_attempts() = std::move(r.attempt);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Store::PutServerPool(const ServerPool& pool) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutServerPool,
             "INSERT INTO server_pools (id, fingerprint, config, create_ms) "
             "VALUES (?,?,?,?) ON CONFLICT (id) DO NOTHING"));
  s->Bind(1, pool.id())
      .Bind(2, pool.fingerprint())
      .BindBlob(3, ConfigOnly(pool).SerializeAsString())
      .Bind(4, TimestampMillis(pool.create_time()));
  return s->Run();
}

absl::Status Store::PutPoolUser(const PoolUser& user) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutPoolUser,
             "INSERT INTO pool_users (pool_id, eval_id, model_abbr) VALUES "
             "(?,?,?) ON CONFLICT DO NOTHING"));
  s->Bind(1, user.pool_id).Bind(2, user.eval_id).Bind(3, user.model_abbr);
  return s->Run();
}

absl::Status Store::PutReplica(const Replica& replica) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutReplica,
             "INSERT OR REPLACE INTO replicas (id, pool_id, state, attempt, "
             "data, update_ms) VALUES (?,?,?,?,?,?)"));
  Replica row = replica;
  row.clear_attempts();
  row.clear_active_tasks();
  row.clear_served_tasks();
  // update_ms: when the row was written, for people reading the database.
  s->Bind(1, replica.id())
      .Bind(2, replica.pool_id())
      .Bind(3, static_cast<int64_t>(replica.state()))
      .Bind(4, static_cast<int64_t>(replica.attempt()))
      .BindBlob(5, row.SerializeAsString())
      .Bind(6, NowMillis());
  return s->Run();
}

absl::Status Store::PutReplicaAttempt(const AttemptRecord& r) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutReplicaAttempt,
             absl::StrCat("INSERT OR REPLACE INTO replica_attempts (",
                          kReplicaAttemptColumns,
                          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
                 .c_str()));
  internal::BindAttempt(r, s);
  return s->Run();
}

absl::StatusOr<std::vector<ServerPool>> Store::LoadServerPools() {
  return ReadPools(writer_.get(), "");
}

absl::StatusOr<std::vector<ReplicaRecord>> Store::LoadActiveReplicas() {
  OCX_ASSIGN_OR_RETURN(
      auto s,
      writer_->Prepare(absl::StrCat(
          "SELECT data FROM replicas WHERE state < ? ORDER BY pool_id, ",
          kByNumber)));
  s->Bind(1, static_cast<int64_t>(Replica::STOPPED));
  std::vector<ReplicaRecord> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ReplicaRecord r;
    r.replica.ParseFromString(s->ColumnBlob(0));
    absl::StatusOr<AttemptRecord> last = internal::SelectAttempt(
        writer_.get(), kReplicaAttempts, r.replica.id(), 0);
    if (last.ok()) {
      r.last_attempt = *std::move(last);
    } else if (!absl::IsNotFound(last.status())) {
      return last.status();
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::map<std::string, int>> Store::MaxReplicaNumbers() {
  OCX_ASSIGN_OR_RETURN(
      auto s,
      writer_->Prepare("SELECT pool_id, max(CAST(substr(id, length(pool_id) + "
                       "2) AS INTEGER)) FROM replicas GROUP BY pool_id"));
  std::map<std::string, int> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out[s->ColumnText(0)] = static_cast<int>(s->ColumnInt(1));
  }
  return out;
}

absl::StatusOr<std::vector<ServerPool>> Store::ListServers(
    const std::string& eval_id, bool all, bool with_attempts) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  // One read transaction: pools, replicas and counts of one snapshot.
  OCX_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  auto read = [&]() -> absl::StatusOr<std::vector<ServerPool>> {
    OCX_ASSIGN_OR_RETURN(std::vector<ServerPool> pools,
                         ReadPools(conn.get(), eval_id));
    std::vector<ServerPool> out;
    for (ServerPool& pool : pools) {
      OCX_RETURN_IF_ERROR(FillUsage(conn.get(), &pool));
      OCX_RETURN_IF_ERROR(FillReplicas(conn.get(), all, with_attempts, &pool));
      // A pool with no replica running still matters while an evaluation
      // waits for it (its first replica may wait for free slots).
      if (all || pool.replicas_size() > 0 || pool.evaluation_ids_size() > 0) {
        out.push_back(std::move(pool));
      }
    }
    return out;
  };
  absl::StatusOr<std::vector<ServerPool>> out = read();
  conn->Exec("COMMIT").IgnoreError();
  return out;
}

absl::StatusOr<Attempt> Store::GetReplicaAttempt(const std::string& replica_id,
                                                 int number) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  absl::StatusOr<AttemptRecord> r =
      internal::SelectAttempt(conn.get(), kReplicaAttempts, replica_id, number);
  if (absl::IsNotFound(r.status())) {
    // Say whether the replica itself is unknown.
    absl::Status exists =
        internal::SelectById(conn.get(), "SELECT 1 FROM replicas WHERE id=?",
                             replica_id, "replica")
            .status();
    if (!exists.ok()) return exists;
  }
  if (!r.ok()) return r.status();
  return std::move(r->attempt);
}

}  // namespace ocx::store
