// End to end, managed model servers (docs/serving.md): a real ocxd starts
// the real tiny-model server (tests/tools/llm-server/server.mjs, llama.cpp)
// itself, as replicas under ocx-shim, routes the real ocx-task infer tasks
// to them, restarts, shares and stops them. Nothing is mocked: replicas are
// real processes, "GPUs" are the ids the daemon hands out (the server sees
// them in CUDA_VISIBLE_DEVICES).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::ListServersRequest;
using ocx::v1::ListServersResponse;
using ocx::v1::Replica;
using ocx::v1::Task;
using ::testing::HasSubstr;

const std::string kSource = OCX_SOURCE_DIR;
const std::string kData = kSource + "/tests/data/";

bool Alive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  // A zombie is dead for our purposes.
  std::string stat = FileText(absl::StrCat("/proc/", pid, "/stat"));
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() &&
         stat[close + 2] != 'Z';
}

// One variable of a live process's environment.
std::string EnvOf(pid_t pid, const std::string& name) {
  std::string env = FileText(absl::StrCat("/proc/", pid, "/environ"));
  for (absl::string_view kv : absl::StrSplit(env, '\0')) {
    if (absl::ConsumePrefix(&kv, name + "=")) return std::string(kv);
  }
  return "<unset>";
}

class ServingE2ETest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Replicas outlive ocxd by design (ocx-shim): stop every server this
    // test started, wherever the daemon left them.
    for (pid_t pid : AllServerPids()) kill(pid, SIGKILL);
  }

  // ocxd with `args` and a port range of its own (tests run in parallel).
  void StartDaemon(std::vector<std::string> args = {}) {
    const int first = 21000 + (getpid() % 400) * 20;
    std::ofstream(dir_.path() + "/ocxd.yaml")
        << "serving: {port_range: \"" << first << "-" << first + 19 << "\"}\n";
    args.push_back("--config");
    args.push_back(dir_.path() + "/ocxd.yaml");
    daemon_ = std::make_unique<OcxdProcess>(dir_.path(), args);
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }
  std::vector<std::string> Env() const {
    return {"OCX_SERVER=" + daemon_->server()};
  }
  std::string request_log() const { return dir_.path() + "/requests.jsonl"; }

  // The `serve:` block for the tiny-model server; `extra` is YAML added to
  // the block (indented by the caller's text).
  std::string ServeBlock(const std::string& extra) {
    absl::StatusOr<std::string> model = LlmServer::ModelPath();
    EXPECT_TRUE(model.ok()) << model.status();
    return absl::StrCat(
        "    serve:\n"
        "      command: [node, \"",
        LlmServer::ScriptPath(), "\", --model, \"", model.ok() ? *model : "",
        "\", --host, \"{host}\", --port, \"{port}\", --request-log, \"",
        request_log(),
        "\"]\n"
        "      ready: {path: /v1/models, timeout_s: 120}\n",
        extra);
  }

  // examples/tiny-model.yaml with a managed server instead of the
  // hand-started one on port 18089.
  std::string DemoConfig(const std::string& serve_extra,
                         const std::string& work = "out") {
    std::string yaml = FileText(kSource + "/examples/tiny-model.yaml");
    const std::string base = "    openai_api_base: http://127.0.0.1:18089/v1\n";
    EXPECT_THAT(yaml, HasSubstr(base));
    yaml = absl::StrReplaceAll(
        yaml, {{base, ServeBlock(serve_extra)}, {"../tests/data/", kData}});
    return Write(work + ".yaml",
                 yaml + "work_dir: " + dir_.path() + "/" + work + "\n");
  }

  // `samples` greedy generations from story_gen_2000.jsonl in `parts`
  // infer tasks, on a managed server.
  std::string GenConfig(const std::string& serve_extra, int samples, int parts,
                        const std::string& work = "gen",
                        int max_num_workers = 4) {
    return Write(
        work + ".yaml",
        absl::StrCat(
            "models:\n"
            "  - abbr: stories260K\n"
            "    type: OpenAISDK\n"
            "    path: stories260K\n"
            "    api: completions\n"
            "    temperature: 0\n"
            "    max_out_len: 16\n"
            "    max_concurrency: 2\n"
            "    retry: 1\n",
            ServeBlock(serve_extra),
            "datasets:\n"
            "  - abbr: story-gen\n"
            "    path: ",
            kData,
            "story_gen_2000.jsonl\n"
            "    reader_cfg: {input_columns: [prompt], output_column: answer, "
            "test_range: \"[0:",
            samples,
            "]\"}\n"
            "    infer_cfg:\n"
            "      prompt_template: {type: PromptTemplate, template: "
            "\"{prompt}\"}\n"
            "      retriever: {type: ZeroRetriever}\n"
            "      inferencer: {type: GenInferencer, max_out_len: 16}\n"
            "    eval_cfg: {evaluator: {type: EMEvaluator}}\n"
            "work_dir: ",
            dir_.path(), "/", work,
            "\n"
            "infer:\n"
            "  partitioner: {type: NumWorkerPartitioner, num_worker: ",
            parts, ", num_split: ", parts,
            ", min_task_size: 1}\n"
            "  runner: {type: LocalRunner, max_num_workers: ",
            max_num_workers,
            ", retry: 1}\n"
            "eval:\n"
            "  runner: {type: LocalRunner}\n"));
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string Submit(const std::string& config) {
    RunResult r =
        RunProgram({OcxctlPath(), "-o", "name", "submit", config}, Env());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return std::string(absl::StripAsciiWhitespace(r.out));
  }

  Evaluation Wait(const std::string& id, int timeout_s = 300) {
    auto done = WaitForEnd(daemon_->stub(), id, timeout_s);
    EXPECT_TRUE(done.ok()) << done.status() << daemon_->log();
    return done.ok() ? *done : Evaluation();
  }

  ListServersResponse Servers(const std::string& eval_id = "",
                              bool all = true) {
    ListServersRequest req;
    req.set_evaluation_id(eval_id);
    req.set_all(all);
    req.set_with_attempts(true);
    ListServersResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = daemon_->stub()->ListServers(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  std::vector<Replica> Replicas(const std::string& eval_id = "") {
    std::vector<Replica> out;
    const ListServersResponse servers = Servers(eval_id);
    for (const auto& pool : servers.servers()) {
      for (const Replica& r : pool.replicas()) out.push_back(r);
    }
    return out;
  }
  std::vector<Replica> ReadyReplicas() {
    std::vector<Replica> out;
    for (const Replica& r : Replicas()) {
      if (r.state() == Replica::READY) out.push_back(r);
    }
    return out;
  }

  // The server pid a replica's current start wrote in its endpoint file.
  pid_t ServerPid(const Replica& r) {
    std::string text =
        FileText(absl::StrCat(daemon_->work_root(), "/.servers/", r.id(),
                              "/attempt-", r.attempt(), "/endpoint.json"));
    google::protobuf::Struct s;
    if (!google::protobuf::util::JsonStringToMessage(text, &s).ok()) return -1;
    auto it = s.fields().find("pid");
    return it == s.fields().end()
               ? -1
               : static_cast<pid_t>(it->second.number_value());
  }
  std::vector<pid_t> AllServerPids() {
    std::vector<pid_t> out;
    if (daemon_ == nullptr) return out;
    RunResult r =
        RunProgram({"/usr/bin/find", daemon_->work_root() + "/.servers",
                    "-name", "endpoint.json"});
    for (absl::string_view path : absl::StrSplit(r.out, '\n')) {
      if (path.empty()) continue;
      std::string text = FileText(std::string(path));
      google::protobuf::Struct s;
      if (google::protobuf::util::JsonStringToMessage(text, &s).ok() &&
          s.fields().count("pid")) {
        out.push_back(static_cast<pid_t>(s.fields().at("pid").number_value()));
      }
    }
    return out;
  }

  // POSTs the server answered 200, by prompt.
  std::map<std::string, int> AnsweredPrompts() {
    std::map<std::string, int> out;
    std::ifstream in(request_log());
    for (std::string line; std::getline(in, line);) {
      google::protobuf::Struct s;
      if (!google::protobuf::util::JsonStringToMessage(line, &s).ok()) continue;
      if (s.fields().at("status").number_value() != 200) continue;
      ++out[s.fields().at("prompt").string_value()];
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<OcxdProcess> daemon_;
};

// The README's demo evaluation, with ocx starting the model server instead
// of the user: the same table, every infer attempt routed to the replica,
// one model load.
TEST_F(ServingE2ETest, DemoEvaluationOnAManagedServerPrintsTheReadmeTable) {
  StartDaemon();
  const std::string id = Submit(DemoConfig("      replicas: 1\n"));
  ASSERT_FALSE(id.empty());
  Evaluation e = Wait(id);
  ASSERT_EQ(e.state(), Evaluation::SUCCEEDED) << daemon_->log();

  RunResult results = RunProgram({OcxctlPath(), "results", id}, Env());
  ASSERT_EQ(results.exit_code, 0) << results.err;
  const std::string readme = FileText(kSource + "/README.md");
  const std::string head = "dataset                version  metric";
  size_t start = readme.find(head);
  ASSERT_NE(start, std::string::npos);
  size_t end = readme.find("```", start);
  EXPECT_EQ(results.out, readme.substr(start, end - start));

  std::vector<Replica> replicas = Replicas(id);
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].state(), Replica::READY);  // idle_stop_s: 300
  EXPECT_EQ(replicas[0].attempt(), 1);
  EXPECT_EQ(replicas[0].attempts_size(), 1);
  int infer_tasks = 0;
  for (const Task& t : AllTasks(daemon_->stub(), id)) {
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    ++infer_tasks;
    Task full = GetTaskOrFail(daemon_->stub(), t.id());
    for (const auto& a : full.attempts()) {
      EXPECT_EQ(a.replica_id(), replicas[0].id()) << t.id();
      EXPECT_TRUE(a.gpus().empty());
    }
  }
  EXPECT_EQ(infer_tasks, 8);
  EXPECT_EQ(replicas[0].served_tasks(), infer_tasks);
  EXPECT_THAT(replicas[0].base_url(), HasSubstr("http://127.0.0.1:"));
}

// Two replicas on two GPU slots: each server sees exactly its own device,
// and the infer tasks hold none.
TEST_F(ServingE2ETest, TwoReplicasOnTwoGpuSlotsSeeTheirOwnDevices) {
  StartDaemon({"--gpus", "0,1"});
  const std::string id = Submit(GenConfig(
      "      num_gpus: 1\n      replicas: 2\n", /*samples=*/120, /*parts=*/6));
  ASSERT_TRUE(PollUntil([&] { return ReadyReplicas().size() == 2; }, 120))
      << daemon_->log();
  std::set<std::string> seen;
  for (const Replica& r : ReadyReplicas()) {
    ASSERT_EQ(r.gpus_size(), 1) << r.id();
    pid_t pid = ServerPid(r);
    ASSERT_TRUE(Alive(pid)) << r.id();
    EXPECT_EQ(EnvOf(pid, "CUDA_VISIBLE_DEVICES"), absl::StrCat(r.gpus(0)));
    seen.insert(absl::StrCat(r.gpus(0)));
  }
  EXPECT_EQ(seen, (std::set<std::string>{"0", "1"}));
  Evaluation e = Wait(id);
  ASSERT_EQ(e.state(), Evaluation::SUCCEEDED) << daemon_->log();
  int64_t served = 0;
  for (const Replica& r : Replicas(id)) served += r.served_tasks();
  EXPECT_EQ(served, 6);
}

// `replicas: auto` starts one replica per free GPU slot group, never more
// than the infer tasks waiting.
TEST_F(ServingE2ETest, AutoReplicasFollowFreeSlotsAndWaitingTasks) {
  StartDaemon({"--gpus", "0,1,2"});
  // Two tasks: two replicas, though three slots are free.
  const std::string two = Submit(GenConfig(
      "      num_gpus: 1\n      replicas: auto\n      idle_stop_s: 1\n",
      /*samples=*/40, 2, "two"));
  ASSERT_EQ(Wait(two).state(), Evaluation::SUCCEEDED) << daemon_->log();
  EXPECT_EQ(Replicas(two).size(), 2u);
  // Idle for 1 s, they give their slots back. Then four tasks of a model that
  // needs 2 GPUs per replica: one fits.
  const std::string wide = Submit(GenConfig(
      "      num_gpus: 2\n      replicas: auto\n", /*samples=*/40, 4, "wide"));
  ASSERT_EQ(Wait(wide).state(), Evaluation::SUCCEEDED) << daemon_->log();
  std::vector<Replica> replicas = Replicas(wide);
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].gpus_size(), 2);
  EXPECT_EQ(replicas[0].served_tasks(), 4);
}

// A replica killed mid-run: its tasks are stopped and run again on the
// other replica, resuming from their journals; their retries are not used;
// no sample is asked again beyond those in flight when it died.
TEST_F(ServingE2ETest, ReplicaKilledMidRunTasksFinishOnTheOther) {
  StartDaemon();
  const std::string id =
      Submit(GenConfig("      replicas: 2\n", /*samples=*/240, /*parts=*/4));
  ASSERT_TRUE(PollUntil([&] { return ReadyReplicas().size() == 2; }, 120))
      << daemon_->log();
  // Let both serve a while, then kill the first one's server outright.
  ASSERT_TRUE(PollUntil([&] { return AnsweredPrompts().size() >= 40; }, 120));
  Replica victim;
  const ListServersResponse servers = Servers();
  for (const Replica& r : servers.servers(0).replicas()) {
    if (r.state() == Replica::READY && r.active_tasks() > 0) victim = r;
  }
  ASSERT_FALSE(victim.id().empty()) << "no replica has a task running";
  pid_t pid = ServerPid(victim);
  ASSERT_TRUE(Alive(pid));
  ASSERT_EQ(kill(pid, SIGKILL), 0);

  Evaluation e = Wait(id);
  ASSERT_EQ(e.state(), Evaluation::SUCCEEDED) << daemon_->log();
  std::map<std::string, int> answered = AnsweredPrompts();
  int total = 0;
  for (const auto& [prompt, n] : answered) total += n;
  // 4 tasks x max_concurrency 2 requests could be in flight on the victim.
  EXPECT_LE(total, 240 + 8);
  bool not_counted = false;
  for (const Task& t : AllTasks(daemon_->stub(), id)) {
    Task full = GetTaskOrFail(daemon_->stub(), t.id());
    for (const auto& a : full.attempts()) {
      if (absl::StrContains(a.reason(), "does not count")) {
        not_counted = true;
        EXPECT_EQ(a.replica_id(), victim.id());
        EXPECT_GT(full.max_attempts(), 2) << full.id();
      }
    }
  }
  EXPECT_TRUE(not_counted) << "no task was running on the killed replica?";
  // The killed replica came back or stopped; it never took the pool down.
  for (const Replica& r : Replicas(id)) {
    EXPECT_NE(r.state(), Replica::FAILED) << r.id() << ": " << r.reason();
  }
}

// ocxd killed while a replica serves: the next ocxd adopts the running
// server (same process, same start) instead of starting another.
TEST_F(ServingE2ETest, OcxdRestartAdoptsTheRunningReplica) {
  StartDaemon();
  const std::string id =
      Submit(GenConfig("      replicas: 1\n", /*samples=*/200, /*parts=*/2));
  ASSERT_TRUE(PollUntil([&] { return ReadyReplicas().size() == 1; }, 120))
      << daemon_->log();
  ASSERT_TRUE(PollUntil([&] { return AnsweredPrompts().size() >= 20; }, 120));
  Replica before = ReadyReplicas()[0];
  pid_t pid = ServerPid(before);
  ASSERT_TRUE(Alive(pid));
  daemon_->Stop(SIGKILL);
  ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();

  Evaluation e = Wait(id);
  ASSERT_EQ(e.state(), Evaluation::SUCCEEDED) << daemon_->log();
  std::vector<Replica> after = Replicas(id);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].id(), before.id());
  EXPECT_EQ(after[0].attempt(), 1);
  EXPECT_EQ(after[0].state(), Replica::READY);
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(ServerPid(after[0]), pid);
}

// A server that never answers its ready path: the start fails after the
// timeout with the server's own last log lines, its GPU is given back, and
// the tasks that needed it fail saying why.
TEST_F(ServingE2ETest, ServerThatNeverGetsReadyFailsWithItsLogTail) {
  StartDaemon({"--gpus", "0"});
  const std::string config = Write(
      "never.yaml",
      absl::StrCat("models:\n"
                   "  - abbr: broken\n"
                   "    type: OpenAISDK\n"
                   "    path: broken\n"
                   "    serve:\n"
                   "      command: [python3, -c, \"import sys, time; "
                   "print('loading weights', flush=True); "
                   "sys.stderr.write('CUDA error: out of memory\\\\n'); "
                   "sys.stderr.flush(); time.sleep(600)\"]\n"
                   "      num_gpus: 1\n"
                   "      max_attempts: 1\n"
                   "      ready: {timeout_s: 2}\n"
                   "datasets:\n"
                   "  - {abbr: story-gen, path: ",
                   kData,
                   "story_gen.jsonl, reader_cfg: {input_columns: [prompt], "
                   "output_column: answer}}\n"
                   "work_dir: ",
                   dir_.path(),
                   "/never\n"
                   "infer: {runner: {type: LocalRunner}}\n"
                   "eval: {runner: {type: LocalRunner}}\n"));
  const std::string id = Submit(config);
  Evaluation e = Wait(id, 120);
  ASSERT_EQ(e.state(), Evaluation::FAILED) << daemon_->log();
  std::vector<Replica> replicas = Replicas(id);
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].state(), Replica::FAILED);
  EXPECT_THAT(replicas[0].reason(), HasSubstr("not ready after 2 s"));
  EXPECT_THAT(replicas[0].reason(), HasSubstr("CUDA error: out of memory"));
  for (const Task& t : AllTasks(daemon_->stub(), id)) {
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    EXPECT_THAT(t.reason(), HasSubstr("model server replica"));
    EXPECT_THAT(t.reason(), HasSubstr("out of memory"));
  }
  EXPECT_FALSE(Alive(ServerPid(replicas[0])));
  // The GPU is free again: a task that needs it runs.
  ocx::v1::EvaluationSpec spec = TestSpec(1, 1, {});
  spec.mutable_models(0)->mutable_run_cfg()->set_num_gpus(1);
  Evaluation next = CreateOrFail(daemon_->stub(), spec);
  auto done = WaitForEnd(daemon_->stub(), next.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), Evaluation::SUCCEEDED) << daemon_->log();
}

// Two evaluations of the same model share one replica: one model load.
TEST_F(ServingE2ETest, TwoEvaluationsOfOneModelShareOneReplica) {
  StartDaemon();
  const std::string a = Submit(
      GenConfig("      replicas: 1\n", /*samples=*/40, /*parts=*/2, "a"));
  const std::string b = Submit(
      GenConfig("      replicas: 1\n", /*samples=*/40, /*parts=*/2, "b"));
  ASSERT_EQ(Wait(a).state(), Evaluation::SUCCEEDED) << daemon_->log();
  ASSERT_EQ(Wait(b).state(), Evaluation::SUCCEEDED) << daemon_->log();
  ListServersResponse servers = Servers();
  ASSERT_EQ(servers.servers_size(), 1);
  ASSERT_EQ(servers.servers(0).replicas_size(), 1);
  const Replica& r = servers.servers(0).replicas(0);
  EXPECT_EQ(r.attempt(), 1);
  EXPECT_EQ(r.served_tasks(), 4);
  EXPECT_EQ(Replicas(a).size(), 1u);
  EXPECT_EQ(Replicas(b).size(), 1u);
}

// An idle replica stops after idle_stop_s; a cancelled evaluation's
// replicas stop at once.
TEST_F(ServingE2ETest, IdleReplicasStopAndCancelStopsThemAtOnce) {
  StartDaemon();
  const std::string id = Submit(GenConfig(
      "      replicas: 1\n      idle_stop_s: 2\n", /*samples=*/20, 1, "idle"));
  ASSERT_EQ(Wait(id).state(), Evaluation::SUCCEEDED) << daemon_->log();
  std::vector<Replica> replicas = Replicas(id);
  ASSERT_EQ(replicas.size(), 1u);
  pid_t pid = ServerPid(replicas[0]);
  ASSERT_TRUE(PollUntil(
      [&] { return Replicas(id)[0].state() == Replica::STOPPED; }, 30))
      << daemon_->log();
  EXPECT_THAT(Replicas(id)[0].reason(), HasSubstr("idle for 2 s"));
  EXPECT_TRUE(PollUntil([&] { return !Alive(pid); }, 10));

  const std::string c = Submit(GenConfig("      replicas: 1\n", /*samples=*/400,
                                         /*parts=*/2, "cancelled"));
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const Replica& r : Replicas(c)) {
          if (r.state() == Replica::READY) return true;
        }
        return false;
      },
      120))
      << daemon_->log();
  RunResult cancel = RunProgram({OcxctlPath(), "cancel", c}, Env());
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  ASSERT_EQ(Wait(c).state(), Evaluation::CANCELLED);
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const Replica& r : Replicas(c)) {
          if (r.state() != Replica::STOPPED) return false;
        }
        return true;
      },
      30))
      << daemon_->log();
  // The pool is the first evaluation's: its idle replica is listed too.
  std::vector<Replica> now = Replicas(c);
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0].id(), replicas[0].id());
  EXPECT_THAT(now[1].reason(), HasSubstr("was cancelled"));
}

// What the daemon can tell before anything starts: each error names the
// field, and nothing is stored.
TEST_F(ServingE2ETest, BadServeSectionsAreRefusedBeforeAnythingStarts) {
  StartDaemon({"--gpus", "0,1"});
  struct Case {
    std::string serve;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"      num_gpus: 4\n", "models[0].serve.num_gpus"},
      {"      replicas: 40\n", "models[0].serve.replicas"},
  };
  for (const Case& c : cases) {
    RunResult r = RunProgram(
        {OcxctlPath(), "submit", GenConfig(c.serve, 10, 1, "bad")}, Env());
    EXPECT_NE(r.exit_code, 0) << c.serve;
    EXPECT_THAT(r.err, HasSubstr(c.error)) << c.serve;
  }
  std::string missing =
      absl::StrReplaceAll(FileText(GenConfig("", 10, 1, "bad")),
                          {{"[node, ", "[no-such-server-xyz, "}});
  RunResult r =
      RunProgram({OcxctlPath(), "submit", Write("bad2.yaml", missing)}, Env());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("models[0].serve.command[0]"));
  EXPECT_THAT(r.err, HasSubstr("no-such-server-xyz"));
  std::string placeholder = absl::StrReplaceAll(
      FileText(GenConfig("", 10, 1, "bad")), {{"\"{port}\"", "\"{prot}\""}});
  r = RunProgram({OcxctlPath(), "submit", Write("bad3.yaml", placeholder)},
                 Env());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("{prot}"));
  RunResult list = RunProgram({OcxctlPath(), "list", "-o", "name"}, Env());
  EXPECT_EQ(absl::StripAsciiWhitespace(list.out), "");
}

}  // namespace
}  // namespace ocx::testing
