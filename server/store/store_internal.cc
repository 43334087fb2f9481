#include "server/store/store_internal.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/task_params.h"
#include "common/time_util.h"

namespace ocx::store::internal {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;

std::vector<std::string> SplitList(const std::string& joined) {
  if (joined.empty()) return {};
  return absl::StrSplit(joined, ',');
}

static_assert(Evaluation::QUEUED == 1 && Evaluation::RUNNING == 2 &&
                  Evaluation::CANCELLING == 5,
              "kEvaluationIsActive names these states by number");

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
  ReadTime(s, 12, &t, &Task::mutable_create_time);
  ReadTime(s, 13, &t, &Task::mutable_start_time);
  ReadTime(s, 14, &t, &Task::mutable_end_time);
  ReadTime(s, 15, &t, &Task::mutable_next_attempt_time);
  t.set_reason(s.ColumnText(16));
  // Empty when the query did not select them (LoadActiveTasks).
  if (const std::string params = with_params ? s.ColumnBlob(17) : "";
      !params.empty()) {
    t.mutable_params()->ParseFromString(params);
    FillTaskParamsIds(t.evaluation_id(), t.id(), t.stage(), s.ColumnText(18),
                      t.mutable_params());
  }
  return t;
}

Evaluation ReadEvaluation(const Statement& s, int64_t* seq) {
  Evaluation e;
  if (seq != nullptr) *seq = s.ColumnInt(0);
  e.set_id(s.ColumnText(1));
  e.set_name(s.ColumnText(2));
  e.set_request_id(s.ColumnText(3));
  e.set_state(static_cast<Evaluation::State>(s.ColumnInt(4)));
  // Empty when not selected (kEvaluationColumnsNoSpec): no spec at all.
  if (const std::string spec = s.ColumnBlob(5); !spec.empty()) {
    e.mutable_spec()->ParseFromString(spec);
  }
  e.set_work_dir(s.ColumnText(6));
  e.set_task_count(static_cast<int32_t>(s.ColumnInt(7)));
  ReadTime(s, 8, &e, &Evaluation::mutable_create_time);
  ReadTime(s, 9, &e, &Evaluation::mutable_update_time);
  ReadTime(s, 10, &e, &Evaluation::mutable_end_time);
  ocx::v1::Owner owner = ReadOwner(s, 11);
  if (!owner.user().empty()) *e.mutable_owner() = std::move(owner);
  e.set_rescored_from(s.ColumnText(14));
  e.set_predictions_work_dir(s.ColumnText(15));
  return e;
}

int64_t OwnerUidColumn(const ocx::v1::Owner& owner) {
  return owner.user().empty() ? -1 : owner.uid();
}

ocx::v1::Owner ReadOwner(const Statement& s, int first) {
  ocx::v1::Owner owner;
  if (s.ColumnIsNull(first) || s.ColumnText(first).empty()) return owner;
  owner.set_user(s.ColumnText(first));
  owner.set_uid(s.ColumnInt(first + 1));
  owner.set_gid(s.ColumnInt(first + 2));
  return owner;
}

namespace {

// The 14 columns both attempt tables share, from `first`.
AttemptRecord ReadAttemptFields(const Statement& s, int first) {
  AttemptRecord r;
  Attempt& a = r.attempt;
  a.set_task_id(s.ColumnText(first + 0));
  a.set_number(static_cast<int32_t>(s.ColumnInt(first + 1)));
  a.set_state(static_cast<Attempt::State>(s.ColumnInt(first + 2)));
  a.set_name(s.ColumnText(first + 3));
  a.set_backend(s.ColumnText(first + 4));
  a.set_backend_id(s.ColumnText(first + 5));
  ReadTime(s, first + 6, &a, &Attempt::mutable_start_time);
  ReadTime(s, first + 7, &a, &Attempt::mutable_end_time);
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

}  // namespace

AttemptRecord ReadAttempt(const Statement& s, int first) {
  AttemptRecord r = ReadAttemptFields(s, first);
  r.attempt.set_replica_id(s.ColumnText(first + 14));
  return r;
}

AttemptRecord ReadReplicaAttempt(const Statement& s, int first) {
  return ReadAttemptFields(s, first);
}

void BindAttempt(const AttemptRecord& r, Statement* s) {
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
}

absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(
    Connection* conn, const AttemptTable& table, const std::string& owner) {
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare(absl::StrCat(
                  "SELECT ", table.columns, " FROM ", table.table, " WHERE ",
                  table.owner_column, "=? ORDER BY number")));
  s->Bind(1, owner);
  std::vector<AttemptRecord> out;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(table.read(*s, 0));
  }
  return out;
}

absl::StatusOr<AttemptRecord> SelectAttempt(Connection* conn,
                                            const AttemptTable& table,
                                            const std::string& owner,
                                            int number) {
  std::string sql =
      absl::StrCat("SELECT ", table.columns, " FROM ", table.table, " WHERE ",
                   table.owner_column, "=?");
  absl::StrAppend(
      &sql, number > 0 ? " AND number=?" : " ORDER BY number DESC LIMIT 1");
  OCX_ASSIGN_OR_RETURN(auto s, conn->Prepare(sql));
  s->Bind(1, owner);
  if (number > 0) s->Bind(2, static_cast<int64_t>(number));
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    return absl::NotFoundError(number > 0
                                   ? absl::StrCat(table.owner_kind, " ", owner,
                                                  " has no attempt ", number)
                                   : absl::StrCat(table.owner_kind, " ", owner,
                                                  " has not started yet"));
  }
  return table.read(*s, 0);
}

absl::StatusOr<std::unique_ptr<Statement>> SelectById(Connection* conn,
                                                      const std::string& sql,
                                                      const std::string& id,
                                                      absl::string_view what) {
  OCX_ASSIGN_OR_RETURN(std::unique_ptr<Statement> s, conn->Prepare(sql));
  s->Bind(1, id);
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
  }
  return s;
}

}  // namespace ocx::store::internal
