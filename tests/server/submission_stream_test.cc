// SubmitPlanned and the dispatcher's side of a streamed plan: a plan larger
// than a chunk flows through a TaskRowsChannel into a real SQLite store
// while it is planned; any error on either side leaves no evaluation, no
// task row, no work dir and no tracked task. The runner is a FakeRunner:
// what it launches is what the dispatcher tracked.
#include "server/submission_stream.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/waker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioners/plan.h"
#include "server/store/store.h"
#include "spec/validate.h"
#include "tests/server/fake_runner.h"
#include "tests/server/test_util.h"

namespace ocx::server {
namespace {

using ::ocx::server::testing::FakeRunner;
using ::ocx::server::testing::TempDir;
using ::ocx::v1::Task;
using ::testing::HasSubstr;

// `models` x `datasets`, command tasks, NaivePartitioner: one infer and one
// eval task per pair.
ocx::v1::EvaluationSpec Spec(int models, int datasets) {
  ocx::v1::EvaluationSpec spec;
  for (int m = 0; m < models; ++m) {
    auto* model = spec.add_models();
    model->set_abbr(absl::StrCat("m", m));
    model->set_type("OpenAISDK");
    model->set_path("stories260K");
  }
  for (int d = 0; d < datasets; ++d) {
    auto* ds = spec.add_datasets();
    ds->set_abbr(absl::StrCat("ds", d));
    ds->set_path(absl::StrCat("/data/ds", d, ".jsonl"));
  }
  for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
    stage->mutable_runner()->set_type("LocalRunner");
    stage->mutable_runner()->mutable_task()->set_type("command");
    stage->mutable_runner()->mutable_task()->add_argv("/bin/true");
    // Above the default, so that every READY task launches at once.
    stage->mutable_runner()->set_max_num_workers(64);
  }
  return spec;
}

class SubmissionStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::Store::Open(dir_.path() + "/ocx.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    FakeRunner::Options runner_options;
    runner_options.waker = &waker_;
    runner_ = std::make_unique<FakeRunner>(runner_options);
    dispatcher_ = std::make_unique<Dispatcher>(store_.get(), runner_.get(),
                                               &waker_, DispatcherOptions());
    ASSERT_TRUE(dispatcher_->Recover().ok());
    dispatcher_->Start();
    policy_.work_root = dir_.path() + "/work";
  }
  void TearDown() override { dispatcher_->Stop(); }

  absl::StatusOr<std::string> Create(const std::string& id, int models,
                                     int datasets,
                                     const std::string& request_id = "") {
    auto prepared = PrepareToPlan(Spec(models, datasets), "", request_id, id,
                                  policy_, /*create_dirs=*/true);
    if (!prepared.ok()) return prepared.status();
    StreamOptions options;
    options.chunk_rows = 5;
    options.queued_chunks = 1;
    return SubmitPlanned(*std::move(prepared), dispatcher_.get(), options);
  }

  // A submission of `id` whose rows come through the returned channel
  // (created SUCCEEDED-free, with a work dir to make), announced as
  // `task_count` rows.
  std::shared_ptr<TaskRowsChannel> Streamed(const std::string& id,
                                            int task_count, Submission* sub) {
    ocx::v1::EvaluationSpec spec = Spec(2, 3);
    EXPECT_TRUE(spec::ValidateEvaluationSpec(spec).ok());
    spec::ApplyDefaults(&spec);
    sub->evaluation.set_id(id);
    sub->evaluation.set_name(id);
    *sub->evaluation.mutable_spec() = spec;
    sub->evaluation.set_work_dir(WorkDir(id));
    sub->evaluation.set_task_count(task_count);
    sub->create_work_dir = true;
    sub->task_stream = std::make_shared<TaskRowsChannel>(1);
    return sub->task_stream;
  }

  // The first `n` planned rows of a 2 x 3 plan of `id`, from `first`.
  TaskRows Rows(const std::string& id, size_t first, size_t n) {
    ocx::v1::EvaluationSpec spec = Spec(2, 3);
    spec::ApplyDefaults(&spec);
    auto tasks = partitioners::PlanTasks(spec, id);
    EXPECT_TRUE(tasks.ok()) << tasks.status();
    TaskRows rows;
    for (size_t i = first; tasks.ok() && i < first + n; ++i) {
      rows.Add((*tasks)[i]);
    }
    return rows;
  }

  std::string WorkDir(const std::string& id) {
    return JoinPath(policy_.work_root, id);
  }

  // Nothing of `id` is stored, made or tracked.
  void ExpectNothingOf(const std::string& id) {
    EXPECT_EQ(store_->GetEvaluation(id).status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(store_->GetTask(id + "-infer-0").status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_FALSE(PathExists(WorkDir(id)));
    // Tracked tasks would be READY and launched within a few turns.
    uint64_t seen = dispatcher_->WaitForCommit(0, absl::ZeroDuration());
    for (int i = 0; i < 3; ++i) {
      seen = dispatcher_->WaitForCommit(seen, absl::Seconds(2));
    }
    EXPECT_TRUE(runner_->launched().empty());
  }

  TempDir dir_;
  Waker waker_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FakeRunner> runner_;
  std::unique_ptr<Dispatcher> dispatcher_;
  SubmissionPolicy policy_;
};

TEST_F(SubmissionStreamTest, APlanOfManyChunksIsStoredAndTrackedWhole) {
  // 3 x 7: 21 infer and 21 eval tasks, in chunks of 5.
  auto id = Create("big", 3, 7);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "big");
  auto e = store_->GetEvaluation("big");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->task_count(), 42);
  EXPECT_TRUE(PathExists(WorkDir("big")));
  // The counts the chunks added up.
  int64_t counted = 0;
  for (const auto& c : e->stage_counts()) counted += c.total();
  EXPECT_EQ(counted, 42);
  auto last = store_->GetTask("big-eval-20");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->state(), Task::PENDING);
  EXPECT_THAT(last->depends_on(), ::testing::ElementsAre("big-infer-20"));
  // Every infer task was tracked READY: each is launched.
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (runner_->launched().size() < 21 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(runner_->launched().size(), 21u);
}

TEST_F(SubmissionStreamTest, ARetryOfAStreamedCreateReturnsTheFirst) {
  auto first = Create("first", 2, 6, "req-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = Create("retry", 2, 6, "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, "first");
  EXPECT_FALSE(PathExists(WorkDir("retry")));
  EXPECT_EQ(store_->GetEvaluation("retry").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SubmissionStreamTest, APlannerErrorMidStreamLeavesNothing) {
  Submission sub;
  std::shared_ptr<TaskRowsChannel> channel = Streamed("cut", 12, &sub);
  absl::StatusOr<std::string> result = absl::UnknownError("not run");
  std::thread submitter([&] { result = dispatcher_->Submit(std::move(sub)); });
  ASSERT_TRUE(channel->Push(Rows("cut", 0, 4)));
  ASSERT_TRUE(channel->Push(Rows("cut", 4, 4)));
  channel->Close(absl::InvalidArgumentError(
      "datasets[2].path: line 3, column 1: not JSON"));
  submitter.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("datasets[2].path"));
  ExpectNothingOf("cut");
  // The id is free again: nothing of the first try is held.
  Submission again;
  std::shared_ptr<TaskRowsChannel> channel2 = Streamed("cut", 12, &again);
  ASSERT_TRUE(channel2->Push(Rows("cut", 0, 12)));
  channel2->Close();
  auto id = dispatcher_->Submit(std::move(again));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(PathExists(WorkDir("cut")));
}

TEST_F(SubmissionStreamTest, AStoreErrorMidStreamStopsThePlanner) {
  Submission sub;
  std::shared_ptr<TaskRowsChannel> channel = Streamed("dup", 12, &sub);
  absl::StatusOr<std::string> result = absl::UnknownError("not run");
  std::thread submitter([&] { result = dispatcher_->Submit(std::move(sub)); });
  ASSERT_TRUE(channel->Push(Rows("dup", 0, 4)));
  // The same rows again: their ids are taken.
  ASSERT_TRUE(channel->Push(Rows("dup", 0, 4)));
  // The planner learns it may stop: a push is refused at the latest once
  // the dispatcher has failed.
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    refused = !channel->Push(Rows("dup", 8, 1));
  }
  EXPECT_TRUE(refused);
  channel->Close();
  submitter.join();
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(channel->stopped().ok());
  ExpectNothingOf("dup");
}

TEST_F(SubmissionStreamTest, FewerRowsThanThePlannerCountedIsAnError) {
  Submission sub;
  std::shared_ptr<TaskRowsChannel> channel = Streamed("short", 12, &sub);
  ASSERT_TRUE(channel->Push(Rows("short", 0, 5)));
  channel->Close();
  auto result = dispatcher_->Submit(std::move(sub));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal)
      << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("counted 12"));
  ExpectNothingOf("short");
}

TEST_F(SubmissionStreamTest, APlanAboveTheLimitIsRefusedBeforeAnyInsert) {
  policy_.limits.set_max_tasks_per_evaluation(30);
  auto id = Create("huge", 4, 5);  // 40 tasks
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument)
      << id.status();
  ExpectNothingOf("huge");
}

}  // namespace
}  // namespace ocx::server
