// server/rescore: the rescore's spec, and its plan pointed at the source's
// predictions, against a real store file and real prediction files.
#include "server/rescore.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::server {
namespace {

using ocx::v1::Task;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ocxrescore-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ocx::v1::Evaluation Source() {
  ocx::v1::Evaluation e;
  e.set_id("e1");
  e.set_work_dir("/runs/e1");
  ocx::v1::EvaluationSpec* spec = e.mutable_spec();
  spec->set_work_dir("/runs/e1");
  for (const char* abbr : {"gen", "choice"}) {
    ocx::v1::DatasetConfig* d = spec->add_datasets();
    d->set_abbr(abbr);
    d->mutable_eval_cfg()->mutable_evaluator()->set_type("AccEvaluator");
  }
  spec->mutable_eval()->mutable_runner()->mutable_task()->set_type(
      "OpenICLEvalTask");
  return e;
}

TEST(RescoreSpecTest, ClearsWorkDirAndAppliesEvaluatorsPerDatasetFirst) {
  RescoreOptions options;
  options.evaluator = "EMEvaluator";
  options.dataset_evaluators["choice"] = "RougeEvaluator";
  auto spec = RescoreSpec(Source(), options);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->work_dir(), "");
  EXPECT_EQ(spec->datasets(0).eval_cfg().evaluator().type(), "EMEvaluator");
  EXPECT_EQ(spec->datasets(1).eval_cfg().evaluator().type(), "RougeEvaluator");

  auto same = RescoreSpec(Source(), {});
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->datasets(0).eval_cfg().evaluator().type(), "AccEvaluator");
}

TEST(RescoreSpecTest, RefusesUnknownDatasetsAndOverridesOfACommand) {
  RescoreOptions options;
  options.dataset_evaluators["nope"] = "EMEvaluator";
  auto spec = RescoreSpec(Source(), options);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(),
              HasSubstr("dataset_evaluators: evaluation e1 has no dataset "
                        "\"nope\" (its datasets: gen, choice)"));

  ocx::v1::Evaluation command = Source();
  command.mutable_spec()
      ->mutable_eval()
      ->mutable_runner()
      ->mutable_task()
      ->set_type("command");
  EXPECT_TRUE(RescoreSpec(command, {}).ok());
  RescoreOptions em;
  em.evaluator = "EMEvaluator";
  spec = RescoreSpec(command, em);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("evaluator: "));

  ocx::v1::Evaluation no_spec = Source();
  no_spec.clear_spec();
  EXPECT_EQ(RescoreSpec(no_spec, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

class UsePredictionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::Store::Open(dir_.path() + "/ocx.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    predictions_ = dir_.path() + "/e1";
    ASSERT_EQ(mkdir(predictions_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((predictions_ + "/predictions").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((predictions_ + "/predictions/m").c_str(), 0755), 0);
    Record("predictions/m/gen.json", "fp-gen");
  }

  // Writes a prediction file and records it as an infer task would.
  void Record(const std::string& rel, const std::string& fingerprint) {
    const std::string path = predictions_ + "/" + rel;
    std::ofstream(path) << "{\"0\": {\"prediction\": \"x\"}}";
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    store::OutputRecord r;
    r.path = path;
    r.fingerprint = fingerprint;
    r.size = st.st_size;
    r.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    r.task_id = "e1-infer-0";
    ASSERT_TRUE(store_->Begin().ok());
    ASSERT_TRUE(store_->PutOutput(r, 1).ok());
    ASSERT_TRUE(store_->Commit().ok());
  }

  // The plan of a rescore: one infer task making gen.json, its eval.
  std::vector<Task> Plan(const std::string& fingerprint = "fp-gen") {
    Task infer;
    infer.set_id("e2-infer-0");
    infer.set_stage(ocx::v1::STAGE_INFER);
    infer.set_state(Task::READY);
    infer.set_model_abbr("m");
    infer.mutable_params()->add_datasets()->set_base_abbr("gen");
    infer.mutable_params()->add_expected_outputs("predictions/m/gen.json");
    infer.mutable_params()->add_output_fingerprints(fingerprint);
    Task eval;
    eval.set_id("e2-eval-0");
    eval.set_stage(ocx::v1::STAGE_EVAL);
    eval.set_state(Task::PENDING);
    eval.add_depends_on("e2-infer-0");
    eval.mutable_params()->add_required_inputs("predictions/m/gen.json");
    eval.mutable_params()->mutable_parts_manifest()->add_parts()->set_path(
        "predictions/m/gen.json");
    eval.mutable_params()->add_expected_outputs("results/m/gen.json");
    return {infer, eval};
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::string predictions_;
};

TEST_F(UsePredictionsTest, RecordedPredictionsAreUsedWhereTheyAre) {
  std::vector<Task> tasks = Plan();
  ASSERT_TRUE(UsePredictionsIn(predictions_, "e1", store_.get(), &tasks).ok());
  const std::string abs = predictions_ + "/predictions/m/gen.json";
  EXPECT_EQ(tasks[0].state(), Task::SUCCEEDED);
  EXPECT_THAT(tasks[0].reason(), HasSubstr("reused: predictions"));
  EXPECT_EQ(tasks[0].params().expected_outputs(0), abs);
  EXPECT_EQ(tasks[1].state(), Task::READY);
  EXPECT_EQ(tasks[1].params().required_inputs(0), abs);
  EXPECT_EQ(tasks[1].params().parts_manifest().parts(0).path(), abs);
  // The eval's own results stay in its own work dir.
  EXPECT_EQ(tasks[1].params().expected_outputs(0), "results/m/gen.json");
}

TEST_F(UsePredictionsTest, PredictionsThatAreNotTheRecordedOnesAreRefused) {
  const std::string abs = predictions_ + "/predictions/m/gen.json";
  std::vector<Task> tasks = Plan("fp-other");
  absl::Status s = UsePredictionsIn(predictions_, "e1", store_.get(), &tasks);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("model m on dataset gen (" + abs + ")"));
  EXPECT_THAT(s.message(), HasSubstr("another config"));

  std::ofstream(abs, std::ios::app) << " ";  // rewritten since
  tasks = Plan();
  s = UsePredictionsIn(predictions_, "e1", store_.get(), &tasks);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("changed since"));

  ASSERT_EQ(unlink(abs.c_str()), 0);
  tasks = Plan();
  s = UsePredictionsIn(predictions_, "e1", store_.get(), &tasks);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("cannot rescore evaluation e1 without "
                                     "inference"));
  EXPECT_THAT(s.message(), HasSubstr("is missing"));

  // A file no task of this daemon recorded.
  const std::string other = dir_.path() + "/copied";
  ASSERT_EQ(system(("mkdir -p '" + other + "/predictions/m' && echo '{}' > '" +
                    other + "/predictions/m/gen.json'")
                       .c_str()),
            0);
  tasks = Plan();
  s = UsePredictionsIn(other, "e1", store_.get(), &tasks);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("no record of it"));
}

}  // namespace
}  // namespace ocx::server
