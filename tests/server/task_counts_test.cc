// The task counts /metrics reads (server/store/task_counts.h) against a
// GROUP BY of the real table: seeded when a store opens, following inserts
// and updates, visible only once committed, undone by a rollback and by a
// savepoint rolled back to.
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/store_test_util.h"

namespace ocx::store {
namespace {

using ::ocx::store::testing::MakeEvaluation;
using ::ocx::store::testing::MakeTask;
using ::ocx::store::testing::TempDir;
using ::ocx::v1::Task;

constexpr int kInfer = ocx::v1::STAGE_INFER;
constexpr int kEval = ocx::v1::STAGE_EVAL;

// The non-zero counts, as CountByState gives them.
std::map<std::pair<int, int>, int64_t> Counted(Store* store) {
  absl::StatusOr<Store::Counts> counts = store->CountByState();
  EXPECT_TRUE(counts.ok()) << counts.status();
  std::map<std::pair<int, int>, int64_t> out;
  if (!counts.ok()) return out;
  for (const auto& [key, n] : counts->tasks) {
    if (n != 0) out[key] = n;
  }
  return out;
}

// The same by a GROUP BY on a connection of its own.
std::map<std::pair<int, int>, int64_t> Grouped(const std::string& path) {
  std::map<std::pair<int, int>, int64_t> out;
  auto conn = Connection::Open(path, /*read_only=*/true);
  EXPECT_TRUE(conn.ok()) << conn.status();
  auto stmt = (*conn)->Prepare(
      "SELECT stage, state, count(*) FROM tasks GROUP BY 1, 2");
  EXPECT_TRUE(stmt.ok()) << stmt.status();
  while (true) {
    auto row = (*stmt)->Step();
    if (!row.ok() || !*row) break;
    out[{static_cast<int>((*stmt)->ColumnInt(0)),
         static_cast<int>((*stmt)->ColumnInt(1))}] = (*stmt)->ColumnInt(2);
  }
  return out;
}

class TaskCountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::Open(path());
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
    ASSERT_TRUE(store_->Begin().ok());
    ASSERT_TRUE(store_->InsertEvaluation(MakeEvaluation("e1")).ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(
          store_
              ->InsertTask(MakeTask("e1", ocx::v1::STAGE_INFER, i, Task::READY))
              .ok());
      ASSERT_TRUE(store_
                      ->InsertTask(
                          MakeTask("e1", ocx::v1::STAGE_EVAL, i, Task::PENDING))
                      .ok());
    }
    ASSERT_TRUE(store_->Commit().ok());
  }
  std::string path() const { return dir_.path() + "/ocx.db"; }
  absl::Status SetState(const std::string& id, Task::State state) {
    Task t = MakeTask("e1", ocx::v1::STAGE_INFER, id.back() - '0');
    t.set_state(state);
    return store_->UpdateTask(t);
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(TaskCountsTest, FollowCommittedInsertsAndUpdates) {
  using Counts = std::map<std::pair<int, int>, int64_t>;
  EXPECT_EQ(Counted(store_.get()),
            (Counts{{{kInfer, Task::READY}, 3}, {{kEval, Task::PENDING}, 3}}));
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(SetState("e1-infer-0", Task::RUNNING).ok());
  ASSERT_TRUE(SetState("e1-infer-1", Task::SUCCEEDED).ok());
  // Not committed yet: the scrape sees the last commit.
  EXPECT_EQ(Counted(store_.get()),
            (Counts{{{kInfer, Task::READY}, 3}, {{kEval, Task::PENDING}, 3}}));
  ASSERT_TRUE(store_->Commit().ok());
  const Counts after{{{kInfer, Task::READY}, 1},
                     {{kInfer, Task::RUNNING}, 1},
                     {{kInfer, Task::SUCCEEDED}, 1},
                     {{kEval, Task::PENDING}, 3}};
  EXPECT_EQ(Counted(store_.get()), after);
  EXPECT_EQ(Grouped(path()), after);
}

TEST_F(TaskCountsTest, RollbackAndSavepointRollbackUndoTheirChanges) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(SetState("e1-infer-0", Task::FAILED).ok());
  store_->Rollback();
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(SetState("e1-infer-1", Task::RUNNING).ok());
  ASSERT_TRUE(store_->Savepoint().ok());
  ASSERT_TRUE(store_->InsertEvaluation(MakeEvaluation("e2")).ok());
  ASSERT_TRUE(store_->InsertTask(MakeTask("e2", ocx::v1::STAGE_INFER, 0)).ok());
  ASSERT_TRUE(SetState("e1-infer-2", Task::CANCELLED).ok());
  store_->RollbackToSavepoint();
  ASSERT_TRUE(store_->Savepoint().ok());
  ASSERT_TRUE(SetState("e1-infer-2", Task::SUCCEEDED).ok());
  ASSERT_TRUE(store_->ReleaseSavepoint().ok());
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_EQ(Counted(store_.get()), Grouped(path()));
  EXPECT_EQ(Counted(store_.get()).at({kInfer, Task::RUNNING}), 1);
  EXPECT_EQ(Counted(store_.get()).count({kInfer, Task::FAILED}), 0u);
  EXPECT_EQ(Counted(store_.get()).count({kInfer, Task::CANCELLED}), 0u);
}

TEST_F(TaskCountsTest, AReopenedStoreSeedsFromTheTable) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(SetState("e1-infer-2", Task::SUCCEEDED).ok());
  ASSERT_TRUE(store_->Commit().ok());
  store_.reset();
  auto reopened = Store::Open(path());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(Counted(reopened->get()), Grouped(path()));
  EXPECT_EQ(Counted(reopened->get()).at({kInfer, Task::SUCCEEDED}), 1);
}

}  // namespace
}  // namespace ocx::store
