// The Slurm contract as pure functions: the batch script (run through a real
// /bin/sh with hostile strings), sbatch argv, squeue/sacct parsing and the
// state → outcome mapping. Outputs below are what Slurm 22.05 prints
// (docs/slurm.md).
#include "runners/slurm/slurm_command.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/cli/cli.h"
#include "tests/runners/test_util.h"

namespace ocx::runners::slurm {
namespace {

using ::ocx::runners::CliResult;
using ::ocx::runners::RunCli;
using ::ocx::runners::testing::MakeTempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Config strings are data: the script passes each hostile string through
// unchanged and runs none of it.
TEST(BatchScriptTest, HostileStringsArriveVerbatimAndRunNothing) {
  std::string root = MakeTempDir();
  std::string pwned = root + "/pwned";
  const std::vector<std::string> hostile = {
      "'; touch " + pwned + "; echo '",
      "$(touch " + pwned + ")",
      "`touch " + pwned + "`",
      "\"; touch " + pwned + "; \"",
      "a\nb; touch " + pwned,
      "|| touch " + pwned + " &&",
      "${HOME}*?[a]~",
      "it's \\ back\\slash",
  };
  std::string wd = root + "/w d'i$(touch " + pwned + ")r";
  std::string attempt_dir = root + "/a't $(touch " + pwned + ")";
  ASSERT_TRUE(MakeDirs(wd).ok());
  ASSERT_TRUE(MakeDirs(attempt_dir).ok());
  BatchTask t;
  t.work_dir = wd;
  t.attempt_dir = attempt_dir;
  t.argv = {"/bin/sh", "-c",
            "printf '<%s>\\n' \"$@\"; printf '[%s]\\n' \"$T0\" \"$T1\" "
            "\"$PWD\"; exit 7",
            "sh"};
  for (const std::string& h : hostile) t.argv.push_back(h);
  t.env = {{"T0", hostile[0]}, {"T1", hostile[1]}};
  absl::StatusOr<std::string> script = BuildBatchScript(t);
  ASSERT_TRUE(script.ok()) << script.status();
  std::string path = root + "/job.sh";
  ASSERT_TRUE(WriteFileAtomic(path, *script).ok());
  setenv("SLURM_JOB_ID", "4242", 1);
  CliResult r = RunCli({"/bin/sh", path}, 10000, nullptr);
  EXPECT_EQ(r.exit_code, 7) << r.Describe();
  std::string want;
  for (const std::string& h : hostile) absl::StrAppend(&want, "<", h, ">\n");
  absl::StrAppend(&want, "[", hostile[0], "]\n[", hostile[1], "]\n[", wd,
                  "]\n");
  EXPECT_EQ(r.output, want);
  EXPECT_FALSE(PathExists(pwned)) << "a config string ran as shell code";
  // The task's exit status is recorded for when Slurm forgets the job.
  absl::StatusOr<std::string> exit = ReadFile(attempt_dir + "/slurm-exit-4242");
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, "7\n");
}

TEST(BatchScriptTest, RefusesWhatAShellCannotCarry) {
  BatchTask t;
  t.work_dir = "/tmp";
  t.attempt_dir = "/tmp/a";
  t.argv = {"true"};
  t.env = {{"1BAD", "x"}};
  EXPECT_THAT(BuildBatchScript(t).status().message(), HasSubstr("env[1BAD]"));
  t.env = {{"OK", std::string("a\0b", 3)}};
  EXPECT_THAT(BuildBatchScript(t).status().message(), HasSubstr("NUL"));
  t.env.clear();
  t.argv = {};
  EXPECT_THAT(BuildBatchScript(t).status().message(), HasSubstr("argv"));
  t.argv = {"true"};
  t.work_dir = "";
  EXPECT_THAT(BuildBatchScript(t).status().message(), HasSubstr("work_dir"));
}

TEST(SbatchArgvTest, AllOptionsInOrder) {
  SubmitOptions o;
  o.sbatch = "/usr/bin/sbatch";
  o.default_args = {"--account=lab"};
  o.job_name = "ocx-e1-infer-0-1";
  o.log_path = "/w/logs/100%.out";
  o.work_dir = "/w";
  o.partition = "gpu";
  o.qos = "normal";
  o.array = "0-9%4";
  o.gpus = 2;
  o.cpus_per_task = 8;
  o.time_limit = "1:00:00";
  o.extra_args = {"-x node1", "--exclusive"};
  o.script_path = "/w/a/slurm-job.sh";
  EXPECT_THAT(
      SbatchArgv(o),
      ElementsAre("/usr/bin/sbatch", "--parsable",
                  "--job-name=ocx-e1-infer-0-1", "--output=/w/logs/100%%.out",
                  "--open-mode=append", "--chdir=/w", "--array=0-9%4", "-p",
                  "gpu", "--qos=normal", "--gres=gpu:2", "--cpus-per-task=8",
                  "--time=1:00:00", "--account=lab", "-x", "node1",
                  "--exclusive", "/w/a/slurm-job.sh"));
}

TEST(SbatchArgvTest, LeavesOutWhatIsNotSet) {
  SubmitOptions o;
  o.job_name = "n";
  o.log_path = "/l";
  o.script_path = "/s";
  EXPECT_THAT(SbatchArgv(o),
              ElementsAre("sbatch", "--parsable", "--job-name=n", "--output=/l",
                          "--open-mode=append", "/s"));
}

TEST(ParseSbatchOutputTest, Forms) {
  EXPECT_EQ(*ParseSbatchOutput("123\n"), "123");
  EXPECT_EQ(*ParseSbatchOutput("123;cluster\n"), "123");
  EXPECT_EQ(*ParseSbatchOutput("sbatch: warning: x\n77\n"), "77");
  EXPECT_THAT(ParseSbatchOutput("sbatch: error: boom\n").status().message(),
              HasSubstr("sbatch printed no job id"));
  EXPECT_FALSE(ParseSbatchOutput("").ok());
}

TEST(ParseSqueueTest, StatesExitStatusAndReason) {
  // squeue -h -t all -O JobID:|,State:|,exit_code:|,Reason:|,Name:|
  std::vector<JobRecord> r = ParseSqueue(
      "2|CANCELLED|15|None|ocx-b-1|\n"
      "3|COMPLETED|0|None|ocx-c-1|\n"
      "1|FAILED|768|NonZeroExitCode|ocx-a-1   |\n"
      "4|PENDING|0|Resources|ocx-d-1|\n"
      "garbage\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].state, "CANCELLED");
  EXPECT_EQ(r[0].signal, 15);
  EXPECT_EQ(r[1].exit_code, 0);
  EXPECT_EQ(r[1].reason, "");
  EXPECT_EQ(r[2].job_id, "1");
  EXPECT_EQ(r[2].exit_code, 3);
  EXPECT_EQ(r[2].signal, 0);
  EXPECT_EQ(r[2].name, "ocx-a-1");
  EXPECT_EQ(r[2].reason, "NonZeroExitCode");
  EXPECT_EQ(r[3].reason, "Resources");
  EXPECT_TRUE(
      SaysInvalidJobId("slurm_load_jobs error: Invalid job id specified\n"));
}

TEST(ParseSacctTest, JobLinesOnly) {
  std::vector<JobRecord> r = ParseSacct(
      "3|ocx-c-1|COMPLETED|0:0\n"
      "1|ocx-a-1|FAILED|3:0\n"
      "1.batch|batch|FAILED|3:0\n"
      "5|ocx-e-1|CANCELLED by 0|0:15\n");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].name, "ocx-c-1");
  EXPECT_EQ(r[1].exit_code, 3);
  EXPECT_EQ(r[2].state, "CANCELLED");
  EXPECT_EQ(r[2].signal, 15);
}

TEST(ArgvTest, QueriesAreBatched) {
  EXPECT_THAT(
      SqueueByIdArgv("squeue", {"1", "2"}),
      ElementsAre("squeue", "-h", "-r", "-t", "all", "-O",
                  "JobID:|,State:|,exit_code:|,Reason:|,Name:|,ArrayJobID:|,"
                  "ArrayTaskID:|",
                  "--jobs=1,2"));
  // Elements are asked for as their array, once.
  EXPECT_EQ(SqueueByIdArgv("squeue", {"7_0", "7_1", "9", "7_5"}).back(),
            "--jobs=7,9");
  EXPECT_THAT(SqueueByNameArgv("squeue", {"a", "b"}).back(), "--name=a,b");
  EXPECT_THAT(SacctByIdArgv("sacct", {"-c"}, {"7", "8"}),
              ElementsAre("sacct", "-c", "-n", "-P", "-X", "-o",
                          "JobID,JobName,State,ExitCode", "--jobs=7,8"));
  EXPECT_THAT(SacctByNameArgv("sacct", {}, {"a"}).back(), "--name=a");
  EXPECT_THAT(ScancelArgv("scancel", {"1", "2", "3"}),
              ElementsAre("scancel", "1", "2", "3"));
}

TEST(ClassifyStateTest, EveryState) {
  EXPECT_EQ(ClassifyState("PENDING"), Outcome::kPending);
  EXPECT_EQ(ClassifyState("REQUEUED"), Outcome::kPending);
  EXPECT_EQ(ClassifyState("REQUEUE_HOLD"), Outcome::kPending);
  EXPECT_EQ(ClassifyState("SUSPENDED"), Outcome::kPending);
  EXPECT_EQ(ClassifyState("RUNNING"), Outcome::kRunning);
  EXPECT_EQ(ClassifyState("COMPLETING"), Outcome::kRunning);
  EXPECT_EQ(ClassifyState("COMPLETED"), Outcome::kSucceeded);
  EXPECT_EQ(ClassifyState("FAILED"), Outcome::kFailed);
  EXPECT_EQ(ClassifyState("TIMEOUT"), Outcome::kFailed);
  EXPECT_EQ(ClassifyState("OUT_OF_MEMORY"), Outcome::kFailed);
  EXPECT_EQ(ClassifyState("DEADLINE"), Outcome::kFailed);
  EXPECT_EQ(ClassifyState("CANCELLED"), Outcome::kCancelled);
  EXPECT_EQ(ClassifyState("NODE_FAIL"), Outcome::kResubmit);
  EXPECT_EQ(ClassifyState("PREEMPTED"), Outcome::kResubmit);
  EXPECT_EQ(ClassifyState("BOOT_FAIL"), Outcome::kResubmit);
  EXPECT_THAT(ExplainState("TIMEOUT"), HasSubstr("time limit"));
  EXPECT_THAT(ExplainState("OUT_OF_MEMORY"), HasSubstr("memory"));
}

TEST(ControllerTest, Unreachable) {
  EXPECT_TRUE(SaysControllerUnreachable(
      "sbatch: error: Batch job submission failed: Unable to contact slurm "
      "controller (connect failure)"));
  EXPECT_FALSE(SaysControllerUnreachable(
      "sbatch: error: Batch job submission failed: Invalid partition name "
      "specified"));
}

TEST(IncarnationTest, Names) {
  EXPECT_EQ(IncarnationName("ocx-t-1", 0), "ocx-t-1");
  EXPECT_EQ(IncarnationName("ocx-t-1", 2), "ocx-t-1-r2");
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-1"), 0);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-1-r2"), 2);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-10"), -1);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-1-rx"), -1);
}

}  // namespace
}  // namespace ocx::runners::slurm
