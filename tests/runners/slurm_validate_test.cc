// Validation of the SlurmRunner settings of an evaluation (spec/validate.cc):
// what passes, and field-path errors for what does not.
#include <string>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/evaluation_spec.h"
#include "spec/validate.h"

namespace ocx::spec {
namespace {

constexpr char kBase[] = "models: [{abbr: m}]\ndatasets: [{abbr: d}]\n";

absl::Status Check(const std::string& runner) {
  absl::StatusOr<ocx::v1::EvaluationSpec> spec = LoadEvaluationSpec(
      std::string(kBase) + "infer: {runner: " + runner + "}");
  if (!spec.ok()) return spec.status();
  return ValidateEvaluationSpec(*spec);
}

TEST(SlurmValidateTest, FullRunnerPasses) {
  absl::Status s = Check(
      "{type: SlurmRunner, max_num_workers: 64, retry: 2, partition: gpu, "
      "qos: normal, quotatype: reserved, extra_command: ['-x node1'], "
      "cpus_per_task: 8, time_limit: '1-02:03:04', max_pending: 4}");
  EXPECT_TRUE(s.ok()) << s;
}

// OpenCompass passes -p only when partition is set: so does ocx.
TEST(SlurmValidateTest, PartitionIsOptional) {
  absl::Status s = Check("{type: SlurmRunner}");
  EXPECT_TRUE(s.ok()) << s;
}

TEST(SlurmValidateTest, TimeLimitForms) {
  for (const char* t :
       {"30", "30:00", "2:00:00", "1-0", "1-2:30", "1-2:30:00", "UNLIMITED"}) {
    absl::Status s =
        Check(std::string("{type: SlurmRunner, time_limit: '") + t + "'}");
    EXPECT_TRUE(s.ok()) << t << ": " << s;
  }
  for (const char* t : {"1h", "1:2:3:4", "-5", "1-", "a-1", "1:"}) {
    absl::Status s =
        Check(std::string("{type: SlurmRunner, time_limit: '") + t + "'}");
    EXPECT_THAT(s.message(), ::testing::HasSubstr("infer.runner.time_limit: "))
        << t;
  }
}

TEST(SlurmValidateTest, BadFieldsNameTheField) {
  EXPECT_EQ(Check("{type: SlurmRunner, max_pending: -1}").message(),
            "infer.runner.max_pending: must be >= 0, got -1");
  EXPECT_EQ(Check("{type: SlurmRunner, cpus_per_task: -2}").message(),
            "infer.runner.cpus_per_task: must be >= 0, got -2");
  EXPECT_EQ(Check("{type: SlurmRunner, extra_command: [ok, ' ']}").message(),
            "infer.runner.extra_command[1]: must not be empty");
  EXPECT_THAT(Check("{type: SlurmRunner, partition: 'a b'}").message(),
              ::testing::HasSubstr("infer.runner.partition: must not contain "
                                   "spaces"));
  EXPECT_EQ(Check("{type: LocalRunner, max_pending: 1}").message(),
            "infer.runner.max_pending: only for SlurmRunner");
}

}  // namespace
}  // namespace ocx::spec
