// The work-dir layout: every path an evaluation's files live at, built in
// one place (DESIGN.md decision 9).
#include "common/work_dir_layout.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::layout {
namespace {

using ::testing::ElementsAre;

TEST(WorkDirLayoutTest, OutputsAreRelativeAndMirrorOpenCompass) {
  EXPECT_EQ(PartAbbr("gsm8k", 3), "gsm8k_3");
  EXPECT_EQ(PredictionFile("llama", "gsm8k"), "predictions/llama/gsm8k.json");
  EXPECT_EQ(PredictionFile("llama", PartAbbr("gsm8k", 12)),
            "predictions/llama/gsm8k_12.json");
  EXPECT_EQ(ResultFile("llama", "gsm8k"), "results/llama/gsm8k.json");
  EXPECT_EQ(InWorkDir("/w/e1", ResultFile("m", "d")), "/w/e1/results/m/d.json");
  EXPECT_EQ(InWorkDir("/w/e1/", "predictions/m/d.json"),
            "/w/e1/predictions/m/d.json");
  // A rescore's predictions live in the source evaluation's work dir.
  EXPECT_EQ(InWorkDir("/w/e2", "/w/e1/predictions/m/d.json"),
            "/w/e1/predictions/m/d.json");
}

TEST(WorkDirLayoutTest, SummaryAndConfigsSitAtTheTop) {
  EXPECT_EQ(SummaryDir("/w/e1"), "/w/e1/summary");
  EXPECT_THAT(SummaryFiles("/w/e1"), ElementsAre("/w/e1/summary/summary.txt",
                                                 "/w/e1/summary/summary.csv",
                                                 "/w/e1/summary/summary.md"));
  EXPECT_EQ(ConfigsDir("/w/e1"), "/w/e1/configs");
}

TEST(WorkDirLayoutTest, EachAttemptHasItsOwnLogAndDirectory) {
  EXPECT_EQ(StageName(ocx::v1::STAGE_INFER), "infer");
  EXPECT_EQ(StageName(ocx::v1::STAGE_EVAL), "eval");
  EXPECT_EQ(AttemptLogFile("/w/e1", ocx::v1::STAGE_EVAL, "m", "e1-eval-0", 2),
            "/w/e1/logs/eval/m/e1-eval-0.2.out");
  EXPECT_NE(AttemptLogFile("/w", ocx::v1::STAGE_INFER, "m", "t", 1),
            AttemptLogFile("/w", ocx::v1::STAGE_INFER, "m", "t", 2));
  EXPECT_EQ(TaskDir("/w/e1", "e1-infer-3"), "/w/e1/.ocx/tasks/e1-infer-3");
  EXPECT_EQ(TaskJsonFile("/w/e1", "e1-infer-3"),
            "/w/e1/.ocx/tasks/e1-infer-3/task.json");
  EXPECT_EQ(AttemptDir("/w/e1", "e1-infer-3", 4),
            "/w/e1/.ocx/tasks/e1-infer-3/4");
}

TEST(WorkDirLayoutTest, InferStateLivesInTheTaskDir) {
  const std::string task_dir = TaskDir("/w/e1", "t");
  EXPECT_EQ(ProgressFileIn(task_dir), "/w/e1/.ocx/tasks/t/progress.json");
  EXPECT_EQ(JournalDirIn(task_dir), "/w/e1/.ocx/tasks/t/journal");
  EXPECT_EQ(JournalFileIn(task_dir, "gsm8k_1"),
            "/w/e1/.ocx/tasks/t/journal/gsm8k_1.jsonl");
}

}  // namespace
}  // namespace ocx::layout
