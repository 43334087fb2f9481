// The managed-server face of the gRPC API over a real in-process server on
// a unix socket, a real Store file and real log files: ListServers (and its
// NOT_FOUND for an unknown evaluation), GetTask refusing a replica id, and
// ReadTaskLog reading a replica's start logs, following one until it ends.
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/time_util.h"
#include "common/waker.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ocx/v1/service.grpc.pb.h"
#include "server/api/evaluation_service.h"
#include "server/dispatcher/dispatcher.h"
#include "tests/server/api_test_util.h"
#include "tests/server/store_test_util.h"

namespace ocx::server {
namespace {

using ::ocx::store::testing::kT0;
using ::ocx::store::testing::MakeAttempt;
using ::ocx::store::testing::MakeEvaluation;
using ::ocx::store::testing::MakeTask;
using ::ocx::v1::Attempt;
using ::ocx::v1::Evaluation;
using ::ocx::v1::Replica;
using ::ocx::v1::ServerPool;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ServersApiTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ApiTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(WriteRows());
  }

  std::string LogPath(int number) const {
    return absl::StrCat(dir_.path(), "/srv-00aa11bb22-1.attempt-", number,
                        ".log");
  }

  // e1 (RUNNING) uses pool srv-00aa11bb22, whose replica 1 had one failed start
  // (log "first\n") and runs its second (log "second\n").
  void WriteRows() {
    Insert(MakeEvaluation("e1", Evaluation::RUNNING),
           {MakeTask("e1", v1::STAGE_INFER, 0, v1::Task::RUNNING)});
    Insert(MakeEvaluation("e2", Evaluation::RUNNING));
    ServerPool pool;
    pool.set_id("srv-00aa11bb22");
    pool.set_fingerprint("00aa000000000000");
    pool.set_model_abbr("m0");
    SetTimestamp(kT0, pool.mutable_create_time());
    Replica replica;
    replica.set_id("srv-00aa11bb22-1");
    replica.set_pool_id("srv-00aa11bb22");
    replica.set_state(Replica::READY);
    replica.set_attempt(2);
    std::ofstream(LogPath(1)) << "first\n";
    std::ofstream(LogPath(2)) << "second\n";
    ASSERT_TRUE(store_->Begin().ok());
    ASSERT_TRUE(store_->PutServerPool(pool).ok());
    ASSERT_TRUE(store_->PutPoolUser({"srv-00aa11bb22", "e1", "m0"}).ok());
    ASSERT_TRUE(store_->PutReplica(replica).ok());
    for (int n : {1, 2}) {
      store::AttemptRecord start = MakeAttempt(
          "srv-00aa11bb22-1", n, n == 1 ? Attempt::FAILED : Attempt::RUNNING);
      start.attempt.set_log_path(LogPath(n));
      ASSERT_TRUE(store_->PutReplicaAttempt(start).ok());
    }
    store::AttemptRecord task_attempt =
        MakeAttempt("e1-infer-0", 1, Attempt::RUNNING);
    task_attempt.attempt.set_replica_id("srv-00aa11bb22-1");
    ASSERT_TRUE(store_->PutAttempt(task_attempt).ok());
    ASSERT_TRUE(store_->Commit().ok());
  }

  // The whole stream of one ReadTaskLog call.
  grpc::Status ReadLog(const std::string& id, int attempt, bool follow,
                       std::string* data) {
    v1::ReadTaskLogRequest request;
    request.set_task_id(id);
    request.set_attempt(attempt);
    request.set_follow(follow);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    auto reader = stub_->ReadTaskLog(&context, request);
    v1::ReadTaskLogResponse chunk;
    while (reader->Read(&chunk)) data->append(chunk.data());
    return reader->Finish();
  }
};

TEST_F(ServersApiTest, ListServersAllOrOfOneEvaluation) {
  v1::ListServersRequest request;
  v1::ListServersResponse response;
  grpc::ClientContext all;
  ASSERT_TRUE(stub_->ListServers(&all, request, &response).ok());
  ASSERT_EQ(response.servers_size(), 1);
  const ServerPool& pool = response.servers(0);
  EXPECT_EQ(pool.id(), "srv-00aa11bb22");
  EXPECT_THAT(pool.evaluation_ids(), ElementsAre("e1"));
  EXPECT_EQ(pool.outstanding_tasks(), 1);
  ASSERT_EQ(pool.replicas_size(), 1);
  EXPECT_EQ(pool.replicas(0).active_tasks(), 1);
  EXPECT_EQ(pool.replicas(0).attempts_size(), 0);

  request.set_evaluation_id("e1");
  request.set_with_attempts(true);
  response.Clear();
  grpc::ClientContext of_e1;
  ASSERT_TRUE(stub_->ListServers(&of_e1, request, &response).ok());
  ASSERT_EQ(response.servers_size(), 1);
  EXPECT_EQ(response.servers(0).replicas(0).attempts_size(), 2);

  // An evaluation without managed servers has none.
  request.set_evaluation_id("e2");
  response.Clear();
  grpc::ClientContext of_e2;
  ASSERT_TRUE(stub_->ListServers(&of_e2, request, &response).ok());
  EXPECT_EQ(response.servers_size(), 0);
}

TEST_F(ServersApiTest, ListServersOfAnUnknownEvaluationIsNotFound) {
  v1::ListServersRequest request;
  request.set_evaluation_id("e999");
  v1::ListServersResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->ListServers(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "evaluation e999 not found");
}

TEST_F(ServersApiTest, GetTaskOfAReplicaPointsToOcxctlServers) {
  v1::GetTaskRequest request;
  request.set_id("srv-00aa11bb22-1");
  v1::Task task;
  grpc::ClientContext context;
  grpc::Status status = stub_->GetTask(&context, request, &task);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(),
              HasSubstr("srv-00aa11bb22-1 is a managed"));
  EXPECT_THAT(status.error_message(), HasSubstr("`ocxctl servers`"));
  // Tasks are still found.
  request.set_id("e1-infer-0");
  grpc::ClientContext again;
  ASSERT_TRUE(stub_->GetTask(&again, request, &task).ok());
  ASSERT_EQ(task.attempts_size(), 1);
  EXPECT_EQ(task.attempts(0).replica_id(), "srv-00aa11bb22-1");
}

TEST_F(ServersApiTest, ReadTaskLogReadsAReplicasStarts) {
  std::string latest, first;
  ASSERT_TRUE(ReadLog("srv-00aa11bb22-1", 0, false, &latest).ok());
  EXPECT_EQ(latest, "second\n");
  ASSERT_TRUE(ReadLog("srv-00aa11bb22-1", 1, false, &first).ok());
  EXPECT_EQ(first, "first\n");
  // An ended start is read to its end even with follow.
  std::string followed;
  ASSERT_TRUE(ReadLog("srv-00aa11bb22-1", 1, true, &followed).ok());
  EXPECT_EQ(followed, "first\n");

  std::string none;
  grpc::Status missing = ReadLog("srv-00aa11bb22-1", 3, false, &none);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(),
            "replica srv-00aa11bb22-1 has no attempt 3");
  grpc::Status unknown = ReadLog("srv-00aa11bb22-7", 0, true, &none);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.error_message(), "replica srv-00aa11bb22-7 not found");
}

TEST_F(ServersApiTest, FollowingARunningStartEndsWhenItEnds) {
  std::string data;
  grpc::Status status;
  std::thread reader(
      [&] { status = ReadLog("srv-00aa11bb22-1", 0, true, &data); });
  absl::SleepFor(absl::Milliseconds(500));
  std::ofstream(LogPath(2), std::ios::app) << "ready\n";
  absl::SleepFor(absl::Milliseconds(500));
  // The start ends: the stream reads what is left and ends.
  std::ofstream(LogPath(2), std::ios::app) << "exited\n";
  store::AttemptRecord ended =
      MakeAttempt("srv-00aa11bb22-1", 2, Attempt::FAILED);
  ended.attempt.set_log_path(LogPath(2));
  // No ASSERT before the join: the reader thread must be joined.
  EXPECT_TRUE(store_->Begin().ok());
  EXPECT_TRUE(store_->PutReplicaAttempt(ended).ok());
  EXPECT_TRUE(store_->Commit().ok());
  reader.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(data, "second\nready\nexited\n");
}

}  // namespace
}  // namespace ocx::server
