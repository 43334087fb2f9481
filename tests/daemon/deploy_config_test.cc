// deploy/ocxd.yaml is the documented default configuration: ocxd must load
// and accept it, and it must mention every DaemonConfig field, so a field
// added to the proto without a line (and a comment) in the example fails
// here.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/daemon_exit.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "ocx/v1/daemon_config.pb.h"
#include "spec/daemon_config.h"
#include "yaml-cpp/yaml.h"

namespace ocx {
namespace {

constexpr char kDeployYaml[] = OCX_DEPLOY_DIR "/ocxd.yaml";
constexpr char kDeployService[] = OCX_DEPLOY_DIR "/ocxd.service";

using ::testing::HasSubstr;

// Field paths of `descriptor` (recursing into message fields) that `node`
// does not mention.
void MissingFields(const google::protobuf::Descriptor& descriptor,
                   const YAML::Node& node, const std::string& prefix,
                   std::vector<std::string>* missing) {
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *descriptor.field(i);
    std::string path = absl::StrCat(prefix, field.name());
    YAML::Node value = node[field.name()];
    if (!value.IsDefined()) {
      missing->push_back(path);
      continue;
    }
    if (field.message_type() != nullptr && !field.is_repeated()) {
      MissingFields(*field.message_type(), value, path + ".", missing);
    }
  }
}

// Read exactly as ocxd reads --config.
TEST(DeployConfigTest, OcxdYamlLoadsAndValidates) {
  absl::StatusOr<v1::DaemonConfig> loaded =
      spec::LoadDaemonConfigFile(kDeployYaml);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const v1::DaemonConfig& config = *loaded;
  absl::Status valid = spec::ValidateDaemonConfig(config);
  EXPECT_TRUE(valid.ok()) << valid;

  EXPECT_EQ(config.listen(), "unix:///run/ocx/ocxd.sock");
  EXPECT_EQ(config.database(), "/var/lib/ocx/ocx.db");
  EXPECT_EQ(config.work_root(), "/var/lib/ocx/work");
  EXPECT_EQ(config.lock_file(), "/var/lib/ocx/ocx.db.lock");
  EXPECT_EQ(config.local().kill_grace_s(), 10);
  EXPECT_EQ(config.retry().initial_backoff_ms(), 1000);
  EXPECT_EQ(config.retry().multiplier(), 2.0);
  EXPECT_EQ(config.retry().max_backoff_ms(), 100000);
}

// Every exit status that a restart cannot fix (common/daemon_exit.h) keeps
// systemd from restarting ocxd in a loop.
TEST(DeployConfigTest, UnitDoesNotRestartWhatARestartCannotFix) {
  std::ifstream in(kDeployService);
  std::stringstream unit;
  unit << in.rdbuf();
  EXPECT_THAT(unit.str(),
              HasSubstr(absl::StrCat(
                  "RestartPreventExitStatus=", kDaemonExitPrecondition, " ",
                  kDaemonExitCorrupt, " ", kDaemonExitNoSpace, " ",
                  kDaemonExitConfig, "\n")));
  EXPECT_THAT(unit.str(), HasSubstr("StartLimitBurst="));
}

TEST(DeployConfigTest, OcxdYamlMentionsEveryField) {
  YAML::Node root = YAML::LoadFile(kDeployYaml);
  std::vector<std::string> missing;
  MissingFields(*v1::DaemonConfig::descriptor(), root, "", &missing);
  EXPECT_TRUE(missing.empty())
      << "deploy/ocxd.yaml lacks: " << testing::PrintToString(missing);
}

}  // namespace
}  // namespace ocx
