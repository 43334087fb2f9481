// Crash safety: while an evaluation of 200 short tasks runs, ocxd is killed
// with SIGKILL at random moments (at least 10 times: mid-run, mid-submit,
// and every third time also while it starts up) and restarted. The seed of
// the kill timings is printed; OCX_CRASH_SEED=<seed> replays them. In the
// end every task succeeded, each task's program ran exactly as many times as
// its recorded attempts, no two attempts of one task overlapped, and every
// evaluation whose Create was acknowledged still exists and completes.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/journal.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Task;

TEST(CrashTest, KillNineLoopLosesNothingAndRunsNothingTwice) {
  TempDir dir;
  std::string journal = dir.path() + "/journal";
  OcxdProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();

  // 10 models x 10 datasets: 100 infer + 100 eval tasks of ~300-500 ms,
  // about 17 s of work on 4 workers: longer than the 12 kills take (at most
  // about 9 s), however fast the machine, so every kill lands mid-run.
  auto spec = TestSpec(
      10, 10,
      {"--journal", journal, "--sleep-ms", "300", "--slow", "-infer-1:200"},
      /*max_num_workers=*/4, /*retry=*/2);
  ocx::v1::CreateEvaluationRequest req;
  *req.mutable_spec() = spec;
  Evaluation big;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(daemon.stub()->CreateEvaluation(&ctx, req, &big).ok());
  }
  ASSERT_EQ(big.task_count(), 200);

  const char* seed_env = getenv("OCX_CRASH_SEED");
  const uint32_t seed =
      seed_env != nullptr
          ? static_cast<uint32_t>(strtoul(seed_env, nullptr, 10))
          : std::random_device{}();
  printf("crash test seed: %u (OCX_CRASH_SEED=%u replays the kill timings)\n",
         seed, seed);
  RecordProperty("seed", static_cast<int>(seed));
  std::mt19937 rng(seed);
  std::vector<std::string> acknowledged;
  int kills = 0;
  int64_t last_kill_ms = 0;
  for (; kills < 12; ++kills) {
    // A small evaluation submitted right before the kill: if its Create was
    // acknowledged it must survive.
    std::thread submitter([&] {
      ocx::v1::CreateEvaluationRequest small;
      *small.mutable_spec() = TestSpec(1, 1, {"--journal", journal});
      Evaluation e;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
      if (daemon.stub()->CreateEvaluation(&ctx, small, &e).ok()) {
        acknowledged.push_back(e.id());
      }
    });
    std::uniform_int_distribution<int> wait_ms(50, 700);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms(rng)));
    daemon.Stop(SIGKILL);
    last_kill_ms = NowMillis();
    submitter.join();
    if (kills % 3 == 2) {
      // Killed again while it starts up: opening the database, recovering,
      // re-attaching to the running attempts.
      ASSERT_TRUE(daemon.Spawn().ok());
      std::uniform_int_distribution<int> startup_ms(0, 150);
      std::this_thread::sleep_for(std::chrono::milliseconds(startup_ms(rng)));
      daemon.Stop(SIGKILL);
    }
    absl::Status started = daemon.Start();
    ASSERT_TRUE(started.ok()) << started << daemon.log();
  }
  EXPECT_GE(kills, 10);

  auto done = WaitForEnd(daemon.stub(), big.id(), 300);
  ASSERT_TRUE(done.ok()) << done.status() << daemon.log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  // Every kill landed while the big evaluation was running.
  EXPECT_GT(TimestampMillis(done->end_time()), last_kill_ms);
  for (const std::string& id : acknowledged) {
    auto small = WaitForEnd(daemon.stub(), id, 120);
    ASSERT_TRUE(small.ok())
        << "acknowledged evaluation " << id << ": " << small.status();
    EXPECT_EQ(small->state(), Evaluation::SUCCEEDED) << id;
  }

  auto runs = ReadJournal(journal);
  std::vector<std::string> evals = acknowledged;
  evals.push_back(big.id());
  int checked = 0;
  for (const std::string& eval_id : evals) {
    for (const Task& listed : AllTasks(daemon.stub(), eval_id)) {
      ocx::v1::GetTaskRequest get;
      get.set_id(listed.id());
      Task t;
      grpc::ClientContext ctx;
      ASSERT_TRUE(daemon.stub()->GetTask(&ctx, get, &t).ok());
      EXPECT_EQ(t.state(), Task::SUCCEEDED) << t.id() << ": " << t.reason();
      std::vector<JournalRun> list = runs[t.id()];
      // Ran exactly as often as recorded, once per attempt number.
      ASSERT_EQ(static_cast<int>(list.size()), t.attempts_size())
          << t.id() << " ran " << list.size() << " times, " << t.attempts_size()
          << " attempts recorded";
      std::vector<int> numbers;
      for (const JournalRun& r : list) numbers.push_back(r.attempt);
      std::sort(numbers.begin(), numbers.end());
      for (int i = 0; i < static_cast<int>(numbers.size()); ++i) {
        EXPECT_EQ(numbers[i], i + 1) << t.id();
      }
      // Never two attempts of one task at the same time.
      std::sort(list.begin(), list.end(),
                [](const JournalRun& a, const JournalRun& b) {
                  return a.start_ms < b.start_ms;
                });
      for (size_t i = 0; i < list.size(); ++i) {
        EXPECT_GT(list[i].end_ms, 0)
            << t.id() << " attempt " << list[i].attempt << " never ended";
        if (i > 0) {
          EXPECT_GE(list[i].start_ms, list[i - 1].end_ms)
              << t.id() << ": attempts " << list[i - 1].attempt << " and "
              << list[i].attempt << " overlapped";
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 200 + 2 * static_cast<int>(acknowledged.size()));
  printf(
      "crash test: %d kills, %zu acknowledged submissions during kills, "
      "%d tasks checked\n",
      kills, acknowledged.size(), checked);
}

}  // namespace
}  // namespace ocx::testing
