// Store: task and attempt rows.
#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/task_params.h"
#include "common/time_util.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace ocx::store {

using internal::kAddTaskCount;
using internal::kAttemptColumns;
using internal::kEvaluationWorkDir;
using internal::kInsertTask;
using internal::kPutAttempt;
using internal::kTaskColumns;
using internal::kTaskParams;
using internal::kUpdateTask;
using internal::ReadAttempt;
using internal::ReadTask;
using ocx::v1::Attempt;
using ocx::v1::Task;

absl::Status Store::InsertTask(const Task& t) {
  OCX_RETURN_IF_ERROR(InsertTaskRow(t));
  return AddTaskCount(t.evaluation_id(), t.stage(), t.state(), 1);
}

absl::Status Store::InsertTasks(const std::vector<Task>& tasks) {
  std::map<std::tuple<std::string, int, int>, int64_t> counts;
  for (const Task& t : tasks) {
    OCX_RETURN_IF_ERROR(InsertTaskRow(t));
    ++counts[{t.evaluation_id(), t.stage(), t.state()}];
  }
  for (const auto& [key, n] : counts) {
    const auto& [eval_id, stage, state] = key;
    OCX_RETURN_IF_ERROR(AddTaskCount(eval_id, stage, state, n));
  }
  return absl::OkStatus();
}

absl::Status Store::AddTaskCount(const std::string& eval_id, int stage,
                                 int state, int64_t n) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kAddTaskCount,
             "INSERT INTO task_counts (eval_id, stage, state, n) "
             "VALUES (?,?,?,?) ON CONFLICT (eval_id, stage, state) "
             "DO UPDATE SET n = n + excluded.n"));
  s->Bind(1, eval_id)
      .Bind(2, static_cast<int64_t>(stage))
      .Bind(3, static_cast<int64_t>(state))
      .Bind(4, n);
  return s->Run();
}

namespace {

constexpr char kInsertTaskSql[] =
    "INSERT INTO tasks (id, eval_id, stage, idx, name, state, model_abbr, "
    "dataset_abbrs, depends_on, num_gpus, attempt_count, max_attempts, "
    "create_ms, start_ms, end_ms, next_attempt_ms, reason, params) VALUES "
    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

}  // namespace

absl::Status Store::InsertTaskRow(const Task& t) {
  OCX_ASSIGN_OR_RETURN(Statement * s, Cached(kInsertTask, kInsertTaskSql));
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

absl::Status Store::InsertTaskRows(const TaskRows& rows, int64_t now_ms) {
  OCX_ASSIGN_OR_RETURN(Statement * s, Cached(kInsertTask, kInsertTaskSql));
  // Counts by (stage, state) of each evaluation, added once at the end.
  std::map<std::tuple<std::string, int, int>, int64_t> counts;
  std::tuple<std::string, int, int> key;
  int64_t n = 0;
  // In primary-key order: the table's b-tree then grows at its right edge
  // (ids sort as text, "-infer-10" before "-infer-2", so plan order is not
  // key order).
  std::vector<absl::string_view> ids(rows.size());
  std::vector<uint32_t> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ids[i] = rows.View(i).id;
    order[i] = static_cast<uint32_t>(i);
  }
  std::sort(order.begin(), order.end(),
            [&ids](uint32_t a, uint32_t b) { return ids[a] < ids[b]; });
  for (uint32_t i : order) {
    const TaskRowView r = rows.View(i);
    s->BindTextStatic(1, r.id)
        .BindTextStatic(2, r.evaluation_id)
        .Bind(3, r.stage)
        .Bind(4, r.index)
        .BindTextStatic(5, r.name)
        .Bind(6, r.state)
        .BindTextStatic(7, r.model_abbr)
        .BindTextStatic(8, r.dataset_abbrs)
        .BindTextStatic(9, r.depends_on)
        .Bind(10, r.num_gpus)
        .Bind(11, int64_t{0})
        .Bind(12, r.max_attempts)
        .Bind(13, now_ms)
        .Bind(14, int64_t{0})
        .Bind(15, r.state == Task::SUCCEEDED ? now_ms : 0)
        .Bind(16, int64_t{0})
        .BindTextStatic(17, r.reason)
        .BindBlobStatic(18, r.params);
    OCX_RETURN_IF_ERROR(s->Run());
    if (std::get<0>(key) != r.evaluation_id || std::get<1>(key) != r.stage ||
        std::get<2>(key) != r.state) {
      if (n > 0) counts[key] += n;
      key = {std::string(r.evaluation_id), r.stage, r.state};
      n = 0;
    }
    ++n;
  }
  if (n > 0) counts[key] += n;
  for (const auto& [k, count] : counts) {
    OCX_RETURN_IF_ERROR(
        AddTaskCount(std::get<0>(k), std::get<1>(k), std::get<2>(k), count));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Store::CancelQueuedTasks(const std::string& eval_id,
                                                 const std::string& reason,
                                                 int64_t end_ms) {
  // Rare (a cancel): prepared each time, not cached. tasks_by_eval finds
  // the evaluation's rows; the task_counts triggers follow each row.
  OCX_ASSIGN_OR_RETURN(
      std::unique_ptr<Statement> s,
      writer_->Prepare(
          absl::StrCat("UPDATE tasks SET state=", Task::CANCELLED,
                       ", end_ms=?, reason=? WHERE eval_id=? AND state IN (",
                       Task::PENDING, ",", Task::READY, ")")));
  s->Bind(1, end_ms).Bind(2, reason).Bind(3, eval_id);
  OCX_RETURN_IF_ERROR(s->Run());
  return static_cast<int64_t>(writer_->Changes());
}

absl::Status Store::UpdateTask(const Task& t) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kUpdateTask,
             "UPDATE tasks SET state=?, attempt_count=?, start_ms=?, "
             "end_ms=?, next_attempt_ms=?, reason=?, max_attempts=? "
             "WHERE id=?"));
  s->Bind(1, static_cast<int64_t>(t.state()))
      .Bind(2, static_cast<int64_t>(t.attempt_count()))
      .Bind(3, TimestampMillis(t.start_time()))
      .Bind(4, TimestampMillis(t.end_time()))
      .Bind(5, TimestampMillis(t.next_attempt_time()))
      .Bind(6, t.reason())
      .Bind(7, static_cast<int64_t>(t.max_attempts()))
      .Bind(8, t.id());
  return s->Run();
}

absl::Status Store::PutAttempt(const AttemptRecord& r) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutAttempt,
             absl::StrCat("INSERT OR REPLACE INTO attempts (", kAttemptColumns,
                          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
                 .c_str()));
  internal::BindAttempt(r, s);
  s->Bind(15, r.attempt.replica_id());
  return s->Run();
}

absl::StatusOr<std::vector<ActiveTaskRecord>> Store::LoadActiveTasks() {
  // Params only of tasks with an attempt under way.
  const std::string live =
      absl::StrCat("state >= ", static_cast<int>(Task::LAUNCHING));
  OCX_ASSIGN_OR_RETURN(
      auto s,
      writer_->Prepare(absl::StrCat(
          "SELECT ", kTaskColumns, ", CASE WHEN ", live,
          " THEN params ELSE x'' END, CASE WHEN ", live, " THEN ",
          kEvaluationWorkDir,
          " ELSE '' END FROM tasks WHERE eval_id IN (SELECT id FROM "
          "evaluations WHERE ",
          internal::kEvaluationIsActive, ") AND state < ",
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

absl::Status Store::ReadTaskDetails(Task* task) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(
          kTaskParams,
          absl::StrCat("SELECT name, dataset_abbrs, params, eval_id, stage, ",
                       kEvaluationWorkDir, " FROM tasks WHERE id=?")
              .c_str()));
  s->Bind(1, task->id());
  absl::StatusOr<bool> row = s->Step();
  if (row.ok() && *row) {
    task->set_name(s->ColumnText(0));
    task->clear_dataset_abbrs();
    for (std::string& abbr : internal::SplitList(s->ColumnText(1))) {
      task->add_dataset_abbrs(std::move(abbr));
    }
    task->mutable_params()->ParseFromString(s->ColumnBlob(2));
    FillTaskParamsIds(s->ColumnText(3), task->id(),
                      static_cast<ocx::v1::Stage>(s->ColumnInt(4)),
                      s->ColumnText(5), task->mutable_params());
  }
  s->Reset();
  if (!row.ok()) return row.status();
  if (!*row) {
    return absl::NotFoundError(absl::StrCat("task ", task->id(), " not found"));
  }
  return absl::OkStatus();
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

absl::StatusOr<std::vector<Task>> Store::ListTasks(
    const std::string& eval_id, Task::State state, ocx::v1::Stage stage,
    int page_size, const std::string& page_token, std::string* next_page_token,
    int64_t max_bytes) {
  if (page_size <= 0) {
    return absl::InvalidArgumentError("page_size: must be positive");
  }
  // The token holds "<stage>.<index>" of the last task returned.
  const std::string scope =
      absl::StrCat("tasks ", eval_id, " state=", state, " stage=", stage);
  int64_t after_stage = 0, after_idx = -1;
  if (!page_token.empty()) {
    OCX_ASSIGN_OR_RETURN(std::string position,
                         internal::ReadPageToken(page_token, scope));
    std::vector<std::string> parts = absl::StrSplit(position, '.');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after_stage) ||
        !absl::SimpleAtoi(parts[1], &after_idx)) {
      return absl::InvalidArgumentError("page_token: malformed position");
    }
  }
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
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
  int64_t bytes = 0;
  bool cut = false;
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    Task t = ReadTask(*s, false);
    bytes += static_cast<int64_t>(t.ByteSizeLong()) + 8;
    if (max_bytes > 0 && bytes > max_bytes && !out.empty()) {
      cut = true;
      break;
    }
    out.push_back(std::move(t));
  }
  next_page_token->clear();
  if (cut || static_cast<int>(out.size()) > page_size) {
    if (!cut) out.pop_back();
    const Task& last = out.back();
    *next_page_token = internal::MakePageToken(
        scope, absl::StrCat(static_cast<int>(last.stage()), ".", last.index()));
  }
  return out;
}

absl::StatusOr<Task> Store::GetTask(const std::string& id) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  OCX_ASSIGN_OR_RETURN(
      auto s, internal::SelectById(
                  conn.get(),
                  absl::StrCat("SELECT ", kTaskColumns, ", params, ",
                               kEvaluationWorkDir, " FROM tasks WHERE id=?"),
                  id, "task"));
  Task t = ReadTask(*s, true);
  if (t.params().has_refs()) {
    // Stored by reference: the configs are in the evaluation's spec.
    OCX_ASSIGN_OR_RETURN(
        auto e, internal::SelectById(conn.get(),
                                     "SELECT spec FROM evaluations WHERE id=?",
                                     t.evaluation_id(), "evaluation"));
    ocx::v1::EvaluationSpec spec;
    spec.ParseFromString(e->ColumnBlob(0));
    OCX_RETURN_IF_ERROR(ExpandTaskParams(spec, t.mutable_params()));
  }
  OCX_ASSIGN_OR_RETURN(
      std::vector<AttemptRecord> attempts,
      internal::ListAttempts(conn.get(), internal::kTaskAttempts, id));
  for (AttemptRecord& r : attempts) *t.add_attempts() = std::move(r.attempt);
  return t;
}

absl::StatusOr<Attempt> Store::GetAttempt(const std::string& task_id,
                                          int number) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  OCX_ASSIGN_OR_RETURN(AttemptRecord r, internal::SelectAttempt(
                                            conn.get(), internal::kTaskAttempts,
                                            task_id, number));
  return std::move(r.attempt);
}

}  // namespace ocx::store
