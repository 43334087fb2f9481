// Store tests against a real SQLite file in a temporary directory: schema
// and migrations, transactions and savepoints, every read method's ordering,
// filters and page tokens, and what survives a round trip (optional fields,
// unset times).
#include "server/store/store.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/task_params.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/store/schema.h"
#include "server/store/sqlite.h"
#include "tests/server/store_test_util.h"
#include "tests/server/test_util.h"

namespace ocx::store {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::ocx::server::testing::TempDir;
using ::ocx::store::testing::kT0;
using ::ocx::store::testing::MakeAttempt;
using ::ocx::store::testing::MakeEvaluation;
using ::ocx::store::testing::MakeTask;
using ::ocx::store::testing::StoreTest;
using ::ocx::store::testing::UserVersion;
using ::ocx::store::testing::WriteOldDatabase;
using ::ocx::v1::Attempt;
using ::ocx::v1::Evaluation;
using ::ocx::v1::Task;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ocx::v1::Event MakeEvent(const std::string& eval_id, const std::string& state,
                         const std::string& task_id = "", int attempt = 0) {
  ocx::v1::Event e;
  SetTimestamp(kT0, e.mutable_time());
  e.set_evaluation_id(eval_id);
  e.set_task_id(task_id);
  e.set_attempt(attempt);
  e.set_state(state);
  e.set_message(absl::StrCat("message ", state));
  return e;
}

std::vector<std::string> Ids(const std::vector<Evaluation>& list) {
  std::vector<std::string> ids;
  for (const Evaluation& e : list) ids.push_back(e.id());
  return ids;
}

std::vector<std::string> Ids(const std::vector<Task>& list) {
  std::vector<std::string> ids;
  for (const Task& t : list) ids.push_back(t.id());
  return ids;
}

// ---- Schema ----

TEST_F(StoreTest, OpenCreatesTheSchemaAtTheLatestVersion) {
  EXPECT_GE(LatestSchemaVersion(), 1);
  EXPECT_EQ(UserVersion(db_path()), LatestSchemaVersion());
  // Every table is there and empty.
  for (const char* table : {"evaluations", "tasks", "attempts", "events"}) {
    auto conn = Connection::Open(db_path(), /*read_only=*/true);
    ASSERT_TRUE(conn.ok());
    auto stmt = (*conn)->Prepare(absl::StrCat("SELECT count(*) FROM ", table));
    ASSERT_TRUE(stmt.ok()) << table << ": " << stmt.status();
    ASSERT_TRUE(*(*stmt)->Step());
    EXPECT_EQ((*stmt)->ColumnInt(0), 0) << table;
  }
}

TEST_F(StoreTest, ReopeningKeepsDataAndVersion) {
  Evaluation e = MakeEvaluation("e1", Evaluation::RUNNING, "req-1");
  Insert(e, {MakeTask("e1", ocx::v1::STAGE_INFER, 0)});
  Put(MakeAttempt("e1-infer-0", 1, Attempt::RUNNING));
  int64_t seq = Append(MakeEvent("e1", "RUNNING"));

  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(UserVersion(db_path()), LatestSchemaVersion());
  auto got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->state(), Evaluation::RUNNING);
  EXPECT_EQ(got->request_id(), "req-1");
  EXPECT_EQ(got->last_event_sequence(), seq);
  auto task = store_->GetTask("e1-infer-0");
  ASSERT_TRUE(task.ok()) << task.status();
  ASSERT_EQ(task->attempts_size(), 1);
  EXPECT_EQ(task->attempts(0).state(), Attempt::RUNNING);
  auto found = store_->FindByRequestId({}, "req-1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->eval_id, "e1");
}

TEST(StoreSchemaTest, NewerDatabaseIsRefusedNamingBothVersions) {
  TempDir dir;
  std::string path = dir.path() + "/future.db";
  {
    auto conn = Connection::Open(path, /*read_only=*/false);
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 99").ok());
  }
  auto store = Store::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("99"));
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat("(", LatestSchemaVersion(), ")")));
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  // Nothing was migrated or written.
  EXPECT_EQ(UserVersion(path), 99);
}

TEST_F(StoreTest, MigrationTwoToThreeAddsTheSizeAndOutputTablesKeepingData) {
  store_.reset();
  std::string path = dir_.path() + "/v2.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 2));
  ASSERT_EQ(UserVersion(path), 2);
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion());
  EXPECT_TRUE(store_->GetTask("e1-infer-0").ok());
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_->PutDatasetSize({"/d/a.jsonl", "jsonl", 10, 20, 30}, kT0).ok());
  ASSERT_TRUE(store_->Commit().ok());
  auto got = store_->LookupDatasetSize("/d/a.jsonl", "jsonl", 10, 20);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::optional<int64_t>(30));
}

TEST_F(StoreTest, MigrationFourToFiveKeepsOldRequestIdsWithoutAHash) {
  store_.reset();
  std::string path = dir_.path() + "/v4.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 4));
  {
    auto conn = Connection::Open(path, /*read_only=*/false);
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE(
        (*conn)->Exec("UPDATE evaluations SET request_id='old-req'").ok());
  }
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion());
  auto found = store_->FindByRequestId({}, "old-req");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->eval_id, "e1");
  EXPECT_EQ((*found)->request_hash, "");
}

TEST_F(StoreTest, OwnerIsStoredAndOldRowsHaveNone) {
  store_.reset();
  std::string path = dir_.path() + "/v5.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 5));
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  Evaluation mine = MakeEvaluation("e2", Evaluation::QUEUED);
  mine.mutable_owner()->set_user("alice");
  mine.mutable_owner()->set_uid(1234);
  mine.mutable_owner()->set_gid(2345);
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->InsertEvaluation(mine, "").ok());
  ASSERT_TRUE(store_->Commit().ok());

  auto old = store_->GetEvaluation("e1");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->has_owner());
  auto got = store_->GetEvaluation("e2");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->owner().user(), "alice");
  EXPECT_EQ(got->owner().uid(), 1234);
  EXPECT_EQ(got->owner().gid(), 2345);
}

TEST_F(StoreTest, RescoreSourceIsStoredAndRowsFromSchemaSevenHaveNone) {
  store_.reset();
  std::string path = dir_.path() + "/v7.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 7));
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion());
  Evaluation again = MakeEvaluation("e2", Evaluation::QUEUED);
  again.set_rescored_from("e1");
  again.set_predictions_work_dir("/runs/e1");
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->InsertEvaluation(again, "").ok());
  ASSERT_TRUE(store_->Commit().ok());

  auto old = store_->GetEvaluation("e1");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->rescored_from(), "");
  EXPECT_EQ(old->predictions_work_dir(), "");
  auto got = store_->GetEvaluation("e2");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->rescored_from(), "e1");
  EXPECT_EQ(got->predictions_work_dir(), "/runs/e1");
}

TEST_F(StoreTest, RequestHashIsKeptWithItsRequestId) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_
          ->InsertEvaluation(MakeEvaluation("e1", Evaluation::QUEUED, "req-1"),
                             "00112233aabbccdd")
          .ok());
  ASSERT_TRUE(store_->Commit().ok());
  auto found = store_->FindByRequestId({}, "req-1");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->eval_id, "e1");
  EXPECT_EQ((*found)->request_hash, "00112233aabbccdd");
}

// Watch's read: the snapshot and the events come from one committed state.
// A writer commits, many times a millisecond, a state change together with
// an event naming the new state; every read must show the evaluation in
// the state of the newest event it read, with last_event_sequence equal to
// that event's sequence. Reading the two apart (GetEvaluation, then
// ListEvents) fails this within a few hundred reads.
TEST_F(StoreTest, EvaluationWithEventsIsOneSnapshotUnderConcurrentCommits) {
  Insert(MakeEvaluation("e1", Evaluation::QUEUED));
  ASSERT_GT(Append(MakeEvent("e1", "QUEUED")), 0);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      Evaluation::State state =
          i % 2 == 0 ? Evaluation::RUNNING : Evaluation::CANCELLING;
      if (!store_->Begin().ok()) break;
      bool ok =
          store_->UpdateEvaluationState("e1", state, kT0 + i, 0).ok() &&
          store_->AppendEvent(MakeEvent("e1", Evaluation::State_Name(state)))
              .ok();
      if (!ok || !store_->Commit().ok()) break;
    }
  });
  int64_t after = 0;
  int mismatches = 0, with_events = 0;
  // Until 300 reads raced a commit (or 20 s on a loaded machine).
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (int i = 0;
       with_events < 300 && mismatches == 0 && absl::Now() < deadline; ++i) {
    auto read = store_->GetEvaluationWithEvents("e1", after, 1000);
    ASSERT_TRUE(read.ok()) << read.status();
    if (read->events.empty()) continue;
    ++with_events;
    const ocx::v1::Event& last = read->events.back();
    after = last.sequence();
    if (static_cast<int>(read->events.size()) == 1000) continue;
    if (Evaluation::State_Name(read->evaluation.state()) != last.state() ||
        read->evaluation.last_event_sequence() != last.sequence()) {
      ++mismatches;
      ADD_FAILURE() << "read " << i << ": snapshot "
                    << Evaluation::State_Name(read->evaluation.state())
                    << " at " << read->evaluation.last_event_sequence()
                    << ", last event " << last.state() << " at "
                    << last.sequence();
    }
  }
  stop = true;
  writer.join();
  EXPECT_EQ(mismatches, 0);
  EXPECT_GE(with_events, 50) << "the writer hardly raced the reads";
}

// ---- Dataset sizes and outputs ----

TEST_F(StoreTest, DatasetSizesAreValidForOneFileIdentity) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_->PutDatasetSize({"/d/a.jsonl", "jsonl", 100, 5000, 1319}, kT0)
          .ok());
  ASSERT_TRUE(
      store_->PutDatasetSize({"/d/a.json", "json:test", 100, 5000, 7}, kT0)
          .ok());
  ASSERT_TRUE(store_->Commit().ok());
  auto lookup = [&](const std::string& path, const std::string& reader,
                    int64_t size, int64_t mtime) {
    auto got = store_->LookupDatasetSize(path, reader, size, mtime);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  };
  EXPECT_EQ(lookup("/d/a.jsonl", "jsonl", 100, 5000), 1319);
  EXPECT_EQ(lookup("/d/a.jsonl", "jsonl", 101, 5000), std::nullopt);
  EXPECT_EQ(lookup("/d/a.jsonl", "jsonl", 100, 5001), std::nullopt);
  EXPECT_EQ(lookup("/d/a.jsonl", "csv", 100, 5000), std::nullopt);
  EXPECT_EQ(lookup("/d/a.json", "json:test", 100, 5000), 7);
  EXPECT_EQ(lookup("/d/a.json", "json:train", 100, 5000), std::nullopt);
  // The file changed and was counted again: its row is replaced.
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_->PutDatasetSize({"/d/a.jsonl", "jsonl", 120, 6000, 1400}, kT0)
          .ok());
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_EQ(lookup("/d/a.jsonl", "jsonl", 120, 6000), 1400);
  EXPECT_EQ(lookup("/d/a.jsonl", "jsonl", 100, 5000), std::nullopt);
}

TEST_F(StoreTest, OutputRecordsAreReadIndexAligned) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_
                  ->PutOutput({"/w/predictions/m/a.json", "00112233aabbccdd",
                               42, 777, "e1-infer-0"},
                              kT0)
                  .ok());
  ASSERT_TRUE(store_
                  ->PutOutput({"/w/results/m/a.json", "ffffffffffffffff", 9, 8,
                               "e1-eval-0"},
                              kT0)
                  .ok());
  // A later run of the same output replaces the record.
  ASSERT_TRUE(store_
                  ->PutOutput({"/w/results/m/a.json", "0123456789abcdef", 10,
                               11, "e2-eval-0"},
                              kT0)
                  .ok());
  ASSERT_TRUE(store_->Commit().ok());
  auto got = store_->GetOutputs(
      {"/w/results/m/a.json", "/w/missing.json", "/w/predictions/m/a.json"});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  ASSERT_TRUE((*got)[0].has_value());
  EXPECT_EQ((*got)[0]->fingerprint, "0123456789abcdef");
  EXPECT_EQ((*got)[0]->size, 10);
  EXPECT_EQ((*got)[0]->mtime_ns, 11);
  EXPECT_EQ((*got)[0]->task_id, "e2-eval-0");
  EXPECT_FALSE((*got)[1].has_value());
  ASSERT_TRUE((*got)[2].has_value());
  EXPECT_EQ((*got)[2]->path, "/w/predictions/m/a.json");
  EXPECT_EQ((*got)[2]->fingerprint, "00112233aabbccdd");
  auto none = store_->GetOutputs({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// ---- Transactions ----

TEST_F(StoreTest, EvaluationAndTasksInOneTransactionWithCounts) {
  Evaluation e = MakeEvaluation("e1");
  std::vector<Task> tasks = {
      MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::READY),
      MakeTask("e1", ocx::v1::STAGE_INFER, 1, Task::LAUNCHING),
      MakeTask("e1", ocx::v1::STAGE_INFER, 2, Task::RUNNING),
      MakeTask("e1", ocx::v1::STAGE_INFER, 3, Task::SUCCEEDED),
      MakeTask("e1", ocx::v1::STAGE_INFER, 4, Task::SUCCEEDED),
      MakeTask("e1", ocx::v1::STAGE_INFER, 5, Task::FAILED),
      MakeTask("e1", ocx::v1::STAGE_EVAL, 0, Task::PENDING),
      MakeTask("e1", ocx::v1::STAGE_EVAL, 1, Task::PENDING),
      MakeTask("e1", ocx::v1::STAGE_EVAL, 2, Task::CANCELLED),
  };
  ASSERT_TRUE(store_->Begin().ok());
  auto seq = store_->InsertEvaluation(e);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_GT(*seq, 0);
  for (const Task& t : tasks) ASSERT_TRUE(store_->InsertTask(t).ok());
  auto ev1 = store_->AppendEvent(MakeEvent("e1", "QUEUED"));
  auto ev2 = store_->AppendEvent(MakeEvent("e1", "RUNNING", "e1-infer-2", 1));
  ASSERT_TRUE(ev1.ok() && ev2.ok());
  EXPECT_LT(*ev1, *ev2);
  ASSERT_TRUE(store_->Commit().ok());
  // Another evaluation's tasks and events do not leak into the counts.
  Insert(MakeEvaluation("e2"), {MakeTask("e2", ocx::v1::STAGE_INFER, 0)});
  Append(MakeEvent("e2", "QUEUED"));

  auto got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id(), "e1");
  EXPECT_EQ(got->name(), "name of e1");
  EXPECT_EQ(got->work_dir(), "/work/e1");
  EXPECT_EQ(got->task_count(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(got->spec(), e.spec()));
  EXPECT_EQ(got->last_event_sequence(), *ev2);
  ASSERT_EQ(got->stage_counts_size(), 2);
  const ocx::v1::StageCounts& infer = got->stage_counts(0);
  EXPECT_EQ(infer.stage(), ocx::v1::STAGE_INFER);
  EXPECT_EQ(infer.total(), 6);
  EXPECT_EQ(infer.pending(), 0);
  EXPECT_EQ(infer.ready(), 1);
  EXPECT_EQ(infer.running(), 2);  // LAUNCHING + RUNNING
  EXPECT_EQ(infer.succeeded(), 2);
  EXPECT_EQ(infer.failed(), 1);
  EXPECT_EQ(infer.cancelled(), 0);
  const ocx::v1::StageCounts& eval = got->stage_counts(1);
  EXPECT_EQ(eval.stage(), ocx::v1::STAGE_EVAL);
  EXPECT_EQ(eval.total(), 3);
  EXPECT_EQ(eval.pending(), 2);
  EXPECT_EQ(eval.cancelled(), 1);
  EXPECT_EQ(eval.running() + eval.ready() + eval.succeeded() + eval.failed(),
            0);

  auto other = store_->GetEvaluation("e2");
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->stage_counts_size(), 1);
  EXPECT_EQ(other->stage_counts(0).total(), 1);
  EXPECT_GT(other->last_event_sequence(), *ev2);
}

TEST_F(StoreTest, CountsFollowEveryStateChangeAndTheBasicReadHasNoSpec) {
  Insert(MakeEvaluation("e1"),
         {MakeTask("e1", ocx::v1::STAGE_INFER, 0),
          MakeTask("e1", ocx::v1::STAGE_INFER, 1),
          MakeTask("e1", ocx::v1::STAGE_EVAL, 0, Task::PENDING)});
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING);
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->UpdateTask(t).ok());
  t.set_state(Task::SUCCEEDED);
  ASSERT_TRUE(store_->UpdateTask(t).ok());
  // A write of the same state (other columns) counts nothing twice.
  t.set_reason("again");
  ASSERT_TRUE(store_->UpdateTask(t).ok());
  Task eval = MakeTask("e1", ocx::v1::STAGE_EVAL, 0, Task::READY);
  ASSERT_TRUE(store_->UpdateTask(eval).ok());
  ASSERT_TRUE(store_->Commit().ok());
  auto got = store_->GetEvaluation("e1", /*with_spec=*/false);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_spec());
  EXPECT_EQ(got->work_dir(), "/work/e1");
  ASSERT_EQ(got->stage_counts_size(), 2);
  EXPECT_EQ(got->stage_counts(0).total(), 2);
  EXPECT_EQ(got->stage_counts(0).ready(), 1);
  EXPECT_EQ(got->stage_counts(0).running(), 0);
  EXPECT_EQ(got->stage_counts(0).succeeded(), 1);
  EXPECT_EQ(got->stage_counts(1).total(), 1);
  EXPECT_EQ(got->stage_counts(1).pending(), 0);
  EXPECT_EQ(got->stage_counts(1).ready(), 1);
  // A rolled-back transaction leaves the counts as they were.
  ASSERT_TRUE(store_->Begin().ok());
  t = MakeTask("e1", ocx::v1::STAGE_INFER, 1, Task::FAILED);
  ASSERT_TRUE(store_->UpdateTask(t).ok());
  store_->Rollback();
  got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_spec());
  EXPECT_EQ(got->stage_counts(0).ready(), 1);
  EXPECT_EQ(got->stage_counts(0).failed(), 0);
}

TEST_F(StoreTest, MigrationSevenToEightCountsTheTasksAlreadyStored) {
  store_.reset();
  std::string path = dir_.path() + "/v7.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 7));
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion());
  auto got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->stage_counts_size(), 1);
  EXPECT_EQ(got->stage_counts(0).total(), 1);
  EXPECT_EQ(got->stage_counts(0).running(), 1);
  // The old row's end is counted by the new triggers.
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_->UpdateTask(MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::FAILED))
          .ok());
  ASSERT_TRUE(store_->Commit().ok());
  got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->stage_counts(0).total(), 1);
  EXPECT_EQ(got->stage_counts(0).running(), 0);
  EXPECT_EQ(got->stage_counts(0).failed(), 1);
}

// Recovery's read: the active tasks, in a transaction of their own.
absl::StatusOr<std::vector<ActiveTaskRecord>> LoadActive(Store* store) {
  if (absl::Status begun = store->Begin(); !begun.ok()) return begun;
  auto active = store->LoadActiveTasks();
  store->Rollback();
  return active;
}

std::vector<std::string> IdsOf(const std::vector<ActiveTaskRecord>& active) {
  std::vector<std::string> ids;
  for (const ActiveTaskRecord& r : active) ids.push_back(r.task.id());
  return ids;
}

// How many indexes named `name` the database at `path` has.
int64_t IndexCount(const std::string& path, const std::string& name) {
  auto conn = Connection::Open(path, /*read_only=*/true);
  EXPECT_TRUE(conn.ok()) << conn.status();
  if (!conn.ok()) return -1;
  auto s = (*conn)->Prepare(
      "SELECT count(*) FROM sqlite_master WHERE type='index' AND name=?");
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return -1;
  (*s)->Bind(1, name);
  EXPECT_TRUE(*(*s)->Step());
  return (*s)->ColumnInt(0);
}

TEST_F(StoreTest, MigrationNineToTenDropsTheCountsIndexKeepingTheRows) {
  store_.reset();
  std::string path = dir_.path() + "/v9.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 9));
  auto index_count = [&path] { return IndexCount(path, "tasks_counts"); };
  EXPECT_EQ(index_count(), 1);
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion());
  EXPECT_EQ(index_count(), 0);
  auto task = store_->GetTask("e1-infer-0");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), Task::RUNNING);
  ASSERT_EQ(task->attempts_size(), 1);
  std::string token;
  auto listed = store_->ListTasks("e1", Task::RUNNING, ocx::v1::STAGE_INFER, 10,
                                  "", &token);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id(), "e1-infer-0");
}

TEST_F(StoreTest, MigrationTenToElevenDropsTheActiveIndexKeepingTheRows) {
  store_.reset();
  std::string path = dir_.path() + "/v10.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 10));
  EXPECT_EQ(IndexCount(path, "tasks_active"), 1);
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  EXPECT_EQ(UserVersion(path), 11);
  EXPECT_EQ(IndexCount(path, "tasks_active"), 0);
  auto task = store_->GetTask("e1-infer-0");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), Task::RUNNING);
  EXPECT_TRUE(MessageDifferencer::Equals(
      task->params(),
      MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING).params()));
  // Recovery still finds the running task, its params and its attempt.
  auto active = LoadActive(store_.get());
  ASSERT_TRUE(active.ok()) << active.status();
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].task.id(), "e1-infer-0");
  EXPECT_TRUE(
      MessageDifferencer::Equals((*active)[0].task.params(), task->params()));
  ASSERT_TRUE((*active)[0].last_attempt.has_value());
  EXPECT_EQ((*active)[0].last_attempt->attempt.number(), 1);
}

TEST_F(StoreTest, RecoveryReadsTheUnfinishedTasksOfUnfinishedEvaluations) {
  // e1 runs; e2 ended (its leftover READY row is never recovered).
  Insert(MakeEvaluation("e1", Evaluation::RUNNING),
         {MakeTask("e1", ocx::v1::STAGE_INFER, 1, Task::READY),
          MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::SUCCEEDED),
          MakeTask("e1", ocx::v1::STAGE_EVAL, 0, Task::PENDING),
          MakeTask("e1", ocx::v1::STAGE_INFER, 2, Task::RUNNING)});
  Insert(MakeEvaluation("e2", Evaluation::FAILED),
         {MakeTask("e2", ocx::v1::STAGE_INFER, 0, Task::READY)});
  Insert(MakeEvaluation("e0", Evaluation::CANCELLING),
         {MakeTask("e0", ocx::v1::STAGE_INFER, 0, Task::READY)});
  auto active = LoadActive(store_.get());
  ASSERT_TRUE(active.ok()) << active.status();
  std::vector<std::string> ids = IdsOf(*active);
  EXPECT_THAT(
      ids, ElementsAre("e0-infer-0", "e1-infer-1", "e1-infer-2", "e1-eval-0"));
}

TEST_F(StoreTest, PlannedRowsAreStoredLikeTasksStampedAtCreation) {
  std::vector<Task> tasks = {
      MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::READY),
      MakeTask("e1", ocx::v1::STAGE_INFER, 1, Task::SUCCEEDED),
      MakeTask("e1", ocx::v1::STAGE_EVAL, 0, Task::PENDING),
      MakeTask("e1", ocx::v1::STAGE_EVAL, 1, Task::PENDING),
  };
  tasks[1].set_reason("reused");
  TaskRows rows;
  for (Task& t : tasks) {
    t.clear_create_time();  // rows keep no times: the store stamps them
    rows.Add(t);
  }
  const int64_t now = kT0 + 5000;
  Insert(MakeEvaluation("e1"));
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->InsertTaskRows(rows, now).ok());
  ASSERT_TRUE(store_->Commit().ok());
  for (Task want : tasks) {
    auto got = store_->GetTask(want.id());
    ASSERT_TRUE(got.ok()) << got.status();
    SetTimestamp(now, want.mutable_create_time());
    if (want.state() == Task::SUCCEEDED) {
      SetTimestamp(now, want.mutable_end_time());
    }
    EXPECT_TRUE(MessageDifferencer::Equals(*got, want))
        << got->DebugString() << "\nwant " << want.DebugString();
  }
  auto e = store_->GetEvaluation("e1");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->stage_counts_size(), 2);
  EXPECT_EQ(e->stage_counts(0).ready(), 1);
  EXPECT_EQ(e->stage_counts(0).succeeded(), 1);
  EXPECT_EQ(e->stage_counts(1).pending(), 2);
  // A row already stored fails the insert (and the caller rolls back).
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->InsertTaskRows(rows, now)));
  store_->Rollback();
}

TEST_F(StoreTest, EvaluationWithoutTasksOrEventsHasNoCounts) {
  Insert(MakeEvaluation("e1"));
  auto got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(got->stage_counts(), IsEmpty());
  EXPECT_EQ(got->last_event_sequence(), 0);
}

TEST_F(StoreTest, GetUnknownEvaluationIsNotFound) {
  auto got = store_->GetEvaluation("nope");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("nope"));
}

TEST_F(StoreTest, ReadersSeeOnlyCommittedState) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->InsertEvaluation(MakeEvaluation("e1")).ok());
  EXPECT_EQ(store_->GetEvaluation("e1").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_TRUE(store_->GetEvaluation("e1").ok());
}

TEST_F(StoreTest, RollbackLeavesNothing) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_
          ->InsertEvaluation(MakeEvaluation("e1", Evaluation::QUEUED, "req-1"))
          .ok());
  ASSERT_TRUE(store_->InsertTask(MakeTask("e1", ocx::v1::STAGE_INFER, 0)).ok());
  ASSERT_TRUE(store_->AppendEvent(MakeEvent("e1", "QUEUED")).ok());
  store_->Rollback();

  EXPECT_EQ(store_->GetEvaluation("e1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTask("e1-infer-0").status().code(),
            absl::StatusCode::kNotFound);
  auto events = store_->ListEvents("e1", 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, IsEmpty());
  auto found = store_->FindByRequestId({}, "req-1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  // The same rows can be written again afterwards.
  Insert(MakeEvaluation("e1", Evaluation::QUEUED, "req-1"),
         {MakeTask("e1", ocx::v1::STAGE_INFER, 0)});
  EXPECT_TRUE(store_->GetTask("e1-infer-0").ok());
}

TEST_F(StoreTest, DuplicateRequestIdIsAlreadyExistsAndTheFirstIsFound) {
  Insert(MakeEvaluation("first", Evaluation::QUEUED, "req-1"));
  ASSERT_TRUE(store_->Begin().ok());
  auto dup = store_->InsertEvaluation(
      MakeEvaluation("second", Evaluation::QUEUED, "req-1"));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists)
      << dup.status();
  // So is a duplicate id.
  auto dup_id = store_->InsertEvaluation(MakeEvaluation("first"));
  EXPECT_EQ(dup_id.status().code(), absl::StatusCode::kAlreadyExists)
      << dup_id.status();
  store_->Rollback();

  auto found = store_->FindByRequestId({}, "req-1");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->eval_id, "first");
  auto missing = store_->FindByRequestId({}, "req-2");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(store_->GetEvaluation("second").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ARequestIdIsUniquePerOwnerOnly) {
  Evaluation alice = MakeEvaluation("a1", Evaluation::QUEUED, "req-1");
  alice.mutable_owner()->set_user("alice");
  alice.mutable_owner()->set_uid(1001);
  Evaluation bob = MakeEvaluation("b1", Evaluation::QUEUED, "req-1");
  bob.mutable_owner()->set_user("bob");
  bob.mutable_owner()->set_uid(1002);
  Insert(alice);
  Insert(bob);
  auto of_alice = store_->FindByRequestId(alice.owner(), "req-1");
  ASSERT_TRUE(of_alice.ok() && of_alice->has_value());
  EXPECT_EQ((*of_alice)->eval_id, "a1");
  auto of_bob = store_->FindByRequestId(bob.owner(), "req-1");
  ASSERT_TRUE(of_bob.ok() && of_bob->has_value());
  EXPECT_EQ((*of_bob)->eval_id, "b1");
  EXPECT_EQ(store_->GetEvaluation("b1")->request_id(), "req-1");
  // Rows without an owner are a scope of their own.
  auto unowned = store_->FindByRequestId({}, "req-1");
  ASSERT_TRUE(unowned.ok());
  EXPECT_FALSE(unowned->has_value());
  Evaluation again = MakeEvaluation("a2", Evaluation::QUEUED, "req-1");
  *again.mutable_owner() = alice.owner();
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_EQ(store_->InsertEvaluation(again).status().code(),
            absl::StatusCode::kAlreadyExists);
  store_->Rollback();
}

TEST_F(StoreTest, EmptyRequestIdsDoNotCollide) {
  Insert(MakeEvaluation("a"));
  Insert(MakeEvaluation("b"));
  EXPECT_TRUE(store_->GetEvaluation("a").ok());
  EXPECT_TRUE(store_->GetEvaluation("b").ok());
  auto found = store_->FindByRequestId({}, "");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_F(StoreTest, RollbackToSavepointUndoesOnlyTheInnerPart) {
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->InsertEvaluation(MakeEvaluation("outer")).ok());
  ASSERT_TRUE(store_->Savepoint().ok());
  ASSERT_TRUE(store_->InsertEvaluation(MakeEvaluation("inner")).ok());
  ASSERT_TRUE(
      store_->InsertTask(MakeTask("inner", ocx::v1::STAGE_INFER, 0)).ok());
  store_->RollbackToSavepoint();
  // The transaction goes on, and a second savepoint can be taken and kept.
  ASSERT_TRUE(store_->Savepoint().ok());
  ASSERT_TRUE(store_->InsertEvaluation(MakeEvaluation("kept")).ok());
  ASSERT_TRUE(store_->ReleaseSavepoint().ok());
  ASSERT_TRUE(store_->InsertEvaluation(MakeEvaluation("after")).ok());
  ASSERT_TRUE(store_->Commit().ok());

  EXPECT_TRUE(store_->GetEvaluation("outer").ok());
  EXPECT_TRUE(store_->GetEvaluation("kept").ok());
  EXPECT_TRUE(store_->GetEvaluation("after").ok());
  EXPECT_EQ(store_->GetEvaluation("inner").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTask("inner-infer-0").status().code(),
            absl::StatusCode::kNotFound);
}

// ---- Writers of mutable columns ----

TEST_F(StoreTest, UpdateTaskWritesOnlyTheMutableColumns) {
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0);
  Insert(MakeEvaluation("e1"), {t});
  Task changed = t;
  changed.set_state(Task::FAILED);
  changed.set_attempt_count(3);
  SetTimestamp(kT0 + 1, changed.mutable_start_time());
  SetTimestamp(kT0 + 2, changed.mutable_end_time());
  SetTimestamp(kT0 + 3, changed.mutable_next_attempt_time());
  changed.set_reason("attempt 3/3 failed: exit code 3");
  changed.set_name("renamed");  // not a mutable column
  changed.set_max_attempts(9);  // raised when a model server failed under it
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->UpdateTask(changed).ok());
  ASSERT_TRUE(store_->Commit().ok());

  auto got = store_->GetTask(t.id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state(), Task::FAILED);
  EXPECT_EQ(got->attempt_count(), 3);
  EXPECT_EQ(TimestampMillis(got->start_time()), kT0 + 1);
  EXPECT_EQ(TimestampMillis(got->end_time()), kT0 + 2);
  EXPECT_EQ(TimestampMillis(got->next_attempt_time()), kT0 + 3);
  EXPECT_EQ(got->reason(), "attempt 3/3 failed: exit code 3");
  EXPECT_EQ(got->name(), t.name());
  EXPECT_EQ(got->max_attempts(), 9);

  // Clearing a time clears the column.
  changed.clear_next_attempt_time();
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->UpdateTask(changed).ok());
  ASSERT_TRUE(store_->Commit().ok());
  got = store_->GetTask(t.id());
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_next_attempt_time());
}

TEST_F(StoreTest, UpdateEvaluationStateSetsStateAndTimes) {
  Insert(MakeEvaluation("e1"));
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_->UpdateEvaluationState("e1", Evaluation::RUNNING, kT0 + 5, 0)
          .ok());
  ASSERT_TRUE(store_->Commit().ok());
  auto got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state(), Evaluation::RUNNING);
  EXPECT_EQ(TimestampMillis(got->update_time()), kT0 + 5);
  EXPECT_FALSE(got->has_end_time());

  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(
      store_
          ->UpdateEvaluationState("e1", Evaluation::SUCCEEDED, kT0 + 9, kT0 + 9)
          .ok());
  ASSERT_TRUE(store_->Commit().ok());
  got = store_->GetEvaluation("e1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state(), Evaluation::SUCCEEDED);
  EXPECT_EQ(TimestampMillis(got->end_time()), kT0 + 9);
}

// ---- ListEvaluations ----

class ListEvaluationsTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    // e0..e5, created in that order; odd ones RUNNING.
    for (int i = 0; i < 6; ++i) {
      Insert(MakeEvaluation(absl::StrCat("e", i), i % 2 == 1
                                                      ? Evaluation::RUNNING
                                                      : Evaluation::SUCCEEDED),
             {MakeTask(absl::StrCat("e", i), ocx::v1::STAGE_INFER, 0)});
    }
  }

  // Follows page tokens; each page's ids.
  std::vector<std::vector<std::string>> Pages(Evaluation::State state,
                                              int page_size) {
    std::vector<std::vector<std::string>> pages;
    std::string token;
    do {
      std::string next;
      auto list = store_->ListEvaluations(state, page_size, token, &next);
      EXPECT_TRUE(list.ok()) << list.status();
      if (!list.ok() || pages.size() > 10) break;
      pages.push_back(Ids(*list));
      token = next;
    } while (!token.empty());
    return pages;
  }
};

TEST_F(ListEvaluationsTest, NewestFirstWithPageTokens) {
  EXPECT_THAT(Pages(Evaluation::STATE_UNSPECIFIED, 4),
              ElementsAre(ElementsAre("e5", "e4", "e3", "e2"),
                          ElementsAre("e1", "e0")));
  EXPECT_THAT(Pages(Evaluation::STATE_UNSPECIFIED, 2),
              ElementsAre(ElementsAre("e5", "e4"), ElementsAre("e3", "e2"),
                          ElementsAre("e1", "e0")));
  // A page that ends exactly at the last row has no next token.
  EXPECT_THAT(Pages(Evaluation::STATE_UNSPECIFIED, 6),
              ElementsAre(ElementsAre("e5", "e4", "e3", "e2", "e1", "e0")));
}

TEST_F(ListEvaluationsTest, StateFilterAppliesAcrossPages) {
  EXPECT_THAT(Pages(Evaluation::RUNNING, 2),
              ElementsAre(ElementsAre("e5", "e3"), ElementsAre("e1")));
  EXPECT_THAT(Pages(Evaluation::SUCCEEDED, 10),
              ElementsAre(ElementsAre("e4", "e2", "e0")));
  EXPECT_THAT(Pages(Evaluation::CANCELLED, 10), ElementsAre(IsEmpty()));
}

TEST_F(ListEvaluationsTest, ListsCarryCountsButNoSpec) {
  std::string next;
  auto list =
      store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 1, "", &next);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_FALSE((*list)[0].has_spec());
  ASSERT_EQ((*list)[0].stage_counts_size(), 1);
  EXPECT_EQ((*list)[0].stage_counts(0).ready(), 1);
  // Get has the spec.
  auto got = store_->GetEvaluation("e5");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->has_spec());
}

TEST_F(ListEvaluationsTest, BadTokenIsInvalidArgumentNamingPageToken) {
  // "5" was a valid token when tokens were bare sequence numbers: tokens are
  // opaque now, and a forged one is refused.
  for (const char* token : {"abc", "0", "-3", "12x", "5", "NS9kZWFk"}) {
    std::string next = "untouched";
    auto list =
        store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 2, token, &next);
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument)
        << token;
    EXPECT_THAT(list.status().message(), HasSubstr("page_token")) << token;
  }
}

// Opaque tokens: an edited token, or one sent with another filter than the
// one it was made for (stale), is INVALID_ARGUMENT naming page_token.
TEST_F(ListEvaluationsTest, EditedOrStaleTokenIsInvalidArgument) {
  std::string next;
  auto page =
      store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 2, "", &next);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_FALSE(next.empty());
  std::string edited = next;
  edited[0] = edited[0] == 'A' ? 'B' : 'A';
  std::string unused;
  auto bad = store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 2, edited,
                                     &unused);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("page_token"));
  auto stale = store_->ListEvaluations(Evaluation::RUNNING, 2, next, &unused);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(stale.status().message(), HasSubstr("page_token"));
  // The token still works with the filter it was made for.
  auto good =
      store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 2, next, &unused);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_THAT(Ids(*good), ElementsAre("e3", "e2"));
}

// ---- ListTasks ----

class ListTasksTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    // Inserted out of order; index 10 sorts after 2 numerically but before
    // it as text.
    Insert(MakeEvaluation("e1"),
           {MakeTask("e1", ocx::v1::STAGE_EVAL, 1, Task::PENDING),
            MakeTask("e1", ocx::v1::STAGE_INFER, 10, Task::RUNNING),
            MakeTask("e1", ocx::v1::STAGE_EVAL, 0, Task::READY),
            MakeTask("e1", ocx::v1::STAGE_INFER, 2, Task::READY),
            MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::SUCCEEDED),
            MakeTask("e1", ocx::v1::STAGE_INFER, 1, Task::READY)});
    Insert(MakeEvaluation("e2"), {MakeTask("e2", ocx::v1::STAGE_INFER, 0)});
  }

  std::vector<std::string> All(Task::State state, ocx::v1::Stage stage,
                               int page_size, int* pages = nullptr) {
    std::vector<std::string> ids;
    std::string token;
    int n = 0;
    do {
      std::string next;
      auto list =
          store_->ListTasks("e1", state, stage, page_size, token, &next);
      EXPECT_TRUE(list.ok()) << list.status();
      if (!list.ok() || n > 20) break;
      EXPECT_LE(static_cast<int>(list->size()), page_size);
      for (const Task& t : *list) ids.push_back(t.id());
      token = next;
      ++n;
    } while (!token.empty());
    if (pages != nullptr) *pages = n;
    return ids;
  }
};

TEST_F(ListTasksTest, ByStageThenIndexWithoutParams) {
  std::string next;
  auto list = store_->ListTasks("e1", Task::STATE_UNSPECIFIED,
                                ocx::v1::STAGE_UNSPECIFIED, 100, "", &next);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(Ids(*list), ElementsAre("e1-infer-0", "e1-infer-1", "e1-infer-2",
                                      "e1-infer-10", "e1-eval-0", "e1-eval-1"));
  EXPECT_TRUE(next.empty());
  for (const Task& t : *list) {
    EXPECT_FALSE(t.has_params()) << t.id();
    EXPECT_EQ(t.evaluation_id(), "e1");
  }
  // The list's rows carry the task's columns.
  const Task& eval1 = (*list)[5];
  EXPECT_EQ(eval1.stage(), ocx::v1::STAGE_EVAL);
  EXPECT_EQ(eval1.index(), 1);
  EXPECT_EQ(eval1.state(), Task::PENDING);
  EXPECT_THAT(eval1.dataset_abbrs(), ElementsAre("ds1", "ds1_extra"));
  EXPECT_THAT(eval1.depends_on(), ElementsAre("e1-infer-1"));
  EXPECT_EQ(eval1.num_gpus(), 1);
  EXPECT_EQ(eval1.max_attempts(), 3);
}

TEST_F(ListTasksTest, PagesConcatenateToTheWholeList) {
  int pages = 0;
  EXPECT_THAT(
      All(Task::STATE_UNSPECIFIED, ocx::v1::STAGE_UNSPECIFIED, 4, &pages),
      ElementsAre("e1-infer-0", "e1-infer-1", "e1-infer-2", "e1-infer-10",
                  "e1-eval-0", "e1-eval-1"));
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(
      All(Task::STATE_UNSPECIFIED, ocx::v1::STAGE_UNSPECIFIED, 1, &pages),
      ElementsAre("e1-infer-0", "e1-infer-1", "e1-infer-2", "e1-infer-10",
                  "e1-eval-0", "e1-eval-1"));
  EXPECT_EQ(pages, 6);
}

TEST_F(ListTasksTest, FiltersByStateAndStage) {
  EXPECT_THAT(All(Task::READY, ocx::v1::STAGE_UNSPECIFIED, 1),
              ElementsAre("e1-infer-1", "e1-infer-2", "e1-eval-0"));
  EXPECT_THAT(All(Task::STATE_UNSPECIFIED, ocx::v1::STAGE_EVAL, 1),
              ElementsAre("e1-eval-0", "e1-eval-1"));
  EXPECT_THAT(All(Task::READY, ocx::v1::STAGE_INFER, 1),
              ElementsAre("e1-infer-1", "e1-infer-2"));
  EXPECT_THAT(All(Task::FAILED, ocx::v1::STAGE_UNSPECIFIED, 5), IsEmpty());
}

TEST_F(ListTasksTest, BadTokenIsInvalidArgumentNamingPageToken) {
  for (const char* token : {"abc", "1", "1.x", "1.2.3", "1.0"}) {
    std::string next;
    auto list = store_->ListTasks("e1", Task::STATE_UNSPECIFIED,
                                  ocx::v1::STAGE_UNSPECIFIED, 2, token, &next);
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument)
        << token;
    EXPECT_THAT(list.status().message(), HasSubstr("page_token")) << token;
  }
}

TEST_F(ListTasksTest, TokenOfAnotherEvaluationOrFilterIsInvalidArgument) {
  std::string next;
  auto page = store_->ListTasks("e1", Task::STATE_UNSPECIFIED,
                                ocx::v1::STAGE_UNSPECIFIED, 2, "", &next);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_FALSE(next.empty());
  std::string unused;
  auto other_eval =
      store_->ListTasks("e2", Task::STATE_UNSPECIFIED,
                        ocx::v1::STAGE_UNSPECIFIED, 2, next, &unused);
  EXPECT_EQ(other_eval.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other_eval.status().message(), HasSubstr("page_token"));
  auto other_stage = store_->ListTasks("e1", Task::STATE_UNSPECIFIED,
                                       ocx::v1::STAGE_INFER, 2, next, &unused);
  EXPECT_EQ(other_stage.status().code(), absl::StatusCode::kInvalidArgument);
  // A ListEvaluations token is not a ListTasks token.
  std::string eval_token;
  ASSERT_TRUE(
      store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 1, "", &eval_token)
          .ok());
  ASSERT_FALSE(eval_token.empty());
  auto foreign =
      store_->ListTasks("e1", Task::STATE_UNSPECIFIED,
                        ocx::v1::STAGE_UNSPECIFIED, 2, eval_token, &unused);
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- GetTask / GetAttempt ----

TEST_F(StoreTest, GetTaskReturnsParamsAndAttemptsInOrder) {
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING);
  Insert(MakeEvaluation("e1"), {t});
  // Attempt 1 exited 0 (a real exit code, not "unset"), attempt 2 was killed
  // by a signal, attempt 3 is still running. Written out of order.
  AttemptRecord a3 = MakeAttempt(t.id(), 3, Attempt::RUNNING);
  a3.attempt.add_gpus(2);
  a3.attempt.add_gpus(0);
  AttemptRecord a1 = MakeAttempt(t.id(), 1, Attempt::FAILED);
  a1.attempt.set_exit_code(0);
  a1.attempt.set_reason("exited 0 but expected outputs are missing: x");
  SetTimestamp(kT0 + 1500, a1.attempt.mutable_end_time());
  AttemptRecord a2 = MakeAttempt(t.id(), 2, Attempt::FAILED);
  a2.attempt.set_signal(9);
  a2.attempt.set_reason("killed by signal 9 (SIGKILL)");
  Put(a3);
  Put(a1);
  Put(a2);

  auto got = store_->GetTask(t.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(got->params(), t.params()));
  ASSERT_EQ(got->attempts_size(), 3);
  EXPECT_EQ(got->attempts(0).number(), 1);
  EXPECT_EQ(got->attempts(1).number(), 2);
  EXPECT_EQ(got->attempts(2).number(), 3);

  const Attempt& g1 = got->attempts(0);
  EXPECT_TRUE(MessageDifferencer::Equals(g1, a1.attempt)) << g1.DebugString();
  EXPECT_TRUE(g1.has_exit_code());
  EXPECT_EQ(g1.exit_code(), 0);
  EXPECT_FALSE(g1.has_signal());

  const Attempt& g2 = got->attempts(1);
  EXPECT_TRUE(MessageDifferencer::Equals(g2, a2.attempt)) << g2.DebugString();
  EXPECT_FALSE(g2.has_exit_code());
  EXPECT_TRUE(g2.has_signal());
  EXPECT_EQ(g2.signal(), 9);

  const Attempt& g3 = got->attempts(2);
  EXPECT_TRUE(MessageDifferencer::Equals(g3, a3.attempt)) << g3.DebugString();
  EXPECT_FALSE(g3.has_exit_code());
  EXPECT_FALSE(g3.has_signal());
  EXPECT_THAT(g3.gpus(), ElementsAre(2, 0));
  EXPECT_EQ(g3.name(), absl::StrCat("ocx-", t.id(), "-3"));
}

// A task's params by reference as the planner makes them: configs as
// references into the spec and, with `ids`, the ids, stage and work dir
// that rows stored before this form also carried.
Task ParamsByReference(int index, bool ids) {
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, index, Task::RUNNING);
  ocx::v1::TaskParams* p = t.mutable_params();
  p->clear_task();
  p->mutable_refs()->set_model(0);
  p->mutable_refs()->add_datasets(0);
  p->add_datasets()->mutable_config()->set_abbr("ds0");
  if (!ids) {
    p->clear_evaluation_id();
    p->clear_task_id();
    p->clear_stage();
    p->clear_work_dir();
  }
  return t;
}

TEST_F(StoreTest, ParamsByReferenceAreStoredWithoutIdsAndReadWithThem) {
  // e1-infer-0 as planned now; e1-infer-1 as stored before (with its ids).
  const Evaluation e = MakeEvaluation("e1");
  const Task now = ParamsByReference(0, /*ids=*/false);
  const Task before = ParamsByReference(1, /*ids=*/true);
  Insert(e, {now, before});
  {
    auto conn = Connection::Open(db_path(), /*read_only=*/true);
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto s = (*conn)->Prepare("SELECT params FROM tasks WHERE id=?");
    ASSERT_TRUE(s.ok()) << s.status();
    (*s)->Bind(1, now.id());
    ASSERT_TRUE(*(*s)->Step());
    ocx::v1::TaskParams stored;
    ASSERT_TRUE(stored.ParseFromString((*s)->ColumnBlob(0)));
    EXPECT_TRUE(MessageDifferencer::Equals(stored, now.params()))
        << stored.DebugString();
  }
  for (const Task* t : {&now, &before}) {
    // Held and used as stored (by reference), with the ids filled in.
    ocx::v1::TaskParams held = ParamsByReference(t->index(), true).params();
    held.set_task_id(t->id());
    EXPECT_EQ(held.work_dir(), e.work_dir());
    ocx::v1::TaskParams full = held;
    ASSERT_TRUE(ExpandTaskParams(e.spec(), &full).ok());
    auto got = store_->GetTask(t->id());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(MessageDifferencer::Equals(got->params(), full))
        << got->params().DebugString();
    Task details;
    details.set_id(t->id());
    ASSERT_TRUE(store_->Begin().ok());
    absl::Status read = store_->ReadTaskDetails(&details);
    auto active = store_->LoadActiveTasks();
    store_->Rollback();
    ASSERT_TRUE(read.ok()) << read;
    EXPECT_TRUE(MessageDifferencer::Equals(details.params(), held))
        << details.params().DebugString();
    ASSERT_TRUE(active.ok()) << active.status();
    ASSERT_EQ(active->size(), 2u);
    const Task& loaded = (*active)[t->index()].task;
    EXPECT_TRUE(MessageDifferencer::Equals(loaded.params(), held))
        << loaded.params().DebugString();
  }
}

TEST_F(StoreTest, PutAttemptReplacesTheRow) {
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING);
  Insert(MakeEvaluation("e1"), {t});
  AttemptRecord r = MakeAttempt(t.id(), 1, Attempt::LAUNCHING);
  Put(r);
  r.attempt.set_state(Attempt::FAILED);
  r.attempt.set_exit_code(3);
  r.attempt.set_reason("exit code 3");
  Put(r);
  auto got = store_->GetTask(t.id());
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->attempts_size(), 1);
  EXPECT_EQ(got->attempts(0).state(), Attempt::FAILED);
  EXPECT_EQ(got->attempts(0).exit_code(), 3);
  EXPECT_EQ(got->attempts(0).reason(), "exit code 3");
}

TEST_F(StoreTest, GetAttemptByNumberOrLatest) {
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING);
  Task fresh = MakeTask("e1", ocx::v1::STAGE_INFER, 1, Task::READY);
  Insert(MakeEvaluation("e1"), {t, fresh});
  AttemptRecord a1 = MakeAttempt(t.id(), 1, Attempt::FAILED);
  a1.attempt.set_exit_code(3);
  Put(a1);
  Put(MakeAttempt(t.id(), 2, Attempt::RUNNING));

  auto latest = store_->GetAttempt(t.id(), 0);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->number(), 2);
  EXPECT_EQ(latest->state(), Attempt::RUNNING);
  auto first = store_->GetAttempt(t.id(), 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->number(), 1);
  EXPECT_EQ(first->exit_code(), 3);

  auto unknown = store_->GetAttempt(t.id(), 3);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("3"));
  auto none = store_->GetAttempt(fresh.id(), 0);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  auto no_task = store_->GetAttempt("nope", 0);
  EXPECT_EQ(no_task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTask("nope").status().code(),
            absl::StatusCode::kNotFound);
}

// ---- Events ----

TEST_F(StoreTest, ListEventsAfterSequence) {
  Insert(MakeEvaluation("e1"));
  Insert(MakeEvaluation("e2"));
  std::vector<int64_t> seqs;
  for (int i = 0; i < 5; ++i) {
    seqs.push_back(
        Append(MakeEvent("e1", absl::StrCat("S", i), "e1-infer-0", i)));
    Append(MakeEvent("e2", "OTHER"));
  }
  auto all = store_->ListEvents("e1", 0, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const ocx::v1::Event& e = (*all)[i];
    EXPECT_EQ(e.sequence(), seqs[i]);
    EXPECT_EQ(e.evaluation_id(), "e1");
    EXPECT_EQ(e.task_id(), "e1-infer-0");
    EXPECT_EQ(e.attempt(), i);
    EXPECT_EQ(e.state(), absl::StrCat("S", i));
    EXPECT_EQ(e.message(), absl::StrCat("message S", i));
    EXPECT_EQ(TimestampMillis(e.time()), kT0);
  }
  auto after = store_->ListEvents("e1", seqs[1], 100);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].sequence(), seqs[2]);
  EXPECT_EQ((*after)[2].sequence(), seqs[4]);

  auto limited = store_->ListEvents("e1", seqs[0], 2);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 2u);
  EXPECT_EQ((*limited)[0].sequence(), seqs[1]);
  EXPECT_EQ((*limited)[1].sequence(), seqs[2]);

  auto none = store_->ListEvents("e1", seqs[4], 100);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

// WatchEvaluation skips its read unless this says an event may be new.
TEST_F(StoreTest, MayHaveEventsAfterSeesOnlyCommittedEvents) {
  Insert(MakeEvaluation("e1"));
  Insert(MakeEvaluation("e2"));
  EXPECT_FALSE(store_->MayHaveEventsAfter("e1", 0)) << "no event yet";

  ASSERT_TRUE(store_->Begin().ok());
  auto seq = store_->AppendEvent(MakeEvent("e1", "RUNNING"));
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_FALSE(store_->MayHaveEventsAfter("e1", 0)) << "not committed yet";
  ASSERT_TRUE(store_->Commit().ok());
  EXPECT_TRUE(store_->MayHaveEventsAfter("e1", 0));
  EXPECT_TRUE(store_->MayHaveEventsAfter("e1", *seq - 1));
  EXPECT_FALSE(store_->MayHaveEventsAfter("e1", *seq)) << "already read";
  EXPECT_FALSE(store_->MayHaveEventsAfter("e2", 0)) << "another evaluation";

  // Rolled back: never visible, so not new.
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->AppendEvent(MakeEvent("e1", "LOST")).ok());
  store_->Rollback();
  EXPECT_FALSE(store_->MayHaveEventsAfter("e1", *seq));

  // Outside a transaction an append commits at once.
  auto alone = store_->AppendEvent(MakeEvent("e2", "QUEUED"));
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_TRUE(store_->MayHaveEventsAfter("e2", 0));
  auto events = store_->ListEvents("e2", 0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].sequence(), *alone);
}

// ---- Recovery reads ----

TEST_F(StoreTest, LoadActiveTasksReturnsUnfinishedTasksWithLatestAttempt) {
  std::vector<Task> tasks;
  const Task::State states[] = {
      Task::PENDING,   Task::READY,  Task::LAUNCHING, Task::RUNNING,
      Task::SUCCEEDED, Task::FAILED, Task::CANCELLED};
  int i = 0;
  for (Task::State s : states) {
    tasks.push_back(MakeTask("e1", ocx::v1::STAGE_INFER, i++, s));
  }
  tasks[1].set_attempt_count(1);  // READY after a failed attempt
  tasks[2].set_attempt_count(1);
  tasks[3].set_attempt_count(2);
  tasks[4].set_attempt_count(1);
  Insert(MakeEvaluation("e1", Evaluation::RUNNING), tasks);
  AttemptRecord failed = MakeAttempt(tasks[1].id(), 1, Attempt::FAILED);
  failed.attempt.set_exit_code(3);
  Put(failed);
  Put(MakeAttempt(tasks[2].id(), 1, Attempt::LAUNCHING));
  Put(MakeAttempt(tasks[3].id(), 1, Attempt::LOST));
  AttemptRecord running = MakeAttempt(tasks[3].id(), 2, Attempt::RUNNING);
  running.attempt.add_gpus(1);
  Put(running);
  Put(MakeAttempt(tasks[4].id(), 1, Attempt::SUCCEEDED));

  auto active = LoadActive(store_.get());
  ASSERT_TRUE(active.ok()) << active.status();
  std::vector<std::string> ids = IdsOf(*active);
  EXPECT_THAT(ids, ElementsAre(tasks[0].id(), tasks[1].id(), tasks[2].id(),
                               tasks[3].id()));
  const auto& recs = *active;
  // Params only for tasks with a live attempt; queued ones read theirs
  // when they launch.
  EXPECT_FALSE(recs[0].task.has_params());
  EXPECT_FALSE(recs[1].task.has_params());
  EXPECT_TRUE(
      MessageDifferencer::Equals(recs[2].task.params(), tasks[2].params()));
  EXPECT_TRUE(recs[3].task.has_params());
  Task details;
  details.set_id(tasks[0].id());
  Task unknown;
  unknown.set_id("e1-infer-99");
  ASSERT_TRUE(store_->Begin().ok());
  absl::Status read = store_->ReadTaskDetails(&details);
  absl::Status missing = store_->ReadTaskDetails(&unknown);
  store_->Rollback();
  ASSERT_TRUE(read.ok()) << read;
  EXPECT_TRUE(MessageDifferencer::Equals(details.params(), tasks[0].params()));
  EXPECT_EQ(details.name(), tasks[0].name());
  EXPECT_THAT(details.dataset_abbrs(), ElementsAre(tasks[0].dataset_abbrs(0),
                                                   tasks[0].dataset_abbrs(1)));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(recs[0].last_attempt.has_value());
  ASSERT_TRUE(recs[1].last_attempt.has_value());
  EXPECT_EQ(recs[1].last_attempt->attempt.state(), Attempt::FAILED);
  EXPECT_EQ(recs[1].last_attempt->attempt.exit_code(), 3);
  ASSERT_TRUE(recs[2].last_attempt.has_value());
  EXPECT_EQ(recs[2].last_attempt->attempt.state(), Attempt::LAUNCHING);
  ASSERT_TRUE(recs[3].last_attempt.has_value());
  EXPECT_EQ(recs[3].last_attempt->attempt.number(), 2);
  EXPECT_EQ(recs[3].last_attempt->attempt.state(), Attempt::RUNNING);
  EXPECT_EQ(recs[3].last_attempt->attempt_dir, running.attempt_dir);
  EXPECT_THAT(recs[3].last_attempt->attempt.gpus(), ElementsAre(1));
}

TEST_F(StoreTest, LoadActiveEvaluationsAndTaskStates) {
  const Evaluation::State states[] = {
      Evaluation::QUEUED, Evaluation::RUNNING,    Evaluation::SUCCEEDED,
      Evaluation::FAILED, Evaluation::CANCELLING, Evaluation::CANCELLED};
  std::vector<int64_t> seqs;
  int i = 0;
  for (Evaluation::State s : states) {
    seqs.push_back(Insert(MakeEvaluation(absl::StrCat("e", i++), s)));
  }
  Insert(MakeEvaluation("x"),
         {MakeTask("x", ocx::v1::STAGE_INFER, 0, Task::FAILED),
          MakeTask("x", ocx::v1::STAGE_EVAL, 0, Task::PENDING)});

  ASSERT_TRUE(store_->Begin().ok());
  auto active = store_->LoadActiveEvaluations();
  auto task_states = store_->TaskStates("x");
  store_->Rollback();
  ASSERT_TRUE(active.ok()) << active.status();
  std::vector<std::string> ids;
  for (const ActiveEvaluationRecord& r : *active) {
    ids.push_back(r.evaluation.id());
    EXPECT_TRUE(r.evaluation.has_spec());
  }
  // "x" is QUEUED too, and newest.
  EXPECT_THAT(ids, ElementsAre("e0", "e1", "e4", "x"));
  EXPECT_EQ((*active)[0].seq, seqs[0]);
  EXPECT_EQ((*active)[2].seq, seqs[4]);

  ASSERT_TRUE(task_states.ok());
  std::vector<std::pair<std::string, Task::State>> sorted = *task_states;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_THAT(sorted, ElementsAre(std::make_pair("x-eval-0", Task::PENDING),
                                  std::make_pair("x-infer-0", Task::FAILED)));
}

// ---- Times ----

TEST_F(StoreTest, UnsetTimesStayUnsetAndSetOnesKeepMilliseconds) {
  Evaluation e = MakeEvaluation("e1");
  e.clear_update_time();
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::READY);
  Insert(e, {t});
  AttemptRecord r = MakeAttempt(t.id(), 1, Attempt::RUNNING);
  Put(r);

  auto got_e = store_->GetEvaluation("e1");
  ASSERT_TRUE(got_e.ok());
  EXPECT_EQ(TimestampMillis(got_e->create_time()), kT0);
  EXPECT_FALSE(got_e->has_update_time());
  EXPECT_FALSE(got_e->has_end_time());

  auto got_t = store_->GetTask(t.id());
  ASSERT_TRUE(got_t.ok());
  EXPECT_EQ(TimestampMillis(got_t->create_time()), kT0);
  EXPECT_FALSE(got_t->has_start_time());
  EXPECT_FALSE(got_t->has_end_time());
  EXPECT_FALSE(got_t->has_next_attempt_time());
  ASSERT_EQ(got_t->attempts_size(), 1);
  EXPECT_EQ(TimestampMillis(got_t->attempts(0).start_time()), kT0 + 1000);
  EXPECT_FALSE(got_t->attempts(0).has_end_time());

  std::string next;
  auto tasks = store_->ListTasks("e1", Task::STATE_UNSPECIFIED,
                                 ocx::v1::STAGE_UNSPECIFIED, 10, "", &next);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_FALSE((*tasks)[0].has_end_time());
  auto list =
      store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 10, "", &next);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_FALSE((*list)[0].has_end_time());
}

}  // namespace
}  // namespace ocx::store
