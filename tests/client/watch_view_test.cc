#include "client/watch_view.h"

#include <sstream>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ocx::client {
namespace {

using v1::Evaluation;
using v1::StageCounts;
using v1::WatchEvaluationResponse;

const absl::Time kStart = absl::FromCivil(
    absl::CivilSecond(2024, 5, 1, 12, 0, 0), absl::UTCTimeZone());

StageCounts Counts(v1::Stage stage, int total, int pending, int running,
                   int succeeded, int failed) {
  StageCounts c;
  c.set_stage(stage);
  c.set_total(total);
  c.set_pending(pending);
  c.set_running(running);
  c.set_succeeded(succeeded);
  c.set_failed(failed);
  return c;
}

Evaluation Snapshot(Evaluation::State state, StageCounts infer,
                    StageCounts eval) {
  Evaluation e;
  e.set_id("e7qk2m4xa");
  e.set_name("demo");
  e.set_state(state);
  e.set_task_count(infer.total() + eval.total());
  e.mutable_create_time()->set_seconds(absl::ToUnixSeconds(kStart));
  *e.add_stage_counts() = infer;
  *e.add_stage_counts() = eval;
  return e;
}

WatchEvaluationResponse Batch(const Evaluation& e) {
  WatchEvaluationResponse batch;
  *batch.mutable_evaluation() = e;
  return batch;
}

void AddEvent(WatchEvaluationResponse* batch, int64_t sequence, absl::Time when,
              const std::string& task, const std::string& state, int attempt,
              const std::string& message) {
  v1::Event* event = batch->add_events();
  event->set_sequence(sequence);
  event->mutable_time()->set_seconds(absl::ToUnixSeconds(when));
  event->set_evaluation_id("e7qk2m4xa");
  event->set_task_id(task);
  event->set_state(state);
  event->set_attempt(attempt);
  event->set_message(message);
}

TEST(ProgressBarTest, SucceededFailedAndRest) {
  EXPECT_EQ(ProgressBar(5, 1, 10, 10), "[#####x....]");
  EXPECT_EQ(ProgressBar(3, 0, 10, 4), "[#...]");
  EXPECT_EQ(ProgressBar(10, 0, 10, 4), "[####]");
  EXPECT_EQ(ProgressBar(9, 1, 10, 4), "[###x]");
  EXPECT_EQ(ProgressBar(0, 0, 0, 4), "[....]");
}

TEST(StageLineTest, BarCountsAndStates) {
  StageCounts c = Counts(v1::STAGE_INFER, 100, 8, 2, 45, 1);
  c.set_ready(2);
  EXPECT_EQ(StageLine(c, 16, 6),
            "infer  [#######.........]  45/100  pending 10 running 2 "
            "succeeded 45 failed 1");
  StageCounts eval = Counts(v1::STAGE_EVAL, 10, 10, 0, 0, 0);
  eval.set_cancelled(3);
  EXPECT_EQ(StageLine(eval, 4, 6),
            "eval   [x...]    0/10  pending 10 running 0 succeeded 0 failed 0 "
            "cancelled 3");
}

TEST(StageSummaryTest, LeavesOutZeroCounts) {
  EXPECT_EQ(StageSummary(Counts(v1::STAGE_INFER, 10, 7, 2, 1, 0)),
            "infer 1/10 (pending 7, running 2)");
  EXPECT_EQ(StageSummary(Counts(v1::STAGE_EVAL, 2, 0, 0, 2, 0)), "eval 2/2");
}

TEST(WatchViewPlainTest, OneLinePerChangeNoEscapes) {
  std::ostringstream out;
  WatchViewOptions options;
  options.tty = false;
  WatchView view(&out, options);

  StageCounts eval = Counts(v1::STAGE_EVAL, 1, 1, 0, 0, 0);
  view.Update(Snapshot(Evaluation::QUEUED,
                       Counts(v1::STAGE_INFER, 2, 2, 0, 0, 0), eval),
              kStart);
  // Nothing changed: nothing printed.
  view.Update(Snapshot(Evaluation::QUEUED,
                       Counts(v1::STAGE_INFER, 2, 2, 0, 0, 0), eval),
              kStart + absl::Seconds(1));

  WatchEvaluationResponse running = Batch(Snapshot(
      Evaluation::RUNNING, Counts(v1::STAGE_INFER, 2, 0, 2, 0, 0), eval));
  AddEvent(&running, 1, kStart + absl::Seconds(2), "e7qk2m4xa-infer-0",
           "RUNNING", 1, "");
  AddEvent(&running, 2, kStart + absl::Seconds(2), "e7qk2m4xa-infer-1",
           "RUNNING", 1, "");
  view.Update(running, kStart + absl::Seconds(2));

  WatchEvaluationResponse failed = Batch(Snapshot(
      Evaluation::RUNNING, Counts(v1::STAGE_INFER, 2, 0, 0, 1, 1), eval));
  AddEvent(&failed, 3, kStart + absl::Seconds(150), "e7qk2m4xa-infer-0",
           "SUCCEEDED", 1, "");
  AddEvent(&failed, 4, kStart + absl::Seconds(150), "e7qk2m4xa-infer-1",
           "FAILED", 1, "exit code 1");
  view.Update(failed, kStart + absl::Seconds(192));

  view.Notice("lost connection to ocxd, reconnecting…",
              kStart + absl::Seconds(193));
  view.Notice("", kStart + absl::Seconds(194));

  Evaluation end =
      Snapshot(Evaluation::FAILED, Counts(v1::STAGE_INFER, 2, 0, 0, 1, 1),
               Counts(v1::STAGE_EVAL, 1, 0, 0, 0, 0));
  end.mutable_stage_counts(1)->set_cancelled(1);
  end.mutable_end_time()->set_seconds(absl::ToUnixSeconds(kStart) + 200);
  view.Update(end, kStart + absl::Seconds(201));
  view.Finish(kStart + absl::Seconds(205));
  view.Finish(kStart + absl::Seconds(206));  // Once only.

  EXPECT_EQ(out.str(),
            "watching evaluation e7qk2m4xa (demo): 3 tasks\n"
            "[+0s] QUEUED  infer 0/2 (pending 2)  eval 0/1 (pending 1)\n"
            "[+2s] RUNNING  infer 0/2 (running 2)  eval 0/1 (pending 1)\n"
            "[+3m12s] RUNNING  infer 1/2 (failed 1)  eval 0/1 (pending 1)\n"
            "  e7qk2m4xa-infer-1 FAILED: exit code 1\n"
            "lost connection to ocxd, reconnecting…\n"
            "[+3m20s] FAILED  infer 1/2 (failed 1)  eval 0/1 (cancelled 1)\n"
            "evaluation e7qk2m4xa FAILED after 3m20s: 3 tasks, 1 succeeded, "
            "1 failed, 1 cancelled\n");
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(WatchViewPlainTest, TickNeverPrints) {
  std::ostringstream out;
  WatchView view(&out, WatchViewOptions());
  view.Update(
      Snapshot(Evaluation::RUNNING, Counts(v1::STAGE_INFER, 1, 0, 1, 0, 0),
               Counts(v1::STAGE_EVAL, 1, 1, 0, 0, 0)),
      kStart);
  std::string before = out.str();
  view.Tick(kStart + absl::Seconds(5));
  EXPECT_EQ(out.str(), before);
}

TEST(WatchViewTtyTest, FrameShowsStagesAndRecentEvents) {
  std::ostringstream out;
  WatchViewOptions options;
  options.tty = true;
  options.max_events = 2;
  options.bar_width = 10;
  WatchView view(&out, options);
  WatchEvaluationResponse batch = Batch(
      Snapshot(Evaluation::RUNNING, Counts(v1::STAGE_INFER, 10, 5, 2, 3, 0),
               Counts(v1::STAGE_EVAL, 2, 2, 0, 0, 0)));
  AddEvent(&batch, 1, kStart + absl::Seconds(1), "e7qk2m4xa-infer-0", "RUNNING",
           1, "");
  AddEvent(&batch, 2, kStart + absl::Seconds(9), "e7qk2m4xa-infer-0",
           "SUCCEEDED", 1, "");
  AddEvent(&batch, 3, kStart + absl::Seconds(10), "", "RUNNING", 0,
           "first task started");
  view.Update(batch, kStart + absl::Seconds(12));
  std::vector<std::string> frame = view.Frame(kStart + absl::Seconds(12));
  ASSERT_EQ(frame.size(), 5u);
  EXPECT_EQ(frame[0], "evaluation e7qk2m4xa (demo)   RUNNING   elapsed 12s");
  EXPECT_EQ(frame[1],
            "infer  [###.......]  3/10  pending 5 running 2 succeeded 3 "
            "failed 0");
  EXPECT_EQ(frame[2],
            "eval   [..........]   0/2  pending 2 running 0 succeeded 0 "
            "failed 0");
  EXPECT_EQ(frame[3], "  12:00:09  e7qk2m4xa-infer-0  SUCCEEDED (attempt 1)");
  // A message replaces the attempt number (the daemon's words name it).
  AddEvent(&batch, 4, kStart + absl::Seconds(11), "e7qk2m4xa-infer-1", "FAILED",
           2, "attempt 2 failed: exit code 3");
  view.Update(batch, kStart + absl::Seconds(12));
  EXPECT_EQ(view.Frame(kStart + absl::Seconds(12)).back(),
            "  12:00:11  e7qk2m4xa-infer-1  FAILED  attempt 2 failed: exit "
            "code 3");
  EXPECT_EQ(frame[4], "  12:00:10  evaluation  RUNNING  first task started");
}

TEST(WatchViewTtyTest, RedrawsInPlace) {
  std::ostringstream out;
  WatchViewOptions options;
  options.tty = true;
  options.width = 30;
  options.bar_width = 4;
  WatchView view(&out, options);
  Evaluation e =
      Snapshot(Evaluation::RUNNING, Counts(v1::STAGE_INFER, 2, 1, 1, 0, 0),
               Counts(v1::STAGE_EVAL, 1, 1, 0, 0, 0));
  view.Update(e, kStart + absl::Seconds(1));
  EXPECT_EQ(out.str(),
            "\r\x1b[2Kevaluation e7qk2m4xa (demo)  \n"
            "\r\x1b[2Kinfer  [....]  0/2  pending 1\n"
            "\r\x1b[2Keval   [....]  0/1  pending 1\n"
            "\x1b[J");
  out.str("");
  view.Tick(kStart + absl::Seconds(2));
  // Back over the three lines drawn, then the same frame again.
  EXPECT_EQ(out.str().rfind("\x1b[3A\r\x1b[2Kevaluation", 0), 0u) << out.str();
  out.str("");
  view.Notice("lost connection to ocxd, reconnecting…",
              kStart + absl::Seconds(3));
  EXPECT_NE(out.str().find("\r\x1b[2Klost connection to ocxd, reco\n"),
            std::string::npos)
      << out.str();
  out.str("");
  view.Finish(kStart + absl::Seconds(4));
  // Four lines on screen (frame + notice); the notice is cleared.
  EXPECT_EQ(out.str().rfind("\x1b[4A", 0), 0u) << out.str();
  EXPECT_EQ(out.str().find("lost connection"), std::string::npos);
  EXPECT_NE(out.str().find("\x1b[J"
                           "evaluation e7qk2m4xa RUNNING after 4s: 3 tasks, 0 "
                           "succeeded\n"),
            std::string::npos)
      << out.str();
}

v1::Task Running(const std::string& id, int64_t done, int64_t total,
                 double rate) {
  v1::Task t;
  t.set_id(id);
  t.set_state(v1::Task::RUNNING);
  t.mutable_progress()->set_done(done);
  t.mutable_progress()->set_total(total);
  t.mutable_progress()->set_rate_per_s(rate);
  return t;
}

TEST(WatchViewTest, TtyFrameShowsRunningTasksProgress) {
  std::ostringstream out;
  WatchViewOptions options;
  options.tty = true;
  WatchView view(&out, options);
  view.Update(
      Snapshot(Evaluation::RUNNING, Counts(v1::STAGE_INFER, 2, 0, 2, 0, 0),
               Counts(v1::STAGE_EVAL, 1, 1, 0, 0, 0)),
      kStart);
  v1::Task silent;
  silent.set_id("e7qk2m4xa-infer-1");
  silent.set_state(v1::Task::RUNNING);
  view.UpdateTasks({Running("e7qk2m4xa-infer-0", 120, 500, 3.25), silent},
                   kStart);
  std::vector<std::string> frame = view.Frame(kStart);
  ASSERT_EQ(frame.size(), 4u);
  EXPECT_EQ(frame[3], "  e7qk2m4xa-infer-0  120/500 samples  3.2/s");
}

TEST(WatchViewTest, PlainPrintsProgressWhenItChangesAtMostEvery10s) {
  std::ostringstream out;
  WatchView view(&out, WatchViewOptions());
  view.UpdateTasks({Running("t0", 10, 50, 1.0)}, kStart);
  view.UpdateTasks({Running("t0", 20, 50, 1.0)}, kStart + absl::Seconds(5));
  view.UpdateTasks({Running("t0", 20, 50, 1.0)}, kStart + absl::Seconds(20));
  view.UpdateTasks({Running("t0", 30, 50, 1.0)}, kStart + absl::Seconds(21));
  // 20 at +5s is too soon; at +20s it is printed; 30 at +21s is too soon.
  EXPECT_EQ(out.str(),
            "  t0 progress 10/50 (1.0/s)\n"
            "  t0 progress 20/50 (1.0/s)\n");
}

}  // namespace
}  // namespace ocx::client
