// A managed model server as a Slurm job (docs/serving.md) on the real
// single-node test cluster: ocxd submits the replica with sbatch
// (--gres=gpu:1), the job's `ocx-task serve` writes its host and port into
// the replica's attempt dir, the daemon probes it there, and the infer
// tasks (Slurm jobs too) are routed to it. Label `slurm`; needs root.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Replica;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

const std::string kData = std::string(OCX_SOURCE_DIR) + "/tests/data/";

std::string Bin(const std::string& name) {
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(
           path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    std::string p = absl::StrCat(dir, "/", name);
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "/usr/bin/" + name;
}

class SlurmServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(getenv("SLURM_CONF"), nullptr)
        << "run through ctest -L slurm (the fixture starts the cluster)";
    const std::string yaml = dir_.path() + "/ocxd.yaml";
    std::ofstream(yaml) << "slurm:\n"
                           "  poll_interval_ms: 500\n"
                           "  call_initial_backoff_ms: 500\n"
                           "  sacct_args: ['-c']\n"
                           "serving: {port_range: \"23400-23419\"}\n";
    daemon_ = std::make_unique<OcxdProcess>(
        dir_.path(), std::vector<std::string>{"--config", yaml});
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }
  void TearDown() override {
    daemon_.reset();
    RunResult q = RunProgram({Bin("squeue"), "-h", "-o", "%i|%j"});
    std::vector<std::string> argv = {Bin("scancel")};
    for (absl::string_view line : absl::StrSplit(q.out, '\n')) {
      std::vector<std::string> f = absl::StrSplit(line, '|');
      if (f.size() == 2 && absl::StartsWith(f[1], "ocx-srv-")) {
        argv.push_back(f[0]);
      }
    }
    if (argv.size() > 1) RunProgram(argv);
  }

  std::vector<Replica> Replicas(const std::string& eval_id) {
    ocx::v1::ListServersRequest req;
    req.set_evaluation_id(eval_id);
    req.set_all(true);
    ocx::v1::ListServersResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = daemon_->stub()->ListServers(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<Replica> out;
    for (const auto& pool : resp.servers()) {
      for (const Replica& r : pool.replicas()) out.push_back(r);
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(SlurmServingTest, ReplicaRunsAsASlurmJobAndServesTheInferTasks) {
  absl::StatusOr<std::string> model = LlmServer::ModelPath();
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string config = dir_.path() + "/eval.yaml";
  std::ofstream(config) << absl::StrCat(
      "models:\n"
      "  - abbr: stories260K\n"
      "    type: OpenAISDK\n"
      "    path: stories260K\n"
      "    api: completions\n"
      "    temperature: 0\n"
      "    max_out_len: 16\n"
      "    serve:\n"
      "      command: [",
      Bin("node"), ", \"", LlmServer::ScriptPath(), "\", --model, \"", *model,
      "\", --host, \"{host}\", --port, \"{port}\"]\n"
      "      num_gpus: 1\n"
      "      replicas: 1\n"
      "      idle_stop_s: 1\n"
      "      ready: {timeout_s: 120}\n"
      "datasets:\n"
      "  - abbr: story-gen\n"
      "    path: ",
      kData,
      "story_gen.jsonl\n"
      "    reader_cfg: {input_columns: [prompt], output_column: answer}\n"
      "    infer_cfg:\n"
      "      prompt_template: {type: PromptTemplate, template: \"{prompt}\"}\n"
      "      retriever: {type: ZeroRetriever}\n"
      "      inferencer: {type: GenInferencer, max_out_len: 16}\n"
      "    eval_cfg: {evaluator: {type: EMEvaluator}}\n"
      "work_dir: ",
      dir_.path(),
      "/work\n"
      "infer: {runner: {type: SlurmRunner, partition: debug}}\n"
      "eval: {runner: {type: LocalRunner}}\n");
  RunResult submit = RunProgram({OcxctlPath(), "-o", "name", "submit", config},
                                {"OCX_SERVER=" + daemon_->server()});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string id(absl::StripAsciiWhitespace(submit.out));

  // The replica is a Slurm job asking for one GPU.
  std::string job;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const Replica& r : Replicas(id)) {
          if (!r.backend_id().empty() && r.backend_id() != "0" &&
              absl::ascii_isdigit(r.backend_id()[0])) {
            job = r.backend_id();
          }
        }
        return !job.empty();
      },
      60))
      << daemon_->log();
  RunResult show = RunProgram({Bin("scontrol"), "show", "job", job});
  // "TresPerNode=gres:gpu:1" (Slurm 22) or "gres/gpu=1" (newer).
  EXPECT_THAT(show.out, ContainsRegex("gres[:/]gpu[:=]1")) << show.out;
  EXPECT_THAT(show.out, HasSubstr("JobName=ocx-srv-")) << show.out;

  auto done = WaitForEnd(daemon_->stub(), id, 240);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED) << daemon_->log();
  std::vector<Replica> replicas = Replicas(id);
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].backend(), "slurm");
  EXPECT_GT(replicas[0].port(), 23399);
  EXPECT_LT(replicas[0].port(), 23420);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(replicas[0].host(), host);
  EXPECT_EQ(replicas[0].served_tasks(), 1);
  // Idle for 1 s: the job is cancelled and the replica STOPPED.
  ASSERT_TRUE(PollUntil(
      [&] { return Replicas(id)[0].state() == Replica::STOPPED; }, 60))
      << daemon_->log();
  ASSERT_TRUE(PollUntil(
      [&] {
        RunResult q = RunProgram({Bin("squeue"), "-h", "-j", job, "-t",
                                  "PENDING,RUNNING", "-o", "%i"});
        return absl::StripAsciiWhitespace(q.out).empty();
      },
      30));
}

}  // namespace
}  // namespace ocx::testing
