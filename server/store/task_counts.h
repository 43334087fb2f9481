// Tasks by (stage, state), kept in memory so that /metrics need not count
// every task row at each scrape (with a million tasks stored a GROUP BY
// takes most of a second; reading these is a map copy).
//
// The counts are seeded when the store opens from the per-evaluation
// task_counts table (schema 8; a few rows per evaluation), then follow
// every insert and update of a task row the writer connection makes,
// through SQLite's pre-update hook (old and new row values, whichever
// statement made the change). Changes are held per transaction and become
// visible at COMMIT (the commit hook); ROLLBACK drops them, and the store's
// savepoints mark and restore them (ROLLBACK TO fires no hook).
//
// Thread safety: the hooks and Mark/ReleaseMark/RollbackToMark run on the
// writer's thread; Snapshot is thread-safe.
#ifndef OCX_SERVER_STORE_TASK_COUNTS_H_
#define OCX_SERVER_STORE_TASK_COUNTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/sqlite.h"

namespace ocx::store {

class TaskCounts {
 public:
  // (stage, task state) -> tasks.
  using Map = std::map<std::pair<int, int>, int64_t>;

  // Seeds the counts from `writer` and hooks it; nullptr when this SQLite
  // was built without the pre-update hook (the caller counts rows instead).
  // `writer` must outlive the result, which unhooks it when destroyed.
  static absl::StatusOr<std::unique_ptr<TaskCounts>> Attach(Connection* writer);
  ~TaskCounts();
  TaskCounts(const TaskCounts&) = delete;
  TaskCounts& operator=(const TaskCounts&) = delete;

  // A savepoint began, was released, was rolled back to.
  void Mark();
  void ReleaseMark();
  void RollbackToMark();

  // The committed counts.
  Map Snapshot() const;

 private:
  explicit TaskCounts(Connection* writer) : writer_(writer) {}
  void Hook();
  void Changed(int op);
  void Committed();
  void RolledBack();

  Connection* const writer_;
  // Writer thread only: this transaction's changes, and the changes as
  // they were when each open savepoint began.
  Map pending_;
  std::vector<Map> marks_;
  mutable absl::Mutex mu_;
  Map committed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocx::store

#endif  // OCX_SERVER_STORE_TASK_COUNTS_H_
