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
#include "ocx/v1/resources.pb.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"

namespace ocx::store {
namespace internal {

inline constexpr char kTaskColumns[] =
    "id, eval_id, stage, idx, name, state, model_abbr, dataset_abbrs, "
    "depends_on, num_gpus, attempt_count, max_attempts, create_ms, start_ms, "
    "end_ms, next_attempt_ms, reason";

inline constexpr char kEvaluationColumns[] =
    "seq, id, name, request_id, state, spec, work_dir, task_count, create_ms, "
    "update_ms, end_ms";

inline constexpr char kAttemptColumns[] =
    "task_id, number, state, name, backend, backend_id, start_ms, end_ms, "
    "exit_code, signal, reason, log_path, attempt_dir, gpus";

// "a,b,c" -> {a, b, c}; "" -> {}.
std::vector<std::string> SplitList(const std::string& joined);

// Reads kTaskColumns starting at column 0; params from column 17 if asked.
// Times are set only when non-zero, so that JSON output has no 1970 dates.
ocx::v1::Task ReadTask(const Statement& s, bool with_params);
// Reads kEvaluationColumns from column 0; the seq into `seq` if not null.
ocx::v1::Evaluation ReadEvaluation(const Statement& s, int64_t* seq);
// Reads kAttemptColumns starting at column `first`.
AttemptRecord ReadAttempt(const Statement& s, int first);

// INVALID_ARGUMENT for a page token this store did not make.
absl::Status BadToken(const std::string& token);

// Statement cache slots for the writer's hot statements.
enum Slot {
  kInsertEvaluation,
  kUpdateEvaluation,
  kInsertTask,
  kUpdateTask,
  kPutAttempt,
  kAppendEvent,
  kFindRequest,
  kPutDatasetSize,
  kPutOutput,
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
