// Store: rows counted by state, for /metrics (server/http/store_metrics).
#include "common/status_macros.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace ocx::store {
namespace {

// Runs a "SELECT key..., count(*) ... GROUP BY" and hands each row to `add`.
template <typename Add>
absl::Status EachRow(Connection* conn, const char* sql, Add add) {
  OCX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql));
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::OkStatus();
    add(*stmt);
  }
}

}  // namespace

absl::StatusOr<Store::Counts> Store::CountByState() {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  OCX_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  Counts counts;
  absl::Status read;
  if (task_counts_ != nullptr) {
    counts.tasks = task_counts_->Snapshot();
  } else {
    read = EachRow(
        conn.get(), "SELECT stage, state, sum(n) FROM task_counts GROUP BY 1, 2",
        [&](const Statement& s) {
          counts.tasks[{static_cast<int>(s.ColumnInt(0)),
                        static_cast<int>(s.ColumnInt(1))}] = s.ColumnInt(2);
        });
  }
  if (read.ok()) {
    read = EachRow(
        conn.get(), "SELECT state, count(*) FROM evaluations GROUP BY 1",
        [&](const Statement& s) {
          counts.evaluations[static_cast<int>(s.ColumnInt(0))] = s.ColumnInt(1);
        });
  }
  if (read.ok()) {
    read = EachRow(
        conn.get(), "SELECT state, count(*) FROM replicas GROUP BY 1",
        [&](const Statement& s) {
          counts.replicas[static_cast<int>(s.ColumnInt(0))] = s.ColumnInt(1);
        });
  }
  absl::Status ended = conn->Exec(read.ok() ? "COMMIT" : "ROLLBACK");
  OCX_RETURN_IF_ERROR(read);
  OCX_RETURN_IF_ERROR(ended);
  return counts;
}

}  // namespace ocx::store
