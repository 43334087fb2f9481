// Models' `serve` sections in ValidateEvaluationSpec and ApplyDefaults
// (spec/serve_check.h), through YAML as a user writes it.
#include "spec/serve_check.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/evaluation_spec.h"
#include "spec/validate.h"

namespace ocx::spec {
namespace {

using ::ocx::v1::EvaluationSpec;
using ::testing::HasSubstr;

EvaluationSpec Load(const std::string& yaml) {
  absl::StatusOr<EvaluationSpec> spec = LoadEvaluationSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status() << "\nfor:\n" << yaml;
  return spec.ok() ? *spec : EvaluationSpec();
}

// A model with the given serve section (flow mapping body), optionally more
// model fields and an infer runner type.
std::string Yaml(const std::string& serve, const std::string& model_extra = "",
                 const std::string& runner = "") {
  std::string yaml =
      "models:\n  - {abbr: first, path: p0}\n"
      "  - {abbr: m, path: Qwen/Qwen2-7B-Instruct" +
      model_extra + ", serve: {" + serve + "}}\n" + "datasets: [{abbr: d}]\n";
  if (!runner.empty()) yaml += "infer: {runner: {type: " + runner + "}}\n";
  return yaml;
}

constexpr char kCommand[] =
    "command: [vllm, serve, \"{model_path}\", --port, \"{port}\"]";

std::string Error(const std::string& yaml) {
  return std::string(ValidateEvaluationSpec(Load(yaml)).message());
}

TEST(ServeValidationTest, TheDocumentedExamplePasses) {
  const std::string serve = std::string(kCommand) +
                            ", num_gpus: 1, replicas: 4, ready: {path: "
                            "/v1/models, timeout_s: 900}, idle_stop_s: 300";
  absl::Status s = ValidateEvaluationSpec(Load(Yaml(serve)));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(
      ValidateEvaluationSpec(Load(Yaml(kCommand, "", "SlurmRunner"))).ok());
  EXPECT_TRUE(
      ValidateEvaluationSpec(Load(Yaml(kCommand, "", "LocalRunner"))).ok());
}

TEST(ServeValidationTest, YamlIntegerReplicasAreTheirText) {
  EvaluationSpec spec = Load(Yaml(std::string(kCommand) + ", replicas: 2"));
  EXPECT_EQ(spec.models(1).serve().replicas(), "2");
}

TEST(ServeValidationTest, ServeSectionErrorsNameTheModelsField) {
  EXPECT_EQ(Error(Yaml("command: [vllm, --port, \"{prot}\"]")),
            "models[1].serve.command[2]: unknown placeholder {prot} (known: "
            "{model_path}, {port}, {host}, {num_gpus}, {gpus})");
  EXPECT_THAT(Error(Yaml("num_gpus: 1")),
              HasSubstr("models[1].serve.command: required"));
  EXPECT_THAT(Error(Yaml(std::string(kCommand) + ", replicas: lots")),
              HasSubstr("models[1].serve.replicas: must be \"auto\" or a "
                        "count"));
  EXPECT_THAT(Error(Yaml(std::string(kCommand) + ", ready: {path: health}")),
              HasSubstr("models[1].serve.ready.path: must start with \"/\""));
  EXPECT_THAT(Error(Yaml(std::string(kCommand) + ", num_gpus: -1")),
              HasSubstr("models[1].serve.num_gpus"));
  EXPECT_THAT(Error(Yaml(std::string(kCommand) + ", env: {\"A-B\": x}")),
              HasSubstr("models[1].serve.env[\"A-B\"]"));
}

TEST(ServeValidationTest, OpenaiApiBaseIsOcxsToSet) {
  EXPECT_EQ(Error(Yaml(kCommand, ", openai_api_base: http://h:1/v1")),
            "models[1].openai_api_base: set by ocx when serve is given; "
            "remove it");
}

TEST(ServeValidationTest, OnlyLocalAndSlurmRunnersServe) {
  // Called directly: the full validation first asks DLCRunner for its own
  // settings.
  EvaluationSpec spec = Load(Yaml(kCommand, "", "DLCRunner"));
  std::string error(ValidateServeModels(spec).message());
  EXPECT_EQ(error,
            "infer.runner.type: serve (models[1].serve) runs on LocalRunner "
            "or SlurmRunner, not DLCRunner");
}

TEST(ServeValidationTest, ModelsWithoutServeAreUntouched) {
  EvaluationSpec spec = Load(
      "models: [{abbr: m, openai_api_base: http://h:1/v1}]\n"
      "datasets: [{abbr: d}]\ninfer: {runner: {type: DLCRunner}}\n");
  EXPECT_TRUE(ValidateServeModels(spec).ok());
  ApplyDefaults(&spec);
  EXPECT_FALSE(spec.models(0).has_serve());
}

TEST(ServeDefaultsTest, ApplyDefaultsFillsServeSections) {
  EvaluationSpec spec = Load(Yaml(std::string(kCommand) + ", idle_stop_s: 0"));
  ApplyDefaults(&spec);
  const ocx::v1::ServeConfig& s = spec.models(1).serve();
  EXPECT_EQ(s.replicas(), "auto");
  EXPECT_EQ(s.ready().path(), "/v1/models");
  EXPECT_EQ(s.ready().timeout_s(), 900);
  EXPECT_EQ(s.ready().interval_s(), 10);
  EXPECT_EQ(s.ready().failures(), 3);
  EXPECT_EQ(s.idle_stop_s(), 0) << "what the user wrote stays";
  EXPECT_EQ(s.max_attempts(), 3);
  EXPECT_EQ(s.api_path(), "/v1");
  EXPECT_FALSE(spec.models(0).has_serve());
  absl::Status valid = ValidateEvaluationSpec(spec);
  EXPECT_TRUE(valid.ok()) << valid;
  EvaluationSpec again = spec;
  ApplyDefaults(&again);
  EXPECT_EQ(again.SerializeAsString(), spec.SerializeAsString());
}

}  // namespace
}  // namespace ocx::spec
