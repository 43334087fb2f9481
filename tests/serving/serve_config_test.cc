#include "serving/serve_config.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::serving {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ocx::v1::ServeConfig Serve(std::vector<std::string> command) {
  ocx::v1::ServeConfig s;
  for (const std::string& arg : command) s.add_command(arg);
  return s;
}

ocx::v1::ServeConfig VllmServe() {
  return Serve({"vllm", "serve", "{model_path}", "--port", "{port}",
                "--tensor-parallel-size", "{num_gpus}"});
}

std::string Error(const ocx::v1::ServeConfig& s) {
  return std::string(CheckServeConfig(s, "models[0].serve").message());
}

TEST(WithDefaultsTest, FillsUnsetFields) {
  ocx::v1::ServeConfig s = WithDefaults(VllmServe());
  EXPECT_EQ(s.replicas(), "auto");
  EXPECT_EQ(s.ready().path(), "/v1/models");
  EXPECT_EQ(s.ready().timeout_s(), 900);
  EXPECT_EQ(s.ready().interval_s(), 10);
  EXPECT_EQ(s.ready().failures(), 3);
  EXPECT_EQ(s.idle_stop_s(), 300);
  EXPECT_EQ(s.max_attempts(), 3);
  EXPECT_EQ(s.api_path(), "/v1");
  EXPECT_EQ(s.command_size(), 7);
}

TEST(WithDefaultsTest, KeepsWhatIsSetAndIsIdempotent) {
  ocx::v1::ServeConfig s = VllmServe();
  s.set_replicas("4");
  s.mutable_ready()->set_path("/health");
  s.mutable_ready()->set_timeout_s(60);
  s.set_idle_stop_s(0);  // set to 0: stop at once, not the default
  s.set_max_attempts(1);
  s.set_api_path("/api/v1");
  ocx::v1::ServeConfig d = WithDefaults(s);
  EXPECT_EQ(d.replicas(), "4");
  EXPECT_EQ(d.ready().path(), "/health");
  EXPECT_EQ(d.ready().timeout_s(), 60);
  EXPECT_EQ(d.ready().interval_s(), 10);
  EXPECT_EQ(d.idle_stop_s(), 0);
  EXPECT_EQ(d.max_attempts(), 1);
  EXPECT_EQ(d.api_path(), "/api/v1");
  EXPECT_EQ(WithDefaults(d).SerializeAsString(), d.SerializeAsString());
}

TEST(CheckServeConfigTest, AcceptsTheDocumentedExample) {
  ocx::v1::ServeConfig s = VllmServe();
  s.set_num_gpus(1);
  s.set_replicas("4");
  (*s.mutable_env())["VLLM_LOGGING_LEVEL"] = "INFO";
  EXPECT_TRUE(CheckServeConfig(s, "models[0].serve").ok());
  EXPECT_TRUE(CheckServeConfig(WithDefaults(s), "models[0].serve").ok());
  EXPECT_TRUE(
      CheckServeConfig(Serve({"srv", "{{literal}}", "{host}:{gpus}"}), "x")
          .ok());
}

TEST(CheckServeConfigTest, CommandErrors) {
  EXPECT_THAT(Error(Serve({})), HasSubstr("models[0].serve.command: required"));
  EXPECT_EQ(Error(Serve({""})),
            "models[0].serve.command[0]: must not be empty (the program)");
  EXPECT_EQ(Error(Serve({"vllm", "serve", "--port", "{prot}"})),
            "models[0].serve.command[3]: unknown placeholder {prot} (known: "
            "{model_path}, {port}, {host}, {num_gpus}, {gpus})");
  EXPECT_THAT(Error(Serve({"srv", "{port"})),
              HasSubstr("models[0].serve.command[1]: unclosed \"{\""));
  EXPECT_THAT(Error(Serve({"srv", "a}"})),
              HasSubstr("models[0].serve.command[1]: unpaired \"}\""));
  EXPECT_THAT(Error(Serve({"srv", std::string("a\0b", 3)})),
              HasSubstr("models[0].serve.command[1]"));
}

TEST(CheckServeConfigTest, FieldErrors) {
  ocx::v1::ServeConfig s = VllmServe();
  s.set_num_gpus(-1);
  EXPECT_EQ(Error(s), "models[0].serve.num_gpus: must be in 0..64, got -1");
  s = VllmServe();
  for (const char* bad : {"0", "257", "many", "-2", "1.5"}) {
    s.set_replicas(bad);
    EXPECT_THAT(Error(s), HasSubstr("models[0].serve.replicas: must be "
                                    "\"auto\" or a count in 1..256"))
        << bad;
  }
  s = VllmServe();
  s.mutable_ready()->set_path("v1/models");
  EXPECT_EQ(Error(s),
            "models[0].serve.ready.path: must start with \"/\", got "
            "\"v1/models\"");
  s = VllmServe();
  s.mutable_ready()->set_timeout_s(-5);
  EXPECT_THAT(Error(s), HasSubstr("models[0].serve.ready.timeout_s: must be "
                                  "> 0"));
  s = VllmServe();
  s.mutable_ready()->set_interval_s(-1);
  EXPECT_THAT(Error(s), HasSubstr("models[0].serve.ready.interval_s"));
  s = VllmServe();
  s.mutable_ready()->set_failures(-1);
  EXPECT_THAT(Error(s), HasSubstr("models[0].serve.ready.failures"));
  s = VllmServe();
  s.set_idle_stop_s(-1);
  EXPECT_THAT(Error(s), HasSubstr("models[0].serve.idle_stop_s"));
  s = VllmServe();
  s.set_max_attempts(0);
  EXPECT_EQ(Error(s), "models[0].serve.max_attempts: must be in 1..100, got 0");
  s = VllmServe();
  (*s.mutable_env())["OK"] = "1";
  (*s.mutable_env())["1BAD"] = "1";
  EXPECT_THAT(Error(s), HasSubstr("models[0].serve.env[\"1BAD\"]: not an "
                                  "environment variable name"));
  s = VllmServe();
  s.set_api_path("v1");
  EXPECT_THAT(Error(s), HasSubstr("models[0].serve.api_path: must start"));
}

TEST(ReplicaCountTest, AutoIsZero) {
  ocx::v1::ServeConfig s = WithDefaults(VllmServe());
  EXPECT_EQ(ReplicaCount(s), 0);
  s.set_replicas("3");
  EXPECT_EQ(ReplicaCount(s), 3);
}

TEST(CheckServeRunnableTest, RunnerGpusPortsAndProgram) {
  ocx::v1::ServeConfig s = WithDefaults(Serve({"sh", "-c", "true"}));
  Preflight local{"LocalRunner", 2, 20000, 20009, true};
  EXPECT_TRUE(CheckServeRunnable(s, "models[0].serve", local).ok());

  Preflight dlc = local;
  dlc.runner_type = "DLCRunner";
  EXPECT_EQ(CheckServeRunnable(s, "models[0].serve", dlc).message(),
            "infer.runner.type: serve runs on LocalRunner or SlurmRunner, not "
            "DLCRunner");

  s.set_num_gpus(4);
  absl::Status gpus = CheckServeRunnable(s, "models[0].serve", local);
  EXPECT_EQ(gpus.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gpus.message(),
            "models[0].serve.num_gpus: 4 GPUs per replica but LocalRunner "
            "has 2");
  Preflight slurm = local;
  slurm.runner_type = "SlurmRunner";
  EXPECT_TRUE(CheckServeRunnable(s, "models[0].serve", slurm).ok())
      << "Slurm's GPUs are not known here";

  s.set_num_gpus(1);
  s.set_replicas("11");
  EXPECT_EQ(CheckServeRunnable(s, "models[0].serve", local).message(),
            "models[0].serve.replicas: 11 replicas but serving.port_range "
            "has 10 ports");
  s.set_replicas("auto");

  s.set_command(0, "ocx-no-such-server-program");
  EXPECT_EQ(CheckServeRunnable(s, "models[0].serve", local).message(),
            "models[0].serve.command[0]: \"ocx-no-such-server-program\" not "
            "found in PATH");
  EXPECT_TRUE(CheckServeRunnable(s, "models[0].serve", slurm).ok());
  Preflight unchecked = local;
  unchecked.check_program = false;
  EXPECT_TRUE(CheckServeRunnable(s, "models[0].serve", unchecked).ok());

  s.set_command(0, "/nonexistent/bin/server");
  EXPECT_EQ(CheckServeRunnable(s, "models[0].serve", local).message(),
            "models[0].serve.command[0]: \"/nonexistent/bin/server\" is not "
            "an executable file");
  s.set_command(0, "/bin/sh");
  EXPECT_TRUE(CheckServeRunnable(s, "models[0].serve", local).ok());
  // The server's own PATH, when its env sets one, is where it looks.
  s.set_command(0, "sh");
  (*s.mutable_env())["PATH"] = "/nonexistent";
  EXPECT_FALSE(CheckServeRunnable(s, "models[0].serve", local).ok());
}

ocx::v1::ModelConfig Model(const ocx::v1::ServeConfig& serve) {
  ocx::v1::ModelConfig m;
  m.set_abbr("qwen");
  m.set_path("Qwen/Qwen2-7B-Instruct");
  *m.mutable_serve() = serve;
  return m;
}

TEST(PoolForTest, IdFingerprintAndFields) {
  ocx::v1::RunnerConfig local;
  local.set_type("LocalRunner");
  ocx::v1::ServerPool pool = PoolFor(Model(VllmServe()), local);
  EXPECT_EQ(pool.fingerprint().size(), 16u);
  EXPECT_EQ(pool.id(), "srv-" + pool.fingerprint().substr(0, 10));
  EXPECT_EQ(pool.model_path(), "Qwen/Qwen2-7B-Instruct");
  EXPECT_EQ(pool.model_abbr(), "qwen");
  EXPECT_EQ(pool.serve().replicas(), "auto") << "the serve is defaulted";
  EXPECT_EQ(pool.runner().type(), "LocalRunner");
  // Stable: the same inputs give the same pool.
  EXPECT_EQ(PoolFor(Model(VllmServe()), local).id(), pool.id());
  // The unset runner type is LocalRunner's.
  EXPECT_EQ(PoolFor(Model(VllmServe()), ocx::v1::RunnerConfig()).id(),
            pool.id());
}

TEST(PoolForTest, ServerShapingFieldsChangeTheKeyOthersDoNot) {
  ocx::v1::RunnerConfig local;
  local.set_type("LocalRunner");
  const std::string base = PoolFor(Model(VllmServe()), local).id();

  ocx::v1::ServeConfig same = VllmServe();
  same.set_replicas("4");
  same.mutable_ready()->set_timeout_s(10);
  same.set_idle_stop_s(5);
  same.set_max_attempts(7);
  ocx::v1::ModelConfig other_abbr = Model(same);
  other_abbr.set_abbr("another-abbr");
  other_abbr.set_temperature(0.5);
  EXPECT_EQ(PoolFor(other_abbr, local).id(), base);
  ocx::v1::RunnerConfig more_workers = local;
  more_workers.set_max_num_workers(99);
  EXPECT_EQ(PoolFor(Model(VllmServe()), more_workers).id(), base);

  std::vector<ocx::v1::ServeConfig> differing(5, VllmServe());
  differing[0].set_command(4, "{port}0");
  differing[1].set_num_gpus(2);
  (*differing[2].mutable_env())["A"] = "1";
  differing[3].set_api_path("/api");
  differing[4].add_command("--extra");
  for (const auto& s : differing) {
    EXPECT_NE(PoolFor(Model(s), local).id(), base) << s.DebugString();
  }
  ocx::v1::ModelConfig other_path = Model(VllmServe());
  other_path.set_path("Qwen/Qwen2-72B-Instruct");
  EXPECT_NE(PoolFor(other_path, local).id(), base);

  ocx::v1::RunnerConfig slurm;
  slurm.set_type("SlurmRunner");
  const std::string slurm_id = PoolFor(Model(VllmServe()), slurm).id();
  EXPECT_NE(slurm_id, base);
  for (int i = 0; i < 4; ++i) {
    ocx::v1::RunnerConfig r = slurm;
    if (i == 0) r.set_partition("gpu");
    if (i == 1) r.set_qos("high");
    if (i == 2) r.set_quotatype("spot");
    if (i == 3) r.add_extra_command("--exclusive");
    EXPECT_NE(PoolFor(Model(VllmServe()), r).id(), slurm_id) << i;
  }
}

TEST(ReplicaIdTest, FormAndRecognition) {
  EXPECT_EQ(ReplicaId("srv-0123456789", 3), "srv-0123456789-3");
  EXPECT_TRUE(IsReplicaId("srv-0123456789-3"));
  EXPECT_TRUE(IsReplicaId("srv-abcdef0123-12"));
  EXPECT_TRUE(IsReplicaId("srv-abcdef0123-u1001-2"));  // a per-owner pool
  for (const char* bad :
       {"srv-0123456789", "srv-0123456789-", "srv-0123456789-0",
        "srv-0123456789-01", "srv-012345678-1", "srv-012345678G-1",
        "srv-ABCDEF0123-1", "srv-0123456789-1x", "ev-0123456789-1",
        "srv-0123456789x1", "t-1", "srv-0123456789-u-1",
        "srv-0123456789-u12", "srv-0123456789-u1x-1"}) {
    EXPECT_FALSE(IsReplicaId(bad)) << bad;
  }
}

TEST(ReplicaArgvTest, WrapperFlagsThenTheCommand) {
  ocx::v1::RunnerConfig local;
  ocx::v1::ModelConfig m = Model(VllmServe());
  m.mutable_serve()->set_num_gpus(2);
  ocx::v1::ServerPool pool = PoolFor(m, local);
  EXPECT_THAT(
      ReplicaArgv("/usr/bin/ocx-task", pool, "/w/a/endpoint.json", "127.0.0.1",
                  20000, 20009, 20004),
      ElementsAre("/usr/bin/ocx-task", "serve", "--endpoint-file",
                  "/w/a/endpoint.json", "--host", "127.0.0.1", "--ports",
                  "20000-20009", "--port-start", "20004", "--model-path",
                  "Qwen/Qwen2-7B-Instruct", "--num-gpus", "2", "--", "vllm",
                  "serve", "{model_path}", "--port", "{port}",
                  "--tensor-parallel-size", "{num_gpus}"));
}

TEST(ExpandServeCommandTest, EachPlaceholderInItsElement) {
  ocx::v1::ServeConfig s =
      Serve({"srv", "{model_path}", "--bind={host}:{port}", "{num_gpus}",
             "{gpus}", "{{x}}", "a b;$(rm)"});
  ServeValues v{"/m/q w", "node7", 20001, 2, "0,1"};
  absl::StatusOr<std::vector<std::string>> argv = ExpandServeCommand(s, v);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_THAT(*argv, ElementsAre("srv", "/m/q w", "--bind=node7:20001", "2",
                                 "0,1", "{x}", "a b;$(rm)"));
  v.gpus = "";
  argv = ExpandServeCommand(Serve({"srv", "--gpus={gpus}"}), v);
  ASSERT_TRUE(argv.ok());
  EXPECT_THAT(*argv, ElementsAre("srv", "--gpus="));
  absl::StatusOr<std::vector<std::string>> bad =
      ExpandServeCommand(Serve({"srv", "{nope}"}), v);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("command[1]: unknown placeholder {nope}"));
}

TEST(ParsePortRangeTest, ValidAndInvalid) {
  auto range = ParsePortRange("20000-29999");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->first, 20000);
  EXPECT_EQ(range->second, 29999);
  range = ParsePortRange("8000-8000");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->first, 8000);
  for (const char* bad :
       {"", "20000", "0-10", "10-9", "1-65536", "a-b", "1-2-3", "-5", "5-"}) {
    absl::StatusOr<std::pair<int, int>> r = ParsePortRange(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(ParsePortRange("10-9").status().message(),
              HasSubstr("\"10-9\": expected \"first-last\""));
}

}  // namespace
}  // namespace ocx::serving
