// The managed-server rows of the Store (server/store/servers.cc) on a real
// SQLite file: pools, pool users, replicas and their starts round trip; the
// 3 -> 4 migration keeps an older database's rows; ListServers filters and
// counts from real task and attempt rows; replica numbers are never reused.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/store/schema.h"
#include "server/store/store.h"
#include "tests/server/store_test_util.h"

namespace ocx::store {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::ocx::store::testing::kT0;
using ::ocx::store::testing::MakeAttempt;
using ::ocx::store::testing::MakeEvaluation;
using ::ocx::store::testing::MakeTask;
using ::ocx::store::testing::StoreTest;
using ::ocx::store::testing::UserVersion;
using ::ocx::store::testing::WriteOldDatabase;
using ::ocx::v1::Attempt;
using ::ocx::v1::Evaluation;
using ::ocx::v1::Replica;
using ::ocx::v1::ServerPool;
using ::ocx::v1::Task;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ServerPool MakePool(const std::string& id, int64_t create_ms) {
  ServerPool p;
  p.set_id(id);
  p.set_fingerprint(absl::StrCat(id.substr(4), "abcdef"));
  p.set_model_path("/models/stories260K.gguf");
  p.set_model_abbr("m0");
  p.mutable_serve()->add_command("llm-server");
  p.mutable_serve()->add_command("--port");
  p.mutable_serve()->add_command("{port}");
  p.mutable_serve()->set_num_gpus(1);
  p.mutable_runner()->set_type("LocalRunner");
  SetTimestamp(create_ms, p.mutable_create_time());
  return p;
}

Replica MakeReplica(const std::string& pool_id, int n, Replica::State state) {
  Replica r;
  r.set_id(absl::StrCat(pool_id, "-", n));
  r.set_pool_id(pool_id);
  r.set_state(state);
  r.set_attempt(1);
  r.set_host("127.0.0.1");
  r.set_port(20000 + n);
  r.set_base_url(absl::StrCat("http://127.0.0.1:", 20000 + n, "/v1"));
  r.set_backend("local");
  r.set_backend_id(absl::StrCat(4000 + n));
  r.add_gpus(n % 2);
  r.set_log_path(absl::StrCat("/srv/", r.id(), "/attempt-1.log"));
  SetTimestamp(kT0, r.mutable_create_time());
  SetTimestamp(kT0 + 10, r.mutable_start_time());
  return r;
}

AttemptRecord ReplicaStart(const std::string& replica_id, int number,
                           Attempt::State state) {
  AttemptRecord r = MakeAttempt(replica_id, number, state);
  r.attempt_dir = absl::StrCat("/srv/", replica_id, "/attempt-", number);
  r.attempt.set_log_path(absl::StrCat(r.attempt_dir, ".log"));
  return r;
}

std::vector<std::string> PoolIds(const std::vector<ServerPool>& pools) {
  std::vector<std::string> ids;
  for (const ServerPool& p : pools) ids.push_back(p.id());
  return ids;
}

std::vector<std::string> ReplicaIds(const ServerPool& pool) {
  std::vector<std::string> ids;
  for (const Replica& r : pool.replicas()) ids.push_back(r.id());
  return ids;
}

class ServersStoreTest : public StoreTest {
 protected:
  // Runs `write` in one committed transaction; fails the test on an error.
  template <typename Fn>
  void Write(Fn write) {
    ASSERT_TRUE(store_->Begin().ok());
    absl::Status s = write();
    if (!s.ok()) store_->Rollback();
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(store_->Commit().ok());
  }

  void PutPool(const ServerPool& pool) {
    Write([&] { return store_->PutServerPool(pool); });
  }
  void PutUser(const std::string& pool, const std::string& eval,
               const std::string& abbr) {
    Write([&] { return store_->PutPoolUser({pool, eval, abbr}); });
  }
  void PutReplica(const Replica& replica) {
    Write([&] { return store_->PutReplica(replica); });
  }
  void PutStart(const AttemptRecord& start) {
    Write([&] { return store_->PutReplicaAttempt(start); });
  }
  void PutTaskAttempt(const std::string& task_id, int number,
                      Attempt::State state, const std::string& replica_id) {
    AttemptRecord r = MakeAttempt(task_id, number, state);
    r.attempt.set_replica_id(replica_id);
    Put(r);
  }
};

// ---- Schema ----

TEST_F(ServersStoreTest, MigrationThreeToFourKeepsRowsAndAddsServerTables) {
  store_.reset();
  std::string path = dir_.path() + "/v3.db";
  ASSERT_NO_FATAL_FAILURE(WriteOldDatabase(path, 3));
  ASSERT_EQ(UserVersion(path), 3);
  auto opened = Store::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  EXPECT_EQ(UserVersion(path), LatestSchemaVersion());

  // The old rows are all there; the old attempt used no replica.
  auto e = store_->GetEvaluation("e1");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->state(), Evaluation::RUNNING);
  auto task = store_->GetTask("e1-infer-0");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), Task::RUNNING);
  ASSERT_EQ(task->attempts_size(), 1);
  EXPECT_EQ(task->attempts(0).name(), "ocx-e1-infer-0-1");
  EXPECT_EQ(task->attempts(0).replica_id(), "");

  // The new tables work with the old rows: e1 now uses a pool.
  PutPool(MakePool("srv-00aa", kT0));
  PutUser("srv-00aa", "e1", "m0");
  PutReplica(MakeReplica("srv-00aa", 1, Replica::READY));
  PutTaskAttempt("e1-infer-0", 2, Attempt::RUNNING, "srv-00aa-1");
  auto servers = store_->ListServers("e1", false, false);
  ASSERT_TRUE(servers.ok()) << servers.status();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_THAT((*servers)[0].evaluation_ids(), ElementsAre("e1"));
  EXPECT_EQ((*servers)[0].outstanding_tasks(), 1);
  ASSERT_EQ((*servers)[0].replicas_size(), 1);
  EXPECT_EQ((*servers)[0].replicas(0).active_tasks(), 1);
}

TEST_F(ServersStoreTest, ForeignKeysRefuseRowsOfUnknownOwners) {
  PutPool(MakePool("srv-00aa", kT0));
  ASSERT_TRUE(store_->Begin().ok());
  EXPECT_FALSE(store_->PutPoolUser({"srv-00aa", "no-such-eval", "m0"}).ok());
  EXPECT_FALSE(store_->PutPoolUser({"srv-none", "e1", "m0"}).ok());
  EXPECT_FALSE(
      store_->PutReplica(MakeReplica("srv-none", 1, Replica::STARTING)).ok());
  EXPECT_FALSE(
      store_->PutReplicaAttempt(ReplicaStart("srv-00aa-1", 1, Attempt::RUNNING))
          .ok());
  store_->Rollback();
}

// ---- Round trips ----

TEST_F(ServersStoreTest, PoolsKeepTheirFirstConfigOldestFirst) {
  ServerPool b = MakePool("srv-00bb", kT0 + 5);
  ServerPool a = MakePool("srv-00aa", kT0);
  // What ListServers computes is not stored.
  a.add_evaluation_ids("e9");
  a.set_outstanding_tasks(7);
  *a.add_replicas() = MakeReplica("srv-00aa", 1, Replica::READY);
  PutPool(b);
  PutPool(a);
  ServerPool again = MakePool("srv-00bb", kT0 + 99);
  again.mutable_serve()->set_num_gpus(4);
  PutPool(again);  // the first config holds

  ASSERT_TRUE(store_->Begin().ok());
  auto pools = store_->LoadServerPools();
  store_->Rollback();
  ASSERT_TRUE(pools.ok()) << pools.status();
  EXPECT_THAT(PoolIds(*pools), ElementsAre("srv-00aa", "srv-00bb"));
  ServerPool a_config = a;
  a_config.clear_evaluation_ids();
  a_config.clear_outstanding_tasks();
  a_config.clear_replicas();
  EXPECT_TRUE(MessageDifferencer::Equals((*pools)[0], a_config))
      << (*pools)[0].DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals((*pools)[1], b))
      << (*pools)[1].DebugString();
}

TEST_F(ServersStoreTest, ActiveReplicasByPoolAndNumberWithTheirLatestStart) {
  PutPool(MakePool("srv-00bb", kT0));
  PutPool(MakePool("srv-00aa", kT0 + 1));
  Replica ten = MakeReplica("srv-00aa", 10, Replica::STARTING);
  ten.set_active_tasks(3);  // computed, not stored
  ten.set_served_tasks(9);
  *ten.add_attempts() = ReplicaStart(ten.id(), 1, Attempt::FAILED).attempt;
  PutReplica(ten);
  PutReplica(MakeReplica("srv-00aa", 2, Replica::READY));
  PutReplica(MakeReplica("srv-00aa", 3, Replica::STOPPED));
  PutReplica(MakeReplica("srv-00aa", 4, Replica::FAILED));
  PutReplica(MakeReplica("srv-00bb", 1, Replica::UNHEALTHY));
  PutReplica(MakeReplica("srv-00bb", 5, Replica::STOPPING));
  AttemptRecord first = ReplicaStart(ten.id(), 1, Attempt::FAILED);
  first.attempt.set_exit_code(1);
  first.attempt.set_reason("exited 1; last log lines: no model");
  PutStart(first);
  AttemptRecord second = ReplicaStart(ten.id(), 2, Attempt::RUNNING);
  second.attempt.add_gpus(0);
  second.attempt.add_gpus(1);
  PutStart(second);
  // A replica's state changes by replacing its row.
  Replica two = MakeReplica("srv-00aa", 2, Replica::UNHEALTHY);
  two.set_reason("3 probes failed");
  PutReplica(two);

  ASSERT_TRUE(store_->Begin().ok());
  auto active = store_->LoadActiveReplicas();
  store_->Rollback();
  ASSERT_TRUE(active.ok()) << active.status();
  std::vector<std::string> ids;
  for (const ReplicaRecord& r : *active) ids.push_back(r.replica.id());
  EXPECT_THAT(ids, ElementsAre("srv-00aa-2", "srv-00aa-10", "srv-00bb-1",
                               "srv-00bb-5"));
  const ReplicaRecord& got_two = (*active)[0];
  EXPECT_TRUE(MessageDifferencer::Equals(got_two.replica, two));
  EXPECT_FALSE(got_two.last_attempt.has_value());
  const ReplicaRecord& got_ten = (*active)[1];
  Replica ten_row = ten;
  ten_row.clear_attempts();
  ten_row.clear_active_tasks();
  ten_row.clear_served_tasks();
  EXPECT_TRUE(MessageDifferencer::Equals(got_ten.replica, ten_row))
      << got_ten.replica.DebugString();
  ASSERT_TRUE(got_ten.last_attempt.has_value());
  EXPECT_TRUE(
      MessageDifferencer::Equals(got_ten.last_attempt->attempt, second.attempt))
      << got_ten.last_attempt->attempt.DebugString();
  EXPECT_EQ(got_ten.last_attempt->attempt_dir, second.attempt_dir);
  EXPECT_EQ(got_ten.last_attempt->attempt.task_id(), ten.id());
}

TEST_F(ServersStoreTest, GetReplicaAttemptByNumberOrLatest) {
  PutPool(MakePool("srv-00aa", kT0));
  PutReplica(MakeReplica("srv-00aa", 1, Replica::READY));
  PutReplica(MakeReplica("srv-00aa", 2, Replica::STARTING));
  AttemptRecord first = ReplicaStart("srv-00aa-1", 1, Attempt::FAILED);
  first.attempt.set_signal(9);
  PutStart(first);
  PutStart(ReplicaStart("srv-00aa-1", 2, Attempt::RUNNING));

  auto latest = store_->GetReplicaAttempt("srv-00aa-1", 0);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->number(), 2);
  EXPECT_EQ(latest->log_path(), "/srv/srv-00aa-1/attempt-2.log");
  auto one = store_->GetReplicaAttempt("srv-00aa-1", 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*one, first.attempt));

  auto missing = store_->GetReplicaAttempt("srv-00aa-1", 3);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_EQ(missing.status().message(), "replica srv-00aa-1 has no attempt 3");
  auto unstarted = store_->GetReplicaAttempt("srv-00aa-2", 0);
  EXPECT_EQ(unstarted.status().message(),
            "replica srv-00aa-2 has not started yet");
  auto unknown = store_->GetReplicaAttempt("srv-00aa-9", 0);
  EXPECT_TRUE(absl::IsNotFound(unknown.status())) << unknown.status();
  EXPECT_EQ(unknown.status().message(), "replica srv-00aa-9 not found");
  // Task attempts and replica starts do not mix.
  EXPECT_TRUE(absl::IsNotFound(store_->GetAttempt("srv-00aa-1", 0).status()));
}

TEST_F(ServersStoreTest, TaskAttemptsKeepTheReplicaTheyUsed) {
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING);
  t.set_attempt_count(2);
  Insert(MakeEvaluation("e1", Evaluation::RUNNING), {t});
  PutTaskAttempt(t.id(), 1, Attempt::LOST, "srv-00aa-1");
  PutTaskAttempt(t.id(), 2, Attempt::RUNNING, "srv-00aa-2");

  auto task = store_->GetTask(t.id());
  ASSERT_TRUE(task.ok()) << task.status();
  ASSERT_EQ(task->attempts_size(), 2);
  EXPECT_EQ(task->attempts(0).replica_id(), "srv-00aa-1");
  EXPECT_EQ(task->attempts(1).replica_id(), "srv-00aa-2");
  auto attempt = store_->GetAttempt(t.id(), 1);
  ASSERT_TRUE(attempt.ok()) << attempt.status();
  EXPECT_EQ(attempt->replica_id(), "srv-00aa-1");
  ASSERT_TRUE(store_->Begin().ok());
  auto active = store_->LoadActiveTasks();
  store_->Rollback();
  ASSERT_TRUE(active.ok()) << active.status();
  ASSERT_EQ(active->size(), 1u);
  ASSERT_TRUE((*active)[0].last_attempt.has_value());
  EXPECT_EQ((*active)[0].last_attempt->attempt.replica_id(), "srv-00aa-2");
}

TEST_F(ServersStoreTest, MaxReplicaNumbersCountStoppedReplicasToo) {
  ASSERT_TRUE(store_->Begin().ok());
  auto none = store_->MaxReplicaNumbers();
  store_->Rollback();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());

  PutPool(MakePool("srv-00aa", kT0));
  PutPool(MakePool("srv-00bb", kT0));
  PutPool(MakePool("srv-00cc", kT0));
  PutReplica(MakeReplica("srv-00aa", 1, Replica::READY));
  PutReplica(MakeReplica("srv-00aa", 10, Replica::STOPPED));
  PutReplica(MakeReplica("srv-00aa", 9, Replica::READY));
  PutReplica(MakeReplica("srv-00bb", 3, Replica::FAILED));
  ASSERT_TRUE(store_->Begin().ok());
  auto max = store_->MaxReplicaNumbers();
  store_->Rollback();
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(*max,
            (std::map<std::string, int>{{"srv-00aa", 10}, {"srv-00bb", 3}}));
}

// ---- ListServers ----

// Pools:
//   srv-00aa: used by e1 (RUNNING, m0) and e2 (SUCCEEDED); replicas 1 READY,
//             2 STOPPED, 10 READY.
//   srv-00bb: used by e3 (RUNNING, m1); its only replica FAILED.
//   srv-00cc: used by e2 only (SUCCEEDED); no replica.
class ListServersTest : public ServersStoreTest {
 protected:
  void SetUp() override {
    ServersStoreTest::SetUp();
    std::vector<Task> e1 = {
        MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING),
        MakeTask("e1", ocx::v1::STAGE_INFER, 1, Task::READY),
        MakeTask("e1", ocx::v1::STAGE_INFER, 2, Task::SUCCEEDED),
        MakeTask("e1", ocx::v1::STAGE_INFER, 3, Task::PENDING),
        MakeTask("e1", ocx::v1::STAGE_EVAL, 0, Task::PENDING)};
    // Another model of e1 that has no managed server.
    e1[3].set_model_abbr("other");
    Insert(MakeEvaluation("e1", Evaluation::RUNNING), e1);
    Insert(MakeEvaluation("e2", Evaluation::SUCCEEDED),
           {MakeTask("e2", ocx::v1::STAGE_INFER, 0, Task::PENDING)});
    Task e3 = MakeTask("e3", ocx::v1::STAGE_INFER, 0, Task::PENDING);
    e3.set_model_abbr("m1");
    Insert(MakeEvaluation("e3", Evaluation::RUNNING), {e3});

    PutPool(MakePool("srv-00aa", kT0));
    PutPool(MakePool("srv-00bb", kT0 + 1));
    PutPool(MakePool("srv-00cc", kT0 + 2));
    PutUser("srv-00aa", "e1", "m0");
    PutUser("srv-00aa", "e2", "m0");
    PutUser("srv-00aa", "e1", "m0");  // idempotent
    PutUser("srv-00bb", "e3", "m1");
    PutUser("srv-00cc", "e2", "m0");
    PutReplica(MakeReplica("srv-00aa", 1, Replica::READY));
    PutReplica(MakeReplica("srv-00aa", 2, Replica::STOPPED));
    PutReplica(MakeReplica("srv-00aa", 10, Replica::READY));
    PutReplica(MakeReplica("srv-00bb", 1, Replica::FAILED));
    PutStart(ReplicaStart("srv-00aa-1", 1, Attempt::RUNNING));
    PutStart(ReplicaStart("srv-00aa-2", 1, Attempt::FAILED));
    PutStart(ReplicaStart("srv-00aa-2", 2, Attempt::CANCELLED));

    // e1-infer-0 lost its first replica and runs on the second;
    // e1-infer-2 succeeded on replica 1; e2's task ran there too.
    PutTaskAttempt("e1-infer-0", 1, Attempt::LOST, "srv-00aa-2");
    PutTaskAttempt("e1-infer-0", 2, Attempt::RUNNING, "srv-00aa-1");
    PutTaskAttempt("e1-infer-2", 1, Attempt::SUCCEEDED, "srv-00aa-1");
    PutTaskAttempt("e1-infer-1", 1, Attempt::LAUNCHING, "srv-00aa-10");
    PutTaskAttempt("e2-infer-0", 1, Attempt::SUCCEEDED, "srv-00aa-1");
    PutTaskAttempt("e1-eval-0", 1, Attempt::FAILED, "");
  }

  std::vector<ServerPool> List(const std::string& eval_id, bool all,
                               bool with_attempts) {
    auto got = store_->ListServers(eval_id, all, with_attempts);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::vector<ServerPool>();
  }
};

TEST_F(ListServersTest, DefaultListsLivePoolsWithTheirReplicasNotEnded) {
  std::vector<ServerPool> pools = List("", false, false);
  // srv-00bb has no replica left but e3 still waits for it.
  ASSERT_THAT(PoolIds(pools), ElementsAre("srv-00aa", "srv-00bb"));
  const ServerPool& aa = pools[0];
  EXPECT_THAT(aa.evaluation_ids(), ElementsAre("e1"));
  // e1-infer-0 (RUNNING) and -1 (READY); not -2 (ended), -3 (another model),
  // the eval task, or e2's (its evaluation is over).
  EXPECT_EQ(aa.outstanding_tasks(), 2);
  EXPECT_EQ(aa.model_path(), "/models/stories260K.gguf");
  ASSERT_THAT(ReplicaIds(aa), ElementsAre("srv-00aa-1", "srv-00aa-10"));
  EXPECT_EQ(aa.replicas(0).active_tasks(), 1);
  EXPECT_EQ(aa.replicas(0).served_tasks(), 3);
  EXPECT_EQ(aa.replicas(0).attempts_size(), 0);
  EXPECT_EQ(aa.replicas(1).active_tasks(), 1);  // LAUNCHING counts
  EXPECT_EQ(aa.replicas(1).served_tasks(), 1);
  EXPECT_EQ(aa.replicas(1).port(), 20010);

  const ServerPool& bb = pools[1];
  EXPECT_THAT(bb.evaluation_ids(), ElementsAre("e3"));
  EXPECT_EQ(bb.outstanding_tasks(), 1);
  EXPECT_EQ(bb.replicas_size(), 0);
}

TEST_F(ListServersTest, AllListsEveryPoolAndReplicaWithAttempts) {
  std::vector<ServerPool> pools = List("", true, true);
  ASSERT_THAT(PoolIds(pools), ElementsAre("srv-00aa", "srv-00bb", "srv-00cc"));
  ASSERT_THAT(ReplicaIds(pools[0]),
              ElementsAre("srv-00aa-1", "srv-00aa-2", "srv-00aa-10"));
  const Replica& two = pools[0].replicas(1);
  EXPECT_EQ(two.state(), Replica::STOPPED);
  EXPECT_EQ(two.active_tasks(), 0);
  EXPECT_EQ(two.served_tasks(), 1);
  ASSERT_EQ(two.attempts_size(), 2);
  EXPECT_EQ(two.attempts(0).number(), 1);
  EXPECT_EQ(two.attempts(0).state(), Attempt::FAILED);
  EXPECT_EQ(two.attempts(1).number(), 2);
  EXPECT_EQ(two.attempts(1).task_id(), "srv-00aa-2");
  EXPECT_EQ(pools[0].replicas(2).attempts_size(), 0);
  ASSERT_THAT(ReplicaIds(pools[1]), ElementsAre("srv-00bb-1"));
  EXPECT_THAT(pools[2].evaluation_ids(), IsEmpty());
  EXPECT_EQ(pools[2].outstanding_tasks(), 0);
  EXPECT_EQ(pools[2].replicas_size(), 0);
}

TEST_F(ListServersTest, AnEvaluationSeesOnlyThePoolsItUses) {
  EXPECT_THAT(PoolIds(List("e3", false, false)), ElementsAre("srv-00bb"));
  EXPECT_THAT(PoolIds(List("e3", true, false)), ElementsAre("srv-00bb"));
  // e2 is over: its pool still runs (for e1); srv-00cc only with --all.
  std::vector<ServerPool> e2 = List("e2", false, false);
  ASSERT_THAT(PoolIds(e2), ElementsAre("srv-00aa"));
  EXPECT_THAT(e2[0].evaluation_ids(), ElementsAre("e1"));
  EXPECT_THAT(PoolIds(List("e2", true, false)),
              ElementsAre("srv-00aa", "srv-00cc"));
  EXPECT_THAT(List("no-such-eval", true, false), IsEmpty());
}

TEST_F(ListServersTest, CancellingEvaluationsStillCountAndFinishedOnesDoNot) {
  Write([&] {
    return store_->UpdateEvaluationState("e1", Evaluation::CANCELLING, kT0, 0);
  });
  std::vector<ServerPool> pools = List("e1", false, false);
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_THAT(pools[0].evaluation_ids(), ElementsAre("e1"));
  EXPECT_EQ(pools[0].outstanding_tasks(), 2);

  Write([&] {
    return store_->UpdateEvaluationState("e1", Evaluation::CANCELLED, kT0, kT0);
  });
  pools = List("e1", false, false);
  ASSERT_EQ(pools.size(), 1u);  // replicas 1 and 10 have not stopped yet
  EXPECT_THAT(pools[0].evaluation_ids(), IsEmpty());
  EXPECT_EQ(pools[0].outstanding_tasks(), 0);
  PutReplica(MakeReplica("srv-00aa", 1, Replica::STOPPED));
  PutReplica(MakeReplica("srv-00aa", 10, Replica::STOPPED));
  EXPECT_THAT(List("e1", false, false), IsEmpty());
  EXPECT_EQ(List("", false, false).size(), 1u);  // srv-00bb for e3
}

}  // namespace
}  // namespace ocx::store
