// Internal to server/store: the row codecs shared by the Store's files
// (store.cc and one file per kind of row), the writer's statement-cache
// slots, and the pooled read connection. Not for use outside the store.
#ifndef OCX_SERVER_STORE_STORE_INTERNAL_H_
#define OCX_SERVER_STORE_STORE_INTERNAL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/page_token.h"
#include "common/time_util.h"
#include "google/protobuf/timestamp.pb.h"
#include "ocx/v1/resources.pb.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"

namespace ocx::store {
namespace internal {

inline constexpr char kTaskColumns[] =
    "id, eval_id, stage, idx, name, state, model_abbr, dataset_abbrs, "
    "depends_on, num_gpus, attempt_count, max_attempts, create_ms, start_ms, "
    "end_ms, next_attempt_ms, reason";

// A task row's evaluation's work dir, which stored params leave out
// (common/task_params.h FillTaskParamsIds): ReadTask reads it after the
// params when asked for them.
inline constexpr char kEvaluationWorkDir[] =
    "(SELECT work_dir FROM evaluations e WHERE e.id = tasks.eval_id)";

// An evaluation not in a final state (QUEUED, RUNNING, CANCELLING), as a
// condition on the evaluations table; checked in store_internal.cc.
inline constexpr char kEvaluationIsActive[] = "state IN (1, 2, 5)";

inline constexpr char kEvaluationColumns[] =
    "seq, id, name, owner_request_id, state, spec, work_dir, task_count, "
    "create_ms, update_ms, end_ms, owner_user, owner_uid, owner_gid, "
    "rescored_from, predictions_work_dir";
// The same with an empty spec: the spec of a large sweep is hundreds of
// kilobytes that lists and basic views would read and parse for nothing.
inline constexpr char kEvaluationColumnsNoSpec[] =
    "seq, id, name, owner_request_id, state, x'', work_dir, task_count, "
    "create_ms, update_ms, end_ms, owner_user, owner_uid, owner_gid, "
    "rescored_from, predictions_work_dir";

// The owner_uid column of an evaluation owned by `owner`: -1 for none (rows
// from before owners existed, which belong to the daemon's account).
int64_t OwnerUidColumn(const ocx::v1::Owner& owner);
// The owner read from columns owner_user, owner_uid, owner_gid at `first`;
// empty when the row has none.
ocx::v1::Owner ReadOwner(const Statement& s, int first);

// A task's attempts, and a replica's (its starts): the same columns but
// for the owner, and a task attempt also names the replica it used.
inline constexpr char kAttemptColumns[] =
    "task_id, number, state, name, backend, backend_id, start_ms, end_ms, "
    "exit_code, signal, reason, log_path, attempt_dir, gpus, replica_id";
inline constexpr char kReplicaAttemptColumns[] =
    "replica_id, number, state, name, backend, backend_id, start_ms, end_ms, "
    "exit_code, signal, reason, log_path, attempt_dir, gpus";

// "a,b,c" -> {a, b, c}; "" -> {}.
std::vector<std::string> SplitList(const std::string& joined);

// Column `col` of `s` holds epoch milliseconds, 0 for "not yet": sets the
// timestamp `mutable_field` gives only for a non-zero value (calling it
// would mark the field present), so that JSON output has no 1970 dates.
template <typename M>
void ReadTime(const Statement& s, int col, M* m,
              google::protobuf::Timestamp* (M::*mutable_field)()) {
  if (int64_t ms = s.ColumnInt(col); ms > 0) {
    SetTimestamp(ms, (m->*mutable_field)());
  }
}

// Reads kTaskColumns starting at column 0; if asked, params from column 17
// and the evaluation's work dir from column 18 (kEvaluationWorkDir), with
// what stored params leave out filled in. Times through ReadTime.
ocx::v1::Task ReadTask(const Statement& s, bool with_params);
// Reads kEvaluationColumns from column 0; the seq into `seq` if not null.
ocx::v1::Evaluation ReadEvaluation(const Statement& s, int64_t* seq);
// Reads kAttemptColumns starting at column `first`.
AttemptRecord ReadAttempt(const Statement& s, int first);
// Reads kReplicaAttemptColumns starting at column `first`; the replica id
// goes into attempt.task_id.
AttemptRecord ReadReplicaAttempt(const Statement& s, int first);
// Binds the attempt's columns shared by both tables (the first 14 of
// either list) to parameters 1..14.
void BindAttempt(const AttemptRecord& r, Statement* s);

// Where the attempts of a task or of a replica live.
struct AttemptTable {
  const char* table;
  const char* owner_column;
  const char* columns;
  AttemptRecord (*read)(const Statement& s, int first);
  const char* owner_kind;  // "task", "replica": for NOT_FOUND messages
};
inline constexpr AttemptTable kTaskAttempts = {
    "attempts", "task_id", kAttemptColumns, ReadAttempt, "task"};
inline constexpr AttemptTable kReplicaAttempts = {
    "replica_attempts", "replica_id", kReplicaAttemptColumns,
    ReadReplicaAttempt, "replica"};

// Every attempt of `owner`, oldest first.
absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(
    Connection* conn, const AttemptTable& table, const std::string& owner);
// Attempt `number` of `owner`, or its latest for 0. NOT_FOUND "<kind> <id>
// has no attempt <n>" / "<kind> <id> has not started yet" when none.
absl::StatusOr<AttemptRecord> SelectAttempt(Connection* conn,
                                            const AttemptTable& table,
                                            const std::string& owner,
                                            int number);

// Runs `sql` (one `?`, bound to `id`) on `conn` and steps to its first
// row; NOT_FOUND "<what> <id> not found" when there is none.
absl::StatusOr<std::unique_ptr<Statement>> SelectById(Connection* conn,
                                                      const std::string& sql,
                                                      const std::string& id,
                                                      absl::string_view what);

// Page tokens: common/page_token.h.
using ::ocx::MakePageToken;
using ::ocx::ReadPageToken;

// Statement cache slots for the writer's hot statements.
enum Slot {
  kInsertEvaluation,
  kUpdateEvaluation,
  kInsertTask,
  kTaskParams,
  kAddTaskCount,
  kUpdateTask,
  kPutAttempt,
  kAppendEvent,
  kFindRequest,
  kPutDatasetSize,
  kPutOutput,
  kPutServerPool,
  kPutPoolUser,
  kPutReplica,
  kPutReplicaAttempt,
  kNumSlots
};

}  // namespace internal

// A pooled read connection (Store::Reader); returns to the pool when it
// goes out of scope.
class Store::ReadConnection {
 public:
  ReadConnection(Store* store, std::unique_ptr<Connection> conn)
      : store_(store), conn_(std::move(conn)) {}
  ReadConnection(ReadConnection&& other) = default;
  ~ReadConnection() {
    if (conn_ != nullptr) store_->ReturnReader(std::move(conn_));
  }
  Connection* operator->() { return conn_.get(); }
  Connection* get() { return conn_.get(); }

 private:
  Store* store_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace ocx::store

#endif  // OCX_SERVER_STORE_STORE_INTERNAL_H_
