// ocx-task eval on real files in a temporary work dir: in process through
// RunEvalTask, and as the real `ocx-task` program.
#include "task/eval/eval_task.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "task/eval/predictions_reader.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/ocx-eval-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Write(const std::string& path, const std::string& text) {
  ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
  ASSERT_TRUE(WriteFileAtomic(path, text).ok());
}

class EvalTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    params_.set_work_dir(dir_.path());
    params_.set_stage(ocx::v1::STAGE_EVAL);
    params_.mutable_model()->set_abbr("m");
    ocx::v1::TaskDataset* d = params_.add_datasets();
    d->set_base_abbr("qa");
    d->mutable_config()->set_abbr("qa");
    d->mutable_config()->mutable_eval_cfg()->mutable_evaluator()->set_type(
        "AccEvaluator");
    d->mutable_config()
        ->mutable_eval_cfg()
        ->mutable_pred_postprocessor()
        ->set_type("first-capital");
    params_.add_required_inputs("predictions/m/qa_0.json");
    params_.add_required_inputs("predictions/m/qa_1.json");
    params_.add_expected_outputs("results/m/qa.json");
  }

  void WriteParts() {
    Write(
        dir_.path() + "/predictions/m/qa_0.json",
        R"({"0": {"origin_prompt": "Q1", "prediction": "answer: B", "gold": "B"},
              "1": {"origin_prompt": [{"role": "HUMAN", "content": "Q2"}],
                    "prediction": "c", "gold": "C"}})");
    Write(dir_.path() + "/predictions/m/qa_1.json",
          R"({"0": {"origin_prompt": "Q3", "prediction": "D!", "gold": "D"}})");
  }

  absl::StatusOr<google::protobuf::Value> Results() {
    absl::StatusOr<std::string> text =
        ReadFile(dir_.path() + "/results/m/qa.json");
    if (!text.ok()) return text.status();
    return ParseJson(*text);
  }

  TempDir dir_;
  ocx::v1::TaskParams params_;
};

TEST_F(EvalTaskTest, ConcatenatesPartsPostprocessesAndScores) {
  WriteParts();
  params_.mutable_task()->set_dump_details(true);
  ASSERT_TRUE(RunEvalTask(params_, "task.json").ok());
  auto v = Results();
  ASSERT_TRUE(v.ok()) << v.status();
  const auto& f = v->struct_value().fields();
  // "answer: B" -> B (right), "c" -> "" (wrong), "D!" -> D (right).
  EXPECT_DOUBLE_EQ(f.at("accuracy").number_value(), 200.0 / 3);
  const auto& details = f.at("details").list_value().values();
  ASSERT_EQ(details.size(), 3);
  const auto& d1 = details[1].struct_value().fields();
  EXPECT_EQ(d1.at("prediction").string_value(), "c");
  EXPECT_EQ(d1.at("processed").string_value(), "");
  EXPECT_EQ(d1.at("gold").string_value(), "C");
  EXPECT_FALSE(d1.at("correct").bool_value());
  EXPECT_TRUE(details[2].struct_value().fields().at("correct").bool_value());
}

TEST_F(EvalTaskTest, NoDetailsUnlessAsked) {
  WriteParts();
  ASSERT_TRUE(RunEvalTask(params_, "task.json").ok());
  auto text = ReadFile(dir_.path() + "/results/m/qa.json");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "{\n  \"accuracy\": 66.66666666666667\n}\n");
}

TEST_F(EvalTaskTest, RefusesAnIncompleteSetNamingTheMissingParts) {
  Write(dir_.path() + "/predictions/m/qa_0.json",
        R"({"0": {"prediction": "B", "gold": "B"}})");
  absl::Status s = RunEvalTask(params_, "task.json");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("predictions/m/qa_1.json"));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("qa_0.json")));
  EXPECT_FALSE(PathExists(dir_.path() + "/results/m/qa.json"));
}

TEST_F(EvalTaskTest, MalformedPredictionsNameFileAndSample) {
  Write(dir_.path() + "/predictions/m/qa_0.json",
        R"({"0": {"prediction": "B"}, "2": {"prediction": "C"}})");
  Write(dir_.path() + "/predictions/m/qa_1.json", "{not json");
  absl::Status s = RunEvalTask(params_, "task.json");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("qa_0.json"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"2\""));

  Write(dir_.path() + "/predictions/m/qa_0.json",
        R"({"0": {"prediction": "B", "gold": "B"}})");
  s = RunEvalTask(params_, "task.json");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("qa_1.json"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("invalid JSON"));
}

TEST_F(EvalTaskTest, UnknownEvaluatorAndPostprocessorNameTheField) {
  WriteParts();
  auto* eval_cfg =
      params_.mutable_datasets(0)->mutable_config()->mutable_eval_cfg();
  eval_cfg->mutable_evaluator()->set_type("BogusEvaluator");
  absl::Status s = RunEvalTask(params_, "task.json");
  EXPECT_THAT(std::string(s.message()), HasSubstr("evaluator.type"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("BogusEvaluator"));
  eval_cfg->mutable_evaluator()->set_type("AccEvaluator");
  params_.mutable_model()->mutable_pred_postprocessor()->set_type("nope");
  s = RunEvalTask(params_, "task.json");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("model.pred_postprocessor.type"));
}

TEST_F(EvalTaskTest, PostprocessorOrderRoleThenModelThenDatasetAndGold) {
  // The role cut keeps "x 12 y 7", the model's math-last-number makes it
  // "7", the dataset's strip keeps it; the gold "#### 7" goes through the
  // dataset postprocessor math-last-number too.
  Write(
      dir_.path() + "/predictions/m/qa.json",
      R"({"0": {"prediction": "junk 99<bot>x 12 y 7<eob> 100", "gold": "#### 7"}})");
  params_.clear_required_inputs();
  google::protobuf::Value tmpl;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"round": [{"role": "HUMAN"},
                                {"role": "BOT", "begin": "<bot>", "end": "<eob>"}]})",
                  &tmpl)
                  .ok());
  *params_.mutable_model()->mutable_meta_template() = tmpl;
  params_.mutable_model()->mutable_pred_postprocessor()->set_type(
      "math-last-number");
  auto* eval_cfg =
      params_.mutable_datasets(0)->mutable_config()->mutable_eval_cfg();
  eval_cfg->set_pred_role("BOT");
  eval_cfg->mutable_pred_postprocessor()->set_type("strip");
  eval_cfg->mutable_dataset_postprocessor()->set_type("math-last-number");
  ASSERT_TRUE(RunEvalTask(params_, "task.json").ok());
  auto v = Results();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->struct_value().fields().at("accuracy").number_value(), 100);

  eval_cfg->set_pred_role("GPT");
  absl::Status s = RunEvalTask(params_, "task.json");
  EXPECT_THAT(std::string(s.message()), HasSubstr("pred_role"));
}

TEST(PredictionParts, GroupsPartsByDatasetInPartOrder) {
  const std::vector<std::string> inputs = {
      "predictions/m/gsm8k_10.json", "predictions/m/gsm8k_2.json",
      "predictions/m/gsm8k_1.json", "predictions/m/gsm8k_1x.json",
      "predictions/m/other.json"};
  EXPECT_THAT(eval::PredictionParts(inputs, "m", "gsm8k", {"gsm8k", "other"}),
              ::testing::ElementsAre("predictions/m/gsm8k_1.json",
                                     "predictions/m/gsm8k_2.json",
                                     "predictions/m/gsm8k_10.json"));
  // A whole dataset named like a part of another one belongs to itself.
  EXPECT_THAT(eval::PredictionParts(
                  {"predictions/m/ds.json", "predictions/m/ds_1.json"}, "m",
                  "ds", {"ds", "ds_1"}),
              ::testing::ElementsAre("predictions/m/ds.json"));
  // Nothing listed: the whole-dataset file.
  EXPECT_THAT(eval::PredictionParts({}, "m", "ds", {"ds"}),
              ::testing::ElementsAre("predictions/m/ds.json"));
}

TEST(PredictionParts, TheManifestIsReadAsPlannedWithoutParsingNames) {
  ocx::v1::TaskParams params;
  params.mutable_model()->set_abbr("m");
  // Paths that name-parsing would misread: the manifest is the truth.
  auto add = [&](const char* dataset, int index, const char* path) {
    auto* part = params.mutable_parts_manifest()->add_parts();
    part->set_dataset_abbr(dataset);
    part->set_index(index);
    part->set_count(2);
    part->set_path(path);
  };
  add("gsm8k", 1, "predictions/m/second.json");
  add("gsm8k", 0, "predictions/m/first.json");
  add("other", 0, "predictions/m/gsm8k_5.json");
  params.add_required_inputs("predictions/m/gsm8k_9.json");
  EXPECT_THAT(eval::PredictionPartsOf(params, "gsm8k", {"gsm8k", "other"}),
              ::testing::ElementsAre("predictions/m/first.json",
                                     "predictions/m/second.json"));
  EXPECT_THAT(eval::PredictionPartsOf(params, "other", {"gsm8k", "other"}),
              ::testing::ElementsAre("predictions/m/gsm8k_5.json"));
  // A dataset the manifest does not list: its whole-dataset file.
  EXPECT_THAT(eval::PredictionPartsOf(params, "third", {"third"}),
              ::testing::ElementsAre("predictions/m/third.json"));
  // A task planned before the manifest: required_inputs, by name.
  params.clear_parts_manifest();
  EXPECT_THAT(eval::PredictionPartsOf(params, "gsm8k", {"gsm8k"}),
              ::testing::ElementsAre("predictions/m/gsm8k_9.json"));
}

// The real program: exit 0 with the results file, exit 1 with the reason
// as the last stderr line.
int RunOcxTask(const std::string& task_json, std::string* err) {
  const std::string err_path = task_json + ".err";
  const std::string cmd = absl::StrCat("'", OCX_TASK_PATH, "' eval '",
                                       task_json, "' 2>'", err_path, "'");
  int rc = std::system(cmd.c_str());
  auto text = ReadFile(err_path);
  *err = text.ok() ? *text : "";
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST_F(EvalTaskTest, OcxTaskProgram) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(params_, &json, options)
          .ok());
  const std::string task_json = dir_.path() + "/.ocx/tasks/t/task.json";
  Write(task_json, json);
  std::string err;
  EXPECT_EQ(RunOcxTask(task_json, &err), 1);
  EXPECT_THAT(err, HasSubstr("missing: predictions/m/qa_0.json, "
                             "predictions/m/qa_1.json"));
  WriteParts();
  EXPECT_EQ(RunOcxTask(task_json, &err), 0) << err;
  auto v = Results();
  ASSERT_TRUE(v.ok());
  EXPECT_DOUBLE_EQ(v->struct_value().fields().at("accuracy").number_value(),
                   200.0 / 3);
}

}  // namespace
}  // namespace ocx::task
