// The dlc contract as pure functions: remote shell (quoting of hostile
// strings, checked by running the shell), argv, resources, output parsers.
#include "runners/dlc/dlc_command.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/cli/cli.h"
#include "runners/cli/shell_quote.h"
#include "tests/runners/test_util.h"

namespace ocx::runners::dlc {
namespace {

using ::ocx::runners::testing::MakeTempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

ocx::v1::AliyunConfig Cfg() {
  ocx::v1::AliyunConfig c;
  c.set_workspace_id("ws-1");
  c.set_worker_image("registry/img:1");
  c.set_dlc_config_path("/home/u/.dlc/config");
  return c;
}

TEST(ShellQuoteTest, PlainWordsStayAndEverythingElseIsSingleQuoted) {
  EXPECT_EQ(ShellQuote("/usr/bin/ocx-task"), "/usr/bin/ocx-task");
  EXPECT_EQ(ShellQuote("a,b:c@d%e+f"), "a,b:c@d%e+f");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("$HOME"), "'$HOME'");
  EXPECT_EQ(ShellQuote("A=1"), "'A=1'");  // never an assignment
  EXPECT_EQ(ShellQuote("~"), "'~'");
}

TEST(RemoteShellTest, PythonEnvOfflineFlagsEnvCdUmaskCommand) {
  ocx::v1::AliyunConfig c = Cfg();
  c.set_python_env_path("/opt/py");
  (*c.mutable_extra_envs())["B"] = "2";
  (*c.mutable_extra_envs())["A"] = "x y";
  RemoteTask t;
  t.argv = {"/bin/ocx-task", "infer", "/w/task.json"};
  t.env = {{"OCX_TASK_ID", "e1-infer-0"}};
  t.work_dir = "/w";
  absl::StatusOr<std::string> shell = BuildRemoteShell(c, t);
  ASSERT_TRUE(shell.ok()) << shell.status();
  EXPECT_EQ(*shell,
            "export PATH=/opt/py/bin:$PATH; export PYTHONPATH=/w:$PYTHONPATH; "
            "export HF_DATASETS_OFFLINE=1; export TRANSFORMERS_OFFLINE=1; "
            "export HF_EVALUATE_OFFLINE=1; export HF_HUB_OFFLINE=1; "
            "export A='x y'; export B=2; export OCX_TASK_ID=e1-infer-0; "
            "cd /w; umask 0000; /bin/ocx-task infer /w/task.json");
}

TEST(RemoteShellTest, CondaWithoutOfflineFlagsAndSystemPython) {
  ocx::v1::AliyunConfig c = Cfg();
  c.set_bashrc_path("/home/u/.bashrc");
  c.set_conda_env_name("oc");
  c.set_hf_offline("False");
  RemoteTask t;
  t.argv = {"run"};
  t.work_dir = "/w";
  EXPECT_EQ(*BuildRemoteShell(c, t),
            "source /home/u/.bashrc; conda activate oc; export "
            "PYTHONPATH=/w:$PYTHONPATH; cd /w; umask 0000; run");
  ocx::v1::AliyunConfig plain = Cfg();
  EXPECT_EQ(*BuildRemoteShell(plain, t),
            "export HF_DATASETS_OFFLINE=1; export TRANSFORMERS_OFFLINE=1; "
            "export HF_EVALUATE_OFFLINE=1; export HF_HUB_OFFLINE=1; "
            "cd /w; umask 0000; run");
}

TEST(RemoteShellTest, RejectsWhatCannotBeQuotedSafely) {
  RemoteTask t;
  t.argv = {"run"};
  t.work_dir = "/w";
  ocx::v1::AliyunConfig c = Cfg();
  (*c.mutable_extra_envs())["A;rm"] = "1";
  EXPECT_THAT(BuildRemoteShell(c, t).status().message(),
              HasSubstr("is not an environment variable name"));
  c = Cfg();
  c.set_hf_offline("maybe");
  EXPECT_THAT(BuildRemoteShell(c, t).status().message(),
              HasSubstr("aliyun_cfg.hf_offline: expected true or false"));
  c = Cfg();
  t.argv = {std::string("a\0b", 3)};
  EXPECT_THAT(BuildRemoteShell(c, t).status().message(),
              HasSubstr("argv[0]: must not contain NUL"));
  t.argv = {};
  EXPECT_FALSE(BuildRemoteShell(c, t).ok());
}

// Config strings are data, never code: the shell is run for real and must
// hand every hostile string through unchanged without running any of it.
TEST(RemoteShellTest, HostileStringsArriveVerbatimAndRunNothing) {
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
  // A work dir and a conda setup file with hostile names.
  std::string wd = root + "/w d'i$(touch " + pwned + ")r";
  ASSERT_TRUE(MakeDirs(wd).ok());
  // (File names hold no '/': "$PWNED" would name the file if it ran.)
  setenv("PWNED", pwned.c_str(), 1);
  std::string bashrc = root + "/rc'; touch \"$PWNED\"; '$(touch $PWNED).sh";
  ASSERT_TRUE(WriteFileAtomic(bashrc, "conda() { CONDA_ENV=\"$2\"; }\n").ok());
  ocx::v1::AliyunConfig c = Cfg();
  c.set_bashrc_path(bashrc);
  c.set_conda_env_name(hostile[0]);
  (*c.mutable_extra_envs())["EXTRA"] = hostile[1];
  RemoteTask t;
  t.work_dir = wd;
  t.argv = {"/usr/bin/printf", "<%s>\\n"};
  for (const std::string& h : hostile) t.argv.push_back(h);
  t.env = {{"T0", hostile[2]}, {"T1", hostile[3]}};
  t.argv.push_back("$EXTRA");  // literal: never expanded
  absl::StatusOr<std::string> shell = BuildRemoteShell(c, t);
  ASSERT_TRUE(shell.ok()) << shell.status();
  // Then print what the environment and cwd ended up as.
  std::string script = absl::StrCat(
      *shell,
      "; printf '[%s]\\n' \"$CONDA_ENV\" \"$EXTRA\" \"$T0\" \"$T1\" "
      "\"$PWD\"");
  CliResult r = RunCli({"/bin/bash", "-c", script}, 10000, nullptr);
  ASSERT_TRUE(r.ok()) << r.Describe();
  std::string want;
  for (const std::string& h : hostile) absl::StrAppend(&want, "<", h, ">\n");
  absl::StrAppend(&want, "<$EXTRA>\n");
  for (const std::string& v :
       {hostile[0], hostile[1], hostile[2], hostile[3], wd}) {
    absl::StrAppend(&want, "[", v, "]\n");
  }
  EXPECT_EQ(r.output, want);
  EXPECT_FALSE(PathExists(pwned)) << "a config string ran as shell code";
  int rc = system(absl::StrCat("rm -rf '", root, "'").c_str());
  (void)rc;
}

TEST(ResourcesTest, AsOpenCompassWithOverridableFloors) {
  ocx::v1::AliyunConfig c = Cfg();
  Resources r = ComputeResources(0, c);
  EXPECT_EQ(r.gpus, 0);
  EXPECT_EQ(r.cpu, 12);
  EXPECT_EQ(r.memory_gi, 192);
  r = ComputeResources(2, c);
  EXPECT_EQ(r.cpu, 16);
  EXPECT_EQ(r.memory_gi, 256);
  r = ComputeResources(8, c);
  EXPECT_EQ(r.cpu, 64);
  EXPECT_EQ(r.memory_gi, 1024);
  c.set_worker_cpu(20);
  c.set_worker_memory_gi(300);
  r = ComputeResources(1, c);
  EXPECT_EQ(r.cpu, 20);
  EXPECT_EQ(r.memory_gi, 300);
  r = ComputeResources(4, c);
  EXPECT_EQ(r.cpu, 32);
  EXPECT_EQ(r.memory_gi, 512);
}

TEST(AliyunConfigTest, RequiredFieldsAndEnvChoices) {
  ocx::v1::AliyunConfig c;
  EXPECT_EQ(CheckAliyunConfig(c).message(),
            "aliyun_cfg.workspace_id: required for DLCRunner");
  c.set_workspace_id("w");
  EXPECT_EQ(CheckAliyunConfig(c).message(),
            "aliyun_cfg.worker_image: required for DLCRunner");
  c.set_worker_image("i");
  EXPECT_EQ(CheckAliyunConfig(c).message(),
            "aliyun_cfg.dlc_config_path: required for DLCRunner");
  c.set_dlc_config_path("/c");
  EXPECT_TRUE(CheckAliyunConfig(c).ok());
  c.set_bashrc_path("/rc");
  EXPECT_EQ(CheckAliyunConfig(c).message(),
            "aliyun_cfg.conda_env_name: required with bashrc_path");
  c.set_conda_env_name("e");
  EXPECT_TRUE(CheckAliyunConfig(c).ok());
  c.set_python_env_path("/py");
  EXPECT_THAT(CheckAliyunConfig(c).message(),
              HasSubstr("aliyun_cfg.python_env_path: set either"));
}

TEST(ArgvTest, CreateFollowsOpenCompass) {
  ocx::v1::AliyunConfig c = Cfg();
  c.set_resource_id("quota1");
  c.add_data_sources("d-1");
  c.add_data_sources("d-2");
  EXPECT_THAT(
      CreateJobArgv("/bin/dlc", c, false, "ocx-e1-infer-0-1", "SHELL",
                    ComputeResources(1, c)),
      ElementsAre("/bin/dlc", "create", "job", "--kind", "PyTorchJob",
                  "--command", "SHELL", "--name", "ocx-e1-infer-0-1",
                  "--config", "/home/u/.dlc/config", "--workspace_id", "ws-1",
                  "--resource_id=quota1", "--priority", "1", "--worker_count",
                  "1", "--worker_cpu", "12", "--worker_gpu", "1",
                  "--worker_memory", "192Gi", "--worker_image",
                  "registry/img:1", "--data_sources=d-1,d-2",
                  "--enable_priority_preemption=False"));
  c = Cfg();
  c.set_priority(7);
  std::vector<std::string> argv =
      CreateJobArgv("dlc", c, true, "n", "S", ComputeResources(0, c));
  EXPECT_THAT(argv, Not(::testing::Contains(HasSubstr("--resource_id"))));
  EXPECT_THAT(argv, Not(::testing::Contains(HasSubstr("--data_sources"))));
  EXPECT_THAT(argv, ::testing::Contains("--enable_priority_preemption=True"));
  EXPECT_THAT(argv, ::testing::Contains("7"));
}

TEST(ArgvTest, GetListLogsStop) {
  ocx::v1::AliyunConfig c = Cfg();
  EXPECT_THAT(GetJobArgv("dlc", c, "dlcab1"),
              ElementsAre("dlc", "get", "job", "dlcab1", "--config",
                          "/home/u/.dlc/config"));
  EXPECT_THAT(
      ListJobsArgv("dlc", c, "ocx-t-1"),
      ElementsAre("dlc", "list", "job", "--display_name", "ocx-t-1",
                  "--workspace_id", "ws-1", "--config", "/home/u/.dlc/config"));
  EXPECT_THAT(
      LogsArgv("dlc", c, "dlcab1", 1700000000, 1700000060),
      ElementsAre("dlc", "logs", "dlcab1", "dlcab1-master-0", "--config",
                  "/home/u/.dlc/config", "--start_time", "2023-11-14T22:13:20Z",
                  "--end_time", "2023-11-14T22:14:20Z"));
  EXPECT_THAT(LogsArgv("dlc", c, "dlcab1", 1700000000, 0).size(), 8u);
  EXPECT_THAT(StopJobArgv("dlc", c, "dlcab1"),
              ElementsAre("dlc", "stop", "job", "dlcab1", "--config",
                          "/home/u/.dlc/config", "-f"));
}

TEST(ParseTest, JobIdFromTheTable) {
  const char* table =
      "[OK] Job created successfully.\n"
      "+-------------------+-------------+\n"
      "| JobId             | DisplayName |\n"
      "+-------------------+-------------+\n"
      "| dlc1a2b3c4d5e6f7g | ocx-x-1     |\n"
      "+-------------------+-------------+\n";
  EXPECT_EQ(*ParseJobId(table), "dlc1a2b3c4d5e6f7g");
  EXPECT_TRUE(absl::IsNotFound(ParseJobId("<html>502</html>").status()));
  EXPECT_TRUE(absl::IsNotFound(ParseJobId("| dlcABC |").status()));
  EXPECT_TRUE(absl::IsNotFound(ParseJobId("").status()));
  EXPECT_TRUE(IsJobId("dlc0az9"));
  EXPECT_FALSE(IsJobId("dlc"));
  EXPECT_FALSE(IsJobId("ocx-e1-infer-0-1"));
  EXPECT_FALSE(IsJobId("dlc-1"));
}

TEST(ParseTest, JobInfoSkipsLeadingLinesAndNeedsStatus) {
  absl::StatusOr<JobInfo> info = ParseJobInfo(
      "[OK] done\n{\n  \"JobId\": \"dlcx1\",\n  \"DisplayName\": \"n\",\n"
      "  \"Status\": \"Failed\",\n  \"ReasonCode\": \"JobPreempted\",\n"
      "  \"GmtCreateTime\": \"2024-01-02T03:04:05Z\",\n"
      "  \"Priority\": 1\n}\n");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->job_id, "dlcx1");
  EXPECT_EQ(info->status, "Failed");
  EXPECT_TRUE(IsPreempted(*info));
  EXPECT_EQ(ParseUtc(info->create_time), 1704164645);
  EXPECT_EQ(FormatUtc(1704164645), "2024-01-02T03:04:05Z");
  EXPECT_TRUE(absl::IsInvalidArgument(ParseJobInfo("{\"JobId\": 1}").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseJobInfo("garbage").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseJobInfo("{ not json").status()));
}

TEST(ParseTest, JobListObjectOrArray) {
  absl::StatusOr<std::vector<JobInfo>> jobs = ParseJobList(
      "{\"Jobs\": [{\"JobId\": \"dlca\", \"DisplayName\": \"x\", "
      "\"Status\": \"Running\"}], \"TotalCount\": 1}");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].job_id, "dlca");
  EXPECT_TRUE(ParseJobList("{\"TotalCount\": 0}")->empty());
  EXPECT_EQ(ParseJobList("[{\"Status\": \"Queuing\"}]")->size(), 1u);
  EXPECT_FALSE(ParseJobList("<html>").ok());
}

TEST(ParseTest, IncarnationsStatusesNotFound) {
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-1"), 0);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-1-p2"), 2);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-10"), -1);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-1-p"), -1);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "ocx-t-1-p01"), -1);
  EXPECT_EQ(IncarnationOf("ocx-t-1", "xocx-t-1"), -1);
  EXPECT_TRUE(IsFinalStatus("Stopped"));
  EXPECT_TRUE(IsFinalStatus("SucceededReserving"));
  EXPECT_FALSE(IsFinalStatus("Queuing"));
  EXPECT_FALSE(IsFinalStatus("Stopping"));
  JobInfo stopped;
  stopped.status = "Stopped";
  stopped.reason_code = "JobStoppedByUser";
  EXPECT_FALSE(IsPreempted(stopped));
  stopped.reason_message = "preempted by a job of priority 9";
  EXPECT_TRUE(IsPreempted(stopped));
  JobInfo running;
  running.status = "Running";
  running.reason_message = "was preempted once";
  EXPECT_FALSE(IsPreempted(running));
  EXPECT_TRUE(SaysNotFound("[FAILED] EntityNotExist.Job: job dlcx"));
  EXPECT_TRUE(SaysNotFound("Error: job not found"));
  EXPECT_FALSE(SaysNotFound("[FAILED] ServiceUnavailable"));
}

TEST(CliTest, OutputExitCodesTimeoutsAndMissingPrograms) {
  CliResult r = RunCli({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"},
                       10000, nullptr);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.output, "out\nerr\n");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.Describe(), HasSubstr("exit status 3"));
  r = RunCli({"/bin/sleep", "10"}, 200, nullptr);
  EXPECT_TRUE(r.timed_out);
  r = RunCli({"/no/such/dlc"}, 1000, nullptr);
  EXPECT_TRUE(absl::IsNotFound(r.spawn_status)) << r.spawn_status;
  // A child that leaves a process holding the pipe does not hold us up.
  r = RunCli({"/bin/sh", "-c", "sleep 5 & echo started"}, 3000, nullptr);
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.output, "started\n");
  r = RunCli({"sh", "-c", "exit 0"}, 1000, nullptr);  // PATH lookup
  EXPECT_TRUE(r.ok()) << r.Describe();
}

}  // namespace
}  // namespace ocx::runners::dlc
