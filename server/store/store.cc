#include "server/store/store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/store/schema.h"

namespace ocx::store {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;

constexpr char kTaskColumns[] =
    "id, eval_id, stage, idx, name, state, model_abbr, dataset_abbrs, "
    "depends_on, num_gpus, attempt_count, max_attempts, create_ms, start_ms, "
    "end_ms, next_attempt_ms, reason";

constexpr char kEvaluationColumns[] =
    "seq, id, name, request_id, state, spec, work_dir, task_count, create_ms, "
    "update_ms, end_ms";

constexpr char kAttemptColumns[] =
    "task_id, number, state, name, backend, backend_id, start_ms, end_ms, "
    "exit_code, signal, reason, log_path, attempt_dir, gpus";

std::vector<std::string> SplitList(const std::string& joined) {
  if (joined.empty()) return {};
  return absl::StrSplit(joined, ',');
}

// Reads kTaskColumns starting at column 0; params from column 17 if asked.
// Times are set only when non-zero, so that JSON output has no 1970 dates.
Task ReadTask(const Statement& s, bool with_params) {
  Task t;
  t.set_id(s.ColumnText(0));
  t.set_evaluation_id(s.ColumnText(1));
  t.set_stage(static_cast<ocx::v1::Stage>(s.ColumnInt(2)));
  t.set_index(static_cast<int32_t>(s.ColumnInt(3)));
  t.set_name(s.ColumnText(4));
  t.set_state(static_cast<Task::State>(s.ColumnInt(5)));
  t.set_model_abbr(s.ColumnText(6));
  for (auto& d : SplitList(s.ColumnText(7))) t.add_dataset_abbrs(d);
  for (auto& d : SplitList(s.ColumnText(8))) t.add_depends_on(d);
  t.set_num_gpus(static_cast<int32_t>(s.ColumnInt(9)));
  t.set_attempt_count(static_cast<int32_t>(s.ColumnInt(10)));
  t.set_max_attempts(static_cast<int32_t>(s.ColumnInt(11)));
  if (int64_t ms = s.ColumnInt(12); ms > 0) {
    SetTimestamp(ms, t.mutable_create_time());
  }
  if (int64_t ms = s.ColumnInt(13); ms > 0) {
    SetTimestamp(ms, t.mutable_start_time());
  }
  if (int64_t ms = s.ColumnInt(14); ms > 0) {
    SetTimestamp(ms, t.mutable_end_time());
  }
  if (int64_t ms = s.ColumnInt(15); ms > 0) {
    SetTimestamp(ms, t.mutable_next_attempt_time());
  }
  t.set_reason(s.ColumnText(16));
  if (with_params) t.mutable_params()->ParseFromString(s.ColumnBlob(17));
  return t;
}

Evaluation ReadEvaluation(const Statement& s, int64_t* seq) {
  Evaluation e;
  if (seq != nullptr) *seq = s.ColumnInt(0);
  e.set_id(s.ColumnText(1));
  e.set_name(s.ColumnText(2));
  e.set_request_id(s.ColumnText(3));
  e.set_state(static_cast<Evaluation::State>(s.ColumnInt(4)));
  e.mutable_spec()->ParseFromString(s.ColumnBlob(5));
  e.set_work_dir(s.ColumnText(6));
  e.set_task_count(static_cast<int32_t>(s.ColumnInt(7)));
  if (int64_t ms = s.ColumnInt(8); ms > 0) {
    SetTimestamp(ms, e.mutable_create_time());
  }
  if (int64_t ms = s.ColumnInt(9); ms > 0) {
    SetTimestamp(ms, e.mutable_update_time());
  }
  if (int64_t ms = s.ColumnInt(10); ms > 0) {
    SetTimestamp(ms, e.mutable_end_time());
  }
  return e;
}

AttemptRecord ReadAttempt(const Statement& s, int first) {
  AttemptRecord r;
  Attempt& a = r.attempt;
  a.set_task_id(s.ColumnText(first + 0));
  a.set_number(static_cast<int32_t>(s.ColumnInt(first + 1)));
  a.set_state(static_cast<Attempt::State>(s.ColumnInt(first + 2)));
  a.set_name(s.ColumnText(first + 3));
  a.set_backend(s.ColumnText(first + 4));
  a.set_backend_id(s.ColumnText(first + 5));
  if (int64_t ms = s.ColumnInt(first + 6); ms > 0) {
    SetTimestamp(ms, a.mutable_start_time());
  }
  if (int64_t ms = s.ColumnInt(first + 7); ms > 0) {
    SetTimestamp(ms, a.mutable_end_time());
  }
  if (!s.ColumnIsNull(first + 8)) {
    a.set_exit_code(static_cast<int32_t>(s.ColumnInt(first + 8)));
  }
  if (!s.ColumnIsNull(first + 9)) {
    a.set_signal(static_cast<int32_t>(s.ColumnInt(first + 9)));
  }
  a.set_reason(s.ColumnText(first + 10));
  a.set_log_path(s.ColumnText(first + 11));
  r.attempt_dir = s.ColumnText(first + 12);
  for (auto& g : SplitList(s.ColumnText(first + 13))) {
    int id = 0;
    if (absl::SimpleAtoi(g, &id)) a.add_gpus(id);
  }
  return r;
}

absl::Status BadToken(const std::string& token) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token: \"", token, "\" is not a token returned by this method"));
}

}  // namespace

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

Store::Store(std::string path, std::unique_ptr<Connection> writer)
    : path_(std::move(path)), writer_(std::move(writer)), cached_(kNumSlots) {}

Store::~Store() {
  cached_.clear();
  // A final checkpoint keeps the WAL small between runs.
  writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  OCX_ASSIGN_OR_RETURN(auto writer, Connection::Open(path, false));
  OCX_RETURN_IF_ERROR(Annotate(MigrateSchema(writer.get()), path));
  return std::unique_ptr<Store>(new Store(path, std::move(writer)));
}

absl::StatusOr<Statement*> Store::Cached(int slot, const char* sql) {
  if (cached_[slot] == nullptr) {
    OCX_ASSIGN_OR_RETURN(cached_[slot], writer_->Prepare(sql));
  }
  return cached_[slot].get();
}

absl::Status Store::Begin() { return writer_->Exec("BEGIN IMMEDIATE"); }
absl::Status Store::Commit() { return writer_->Exec("COMMIT"); }
void Store::Rollback() { writer_->Exec("ROLLBACK").IgnoreError(); }
absl::Status Store::Savepoint() { return writer_->Exec("SAVEPOINT request"); }
absl::Status Store::ReleaseSavepoint() {
  return writer_->Exec("RELEASE request");
}
void Store::RollbackToSavepoint() {
  writer_->Exec("ROLLBACK TO request; RELEASE request").IgnoreError();
}

absl::StatusOr<int64_t> Store::InsertEvaluation(const Evaluation& e) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kInsertEvaluation,
             "INSERT INTO evaluations (id, name, request_id, state, spec, "
             "work_dir, task_count, create_ms, update_ms, end_ms) VALUES "
             "(?,?,?,?,?,?,?,?,?,?)"));
  s->Bind(1, e.id()).Bind(2, e.name());
  if (e.request_id().empty()) {
    s->BindNull(3);
  } else {
    s->Bind(3, e.request_id());
  }
  s->Bind(4, static_cast<int64_t>(e.state()))
      .BindBlob(5, e.spec().SerializeAsString())
      .Bind(6, e.work_dir())
      .Bind(7, static_cast<int64_t>(e.task_count()))
      .Bind(8, TimestampMillis(e.create_time()))
      .Bind(9, TimestampMillis(e.update_time()))
      .Bind(10, TimestampMillis(e.end_time()));
  OCX_RETURN_IF_ERROR(s->Run());
  return writer_->LastInsertRowId();
}

absl::Status Store::UpdateEvaluationState(const std::string& id,
                                          Evaluation::State state,
                                          int64_t update_ms, int64_t end_ms) {
  OCX_ASSIGN_OR_RETURN(Statement * s,
                       Cached(kUpdateEvaluation,
                              "UPDATE evaluations SET state=?, update_ms=?, "
                              "end_ms=? WHERE id=?"));
  s->Bind(1, static_cast<int64_t>(state))
      .Bind(2, update_ms)
      .Bind(3, end_ms)
      .Bind(4, id);
  return s->Run();
}

absl::StatusOr<std::optional<std::string>> Store::FindByRequestId(
    const std::string& request_id) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kFindRequest, "SELECT id FROM evaluations WHERE request_id=?"));
  s->Bind(1, request_id);
  absl::StatusOr<bool> row = s->Step();
  std::optional<std::string> id;
  if (row.ok() && *row) id = s->ColumnText(0);
  s->Reset();
  if (!row.ok()) return row.status();
  return id;
}

absl::Status Store::InsertTask(const Task& t) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kInsertTask,
             "INSERT INTO tasks (id, eval_id, stage, idx, name, state, "
             "model_abbr, dataset_abbrs, depends_on, num_gpus, attempt_count, "
             "max_attempts, create_ms, start_ms, end_ms, next_attempt_ms, "
             "reason, params) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  s->Bind(1, t.id())
      .Bind(2, t.evaluation_id())
      .Bind(3, static_cast<int64_t>(t.stage()))
      .Bind(4, static_cast<int64_t>(t.index()))
      .Bind(5, t.name())
      .Bind(6, static_cast<int64_t>(t.state()))
      .Bind(7, t.model_abbr())
      .Bind(8, absl::StrJoin(t.dataset_abbrs(), ","))
      .Bind(9, absl::StrJoin(t.depends_on(), ","))
      .Bind(10, static_cast<int64_t>(t.num_gpus()))
      .Bind(11, static_cast<int64_t>(t.attempt_count()))
      .Bind(12, static_cast<int64_t>(t.max_attempts()))
      .Bind(13, TimestampMillis(t.create_time()))
      .Bind(14, TimestampMillis(t.start_time()))
      .Bind(15, TimestampMillis(t.end_time()))
      .Bind(16, TimestampMillis(t.next_attempt_time()))
      .Bind(17, t.reason())
      .BindBlob(18, t.params().SerializeAsString());
  return s->Run();
}

absl::Status Store::UpdateTask(const Task& t) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kUpdateTask,
             "UPDATE tasks SET state=?, attempt_count=?, start_ms=?, "
             "end_ms=?, next_attempt_ms=?, reason=? WHERE id=?"));
  s->Bind(1, static_cast<int64_t>(t.state()))
      .Bind(2, static_cast<int64_t>(t.attempt_count()))
      .Bind(3, TimestampMillis(t.start_time()))
      .Bind(4, TimestampMillis(t.end_time()))
      .Bind(5, TimestampMillis(t.next_attempt_time()))
      .Bind(6, t.reason())
      .Bind(7, t.id());
  return s->Run();
}

absl::Status Store::PutAttempt(const AttemptRecord& r) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutAttempt,
             "INSERT OR REPLACE INTO attempts (task_id, number, state, name, "
             "backend, backend_id, start_ms, end_ms, exit_code, signal, "
             "reason, log_path, attempt_dir, gpus) VALUES "
             "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  const Attempt& a = r.attempt;
  s->Bind(1, a.task_id())
      .Bind(2, static_cast<int64_t>(a.number()))
      .Bind(3, static_cast<int64_t>(a.state()))
      .Bind(4, a.name())
      .Bind(5, a.backend())
      .Bind(6, a.backend_id())
      .Bind(7, TimestampMillis(a.start_time()))
      .Bind(8, TimestampMillis(a.end_time()));
  if (a.has_exit_code()) {
    s->Bind(9, static_cast<int64_t>(a.exit_code()));
  } else {
    s->BindNull(9);
  }
  if (a.has_signal()) {
    s->Bind(10, static_cast<int64_t>(a.signal()));
  } else {
    s->BindNull(10);
  }
  s->Bind(11, a.reason())
      .Bind(12, a.log_path())
      .Bind(13, r.attempt_dir)
      .Bind(14, absl::StrJoin(a.gpus(), ","));
  return s->Run();
}

absl::StatusOr<int64_t> Store::AppendEvent(const ocx::v1::Event& e) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kAppendEvent,
             "INSERT INTO events (time_ms, eval_id, task_id, attempt, state, "
             "message) VALUES (?,?,?,?,?,?)"));
  s->Bind(1, TimestampMillis(e.time()))
      .Bind(2, e.evaluation_id())
      .Bind(3, e.task_id())
      .Bind(4, static_cast<int64_t>(e.attempt()))
      .Bind(5, e.state())
      .Bind(6, e.message());
  OCX_RETURN_IF_ERROR(s->Run());
  return writer_->LastInsertRowId();
}

absl::Status Store::PutDatasetSize(const DatasetSizeRecord& r,
                                   int64_t update_ms) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutDatasetSize,
             "INSERT OR REPLACE INTO dataset_sizes (path, reader, file_size, "
             "mtime_ns, num_samples, update_ms) VALUES (?,?,?,?,?,?)"));
  s->Bind(1, r.path)
      .Bind(2, r.reader)
      .Bind(3, r.file_size)
      .Bind(4, r.mtime_ns)
      .Bind(5, r.num_samples)
      .Bind(6, update_ms);
  return s->Run();
}

absl::Status Store::PutOutput(const OutputRecord& r, int64_t update_ms) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutOutput,
             "INSERT OR REPLACE INTO outputs (path, fingerprint, size, "
             "mtime_ns, task_id, update_ms) VALUES (?,?,?,?,?,?)"));
  s->Bind(1, r.path)
      .Bind(2, r.fingerprint)
      .Bind(3, r.size)
      .Bind(4, r.mtime_ns)
      .Bind(5, r.task_id)
      .Bind(6, update_ms);
  return s->Run();
}

absl::StatusOr<std::vector<ActiveEvaluationRecord>>
Store::LoadActiveEvaluations() {
  OCX_ASSIGN_OR_RETURN(
      auto s, writer_->Prepare(absl::StrCat(
                  "SELECT ", kEvaluationColumns,
                  " FROM evaluations WHERE state IN (?,?,?) ORDER BY seq")));
  s->Bind(1, static_cast<int64_t>(Evaluation::QUEUED))
      .Bind(2, static_cast<int64_t>(Evaluation::RUNNING))
      .Bind(3, static_cast<int64_t>(Evaluation::CANCELLING));
  std::vector<ActiveEvaluationRecord> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ActiveEvaluationRecord r;
    r.evaluation = ReadEvaluation(*s, &r.seq);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<ActiveTaskRecord>> Store::LoadActiveTasks() {
  OCX_ASSIGN_OR_RETURN(
      auto s,
      writer_->Prepare(absl::StrCat(
          "SELECT ", kTaskColumns, ", params FROM tasks WHERE state < ",
          static_cast<int>(Task::SUCCEEDED), " ORDER BY eval_id, stage, idx")));
  OCX_ASSIGN_OR_RETURN(
      auto a, writer_->Prepare(absl::StrCat(
                  "SELECT ", kAttemptColumns,
                  " FROM attempts WHERE task_id=? ORDER BY number DESC "
                  "LIMIT 1")));
  std::vector<ActiveTaskRecord> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ActiveTaskRecord r;
    r.task = ReadTask(*s, /*with_params=*/true);
    if (r.task.attempt_count() > 0) {
      a->Bind(1, r.task.id());
      OCX_ASSIGN_OR_RETURN(bool arow, a->Step());
      if (arow) r.last_attempt = ReadAttempt(*a, 0);
      a->Reset();
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, Task::State>>>
Store::TaskStates(const std::string& eval_id) {
  OCX_ASSIGN_OR_RETURN(
      auto s, writer_->Prepare("SELECT id, state FROM tasks WHERE eval_id=?"));
  s->Bind(1, eval_id);
  std::vector<std::pair<std::string, Task::State>> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.emplace_back(s->ColumnText(0),
                     static_cast<Task::State>(s->ColumnInt(1)));
  }
  return out;
}

// ---- Readers ----

absl::StatusOr<std::unique_ptr<Connection>> Store::TakeReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!readers_.empty()) {
      auto conn = std::move(readers_.back());
      readers_.pop_back();
      return conn;
    }
  }
  return Connection::Open(path_, /*read_only=*/true);
}

void Store::ReturnReader(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&readers_mu_);
  if (readers_.size() < 8) readers_.push_back(std::move(conn));
}

// Returns the connection to the pool when it goes out of scope.
class Store::ReadConnection {
 public:
  ReadConnection(Store* store, std::unique_ptr<Connection> conn)
      : store_(store), conn_(std::move(conn)) {}
  ~ReadConnection() { store_->ReturnReader(std::move(conn_)); }
  Connection* operator->() { return conn_.get(); }
  Connection* get() { return conn_.get(); }

 private:
  Store* store_;
  std::unique_ptr<Connection> conn_;
};

absl::Status Store::FillCounts(Connection* conn, Evaluation* e) {
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare("SELECT stage, state, count(*) FROM tasks WHERE "
                            "eval_id=? GROUP BY stage, state ORDER BY stage"));
  s->Bind(1, e->id());
  ocx::v1::StageCounts* current = nullptr;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    auto stage = static_cast<ocx::v1::Stage>(s->ColumnInt(0));
    auto state = static_cast<Task::State>(s->ColumnInt(1));
    int32_t n = static_cast<int32_t>(s->ColumnInt(2));
    if (current == nullptr || current->stage() != stage) {
      current = e->add_stage_counts();
      current->set_stage(stage);
    }
    current->set_total(current->total() + n);
    switch (state) {
      case Task::PENDING:
        current->set_pending(current->pending() + n);
        break;
      case Task::READY:
        current->set_ready(current->ready() + n);
        break;
      case Task::LAUNCHING:
      case Task::RUNNING:
        current->set_running(current->running() + n);
        break;
      case Task::SUCCEEDED:
        current->set_succeeded(current->succeeded() + n);
        break;
      case Task::FAILED:
        current->set_failed(current->failed() + n);
        break;
      case Task::CANCELLED:
        current->set_cancelled(current->cancelled() + n);
        break;
      default:
        break;
    }
  }
  OCX_ASSIGN_OR_RETURN(
      auto ev, conn->Prepare("SELECT max(seq) FROM events WHERE eval_id=?"));
  ev->Bind(1, e->id());
  OCX_ASSIGN_OR_RETURN(bool row, ev->Step());
  if (row && !ev->ColumnIsNull(0)) e->set_last_event_sequence(ev->ColumnInt(0));
  return absl::OkStatus();
}

absl::StatusOr<Evaluation> Store::GetEvaluation(const std::string& id) {
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare(absl::StrCat("SELECT ", kEvaluationColumns,
                                         " FROM evaluations WHERE id=?")));
  s->Bind(1, id);
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("evaluation ", id, " not found"));
  }
  Evaluation e = ReadEvaluation(*s, nullptr);
  OCX_RETURN_IF_ERROR(FillCounts(conn.get(), &e));
  return e;
}

absl::Status Store::CheckEvaluationExists(const std::string& id) {
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  OCX_ASSIGN_OR_RETURN(auto s,
                       conn->Prepare("SELECT 1 FROM evaluations WHERE id=?"));
  s->Bind(1, id);
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("evaluation ", id, " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Evaluation>> Store::ListEvaluations(
    Evaluation::State state, int page_size, const std::string& page_token,
    std::string* next_page_token) {
  if (page_size <= 0) {
    return absl::InvalidArgumentError("page_size: must be positive");
  }
  int64_t before = INT64_MAX;
  if (!page_token.empty() &&
      (!absl::SimpleAtoi(page_token, &before) || before <= 0)) {
    return BadToken(page_token);
  }
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  std::string sql = absl::StrCat("SELECT ", kEvaluationColumns,
                                 " FROM evaluations WHERE seq < ?");
  if (state != Evaluation::STATE_UNSPECIFIED)
    absl::StrAppend(&sql, " AND state=?");
  absl::StrAppend(&sql, " ORDER BY seq DESC LIMIT ?");
  OCX_ASSIGN_OR_RETURN(auto s, conn->Prepare(sql));
  int i = 1;
  s->Bind(i++, before);
  if (state != Evaluation::STATE_UNSPECIFIED) {
    s->Bind(i++, static_cast<int64_t>(state));
  }
  s->Bind(i++, static_cast<int64_t>(page_size + 1));
  std::vector<Evaluation> out;
  std::vector<int64_t> seqs;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    int64_t seq = 0;
    out.push_back(ReadEvaluation(*s, &seq));
    seqs.push_back(seq);
  }
  next_page_token->clear();
  if (static_cast<int>(out.size()) > page_size) {
    out.pop_back();
    *next_page_token = absl::StrCat(seqs[out.size() - 1]);
  }
  for (Evaluation& e : out) {
    e.clear_spec();  // Lists stay small; Get returns the spec.
    OCX_RETURN_IF_ERROR(FillCounts(conn.get(), &e));
  }
  return out;
}

absl::StatusOr<std::vector<Task>> Store::ListTasks(
    const std::string& eval_id, Task::State state, ocx::v1::Stage stage,
    int page_size, const std::string& page_token,
    std::string* next_page_token) {
  if (page_size <= 0) {
    return absl::InvalidArgumentError("page_size: must be positive");
  }
  // Token: "<stage>.<index>" of the last task returned.
  int64_t after_stage = 0, after_idx = -1;
  if (!page_token.empty()) {
    std::vector<std::string> parts = absl::StrSplit(page_token, '.');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after_stage) ||
        !absl::SimpleAtoi(parts[1], &after_idx)) {
      return BadToken(page_token);
    }
  }
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  std::string sql = absl::StrCat(
      "SELECT ", kTaskColumns,
      " FROM tasks WHERE eval_id=? AND (stage > ? OR (stage = ? AND idx > ?))");
  if (state != Task::STATE_UNSPECIFIED) absl::StrAppend(&sql, " AND state=?");
  if (stage != ocx::v1::STAGE_UNSPECIFIED)
    absl::StrAppend(&sql, " AND stage=?");
  absl::StrAppend(&sql, " ORDER BY stage, idx LIMIT ?");
  OCX_ASSIGN_OR_RETURN(auto s, conn->Prepare(sql));
  int i = 1;
  s->Bind(i++, eval_id);
  s->Bind(i++, after_stage);
  s->Bind(i++, after_stage);
  s->Bind(i++, after_idx);
  if (state != Task::STATE_UNSPECIFIED)
    s->Bind(i++, static_cast<int64_t>(state));
  if (stage != ocx::v1::STAGE_UNSPECIFIED) {
    s->Bind(i++, static_cast<int64_t>(stage));
  }
  s->Bind(i++, static_cast<int64_t>(page_size + 1));
  std::vector<Task> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadTask(*s, false));
  }
  next_page_token->clear();
  if (static_cast<int>(out.size()) > page_size) {
    out.pop_back();
    const Task& last = out.back();
    *next_page_token =
        absl::StrCat(static_cast<int>(last.stage()), ".", last.index());
  }
  return out;
}

absl::StatusOr<Task> Store::GetTask(const std::string& id) {
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare(absl::StrCat("SELECT ", kTaskColumns,
                                         ", params FROM tasks WHERE id=?")));
  s->Bind(1, id);
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("task ", id, " not found"));
  Task t = ReadTask(*s, true);
  OCX_ASSIGN_OR_RETURN(auto a,
                       conn->Prepare(absl::StrCat(
                           "SELECT ", kAttemptColumns,
                           " FROM attempts WHERE task_id=? ORDER BY number")));
  a->Bind(1, id);
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool arow, a->Step());
    if (!arow) break;
    *t.add_attempts() = ReadAttempt(*a, 0).attempt;
  }
  return t;
}

absl::StatusOr<Attempt> Store::GetAttempt(const std::string& task_id,
                                          int number) {
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  std::string sql = absl::StrCat("SELECT ", kAttemptColumns,
                                 " FROM attempts WHERE task_id=?");
  absl::StrAppend(
      &sql, number > 0 ? " AND number=?" : " ORDER BY number DESC LIMIT 1");
  OCX_ASSIGN_OR_RETURN(auto s, conn->Prepare(sql));
  s->Bind(1, task_id);
  if (number > 0) s->Bind(2, static_cast<int64_t>(number));
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    return absl::NotFoundError(
        number > 0 ? absl::StrCat("task ", task_id, " has no attempt ", number)
                   : absl::StrCat("task ", task_id, " has not started yet"));
  }
  return ReadAttempt(*s, 0).attempt;
}

absl::StatusOr<std::vector<ocx::v1::Event>> Store::ListEvents(
    const std::string& eval_id, int64_t after_sequence, int limit) {
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare("SELECT seq, time_ms, eval_id, task_id, attempt, "
                            "state, message FROM events WHERE eval_id=? AND "
                            "seq > ? ORDER BY seq LIMIT ?"));
  s->Bind(1, eval_id)
      .Bind(2, after_sequence)
      .Bind(3, static_cast<int64_t>(limit));
  std::vector<ocx::v1::Event> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ocx::v1::Event e;
    e.set_sequence(s->ColumnInt(0));
    if (int64_t ms = s->ColumnInt(1); ms > 0) {
      SetTimestamp(ms, e.mutable_time());
    }
    e.set_evaluation_id(s->ColumnText(2));
    e.set_task_id(s->ColumnText(3));
    e.set_attempt(static_cast<int32_t>(s->ColumnInt(4)));
    e.set_state(s->ColumnText(5));
    e.set_message(s->ColumnText(6));
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::optional<int64_t>> Store::LookupDatasetSize(
    const std::string& path, const std::string& reader, int64_t file_size,
    int64_t mtime_ns) {
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare("SELECT num_samples FROM dataset_sizes WHERE "
                            "path=? AND reader=? AND file_size=? AND "
                            "mtime_ns=?"));
  s->Bind(1, path).Bind(2, reader).Bind(3, file_size).Bind(4, mtime_ns);
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s->ColumnInt(0));
}

absl::StatusOr<std::vector<std::optional<OutputRecord>>> Store::GetOutputs(
    const std::vector<std::string>& paths) {
  std::vector<std::optional<OutputRecord>> out(paths.size());
  if (paths.empty()) return out;
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  ReadConnection conn(this, std::move(raw));
  // One read transaction: every lookup sees the same snapshot.
  OCX_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  auto lookup = [&]() -> absl::Status {
    OCX_ASSIGN_OR_RETURN(
        auto s, conn->Prepare("SELECT fingerprint, size, mtime_ns, task_id "
                              "FROM outputs WHERE path=?"));
    for (size_t i = 0; i < paths.size(); ++i) {
      s->Bind(1, paths[i]);
      absl::StatusOr<bool> row = s->Step();
      if (row.ok() && *row) {
        OutputRecord& r = out[i].emplace();
        r.path = paths[i];
        r.fingerprint = s->ColumnText(0);
        r.size = s->ColumnInt(1);
        r.mtime_ns = s->ColumnInt(2);
        r.task_id = s->ColumnText(3);
      }
      s->Reset();
      if (!row.ok()) return row.status();
    }
    return absl::OkStatus();
  };
  absl::Status status = lookup();
  conn->Exec("COMMIT").IgnoreError();
  if (!status.ok()) return status;
  return out;
}

}  // namespace ocx::store
