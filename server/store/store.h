// Store: SQLite, the source of truth for evaluations, tasks, attempts and
// the event log (DESIGN.md decision 2).
//
// Thread safety: the write methods (between Begin and Commit) belong to ONE
// thread, the dispatcher's, which owns the write connection. The read
// methods are thread-safe: each takes a connection from a bounded pool
// (read_pool.h; a reader waits when all are in use) and sees the last
// committed state (WAL readers never block the writer).
#ifndef OCX_SERVER_STORE_STORE_H_
#define OCX_SERVER_STORE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/task_rows.h"
#include "ocx/v1/resources.pb.h"
#include "server/store/read_pool.h"
#include "server/store/sqlite.h"
#include "server/store/task_counts.h"

namespace ocx::store {

// An attempt row plus what only the daemon needs.
struct AttemptRecord {
  ocx::v1::Attempt attempt;
  std::string attempt_dir;
};

// An unfinished task as recovery needs it.
struct ActiveTaskRecord {
  ocx::v1::Task task;  // with params
  std::optional<AttemptRecord> last_attempt;
};

struct ActiveEvaluationRecord {
  ocx::v1::Evaluation evaluation;  // with spec, without counts
  int64_t seq = 0;
};

// A dataset's counted sample count (partitioners/dataset_size.h), valid
// while the file at `path` has this size and mtime. `reader` says how it
// was counted ("jsonl", "csv", "json:test").
struct DatasetSizeRecord {
  std::string path;
  std::string reader;
  int64_t file_size = 0;
  int64_t mtime_ns = 0;
  int64_t num_samples = 0;
};

// The fingerprint an output file was made with (keyed reuse), and the
// file's size and mtime when it was recorded: a file changed since then
// does not match.
struct OutputRecord {
  std::string path;  // absolute
  std::string fingerprint;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  std::string task_id;  // the task that made it
};

// A managed-server replica as the daemon keeps it (docs/serving.md): the
// row, without attempts, active_tasks or served_tasks (ListServers fills
// those from the attempts tables), and its current start's attempt.
struct ReplicaRecord {
  ocx::v1::Replica replica;
  std::optional<AttemptRecord> last_attempt;  // attempt.task_id = replica id
};

// An evaluation's model that uses a pool: written with the evaluation.
struct PoolUser {
  std::string pool_id;
  std::string eval_id;
  std::string model_abbr;
};

// The evaluation a request_id created, and the hash of that request (empty
// for rows from before schema 5).
struct RequestRecord {
  std::string eval_id;
  std::string request_hash;
};

// Which evaluations ListEvaluations returns.
struct EvaluationFilter {
  // STATE_UNSPECIFIED: any state.
  ocx::v1::Evaluation::State state = ocx::v1::Evaluation::STATE_UNSPECIFIED;
  // Only evaluations whose owner has one of these uids (-1: rows stored
  // before owners existed); empty: everyone's.
  std::vector<int64_t> owner_uids;
};

// An evaluation id and its owner (authorization of a task's reads).
struct OwnedEvaluation {
  std::string eval_id;
  ocx::v1::Owner owner;  // empty for rows from before owners existed
};

// A managed-server pool and the owners of the evaluations using it.
struct PoolOwners {
  std::string pool_id;
  std::vector<ocx::v1::Owner> owners;
};

// An evaluation (stage_counts, last_event_sequence) and its events after a
// sequence, read together (Store::GetEvaluationWithEvents).
struct EvaluationWithEvents {
  ocx::v1::Evaluation evaluation;
  std::vector<ocx::v1::Event> events;  // oldest first
};

class Store {
 public:
  // Opens or creates the database at `path` and migrates its schema. Read
  // connections are pooled as `readers` says.
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const std::string& path, ReadPoolOptions readers = {});
  ~Store();

  // ---- Writer: the dispatcher thread only. ----
  absl::Status Begin();
  absl::Status Commit();
  void Rollback();
  // Rows the writer has changed since it opened (sqlite3_total_changes64):
  // a commit that leaves it as it was wrote nothing.
  int64_t TotalChanges() const;
  // A nested scope inside the open transaction, so that one failed request
  // can be undone without losing the rest of the group commit.
  absl::Status Savepoint();
  absl::Status ReleaseSavepoint();
  void RollbackToSavepoint();

  // Inserts an evaluation (spec, state, times, owner) and returns its
  // creation sequence number; `request_hash` is kept with its request_id
  // (empty: not known). ALREADY_EXISTS if the id is taken, or the owner's
  // request_id.
  absl::StatusOr<int64_t> InsertEvaluation(
      const ocx::v1::Evaluation& e, const std::string& request_hash = "");
  absl::Status UpdateEvaluationState(const std::string& id,
                                     ocx::v1::Evaluation::State state,
                                     int64_t update_ms, int64_t end_ms);
  // The evaluation `owner` created with `request_id`, if any: a request_id
  // is its owner's key, so another owner's use of the same one is not
  // found. An empty owner is the owner of rows from before owners existed.
  absl::StatusOr<std::optional<RequestRecord>> FindByRequestId(
      const ocx::v1::Owner& owner, const std::string& request_id);

  // Inserts a task with its params, and counts it in its evaluation's
  // stage counts.
  absl::Status InsertTask(const ocx::v1::Task& task);
  // The same for many tasks, their counts added once per (evaluation,
  // stage, state) instead of once per task.
  absl::Status InsertTasks(const std::vector<ocx::v1::Task>& tasks);
  // The same for planned rows, bound as they are (no parse): created at
  // `now_ms`, and ended then too when SUCCEEDED (a reused output).
  absl::Status InsertTaskRows(const TaskRows& rows, int64_t now_ms);
  // Writes the task's mutable columns: state, attempt_count, start/end,
  // next_attempt_time, reason, max_attempts (an attempt whose model server
  // replica failed under it does not count: it raises max_attempts).
  absl::Status UpdateTask(const ocx::v1::Task& task);
  // Sets every PENDING and READY task of the evaluation CANCELLED, ended at
  // `end_ms` with `reason`, in one statement (a cancel of a million queued
  // tasks); returns how many.
  absl::StatusOr<int64_t> CancelQueuedTasks(const std::string& eval_id,
                                            const std::string& reason,
                                            int64_t end_ms);
  // Inserts or replaces an attempt row.
  absl::Status PutAttempt(const AttemptRecord& record);
  // Appends to the event log; returns the event's sequence number.
  absl::StatusOr<int64_t> AppendEvent(const ocx::v1::Event& event);
  // Inserts or replaces the size of (path, reader).
  absl::Status PutDatasetSize(const DatasetSizeRecord& record,
                              int64_t update_ms);
  // Inserts or replaces the record of an output path.
  absl::Status PutOutput(const OutputRecord& record, int64_t update_ms);

  // Managed servers (server/store/servers.cc).
  // Inserts a pool unless one with its id exists (the first config holds);
  // stores id, fingerprint, model path/abbr, serve, runner, create_time.
  absl::Status PutServerPool(const ocx::v1::ServerPool& pool);
  // Records that an evaluation's model uses a pool (idempotent).
  absl::Status PutPoolUser(const PoolUser& user);
  // Inserts or replaces a replica row (its attempts/active/served fields
  // are not stored).
  absl::Status PutReplica(const ocx::v1::Replica& replica);
  // Inserts or replaces one start of a replica (attempt.task_id is the
  // replica id).
  absl::Status PutReplicaAttempt(const AttemptRecord& record);
  // Every pool (config fields only), oldest first.
  absl::StatusOr<std::vector<ocx::v1::ServerPool>> LoadServerPools();
  // Replicas not STOPPED or FAILED, with their latest attempt.
  absl::StatusOr<std::vector<ReplicaRecord>> LoadActiveReplicas();
  // The largest replica number used in each pool ("<pool>-<n>"), so new
  // replicas never reuse an id.
  absl::StatusOr<std::map<std::string, int>> MaxReplicaNumbers();

  // Evaluations not in a final state, oldest first.
  absl::StatusOr<std::vector<ActiveEvaluationRecord>> LoadActiveEvaluations();
  // Unfinished tasks (PENDING..RUNNING) of the evaluations
  // LoadActiveEvaluations returns, by evaluation id, stage and index, with
  // their latest attempt; params only for LAUNCHING and RUNNING tasks (the
  // others' come from ReadTaskDetails when they launch: a million queued
  // tasks' params would not fit in the daemon's memory).
  absl::StatusOr<std::vector<ActiveTaskRecord>> LoadActiveTasks();
  // Sets the name, dataset_abbrs and params (as stored: configs by
  // reference) of `task` from the row of task->id(), the fields the
  // dispatcher does not keep for queued tasks. NOT_FOUND for unknown ids.
  absl::Status ReadTaskDetails(ocx::v1::Task* task);
  // States of the given tasks (missing ids are absent from the result).
  absl::StatusOr<std::vector<std::pair<std::string, ocx::v1::Task::State>>>
  TaskStates(const std::string& eval_id);

  // ---- Readers: any thread. ----
  // NOT_FOUND for unknown ids. Fills stage_counts and last_event_sequence;
  // without `with_spec` the spec is neither read nor returned.
  absl::StatusOr<ocx::v1::Evaluation> GetEvaluation(const std::string& id,
                                                    bool with_spec = true);
  // NOT_FOUND unless the evaluation exists (a primary-key lookup).
  absl::Status CheckEvaluationExists(const std::string& id);
  // Newest first. `page_token` is the opaque token of the previous page
  // (of a list with the same filter).
  absl::StatusOr<std::vector<ocx::v1::Evaluation>> ListEvaluations(
      const EvaluationFilter& filter, int page_size,
      const std::string& page_token, std::string* next_page_token);
  // The same with only a state filter.
  absl::StatusOr<std::vector<ocx::v1::Evaluation>> ListEvaluations(
      ocx::v1::Evaluation::State state, int page_size,
      const std::string& page_token, std::string* next_page_token);
  // Authorization reads (server/store/owners.cc), each one indexed lookup.
  // The owner of an evaluation (empty for rows from before owners
  // existed). NOT_FOUND "evaluation <id> not found".
  absl::StatusOr<ocx::v1::Owner> OwnerOfEvaluation(const std::string& id);
  // The evaluation a task belongs to, and its owner. NOT_FOUND "task <id>
  // not found".
  absl::StatusOr<OwnedEvaluation> EvaluationOfTask(const std::string& task_id);
  // The owners of the evaluations that use (or used) the pool of a
  // managed-server replica, each once, and the pool's id. NOT_FOUND
  // "replica <id> not found".
  absl::StatusOr<PoolOwners> OwnersOfReplicaPool(const std::string& replica_id);
  // By stage then index, without params. With max_bytes > 0, a page ends
  // early when its tasks' encoding would pass max_bytes (at least one task
  // per page).
  absl::StatusOr<std::vector<ocx::v1::Task>> ListTasks(
      const std::string& eval_id, ocx::v1::Task::State state,
      ocx::v1::Stage stage, int page_size, const std::string& page_token,
      std::string* next_page_token, int64_t max_bytes = 0);
  // One task with params (expanded from the evaluation's spec when stored
  // by reference, common/task_params.h) and all attempts. NOT_FOUND for
  // unknown ids.
  absl::StatusOr<ocx::v1::Task> GetTask(const std::string& id);
  // Attempt `number` of a task, or its latest for 0. NOT_FOUND when none.
  absl::StatusOr<ocx::v1::Attempt> GetAttempt(const std::string& task_id,
                                              int number);
  // Events of one evaluation with sequence > after_sequence, oldest first.
  absl::StatusOr<std::vector<ocx::v1::Event>> ListEvents(
      const std::string& eval_id, int64_t after_sequence, int limit);
  // The evaluation and its events with sequence > after_sequence (at most
  // `limit`), read in ONE read transaction: the snapshot is the state as of
  // the newest committed event, so when `events` reaches
  // evaluation.last_event_sequence the snapshot is exactly the state that
  // event left (WatchEvaluation's guarantee). NOT_FOUND for unknown ids.
  absl::StatusOr<EvaluationWithEvents> GetEvaluationWithEvents(
      const std::string& id, int64_t after_sequence, int limit);
  // Whether evaluation `id` may have an event with sequence > `after`:
  // false only when none was committed since this Store was opened (every
  // event is appended through it), answered from memory. WatchEvaluation
  // asks before each read, so a stream of a quiet evaluation costs no read
  // however often the dispatcher commits.
  bool MayHaveEventsAfter(const std::string& id, int64_t after);
  // The cached sample count of (path, reader) if it was counted for a file
  // of this size and mtime.
  absl::StatusOr<std::optional<int64_t>> LookupDatasetSize(
      const std::string& path, const std::string& reader, int64_t file_size,
      int64_t mtime_ns);
  // Pools with their replicas (ListServers), oldest first: unless `all`,
  // only pools with a replica not STOPPED/FAILED or an unfinished
  // evaluation using them, and only their replicas not ended; only pools
  // `eval_id` uses unless empty. Fills evaluation_ids (unfinished evaluations
  // using the pool), outstanding_tasks (their infer tasks of the pool's models
  // not ended), each replica's active_tasks (task attempts with its replica_id
  // that are LAUNCHING or RUNNING) and served_tasks (all such attempts), and
  // its attempts when `with_attempts`. Replicas: by pool, then number.
  absl::StatusOr<std::vector<ocx::v1::ServerPool>> ListServers(
      const std::string& eval_id, bool all, bool with_attempts);
  // One start of a replica, or its latest for 0. NOT_FOUND when none
  // ("replica <id> not found" when the replica is unknown).
  absl::StatusOr<ocx::v1::Attempt> GetReplicaAttempt(
      const std::string& replica_id, int number);
  // The records of `paths` (index-aligned; nullopt where none), read in one
  // snapshot.
  absl::StatusOr<std::vector<std::optional<OutputRecord>>> GetOutputs(
      const std::vector<std::string>& paths);

  // Rows by state, for metrics (counts.cc). Tasks come from the counts kept
  // in memory (task_counts.h) when SQLite has the pre-update hook, else
  // from a GROUP BY; evaluations and replicas are counted in one snapshot.
  struct Counts {
    // (stage, task state) -> tasks
    std::map<std::pair<int, int>, int64_t> tasks;
    // evaluation state -> evaluations
    std::map<int, int64_t> evaluations;
    // replica state -> replicas
    std::map<int, int64_t> replicas;
  };
  absl::StatusOr<Counts> CountByState();

  // The read connections (how many are open, the most at once).
  const ReadPool& readers() const { return *readers_; }

 private:
  class ReadConnection;
  Store(std::unique_ptr<Connection> writer, std::unique_ptr<ReadPool> readers);
  // A connection from the pool, returned when it goes.
  absl::StatusOr<ReadConnection> Reader();
  void ReturnReader(std::unique_ptr<Connection> conn);
  absl::Status FillCounts(Connection* conn, ocx::v1::Evaluation* e);
  absl::StatusOr<ocx::v1::Evaluation> SelectEvaluation(Connection* conn,
                                                       const std::string& id,
                                                       bool with_spec = true);
  absl::StatusOr<Statement*> Cached(int slot, const char* sql);
  // Inserts the row only (the counts are the caller's).
  absl::Status InsertTaskRow(const ocx::v1::Task& task);
  // Adds `n` tasks to the count of (evaluation, stage, state).
  absl::Status AddTaskCount(const std::string& eval_id, int stage, int state,
                            int64_t n);

  std::unique_ptr<Connection> writer_;
  std::vector<std::unique_ptr<Statement>> cached_;
  // Tasks by stage and state, following the writer (null: not available).
  std::unique_ptr<TaskCounts> task_counts_;
  // When the open write transaction began (for its duration metric).
  int64_t begin_ns_ = 0;
  std::unique_ptr<ReadPool> readers_;

  // MayHaveEventsAfter: the newest event of each evaluation appended in the
  // open transaction (writer thread), and committed since the Store opened.
  absl::flat_hash_map<std::string, int64_t> uncommitted_events_;
  absl::Mutex events_mu_;
  absl::flat_hash_map<std::string, int64_t> last_event_
      ABSL_GUARDED_BY(events_mu_);
  void PublishEvents();
};

}  // namespace ocx::store

#endif  // OCX_SERVER_STORE_STORE_H_
