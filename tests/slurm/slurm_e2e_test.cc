// End to end on a real single-node Slurm cluster (started by the ctest
// fixture slurm.cluster_start, tests/slurm/start-slurm.sh): a real ocxd with
// SlurmRunner submits ocx-test-task jobs through sbatch and follows them
// with squeue and sacct. Label `slurm`; needs root (slurmd runs jobs).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/journal.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// RunProgram runs argv[0] as a path: find the Slurm client in PATH.
std::string Bin(const std::string& name) {
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(
           path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    std::string p = absl::StrCat(dir, "/", name);
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "/usr/bin/" + name;
}

bool IsDigits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// A plain job id, or an array element's "<array id>_<index>".
bool IsJobId(const std::string& s) {
  std::vector<std::string> f = absl::StrSplit(s, '_');
  return (f.size() == 1 || f.size() == 2) && IsDigits(f[0]) &&
         (f.size() == 1 || IsDigits(f[1]));
}

class SlurmE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(getenv("SLURM_CONF"), nullptr)
        << "run through ctest -L slurm (the fixture starts the cluster)";
    yaml_ = dir_.path() + "/ocxd.yaml";
    // The test cluster has no slurmdbd: sacct reads the jobcomp file (-c).
    std::ofstream(yaml_) << "slurm:\n"
                            "  poll_interval_ms: 500\n"
                            "  call_initial_backoff_ms: 500\n"
                            "  call_max_backoff_ms: 4000\n"
                            "  sacct_args: ['-c']\n";
    StartDaemon();
  }
  void TearDown() override {
    daemon_.reset();
    // Leave nothing queued for the next test.
    std::vector<std::string> ids;
    for (const auto& [id, name] : QueuedJobs()) ids.push_back(id);
    if (!ids.empty()) {
      ids.insert(ids.begin(), Bin("scancel"));
      RunProgram(ids);
    }
  }

  void StartDaemon() {
    daemon_ = std::make_unique<OcxdProcess>(
        dir_.path(), std::vector<std::string>{"--config", yaml_});
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }

  std::string journal() const { return dir_.path() + "/journal"; }

  // Both stages on SlurmRunner.
  ocx::v1::EvaluationSpec SlurmSpec(int models, int datasets,
                                    std::vector<std::string> task_args,
                                    int retry = 2, int workers = 32) {
    task_args.insert(task_args.begin(), {"--journal", journal()});
    ocx::v1::EvaluationSpec spec =
        TestSpec(models, datasets, task_args, workers, retry);
    spec.set_work_dir(dir_.path() + "/work");
    for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
      stage->mutable_runner()->set_type("SlurmRunner");
      stage->mutable_runner()->set_partition("debug");
    }
    return spec;
  }

  Evaluation Create(const ocx::v1::EvaluationSpec& spec) {
    return CreateOrFail(daemon_->stub(), spec);
  }

  Task GetTask(const std::string& id) {
    return GetTaskOrFail(daemon_->stub(), id);
  }

  // job id -> name of jobs squeue lists as pending or running.
  std::map<std::string, std::string> QueuedJobs() {
    RunResult r = RunProgram({Bin("squeue"), "-h", "-r", "-o", "%i|%j"});
    std::map<std::string, std::string> out;
    for (absl::string_view line :
         absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, '|');
      if (f.size() == 2) out[f[0]] = f[1];
    }
    return out;
  }
  int CountQueued(const std::string& eval_id, const std::string& state) {
    // -r: one line per array element.
    RunResult r =
        RunProgram({Bin("squeue"), "-h", "-r", "-t", state, "-o", "%j"});
    int n = 0;
    for (absl::string_view line :
         absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      n += absl::StrContains(line, eval_id);
    }
    return n;
  }
  // job name -> how many finished Slurm jobs had it (the jobcomp record;
  // each element of an array is one, under the array's name).
  std::map<std::string, int> FinishedJobsByName(const std::string& eval_id) {
    RunResult r = RunProgram(
        {Bin("sacct"), "-c", "-n", "-P", "-X", "-o", "JobID,JobName,State"});
    std::map<std::string, int> n;
    for (absl::string_view line :
         absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, '|');
      if (f.size() >= 2 && absl::StrContains(f[1], eval_id)) ++n[f[1]];
    }
    return n;
  }
  bool WaitUntil(const std::function<bool()>& cond, int timeout_s) {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return cond();
  }

  static int Total(const std::map<std::string, int>& jobs) {
    int n = 0;
    for (const auto& [name, count] : jobs) n += count;
    return n;
  }

  // Every task succeeded with one attempt on Slurm, each task ran once, and
  // Slurm ran exactly one job per task (sacct: plain jobs under the
  // attempt's name, array elements under their array's). Returns how many
  // attempts ran as array elements.
  int ExpectAllSucceededOnce(const std::string& eval_id) {
    auto runs = ReadJournal(journal());
    const int expected =
        static_cast<int>(AllTasks(daemon_->stub(), eval_id).size());
    // slurmctld appends to the jobcomp file shortly after a job ends.
    std::map<std::string, int> jobs;
    WaitUntil(
        [&] {
          jobs = FinishedJobsByName(eval_id);
          return Total(jobs) >= expected;
        },
        20);
    int tasks = 0, elements = 0;
    std::set<std::string> ids;
    for (const Task& listed : AllTasks(daemon_->stub(), eval_id)) {
      Task t = GetTask(listed.id());
      ++tasks;
      EXPECT_EQ(t.state(), Task::SUCCEEDED) << t.id() << ": " << t.reason();
      EXPECT_EQ(t.attempts_size(), 1) << t.id();
      if (t.attempts_size() != 1) continue;
      const Attempt& a = t.attempts(0);
      EXPECT_EQ(a.backend(), "slurm");
      EXPECT_TRUE(IsJobId(a.backend_id())) << a.backend_id();
      EXPECT_TRUE(ids.insert(a.backend_id()).second) << a.backend_id();
      if (absl::StrContains(a.backend_id(), "_")) {
        ++elements;
      } else {
        EXPECT_EQ(jobs[a.name()], 1) << a.name();
      }
      EXPECT_EQ(runs[t.id()].size(), 1u) << t.id();
    }
    EXPECT_GT(tasks, 0);
    EXPECT_EQ(Total(jobs), tasks) << "Slurm ran a job that is no attempt's";
    return elements;
  }

  // The daemon config with every sbatch call logged to calls.log.
  void CountSbatchCalls() {
    const std::string shim = dir_.path() + "/sbatch";
    std::ofstream(shim) << "#!/bin/sh\necho sbatch >>" << dir_.path()
                        << "/calls.log\nexec " << Bin("sbatch") << " \"$@\"\n";
    std::filesystem::permissions(shim, std::filesystem::perms::owner_all);
    std::ofstream(yaml_, std::ios::app) << "  sbatch_path: " << shim << "\n";
  }
  int SbatchCalls() {
    std::string log = Slurp(dir_.path() + "/calls.log");
    return static_cast<int>(std::count(log.begin(), log.end(), '\n'));
  }

  TempDir dir_;
  std::string yaml_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(SlurmE2ETest, EvaluationSucceedsOnSlurm) {
  Evaluation e = Create(SlurmSpec(2, 2, {"--sleep-ms", "200"}));
  auto done = WaitForEnd(daemon_->stub(), e.id(), 120);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  ExpectAllSucceededOnce(e.id());
  Task t = GetTask(AllTasks(daemon_->stub(), e.id())[0].id());
  std::string log = Slurp(t.attempts(0).log_path());
  // The job's own output and ocx's notes share the attempt log.
  EXPECT_THAT(log, HasSubstr(absl::StrCat("task ", t.id(), " attempt 1")));
  EXPECT_THAT(log, HasSubstr("[ocx-slurm "));
  EXPECT_THAT(log, HasSubstr(absl::StrCat("job ", t.attempts(0).backend_id())));
}

TEST_F(SlurmE2ETest, FailingTaskIsRetriedThenFails) {
  ocx::v1::EvaluationSpec spec =
      SlurmSpec(1, 1, {"--fail-attempts", "99", "--exit-code", "5"},
                /*retry=*/1);
  Evaluation e = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 120);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::FAILED);
  bool saw_infer = false;
  for (const Task& listed : AllTasks(daemon_->stub(), e.id())) {
    Task t = GetTask(listed.id());
    EXPECT_EQ(t.state(), Task::FAILED) << t.id();
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    saw_infer = true;
    ASSERT_EQ(t.attempts_size(), 2) << t.id();
    std::set<std::string> ids;
    for (const Attempt& a : t.attempts()) {
      EXPECT_EQ(a.state(), Attempt::FAILED);
      EXPECT_EQ(a.exit_code(), 5);
      EXPECT_THAT(a.reason(), HasSubstr("Slurm job " + a.backend_id()));
      EXPECT_THAT(a.reason(), HasSubstr("FAILED"));
      ids.insert(a.backend_id());
    }
    EXPECT_EQ(ids.size(), 2u) << "each attempt is its own Slurm job";
  }
  EXPECT_TRUE(saw_infer);
}

TEST_F(SlurmE2ETest, ExitZeroWithoutOutputsFails) {
  Evaluation e = Create(SlurmSpec(1, 1, {"--no-outputs"}, /*retry=*/0));
  auto done = WaitForEnd(daemon_->stub(), e.id(), 120);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::FAILED);
  Task infer;
  for (const Task& t : AllTasks(daemon_->stub(), e.id())) {
    if (t.stage() == ocx::v1::STAGE_INFER) infer = GetTask(t.id());
  }
  ASSERT_EQ(infer.attempts_size(), 1);
  EXPECT_EQ(infer.attempts(0).exit_code(), 0);
  EXPECT_THAT(infer.attempts(0).reason(),
              HasSubstr("expected outputs are missing"));
}

// sbatch refusals fail the attempt at once with Slurm's own words: an
// unknown partition, and more GPUs than the node has (it has 4).
TEST_F(SlurmE2ETest, SbatchRefusalsCarrySlurmsMessage) {
  ocx::v1::EvaluationSpec bad_partition = SlurmSpec(1, 1, {}, /*retry=*/0);
  bad_partition.mutable_infer()->mutable_runner()->set_partition("nosuch");
  ocx::v1::EvaluationSpec too_many_gpus = SlurmSpec(1, 1, {}, /*retry=*/0);
  too_many_gpus.mutable_models(0)->mutable_run_cfg()->set_num_gpus(8);
  const std::vector<std::pair<ocx::v1::EvaluationSpec, std::string>> cases = {
      {bad_partition, "Invalid partition name"},
      {too_many_gpus, "Requested node configuration is not available"}};
  for (const auto& [spec, slurm_says] : cases) {
    Evaluation e = Create(spec);
    auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
    ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
    EXPECT_EQ(done->state(), Evaluation::FAILED);
    for (const Task& t : AllTasks(daemon_->stub(), e.id())) {
      if (t.stage() != ocx::v1::STAGE_INFER) continue;
      Task infer = GetTask(t.id());
      ASSERT_EQ(infer.attempts_size(), 1);
      EXPECT_THAT(infer.attempts(0).reason(), HasSubstr(slurm_says));
      EXPECT_THAT(infer.reason(), HasSubstr(slurm_says));
    }
  }
}

TEST_F(SlurmE2ETest, CancelLeavesNoJobInTheQueue) {
  Evaluation e = Create(SlurmSpec(2, 3, {"--sleep-ms", "120000"}));
  ASSERT_TRUE(WaitUntil([&] { return CountQueued(e.id(), "R") == 6; }, 60))
      << daemon_->log();
  // While they run, each task says which Slurm job it is and its state.
  ASSERT_TRUE(WaitUntil(
      [&] {
        int shown = 0;
        for (const Task& t : AllTasks(daemon_->stub(), e.id())) {
          if (t.stage() == ocx::v1::STAGE_INFER &&
              absl::StrContains(t.reason(), "RUNNING") &&
              absl::StrContains(t.reason(), "Slurm job ")) {
            ++shown;
          }
        }
        return shown == 6;
      },
      30))
      << "tasks do not show their Slurm job's state";
  RunResult r = RunProgram(
      {OcxctlPath(), "--server", daemon_->server(), "cancel", e.id()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto done = WaitForEnd(daemon_->stub(), e.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::CANCELLED);
  EXPECT_EQ(CountQueued(e.id(), "PD,R,CG,S,CF"), 0) << "jobs left behind";
  for (const Task& listed : AllTasks(daemon_->stub(), e.id())) {
    Task t = GetTask(listed.id());
    EXPECT_EQ(t.state(), Task::CANCELLED) << t.id();
    if (t.stage() == ocx::v1::STAGE_INFER) {
      ASSERT_EQ(t.attempts_size(), 1);
      EXPECT_THAT(t.attempts(0).reason(), HasSubstr("CANCELLED by ocx"));
    }
  }
  // scancel was batched: the daemon's log holds no per-job errors, and the
  // jobs were cancelled within one poll interval of each other.
  EXPECT_EQ(Total(FinishedJobsByName(e.id())), 6);
}

TEST_F(SlurmE2ETest, GpuJobsSeeTheirGpu) {
  ocx::v1::EvaluationSpec spec = SlurmSpec(1, 2, {});
  spec.mutable_models(0)->mutable_run_cfg()->set_num_gpus(1);
  // The infer task checks that Slurm gave it a GPU, then runs as usual.
  auto* task = spec.mutable_infer()->mutable_runner()->mutable_task();
  std::vector<std::string> argv(task->argv().begin(), task->argv().end());
  task->clear_argv();
  for (const char* a :
       {"/bin/sh", "-c",
        "echo \"gpus=$CUDA_VISIBLE_DEVICES\"; "
        "test -n \"$CUDA_VISIBLE_DEVICES\" || exit 9; exec \"$@\"",
        "sh"}) {
    task->add_argv(a);
  }
  for (const std::string& a : argv) task->add_argv(a);
  Evaluation e = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 120);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  int checked = 0;
  for (const Task& listed : AllTasks(daemon_->stub(), e.id())) {
    Task t = GetTask(listed.id());
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    ++checked;
    std::string log = Slurp(t.attempts(0).log_path());
    EXPECT_THAT(log, ::testing::ContainsRegex("gpus=[0-9]"));
  }
  EXPECT_EQ(checked, 2);
}

TEST_F(SlurmE2ETest, KillDashNineAdoptsJobsWithoutResubmitting) {
  // 4 models x 5 datasets: 20 infer jobs, then 20 eval jobs.
  Evaluation e = Create(SlurmSpec(4, 5, {"--sleep-ms", "4000"}));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return CountQueued(e.id(), "PD") + CountQueued(e.id(), "R") >= 20;
      },
      60))
      << daemon_->log();
  EXPECT_EQ(daemon_->Stop(SIGKILL) & 0x7f, SIGKILL);
  daemon_.reset();
  StartDaemon();
  auto done = WaitForEnd(daemon_->stub(), e.id(), 240);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  // The 20 infer attempts went as array elements, watched again by id.
  EXPECT_GE(ExpectAllSucceededOnce(e.id()), 20);
  EXPECT_THAT(daemon_->log(), ::testing::Not(HasSubstr("looking it up")));
}

// 30 infer tasks and 30 eval tasks of one evaluation: a handful of sbatch
// calls (one per batch the dispatcher hands out), every task once.
TEST_F(SlurmE2ETest, ArraysRunManyTasksWithFewSbatchCalls) {
  CountSbatchCalls();
  daemon_.reset();
  StartDaemon();
  Evaluation e = Create(SlurmSpec(2, 15, {"--sleep-ms", "300"}));
  auto done = WaitForEnd(daemon_->stub(), e.id(), 180);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  EXPECT_GE(ExpectAllSucceededOnce(e.id()), 50);
  EXPECT_LE(SbatchCalls(), 12) << "one sbatch per batch, not per task";
  // An element's output is in its own task's log.
  Task t = GetTask(AllTasks(daemon_->stub(), e.id()).back().id());
  EXPECT_THAT(Slurp(t.attempts(0).log_path()),
              HasSubstr(absl::StrCat("task ", t.id(), " attempt 1")));
}

// ocxd dies while the array's sbatch runs (it submitted, but its answer is
// never read): the restarted daemon finds every element by the array's
// name and index, and submits nothing again.
TEST_F(SlurmE2ETest, RestartDuringArraySubmitFindsElementsByName) {
  const std::string marker = dir_.path() + "/hang";
  const std::string shim = dir_.path() + "/sbatch";
  std::ofstream(shim) << "#!/bin/sh\n"
                      << Bin("sbatch") << " \"$@\" || exit $?\n"
                      << "if [ -e " << marker << " ]; then sleep 120; fi\n";
  std::filesystem::permissions(shim, std::filesystem::perms::owner_all);
  std::ofstream(yaml_, std::ios::app) << "  sbatch_path: " << shim << "\n";
  std::ofstream(marker) << "";
  daemon_.reset();
  StartDaemon();
  Evaluation e = Create(SlurmSpec(2, 4, {"--sleep-ms", "3000"}));
  ASSERT_TRUE(WaitUntil([&] { return CountQueued(e.id(), "PD,R") >= 8; }, 60))
      << daemon_->log();
  EXPECT_EQ(daemon_->Stop(SIGKILL) & 0x7f, SIGKILL);
  daemon_.reset();
  std::filesystem::remove(marker);
  StartDaemon();
  auto done = WaitForEnd(daemon_->stub(), e.id(), 240);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
  EXPECT_GE(ExpectAllSucceededOnce(e.id()), 8);
  Task t = GetTask(AllTasks(daemon_->stub(), e.id())[0].id());
  EXPECT_THAT(Slurp(t.attempts(0).log_path()), HasSubstr("-array"));
}

// Cancelling one evaluation cancels its array's elements one by one
// (scancel <array>_<index>); another evaluation's array runs on.
TEST_F(SlurmE2ETest, CancelStopsOnlyThatEvaluationsElements) {
  Evaluation a = Create(SlurmSpec(1, 4, {"--sleep-ms", "120000"}));
  Evaluation b = Create(SlurmSpec(1, 4, {"--sleep-ms", "6000"}));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return CountQueued(a.id(), "R") == 4 && CountQueued(b.id(), "R") == 4;
      },
      60))
      << daemon_->log();
  RunResult r = RunProgram(
      {OcxctlPath(), "--server", daemon_->server(), "cancel", a.id()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto cancelled = WaitForEnd(daemon_->stub(), a.id(), 60);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status() << daemon_->log();
  EXPECT_EQ(cancelled->state(), Evaluation::CANCELLED);
  EXPECT_EQ(CountQueued(a.id(), "PD,R,CG,S,CF"), 0) << "elements left behind";
  for (const Task& listed : AllTasks(daemon_->stub(), a.id())) {
    Task t = GetTask(listed.id());
    EXPECT_EQ(t.state(), Task::CANCELLED) << t.id();
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    ASSERT_EQ(t.attempts_size(), 1);
    EXPECT_TRUE(absl::StrContains(t.attempts(0).backend_id(), "_"))
        << t.attempts(0).backend_id();
    EXPECT_THAT(t.attempts(0).reason(), HasSubstr("CANCELLED by ocx"));
  }
  auto done = WaitForEnd(daemon_->stub(), b.id(), 180);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED);
}

TEST_F(SlurmE2ETest, ControllerOutageIsWaitedOut) {
  Evaluation e = Create(SlurmSpec(2, 3, {"--sleep-ms", "3000"}));
  ASSERT_TRUE(WaitUntil([&] { return CountQueued(e.id(), "R") >= 1; }, 60))
      << daemon_->log();
  // Stop slurmctld (only the pid in its own pid file) for 30 s.
  std::string pid_file = std::string(OCX_SLURM_DIR) + "/run/slurmctld.pid";
  pid_t pid = atoi(Slurp(pid_file).c_str());
  ASSERT_GT(pid, 1);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  std::this_thread::sleep_for(std::chrono::seconds(30));
  RunResult start = RunProgram({OCX_SLURM_CLUSTER, "start"},
                               {absl::StrCat("OCX_SLURM_DIR=", OCX_SLURM_DIR)});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  auto done = WaitForEnd(daemon_->stub(), e.id(), 240);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED) << daemon_->log();
  ExpectAllSucceededOnce(e.id());
  EXPECT_THAT(daemon_->log(), HasSubstr("Unable to contact slurm controller"));
}

}  // namespace
}  // namespace ocx::testing
