// Store: who owns an evaluation, a task's evaluation, a replica's pool. The
// API layer authorizes each call with one of these (server/api/
// authorization.h); each is one indexed lookup.
#include <utility>

#include "common/status_macros.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace ocx::store {

absl::StatusOr<ocx::v1::Owner> Store::OwnerOfEvaluation(const std::string& id) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  OCX_ASSIGN_OR_RETURN(
      auto s, internal::SelectById(conn.get(),
                                   "SELECT owner_user, owner_uid, owner_gid "
                                   "FROM evaluations WHERE id=?",
                                   id, "evaluation"));
  return internal::ReadOwner(*s, 0);
}

absl::StatusOr<OwnedEvaluation> Store::EvaluationOfTask(
    const std::string& task_id) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  OCX_ASSIGN_OR_RETURN(
      auto s, internal::SelectById(
                  conn.get(),
                  "SELECT e.id, e.owner_user, e.owner_uid, e.owner_gid FROM "
                  "tasks t JOIN evaluations e ON e.id = t.eval_id WHERE t.id=?",
                  task_id, "task"));
  OwnedEvaluation out;
  out.eval_id = s->ColumnText(0);
  out.owner = internal::ReadOwner(*s, 1);
  return out;
}

absl::StatusOr<PoolOwners> Store::OwnersOfReplicaPool(
    const std::string& replica_id) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  OCX_ASSIGN_OR_RETURN(
      auto pool, internal::SelectById(conn.get(),
                                      "SELECT pool_id FROM replicas WHERE id=?",
                                      replica_id, "replica"));
  PoolOwners out;
  out.pool_id = pool->ColumnText(0);
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare("SELECT DISTINCT e.owner_user, e.owner_uid, "
                            "e.owner_gid FROM pool_users u JOIN evaluations e "
                            "ON e.id = u.eval_id WHERE u.pool_id=? "
                            "ORDER BY e.owner_user"));
  s->Bind(1, out.pool_id);
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.owners.push_back(internal::ReadOwner(*s, 0));
  }
  return out;
}

}  // namespace ocx::store
