// Store: the event log.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace ocx::store {

using internal::kAppendEvent;

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
  const int64_t seq = writer_->LastInsertRowId();
  // A savepoint rolled back leaves its events here: a watcher then reads
  // once for nothing, which is harmless.
  uncommitted_events_[e.evaluation_id()] = seq;  // sequences only grow
  // Outside a transaction the insert is already committed.
  if (sqlite3_get_autocommit(writer_->raw()) != 0) {
    PublishEvents();
    uncommitted_events_.clear();
  }
  return seq;
}

namespace {

absl::StatusOr<std::vector<ocx::v1::Event>> SelectEvents(
    Connection* conn, const std::string& eval_id, int64_t after_sequence,
    int limit) {
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
    internal::ReadTime(*s, 1, &e, &ocx::v1::Event::mutable_time);
    e.set_evaluation_id(s->ColumnText(2));
    e.set_task_id(s->ColumnText(3));
    e.set_attempt(static_cast<int32_t>(s->ColumnInt(4)));
    e.set_state(s->ColumnText(5));
    e.set_message(s->ColumnText(6));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ocx::v1::Event>> Store::ListEvents(
    const std::string& eval_id, int64_t after_sequence, int limit) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  return SelectEvents(conn.get(), eval_id, after_sequence, limit);
}

absl::StatusOr<EvaluationWithEvents> Store::GetEvaluationWithEvents(
    const std::string& id, int64_t after_sequence, int limit) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  // One read transaction: both reads see the same committed state, so the
  // snapshot is never older (or newer) than the events read with it.
  OCX_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  auto read = [&]() -> absl::StatusOr<EvaluationWithEvents> {
    EvaluationWithEvents out;
    OCX_ASSIGN_OR_RETURN(out.evaluation, SelectEvaluation(conn.get(), id));
    OCX_ASSIGN_OR_RETURN(out.events,
                         SelectEvents(conn.get(), id, after_sequence, limit));
    return out;
  };
  absl::StatusOr<EvaluationWithEvents> out = read();
  absl::Status ended = conn->Exec(out.ok() ? "COMMIT" : "ROLLBACK");
  if (out.ok() && !ended.ok()) return ended;
  return out;
}

}  // namespace ocx::store
