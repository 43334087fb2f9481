#include "spec/evaluation_spec.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::spec {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/ocx_spec_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(LoadEvaluationSpecTest, ParsesText) {
  absl::StatusOr<ocx::v1::EvaluationSpec> spec = LoadEvaluationSpec(
      "models: [{abbr: m, run_cfg: {num_gpus: 2}}]\n"
      "datasets: [{abbr: d}]\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->models(0).run_cfg().num_gpus(), 2);
  EXPECT_EQ(spec->datasets(0).abbr(), "d");
}

TEST(LoadEvaluationSpecTest, ErrorsHaveFieldPaths) {
  absl::StatusOr<ocx::v1::EvaluationSpec> spec =
      LoadEvaluationSpec("models: [{abbr: m}, {max_out_len: abc}]");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "models[1].max_out_len: expected an integer, got \"abc\"");
}

TEST(LoadEvaluationSpecFileTest, ReadsYamlAndJsonFiles) {
  std::string yaml = WriteTemp("eval.yaml",
                               "# a comment\nmodels:\n  - abbr: m\n"
                               "datasets:\n  - abbr: d\n    n: 3\n");
  absl::StatusOr<ocx::v1::EvaluationSpec> spec = LoadEvaluationSpecFile(yaml);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->datasets(0).n(), 3);

  std::string json = WriteTemp(
      "eval.json", R"({"models": [{"abbr": "m"}], "datasets": [{"abbr": "d"}],
                      "work_dir": "/tmp/w"})");
  spec = LoadEvaluationSpecFile(json);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->work_dir(), "/tmp/w");
}

TEST(LoadEvaluationSpecFileTest, ParseErrorsArePrefixedWithTheFile) {
  std::string path = WriteTemp("bad.yaml", "models:\n  - abbr: {x: 1}\n");
  absl::StatusOr<ocx::v1::EvaluationSpec> spec = LoadEvaluationSpecFile(path);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            path + ": models[0].abbr: expected a string, got a mapping");

  path = WriteTemp("syntax.yaml", "models: [\n");
  spec = LoadEvaluationSpecFile(path);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              StartsWith(path + ": invalid YAML at line "));
}

TEST(LoadEvaluationSpecFileTest, MissingFileIsNotFoundAndNamesTheFile) {
  std::string path = ::testing::TempDir() + "/ocx_spec_does_not_exist.yaml";
  absl::StatusOr<ocx::v1::EvaluationSpec> spec = LoadEvaluationSpecFile(path);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(path));
}

}  // namespace
}  // namespace ocx::spec
