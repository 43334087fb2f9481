// Job arrays as pure functions (runners/slurm/slurm_array.h): the manifest
// and wrapper run through a real /bin/sh as Slurm would run element i, the
// element ids squeue -r prints mapped back, and the --array range.
#include "runners/slurm/slurm_array.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/cli/cli.h"
#include "runners/slurm/slurm_command.h"
#include "tests/runners/test_util.h"

namespace ocx::runners::slurm {
namespace {

using ::ocx::runners::CliResult;
using ::ocx::runners::RunCli;
using ::ocx::runners::testing::MakeTempDir;
using ::testing::HasSubstr;

// Three attempts, each with its own script and log; the wrapper run with
// SLURM_ARRAY_TASK_ID=i runs attempt i, whose output lands in its own log
// and whose exit file is named by the element id.
TEST(ArrayScriptTest, ElementIRunsTheAttemptOnManifestLineIPlusOne) {
  const std::string root = MakeTempDir();
  std::vector<std::string> dirs;
  for (int i = 0; i < 3; ++i) {
    // A space and a quote: the dir is one word all the way.
    std::string dir = absl::StrCat(root, "/att 'empt", i);
    ASSERT_TRUE(MakeDirs(dir).ok());
    BatchTask t;
    t.argv = {"/bin/sh", "-c",
              absl::StrCat("echo task ", i, "; exit ", 10 + i)};
    t.work_dir = root;
    t.attempt_dir = dir;
    t.log_path = absl::StrCat(dir, "/log");
    absl::StatusOr<std::string> script = BuildBatchScript(t);
    ASSERT_TRUE(script.ok()) << script.status();
    ASSERT_TRUE(WriteFileAtomic(JoinPath(dir, kScriptFile), *script).ok());
    dirs.push_back(dir);
  }
  absl::StatusOr<std::string> manifest = ArrayManifest(dirs);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::string manifest_path = root + "/manifest";
  ASSERT_TRUE(WriteFileAtomic(manifest_path, *manifest).ok());
  const std::string wrapper = root + "/array.sh";
  ASSERT_TRUE(WriteFileAtomic(wrapper, ArrayScript(manifest_path)).ok());

  setenv("SLURM_ARRAY_JOB_ID", "500", 1);
  setenv("SLURM_JOB_ID", "777", 1);
  setenv("SLURM_ARRAY_TASK_ID", "1", 1);
  CliResult r = RunCli({"/bin/sh", wrapper}, 10000, nullptr);
  EXPECT_EQ(r.exit_code, 11) << r.Describe();
  EXPECT_EQ(r.output, "") << "an element's output goes to its own log";
  EXPECT_EQ(*ReadFile(dirs[1] + "/log"), "task 1\n");
  EXPECT_EQ(*ReadFile(dirs[1] + "/slurm-exit-500_1"), "11\n");
  EXPECT_FALSE(PathExists(dirs[0] + "/log"));
  EXPECT_FALSE(PathExists(dirs[2] + "/log"));

  setenv("SLURM_ARRAY_TASK_ID", "3", 1);  // past the manifest
  r = RunCli({"/bin/sh", wrapper}, 10000, nullptr);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("no attempt for array index 3"));
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("SLURM_ARRAY_JOB_ID");
}

TEST(ArrayManifestTest, RefusesDirsThatAreNotOneLine) {
  EXPECT_EQ(*ArrayManifest({"/a", "/b c"}), "/a\n/b c\n");
  EXPECT_THAT(ArrayManifest({"/a", "/b\nc"}).status().message(),
              HasSubstr("attempt_dirs[1]"));
  EXPECT_FALSE(ArrayManifest({"relative"}).ok());
  EXPECT_FALSE(FitsManifest(""));
  EXPECT_TRUE(FitsManifest("/x y"));
}

TEST(ArrayRangeTest, ThrottleOnlyWhenItLimits) {
  EXPECT_EQ(ArrayRange(10, 4), "0-9%4");
  EXPECT_EQ(ArrayRange(10, 10), "0-9");
  EXPECT_EQ(ArrayRange(3, 0), "0-2");
}

// squeue -r prints an element's own job id in JobID; the element id
// "<array>_<index>" is made from ArrayJobID and ArrayTaskID (Slurm 22.05).
TEST(ElementIdTest, SqueueLinesMapBackToElements) {
  std::vector<JobRecord> r = ParseSqueue(
      "2081|COMPLETED|0|None|ocx-a-1-array|2080|0|\n"
      "2084|FAILED|768|NonZeroExitCode|ocx-a-1-array|2080|3|\n"
      "2080|PENDING|0|JobArrayTaskLimit|ocx-a-1-array|2080|4|\n"
      "2090|RUNNING|0|None|ocx-b-1|2090|N/A|\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].job_id, "2080_0");
  EXPECT_EQ(r[1].job_id, "2080_3");
  EXPECT_EQ(r[1].exit_code, 3);
  EXPECT_EQ(r[2].job_id, "2080_4");
  EXPECT_EQ(r[3].job_id, "2090");
  EXPECT_EQ(ElementIndex("2080_4"), 4);
  EXPECT_EQ(ElementIndex("2090"), -1);
  EXPECT_EQ(BaseJobId("2080_4"), "2080");
  EXPECT_EQ(ElementId("2080", 12), "2080_12");
  EXPECT_TRUE(IsJobId("2080_12"));
  EXPECT_TRUE(JobIdLess("7_2", "7_10"));
  EXPECT_TRUE(JobIdLess("7_10", "8"));
  EXPECT_TRUE(JobIdLess("99", "100"));
  EXPECT_FALSE(JobIdLess("7_10", "7_2"));
}

}  // namespace
}  // namespace ocx::runners::slurm
