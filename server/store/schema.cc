#include "server/store/schema.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ocx::store {
namespace {

// States are stored as the proto enum numbers. Times are epoch milliseconds.
const char* const kMigrations[] = {
    // 0 -> 1: the initial schema.
    R"sql(
CREATE TABLE evaluations (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  request_id  TEXT UNIQUE,
  state       INTEGER NOT NULL,
  spec        BLOB NOT NULL,
  work_dir    TEXT NOT NULL,
  task_count  INTEGER NOT NULL,
  create_ms   INTEGER NOT NULL,
  update_ms   INTEGER NOT NULL,
  end_ms      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX evaluations_by_state ON evaluations(state, seq);

CREATE TABLE tasks (
  id              TEXT PRIMARY KEY,
  eval_id         TEXT NOT NULL REFERENCES evaluations(id),
  stage           INTEGER NOT NULL,
  idx             INTEGER NOT NULL,
  name            TEXT NOT NULL,
  state           INTEGER NOT NULL,
  model_abbr      TEXT NOT NULL,
  dataset_abbrs   TEXT NOT NULL,
  depends_on      TEXT NOT NULL,
  num_gpus        INTEGER NOT NULL,
  attempt_count   INTEGER NOT NULL DEFAULT 0,
  max_attempts    INTEGER NOT NULL,
  create_ms       INTEGER NOT NULL,
  start_ms        INTEGER NOT NULL DEFAULT 0,
  end_ms          INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  reason          TEXT NOT NULL DEFAULT '',
  params          BLOB NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX tasks_by_eval ON tasks(eval_id, stage, idx);
-- Recovery reads only unfinished tasks (states below SUCCEEDED = 5).
CREATE INDEX tasks_active ON tasks(state) WHERE state < 5;

CREATE TABLE attempts (
  task_id     TEXT NOT NULL REFERENCES tasks(id),
  number      INTEGER NOT NULL,
  state       INTEGER NOT NULL,
  name        TEXT NOT NULL,
  backend     TEXT NOT NULL,
  backend_id  TEXT NOT NULL DEFAULT '',
  start_ms    INTEGER NOT NULL DEFAULT 0,
  end_ms      INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER,
  signal      INTEGER,
  reason      TEXT NOT NULL DEFAULT '',
  log_path    TEXT NOT NULL,
  attempt_dir TEXT NOT NULL,
  gpus        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (task_id, number)
) WITHOUT ROWID;

CREATE TABLE events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms    INTEGER NOT NULL,
  eval_id    TEXT NOT NULL,
  task_id    TEXT NOT NULL DEFAULT '',
  attempt    INTEGER NOT NULL DEFAULT 0,
  state      TEXT NOT NULL,
  message    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_eval ON events(eval_id, seq);
)sql",
    // 1 -> 2: per-evaluation counts by stage and state (GetEvaluation, Watch)
    // read a covering index instead of every task row.
    R"sql(
CREATE INDEX tasks_counts ON tasks(eval_id, stage, state);
)sql",
    // 2 -> 3: counted dataset sizes, valid while the file's size and mtime
    // are unchanged (one row per path and reader: a changed file replaces
    // its row); and the fingerprint each output was made with, with the
    // output's size and mtime when it was recorded (keyed reuse).
    R"sql(
CREATE TABLE dataset_sizes (
  path        TEXT NOT NULL,
  reader      TEXT NOT NULL,
  file_size   INTEGER NOT NULL,
  mtime_ns    INTEGER NOT NULL,
  num_samples INTEGER NOT NULL,
  update_ms   INTEGER NOT NULL,
  PRIMARY KEY (path, reader)
) WITHOUT ROWID;

CREATE TABLE outputs (
  path        TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  size        INTEGER NOT NULL,
  mtime_ns    INTEGER NOT NULL,
  task_id     TEXT NOT NULL,
  update_ms   INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 3 -> 4: managed model servers (docs/serving.md). A pool keeps its
    // config (ServerPool without evaluation_ids, outstanding_tasks and
    // replicas); pool_users says which evaluation's model uses it; a
    // replica keeps its row (Replica without attempts and task counts,
    // which come from the attempts tables) and its starts in
    // replica_attempts, laid out as attempts. A task attempt records the
    // replica it was routed to ('' for tasks without a managed server).
    R"sql(
CREATE TABLE server_pools (
  id          TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  config      BLOB NOT NULL,
  create_ms   INTEGER NOT NULL
);

CREATE TABLE pool_users (
  pool_id    TEXT NOT NULL REFERENCES server_pools(id),
  eval_id    TEXT NOT NULL REFERENCES evaluations(id),
  model_abbr TEXT NOT NULL,
  PRIMARY KEY (pool_id, eval_id, model_abbr)
) WITHOUT ROWID;
CREATE INDEX pool_users_by_eval ON pool_users(eval_id);

CREATE TABLE replicas (
  id        TEXT PRIMARY KEY,
  pool_id   TEXT NOT NULL REFERENCES server_pools(id),
  state     INTEGER NOT NULL,
  attempt   INTEGER NOT NULL DEFAULT 0,
  data      BLOB NOT NULL,
  update_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX replicas_by_pool ON replicas(pool_id);
-- The daemon reloads only replicas not ended (below STOPPED = 5).
CREATE INDEX replicas_active ON replicas(state) WHERE state < 5;

CREATE TABLE replica_attempts (
  replica_id  TEXT NOT NULL REFERENCES replicas(id),
  number      INTEGER NOT NULL,
  state       INTEGER NOT NULL,
  name        TEXT NOT NULL,
  backend     TEXT NOT NULL,
  backend_id  TEXT NOT NULL DEFAULT '',
  start_ms    INTEGER NOT NULL DEFAULT 0,
  end_ms      INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER,
  signal      INTEGER,
  reason      TEXT NOT NULL DEFAULT '',
  log_path    TEXT NOT NULL,
  attempt_dir TEXT NOT NULL,
  gpus        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (replica_id, number)
) WITHOUT ROWID;

ALTER TABLE attempts ADD COLUMN replica_id TEXT NOT NULL DEFAULT '';
-- Routing and ListServers count a replica's task attempts by state.
CREATE INDEX attempts_by_replica ON attempts(replica_id, state)
  WHERE replica_id != '';
)sql",
    // 4 -> 5: a hash of the Create request stored with its request_id, so
    // that a retry of the same request returns the first evaluation and the
    // same request_id with a different request is refused (AIP-155). Rows
    // from before have NULL: their retries are not compared.
    R"sql(
ALTER TABLE evaluations ADD COLUMN request_hash TEXT;
)sql",
    // 5 -> 6: each evaluation's owner (the caller's local account). Rows
    // from before have an empty user: they belong to the daemon's account.
    R"sql(
ALTER TABLE evaluations ADD COLUMN owner_user TEXT NOT NULL DEFAULT '';
ALTER TABLE evaluations ADD COLUMN owner_uid INTEGER NOT NULL DEFAULT -1;
ALTER TABLE evaluations ADD COLUMN owner_gid INTEGER NOT NULL DEFAULT -1;
CREATE INDEX evaluations_by_owner ON evaluations(owner_uid, seq);
)sql",
    // 6 -> 7: a request_id is its caller's retry key, unique per owner: the
    // same key from another user is another request and must not find the
    // first user's evaluation. The old column is UNIQUE across everyone and
    // SQLite cannot drop that constraint without rebuilding a table other
    // tables reference, so the key moves to owner_request_id (unique with
    // owner_uid) and request_id stays NULL from here on. Rows from before
    // owners existed keep their key under owner_uid -1.
    R"sql(
ALTER TABLE evaluations ADD COLUMN owner_request_id TEXT;
UPDATE evaluations SET owner_request_id = request_id, request_id = NULL
  WHERE request_id IS NOT NULL;
CREATE UNIQUE INDEX evaluations_by_request
  ON evaluations(owner_uid, owner_request_id)
  WHERE owner_request_id IS NOT NULL;
)sql",
    // 7 -> 8: each evaluation's task counts by stage and state, so that
    // GetEvaluation and Watch read a few rows instead of counting an
    // evaluation's tasks (a million of them cost ~100 ms per read). Kept by
    // triggers on every state change and delete of a task row; inserts add
    // their counts themselves (Store::InsertTasks, once per batch: a trigger
    // per inserted row doubled the cost of a big CreateEvaluation). Rows
    // whose count fell to 0 stay; readers skip them. Filled from the rows
    // already stored.
    R"sql(
CREATE TABLE task_counts (
  eval_id TEXT NOT NULL,
  stage   INTEGER NOT NULL,
  state   INTEGER NOT NULL,
  n       INTEGER NOT NULL,
  PRIMARY KEY (eval_id, stage, state)
) WITHOUT ROWID;
INSERT INTO task_counts (eval_id, stage, state, n)
  SELECT eval_id, stage, state, count(*) FROM tasks
  GROUP BY eval_id, stage, state;
CREATE TRIGGER task_counts_update AFTER UPDATE OF state ON tasks
  WHEN old.state != new.state BEGIN
  UPDATE task_counts SET n = n - 1
    WHERE eval_id = old.eval_id AND stage = old.stage AND state = old.state;
  INSERT INTO task_counts (eval_id, stage, state, n)
    VALUES (new.eval_id, new.stage, new.state, 1)
    ON CONFLICT (eval_id, stage, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
  UPDATE task_counts SET n = n - 1
    WHERE eval_id = old.eval_id AND stage = old.stage AND state = old.state;
END;
)sql",
    // 8 -> 9: a rescored evaluation (RescoreEvaluation) names its source
    // and the work dir whose predictions it reads. Empty on other rows.
    R"sql(
ALTER TABLE evaluations ADD COLUMN rescored_from TEXT NOT NULL DEFAULT '';
ALTER TABLE evaluations ADD COLUMN predictions_work_dir TEXT NOT NULL
  DEFAULT '';
)sql",
    // 9 -> 10: the index tasks_counts (1 -> 2) goes: since 7 -> 8 the counts
    // are read from task_counts, and no query needs (eval_id, stage, state)
    // that tasks_by_eval's (eval_id, stage) does not serve as well; it cost
    // every task insert an index entry (a tenth of a big CreateEvaluation).
    R"sql(
DROP INDEX IF EXISTS tasks_counts;
)sql",
    // 10 -> 11: the partial index tasks_active (0 -> 1) goes. It held every
    // unfinished task, so every queued task of a create cost an entry
    // (about a quarter of the insert CPU of a 1,000,000-task create,
    // docs/design.md). Recovery, its one
    // reader, reads the unfinished tasks of unfinished evaluations through
    // tasks_by_eval instead (it already read every task of those), and
    // tasks of ended evaluations were never recovered.
    R"sql(
DROP INDEX IF EXISTS tasks_active;
)sql",
};

constexpr int kNumMigrations = sizeof(kMigrations) / sizeof(kMigrations[0]);

absl::StatusOr<int> UserVersion(Connection* conn) {
  OCX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare("PRAGMA user_version"));
  OCX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::InternalError("PRAGMA user_version returned no row");
  return static_cast<int>(stmt->ColumnInt(0));
}

}  // namespace

int LatestSchemaVersion() { return kNumMigrations; }

absl::Status MigrateSchema(Connection* conn) {
  return MigrateSchemaTo(conn, kNumMigrations);
}

absl::Status MigrateSchemaTo(Connection* conn, int target) {
  if (target < 0 || target > kNumMigrations) {
    return absl::InvalidArgumentError(absl::StrCat(
        "schema version ", target, " is not between 0 and ", kNumMigrations));
  }
  OCX_ASSIGN_OR_RETURN(int version, UserVersion(conn));
  if (version > kNumMigrations) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema version ", version, " is newer than this ocxd (",
        kNumMigrations, "); upgrade ocxd or use another --database"));
  }
  for (int v = version; v < target; ++v) {
    OCX_RETURN_IF_ERROR(conn->Exec("BEGIN IMMEDIATE"));
    absl::Status status = conn->Exec(kMigrations[v]);
    if (status.ok()) {
      status = conn->Exec(absl::StrCat("PRAGMA user_version = ", v + 1));
    }
    if (!status.ok()) {
      conn->Exec("ROLLBACK").IgnoreError();
      return Annotate(status,
                      absl::StrCat("schema migration ", v, " -> ", v + 1));
    }
    OCX_RETURN_IF_ERROR(conn->Exec("COMMIT"));
  }
  return absl::OkStatus();
}

}  // namespace ocx::store
