// The pre-update hook is declared only with this macro; CMake defines
// OCX_HAVE_SQLITE_PREUPDATE_HOOK when the library has it (Debian's does).
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "server/store/task_counts.h"

#include <string.h>

#include "common/status_macros.h"

namespace ocx::store {
namespace {

// Columns of the tasks table (server/store/schema.cc, migration 0 -> 1).
constexpr int kStageColumn = 2;
constexpr int kStateColumn = 5;

}  // namespace

absl::StatusOr<std::unique_ptr<TaskCounts>> TaskCounts::Attach(
    Connection* writer) {
#ifndef OCX_HAVE_SQLITE_PREUPDATE_HOOK
  (void)writer;
  return nullptr;
#else
  std::unique_ptr<TaskCounts> counts(new TaskCounts(writer));
  OCX_ASSIGN_OR_RETURN(
      auto stmt, writer->Prepare(
                     "SELECT stage, state, sum(n) FROM task_counts GROUP BY 1, 2"));
  while (true) {
    OCX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    absl::MutexLock lock(&counts->mu_);
    counts->committed_[{static_cast<int>(stmt->ColumnInt(0)),
                        static_cast<int>(stmt->ColumnInt(1))}] =
        stmt->ColumnInt(2);
  }
  counts->Hook();
  return counts;
#endif
}

#ifdef OCX_HAVE_SQLITE_PREUPDATE_HOOK
void TaskCounts::Hook() {
  sqlite3* db = writer_->raw();
  sqlite3_preupdate_hook(
      db,
      [](void* self, sqlite3*, int op, const char* db_name, const char* table,
         sqlite3_int64, sqlite3_int64) {
        if (strcmp(table, "tasks") == 0 && strcmp(db_name, "main") == 0) {
          static_cast<TaskCounts*>(self)->Changed(op);
        }
      },
      this);
  sqlite3_commit_hook(
      db,
      [](void* self) {
        static_cast<TaskCounts*>(self)->Committed();
        return 0;  // 0: let the commit proceed
      },
      this);
  sqlite3_rollback_hook(
      db, [](void* self) { static_cast<TaskCounts*>(self)->RolledBack(); },
      this);
}

TaskCounts::~TaskCounts() {
  sqlite3* db = writer_->raw();
  sqlite3_preupdate_hook(db, nullptr, nullptr);
  sqlite3_commit_hook(db, nullptr, nullptr);
  sqlite3_rollback_hook(db, nullptr, nullptr);
}

void TaskCounts::Changed(int op) {
  sqlite3* db = writer_->raw();
  auto key = [](sqlite3_value* stage, sqlite3_value* state) {
    return std::pair<int, int>{sqlite3_value_int(stage),
                               sqlite3_value_int(state)};
  };
  sqlite3_value* stage = nullptr;
  sqlite3_value* state = nullptr;
  if (op != SQLITE_INSERT &&
      sqlite3_preupdate_old(db, kStageColumn, &stage) == SQLITE_OK &&
      sqlite3_preupdate_old(db, kStateColumn, &state) == SQLITE_OK) {
    --pending_[key(stage, state)];
  }
  if (op != SQLITE_DELETE &&
      sqlite3_preupdate_new(db, kStageColumn, &stage) == SQLITE_OK &&
      sqlite3_preupdate_new(db, kStateColumn, &state) == SQLITE_OK) {
    ++pending_[key(stage, state)];
  }
}
#else
void TaskCounts::Hook() {}
TaskCounts::~TaskCounts() = default;
void TaskCounts::Changed(int) {}
#endif

void TaskCounts::Committed() {
  if (!pending_.empty()) {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, delta] : pending_) {
      if (delta != 0) committed_[key] += delta;
    }
  }
  pending_.clear();
  marks_.clear();
}

void TaskCounts::RolledBack() {
  pending_.clear();
  marks_.clear();
}

void TaskCounts::Mark() { marks_.push_back(pending_); }

void TaskCounts::ReleaseMark() {
  if (!marks_.empty()) marks_.pop_back();
}

void TaskCounts::RollbackToMark() {
  if (marks_.empty()) return;
  pending_ = std::move(marks_.back());
  marks_.pop_back();
}

TaskCounts::Map TaskCounts::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

}  // namespace ocx::store
