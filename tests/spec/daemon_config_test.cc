#include "spec/daemon_config.h"

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::spec {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/ocx_daemon_" + name;
  std::ofstream(path) << text;
  return path;
}

ocx::v1::DaemonConfig Load(const std::string& yaml) {
  absl::StatusOr<ocx::v1::DaemonConfig> config = LoadDaemonConfig(yaml);
  EXPECT_TRUE(config.ok()) << config.status() << "\nfor:\n" << yaml;
  return config.ok() ? *config : ocx::v1::DaemonConfig();
}

TEST(DaemonConfigTest, ShippedConfigLoadsAndValidates) {
  absl::StatusOr<ocx::v1::DaemonConfig> config =
      LoadDaemonConfigFile(std::string(OCX_SOURCE_DIR) + "/deploy/ocxd.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Status s = ValidateDaemonConfig(*config);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_FALSE(config->listen().empty());
}

TEST(DaemonConfigTest, EmptyFileIsAnEmptyConfig) {
  std::string path = WriteTemp("empty.yaml", "# nothing set\n");
  absl::StatusOr<ocx::v1::DaemonConfig> config = LoadDaemonConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ByteSizeLong(), 0u);
  EXPECT_TRUE(ValidateDaemonConfig(*config).ok());
}

TEST(DaemonConfigTest, FileErrors) {
  std::string path = WriteTemp("bad.yaml", "local: {gpu: '0'}\n");
  absl::StatusOr<ocx::v1::DaemonConfig> config = LoadDaemonConfigFile(path);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            path +
                ": local.gpu: unknown field (known: gpus, max_parallel, "
                "shim_path, kill_grace_s)");
  std::string missing = ::testing::TempDir() + "/ocx_daemon_missing.yaml";
  config = LoadDaemonConfigFile(missing);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(missing));
}

TEST(DaemonConfigTest, GoodValues) {
  const std::vector<std::string> good = {
      "",
      "listen: unix:///run/ocx/ocxd.sock",
      "listen: unix:///" + std::string(106, 's'),
      "listen: 127.0.0.1:50051",
      "listen: localhost:1",
      "listen: '[::]:65535'",
      "listen: '[::1]:8080'",
      "local: {gpus: none}",
      "local: {gpus: '0'}",
      "local: {gpus: '4,5, 7'}",
      "local: {max_parallel: 0, kill_grace_s: 0}",
      "retry: {initial_backoff_ms: 0, multiplier: 1, max_backoff_ms: 0}",
      "retry: {initial_backoff_ms: 500, multiplier: 1.5, max_backoff_ms: "
      "500}",
      "retry: {initial_backoff_ms: 5000}",
      "dlc: {dlc_path: /opt/dlc/bin/dlc, poll_interval_ms: 500, "
      "max_concurrent_calls: 64, submit_tries: 1, call_timeout_ms: 1000, "
      "call_initial_backoff_ms: 100, call_max_backoff_ms: 100, "
      "max_resubmits: 0, log_interval_ms: 0, max_parallel: 8}",
      "dlc: {call_initial_backoff_ms: 5000}",
      "listen: 127.0.0.1:0",  // any free port; ocxd prints and records it
      "fair_share: {user_max_running_tasks: 8, user_max_gpus: 4, users: "
      "{alice: {max_running_tasks: 16}, bob: {max_gpus: 0}}}",
      "read_connections: 0",
      "read_connections: 1",
      "read_connections: 64",
  };
  for (const std::string& yaml : good) {
    absl::Status s = ValidateDaemonConfig(Load(yaml));
    EXPECT_TRUE(s.ok()) << s << "\nfor: " << yaml;
  }
}

TEST(DaemonConfigTest, BadValuesGiveTheExpectedMessage) {
  const std::string usage =
      "listen: must be unix:///absolute/path, host:port or [ipv6]:port, got ";
  struct Case {
    std::string yaml;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"listen: unix:relative.sock", usage + "\"unix:relative.sock\""},
      {"listen: unix://host/x", usage + "\"unix://host/x\""},
      {"listen: unix:///", usage + "\"unix:///\""},
      {"listen: unix:///" + std::string(107, 's'),
       "listen: unix socket path must be at most 107 bytes, got 108"},
      {"listen: localhost", usage + "\"localhost\""},
      {"listen: ':50051'", usage + "\":50051\""},
      {"listen: 'a b:1'", usage + "\"a b:1\""},
      {"listen: localhost:65536",
       "listen: port must be in 0..65535 (0: any free port), got \"65536\" in "
       "\"localhost:65536\""},
      {"listen: localhost:http",
       "listen: port must be in 0..65535 (0: any free port), got \"http\" in "
       "\"localhost:http\""},
      {"listen: '::1:80'",
       "listen: IPv6 addresses go in brackets ([::1]:port), got \"::1:80\""},
      {"listen: '[::1]'", usage + "\"[::1]\""},
      {"listen: '[]:80'", usage + "\"[]:80\""},
      {"listen: '[zz]:80'", usage + "\"[zz]:80\""},
      {"local: {gpus: 'a'}",
       "local.gpus: \"a\" is not a GPU id (expected \"none\" or "
       "comma-separated ids such as \"0,1\")"},
      {"local: {gpus: '0,,1'}",
       "local.gpus: \"\" is not a GPU id (expected \"none\" or "
       "comma-separated ids such as \"0,1\")"},
      {"local: {gpus: '-1'}",
       "local.gpus: \"-1\" is not a GPU id (expected \"none\" or "
       "comma-separated ids such as \"0,1\")"},
      {"local: {gpus: '1,2,1'}", "local.gpus: duplicate GPU id 1"},
      {"local: {max_parallel: -1}", "local.max_parallel: must be >= 0, got -1"},
      {"local: {kill_grace_s: -1}", "local.kill_grace_s: must be >= 0, got -1"},
      {"retry: {initial_backoff_ms: -1}",
       "retry.initial_backoff_ms: must be >= 0, got -1"},
      {"retry: {multiplier: 0.5}", "retry.multiplier: must be >= 1, got 0.5"},
      {"retry: {multiplier: -2}", "retry.multiplier: must be >= 1, got -2"},
      {"retry: {max_backoff_ms: -1}",
       "retry.max_backoff_ms: must be >= 0, got -1"},
      {"retry: {initial_backoff_ms: 2000, max_backoff_ms: 1000}",
       "retry.max_backoff_ms: must be >= initial_backoff_ms (2000), got "
       "1000"},
      {"database: \"a\\0b\"", "database: must not contain NUL"},
      {"dlc: {dlc_path: \"a\\0b\"}", "dlc.dlc_path: must not contain NUL"},
      {"dlc: {poll_interval_ms: -1}",
       "dlc.poll_interval_ms: must be >= 0, got -1"},
      {"dlc: {max_resubmits: -2}", "dlc.max_resubmits: must be >= 0, got -2"},
      {"dlc: {log_interval_ms: -1}",
       "dlc.log_interval_ms: must be >= 0, got -1"},
      {"dlc: {max_concurrent_calls: 65}",
       "dlc.max_concurrent_calls: must be at most 64, got 65"},
      {"dlc: {call_initial_backoff_ms: 2000, call_max_backoff_ms: 10}",
       "dlc.call_max_backoff_ms: must be >= call_initial_backoff_ms (2000), "
       "got 10"},
      {"fair_share: {user_max_running_tasks: -1}",
       "fair_share.user_max_running_tasks: must be >= 0, got -1"},
      {"fair_share: {user_max_gpus: -2}",
       "fair_share.user_max_gpus: must be >= 0, got -2"},
      {"fair_share: {users: {alice: {max_running_tasks: -1}}}",
       "fair_share.users[\"alice\"].max_running_tasks: must be >= 0, got -1"},
      {"fair_share: {users: {alice: {max_gpus: -1}}}",
       "fair_share.users[\"alice\"].max_gpus: must be >= 0, got -1"},
      {"fair_share: {users: {'': {max_gpus: 1}}}",
       "fair_share.users[\"\"]: a user name must not be empty"},
      {"read_connections: -1",
       "read_connections: must be in 0..64 (0: 4), got -1"},
      {"read_connections: 65",
       "read_connections: must be in 0..64 (0: 4), got 65"},
      // The first problem in declaration order wins.
      {"listen: x\nlocal: {gpus: y}", usage + "\"x\""},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateDaemonConfig(Load(c.yaml));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_EQ(s.message(), c.error) << c.yaml;
  }
}

// One name per idea across runners (docs/runners.md); the old names are
// refused with the new one, in a file too.
TEST(DaemonConfigTest, RenamedOptionsNameTheNewName) {
  const std::pair<std::string, std::string> cases[] = {
      {"slurm: {max_in_flight: 4}",
       "slurm.max_in_flight: renamed to slurm.max_parallel"},
      {"slurm: {backoff_initial_ms: 10}",
       "slurm.backoff_initial_ms: renamed to slurm.call_initial_backoff_ms"},
      {"slurm: {backoff_max_ms: 10}",
       "slurm.backoff_max_ms: renamed to slurm.call_max_backoff_ms"},
      {"dlc: {retry_initial_backoff_ms: 10}",
       "dlc.retry_initial_backoff_ms: renamed to dlc.call_initial_backoff_ms"},
      {"dlc: {retry_max_backoff_ms: 10}",
       "dlc.retry_max_backoff_ms: renamed to dlc.call_max_backoff_ms"},
      {"dlc:\n  max_preemptions: 1\n",
       "dlc.max_preemptions: renamed to dlc.max_resubmits"},
      {"{\"slurm\": {\"max_in_flight\": 4}}",
       "slurm.max_in_flight: renamed to slurm.max_parallel"},
  };
  for (const auto& [yaml, error] : cases) {
    absl::StatusOr<ocx::v1::DaemonConfig> config = LoadDaemonConfig(yaml);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << yaml;
    EXPECT_EQ(config.status().message(), error) << yaml;
  }
  std::string path = WriteTemp("renamed.yaml", "slurm:\n  max_in_flight: 2\n");
  EXPECT_EQ(LoadDaemonConfigFile(path).status().message(),
            path + ": slurm.max_in_flight: renamed to slurm.max_parallel");
  // The new names load, and a key of the same name elsewhere is no rename.
  EXPECT_TRUE(LoadDaemonConfig("slurm: {max_parallel: 4, max_resubmits: 1, "
                               "call_initial_backoff_ms: 5, "
                               "call_max_backoff_ms: 9}")
                  .ok());
  EXPECT_FALSE(LoadDaemonConfig("local: {max_in_flight: 1}").ok());
  EXPECT_THAT(
      std::string(
          LoadDaemonConfig("local: {max_in_flight: 1}").status().message()),
      HasSubstr("local.max_in_flight: unknown field"));
}

TEST(DaemonConfigTest, SlurmSettingsUseTheSharedNames) {
  const std::pair<std::string, std::string> cases[] = {
      {"slurm: {max_parallel: -1}", "slurm.max_parallel: must be >= 0, got -1"},
      {"slurm: {max_resubmits: -1}",
       "slurm.max_resubmits: must be >= 0, got -1"},
      {"slurm: {call_initial_backoff_ms: 2000, call_max_backoff_ms: 10}",
       "slurm.call_max_backoff_ms: must be >= call_initial_backoff_ms (2000), "
       "got 10"},
      {"slurm: {sacct_args: [\"a\\0b\"]}",
       "slurm.sacct_args[0]: must not contain NUL"},
  };
  for (const auto& [yaml, error] : cases) {
    absl::Status s = ValidateDaemonConfig(Load(yaml));
    EXPECT_EQ(s.message(), error) << yaml;
  }
}

}  // namespace
}  // namespace ocx::spec
