// The evaluation face of the gRPC API over a real in-process server on a
// unix socket and a real Store file: WatchEvaluation's ordering guarantee
// (the last response's snapshot agrees with the last evaluation-level
// event) while a writer ends evaluations under the watches, and
// INVALID_ARGUMENT naming the field for unknown enum filters and for forged
// page tokens.
#include <atomic>
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
using ::ocx::store::testing::MakeEvaluation;
using ::ocx::store::testing::MakeTask;
using ::ocx::v1::Evaluation;
using ::testing::HasSubstr;

class EvaluationApiTest : public testing::ApiTest {
 protected:
  static v1::Event EvalEvent(const std::string& id, const std::string& state) {
    v1::Event e;
    SetTimestamp(kT0, e.mutable_time());
    e.set_evaluation_id(id);
    e.set_state(state);
    e.set_message(absl::StrCat("evaluation ", state));
    return e;
  }

  // What the dispatcher does when an evaluation ends: the state and its
  // final event in one transaction.
  void End(const std::string& id, Evaluation::State state) {
    ASSERT_TRUE(store_->Begin().ok());
    ASSERT_TRUE(store_->UpdateEvaluationState(id, state, kT0, kT0 + 1).ok());
    ASSERT_TRUE(
        store_->AppendEvent(EvalEvent(id, Evaluation::State_Name(state))).ok());
    ASSERT_TRUE(store_->Commit().ok());
  }
};

// Many short evaluations, each watched to its end while the writer ends it
// at some moment: every stream ends OK with a final snapshot whose state is
// the state of the last evaluation-level event it received.
TEST_F(EvaluationApiTest, WatchEndsWithASnapshotThatAgreesWithItsLastEvent) {
  constexpr int kEvaluations = 40;
  for (int i = 0; i < kEvaluations; ++i) {
    std::string id = absl::StrCat("w", i);
    Insert(MakeEvaluation(id, Evaluation::RUNNING));
    Append(EvalEvent(id, "RUNNING"));
  }
  std::vector<std::string> problems(kEvaluations);
  std::vector<std::thread> watchers;
  for (int i = 0; i < kEvaluations; ++i) {
    watchers.emplace_back([&, i] {
      v1::WatchEvaluationRequest request;
      request.set_id(absl::StrCat("w", i));
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      auto reader = stub_->WatchEvaluation(&context, request);
      v1::WatchEvaluationResponse resp, last;
      std::string last_state;
      while (reader->Read(&resp)) {
        for (const v1::Event& e : resp.events()) {
          if (e.task_id().empty()) last_state = e.state();
        }
        last = resp;
      }
      grpc::Status status = reader->Finish();
      const std::string snapshot =
          Evaluation::State_Name(last.evaluation().state());
      if (!status.ok()) {
        problems[i] = status.error_message();
      } else if (snapshot != last_state) {
        problems[i] =
            absl::StrCat("snapshot ", snapshot, ", last event ", last_state);
      }
    });
  }
  // End them at staggered moments, among the watches' polls.
  for (int i = 0; i < kEvaluations; ++i) {
    absl::SleepFor(absl::Milliseconds(15 + (i * 37) % 50));
    ASSERT_NO_FATAL_FAILURE(
        End(absl::StrCat("w", i),
            i % 3 == 0 ? Evaluation::FAILED : Evaluation::SUCCEEDED));
  }
  for (std::thread& t : watchers) t.join();
  for (int i = 0; i < kEvaluations; ++i) {
    EXPECT_EQ(problems[i], "") << "w" << i;
  }
}

TEST_F(EvaluationApiTest, UnknownEnumFiltersAreInvalidArgumentNamingTheField) {
  Insert(MakeEvaluation("e1", Evaluation::RUNNING),
         {MakeTask("e1", v1::STAGE_INFER, 0)});
  {
    v1::ListEvaluationsRequest request;
    request.set_state(static_cast<Evaluation::State>(42));
    v1::ListEvaluationsResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->ListEvaluations(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("state: unknown value 42"));
    EXPECT_THAT(status.error_message(), HasSubstr("RUNNING"));
  }
  for (const char* field : {"state", "stage"}) {
    v1::ListTasksRequest request;
    request.set_evaluation_id("e1");
    if (std::string(field) == "state") {
      request.set_state(static_cast<v1::Task::State>(77));
    } else {
      request.set_stage(static_cast<v1::Stage>(9));
    }
    v1::ListTasksResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->ListTasks(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(status.error_message(),
                HasSubstr(absl::StrCat(field, ": unknown value")));
  }
  // A known value still filters.
  v1::ListTasksRequest request;
  request.set_evaluation_id("e1");
  request.set_stage(v1::STAGE_INFER);
  v1::ListTasksResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListTasks(&context, request, &response).ok());
  EXPECT_EQ(response.tasks_size(), 1);
}

TEST_F(EvaluationApiTest, ForgedOrStalePageTokenIsInvalidArgument) {
  for (int i = 0; i < 3; ++i) Insert(MakeEvaluation(absl::StrCat("e", i)));
  v1::ListEvaluationsRequest request;
  request.set_page_size(1);
  v1::ListEvaluationsResponse page;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListEvaluations(&context, request, &page).ok());
    ASSERT_FALSE(page.next_page_token().empty());
  }
  std::vector<std::pair<std::string, Evaluation::State>> bad = {
      {"2", Evaluation::STATE_UNSPECIFIED},  // a bare sequence number
      {page.next_page_token() + "x", Evaluation::STATE_UNSPECIFIED},
      {page.next_page_token(), Evaluation::QUEUED},  // another filter
  };
  for (const auto& [token, state] : bad) {
    request.set_page_token(token);
    request.set_state(state);
    v1::ListEvaluationsResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->ListEvaluations(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << token;
    EXPECT_THAT(status.error_message(), HasSubstr("page_token")) << token;
  }
}

}  // namespace
}  // namespace ocx::server
