// Store: evaluation rows (writes, recovery loads, reads with counts).
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace ocx::store {

using internal::kEvaluationColumns;
using internal::kFindRequest;
using internal::kInsertEvaluation;
using internal::kUpdateEvaluation;
using internal::ReadEvaluation;
using ocx::v1::Evaluation;
using ocx::v1::Task;

absl::StatusOr<int64_t> Store::InsertEvaluation(
    const Evaluation& e, const std::string& request_hash) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(
          kInsertEvaluation,
          "INSERT INTO evaluations (id, name, owner_request_id, state, spec, "
          "work_dir, task_count, create_ms, update_ms, end_ms, "
          "request_hash, owner_user, owner_uid, owner_gid, rescored_from, "
          "predictions_work_dir) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  s->Bind(1, e.id()).Bind(2, e.name());
  if (e.request_id().empty()) {
    s->BindNull(3);
  } else {
    s->Bind(3, e.request_id());
  }
  if (request_hash.empty()) {
    s->BindNull(11);
  } else {
    s->Bind(11, request_hash);
  }
  s->Bind(4, static_cast<int64_t>(e.state()))
      .BindBlob(5, e.spec().SerializeAsString())
      .Bind(6, e.work_dir())
      .Bind(7, static_cast<int64_t>(e.task_count()))
      .Bind(8, TimestampMillis(e.create_time()))
      .Bind(9, TimestampMillis(e.update_time()))
      .Bind(10, TimestampMillis(e.end_time()))
      .Bind(12, e.owner().user())
      .Bind(13, internal::OwnerUidColumn(e.owner()))
      .Bind(14, e.owner().user().empty() ? int64_t{-1} : e.owner().gid())
      .Bind(15, e.rescored_from())
      .Bind(16, e.predictions_work_dir());
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

absl::StatusOr<std::optional<RequestRecord>> Store::FindByRequestId(
    const ocx::v1::Owner& owner, const std::string& request_id) {
  OCX_ASSIGN_OR_RETURN(Statement * s,
                       Cached(kFindRequest,
                              "SELECT id, request_hash FROM evaluations "
                              "WHERE owner_uid=? AND owner_request_id=?"));
  s->Bind(1, internal::OwnerUidColumn(owner)).Bind(2, request_id);
  absl::StatusOr<bool> row = s->Step();
  std::optional<RequestRecord> found;
  if (row.ok() && *row) {
    found = RequestRecord{s->ColumnText(0),
                          s->ColumnIsNull(1) ? "" : s->ColumnText(1)};
  }
  s->Reset();
  if (!row.ok()) return row.status();
  return found;
}

absl::StatusOr<std::vector<ActiveEvaluationRecord>>
Store::LoadActiveEvaluations() {
  OCX_ASSIGN_OR_RETURN(
      auto s, writer_->Prepare(absl::StrCat(
                  "SELECT ", kEvaluationColumns, " FROM evaluations WHERE ",
                  internal::kEvaluationIsActive, " ORDER BY seq")));
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

absl::Status Store::FillCounts(Connection* conn, Evaluation* e) {
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare("SELECT stage, state, n FROM task_counts WHERE "
                            "eval_id=? AND n > 0 ORDER BY stage, state"));
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

absl::StatusOr<Evaluation> Store::SelectEvaluation(Connection* conn,
                                                   const std::string& id,
                                                   bool with_spec) {
  OCX_ASSIGN_OR_RETURN(
      auto s, internal::SelectById(
                  conn,
                  absl::StrCat("SELECT ",
                               with_spec ? kEvaluationColumns
                                         : internal::kEvaluationColumnsNoSpec,
                               " FROM evaluations WHERE id=?"),
                  id, "evaluation"));
  Evaluation e = ReadEvaluation(*s, nullptr);
  OCX_RETURN_IF_ERROR(FillCounts(conn, &e));
  return e;
}

absl::StatusOr<Evaluation> Store::GetEvaluation(const std::string& id,
                                                bool with_spec) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  return SelectEvaluation(conn.get(), id, with_spec);
}

absl::Status Store::CheckEvaluationExists(const std::string& id) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  return internal::SelectById(conn.get(),
                              "SELECT 1 FROM evaluations WHERE id=?", id,
                              "evaluation")
      .status();
}

absl::StatusOr<std::vector<Evaluation>> Store::ListEvaluations(
    Evaluation::State state, int page_size, const std::string& page_token,
    std::string* next_page_token) {
  EvaluationFilter filter;
  filter.state = state;
  return ListEvaluations(filter, page_size, page_token, next_page_token);
}

absl::StatusOr<std::vector<Evaluation>> Store::ListEvaluations(
    const EvaluationFilter& filter, int page_size,
    const std::string& page_token, std::string* next_page_token) {
  if (page_size <= 0) {
    return absl::InvalidArgumentError("page_size: must be positive");
  }
  const Evaluation::State state = filter.state;
  // The token holds the seq of the last evaluation returned.
  const std::string scope =
      absl::StrCat("evaluations state=", state,
                   " owners=", absl::StrJoin(filter.owner_uids, ","));
  int64_t before = INT64_MAX;
  if (!page_token.empty()) {
    OCX_ASSIGN_OR_RETURN(std::string position,
                         internal::ReadPageToken(page_token, scope));
    if (!absl::SimpleAtoi(position, &before) || before <= 0) {
      return absl::InvalidArgumentError("page_token: malformed position");
    }
  }
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  // Lists stay small: Get returns the spec.
  std::string sql = absl::StrCat("SELECT ", internal::kEvaluationColumnsNoSpec,
                                 " FROM evaluations WHERE seq < ?");
  if (state != Evaluation::STATE_UNSPECIFIED)
    absl::StrAppend(&sql, " AND state=?");
  if (!filter.owner_uids.empty()) {
    std::vector<std::string> marks(filter.owner_uids.size(), "?");
    absl::StrAppend(&sql, " AND owner_uid IN (", absl::StrJoin(marks, ","),
                    ")");
  }
  absl::StrAppend(&sql, " ORDER BY seq DESC LIMIT ?");
  OCX_ASSIGN_OR_RETURN(auto s, conn->Prepare(sql));
  int i = 1;
  s->Bind(i++, before);
  if (state != Evaluation::STATE_UNSPECIFIED) {
    s->Bind(i++, static_cast<int64_t>(state));
  }
  for (int64_t uid : filter.owner_uids) s->Bind(i++, uid);
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
    *next_page_token =
        internal::MakePageToken(scope, absl::StrCat(seqs[out.size() - 1]));
  }
  for (Evaluation& e : out) {
    OCX_RETURN_IF_ERROR(FillCounts(conn.get(), &e));
  }
  return out;
}

}  // namespace ocx::store
