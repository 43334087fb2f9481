// End to end: a real ocxd runs `command` infer tasks that leave real
// prediction files, then the real `ocx-task eval` (OpenICLEvalTask) scores
// them; the dispatcher writes the summary files when the evaluation ends and
// `ocxctl results` prints the same table. Also: task progress reported
// through progress.json shows in ListTasks/GetTask, `ocxctl tasks` and
// `ocxctl status --watch`.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "summary/summary_table.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::HasSubstr;

class ResultsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<OcxdProcess>(dir_.path());
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }

  void Stage(const std::string& rel, const std::string& json) {
    const std::string path = dir_.path() + "/staged/" + rel;
    ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
    ASSERT_TRUE(WriteFileAtomic(path, json).ok());
  }

  Evaluation Create(const ocx::v1::EvaluationSpec& spec) {
    return CreateOrFail(daemon_->stub(), spec);
  }

  RunResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {OcxctlPath(), "--server", daemon_->server()});
    return RunProgram(args);
  }

  TempDir dir_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(ResultsE2ETest, EvalScoresPartsSummaryIsWrittenAndOcxctlPrintsIt) {
  // qa (4 samples) and story (2) are each split in two parts. With
  // first-capital: m1 gets A B C D against A C C D = 75%, m2 A C - - = 50%.
  Stage("predictions/m1/qa_0.json",
        R"({"0": {"origin_prompt": "q0", "prediction": "A", "gold": "A"},
            "1": {"origin_prompt": "q1", "prediction": "B", "gold": "C"}})");
  Stage("predictions/m1/qa_1.json",
        R"({"0": {"origin_prompt": "q2", "prediction": "answer C", "gold": "C"},
            "1": {"origin_prompt": "q3", "prediction": "D", "gold": "D"}})");
  Stage("predictions/m2/qa_0.json",
        R"({"0": {"prediction": "A", "gold": "A"},
            "1": {"prediction": "C", "gold": "C"}})");
  Stage("predictions/m2/qa_1.json",
        R"({"0": {"prediction": "x", "gold": "C"},
            "1": {"prediction": "b", "gold": "D"}})");
  // ROUGE, hand-computed in tests/task/eval/evaluators_test.cc: rougeL and
  // rouge1 (5/6 + 0) / 2, rouge2 (3/5 + 0) / 2.
  Stage("predictions/m1/story_0.json",
        R"({"0": {"prediction": "the cat sat on the mat",
                  "gold": "the cat is on the mat"}})");
  Stage("predictions/m1/story_1.json",
        R"({"0": {"prediction": "hello world", "gold": "goodbye"}})");
  // m2's story_1 is not staged: ocx-test-task writes a file that is not a
  // predictions file, so that eval fails and the evaluation FAILS, with a
  // partial table.
  Stage("predictions/m2/story_0.json",
        R"({"0": {"prediction": "the cat", "gold": "the cat"}})");

  ocx::v1::EvaluationSpec spec =
      TestSpec(2, 0, {"--outputs-from", dir_.path() + "/staged"}, 4,
               /*retry=*/0);
  spec.mutable_models(0)->set_abbr("m1");
  spec.mutable_models(1)->set_abbr("m2");
  auto* qa = spec.add_datasets();
  qa->set_abbr("qa");
  qa->set_path("/data/qa.jsonl");
  qa->set_size(4);
  qa->mutable_infer_cfg()->mutable_inferencer()->set_type("PPLInferencer");
  qa->mutable_eval_cfg()->mutable_evaluator()->set_type("AccEvaluator");
  qa->mutable_eval_cfg()->mutable_pred_postprocessor()->set_type(
      "first-capital");
  auto* story = spec.add_datasets();
  story->set_abbr("story");
  story->set_path("/data/story.jsonl");
  story->set_size(2);
  story->mutable_infer_cfg()->mutable_inferencer()->set_type("GenInferencer");
  story->mutable_eval_cfg()->mutable_evaluator()->set_type("RougeEvaluator");
  auto* part = spec.mutable_infer()->mutable_partitioner();
  part->set_type("NumWorkerPartitioner");
  part->set_num_worker(2);
  part->set_min_task_size(1);
  auto* eval_task = spec.mutable_eval()->mutable_runner()->mutable_task();
  eval_task->Clear();
  eval_task->set_type("OpenICLEvalTask");
  eval_task->set_dump_details(true);

  Evaluation e = Create(spec);
  auto done = WaitForEnd(daemon_->stub(), e.id(), 120);
  ASSERT_TRUE(done.ok()) << done.status() << daemon_->log();
  EXPECT_EQ(done->state(), Evaluation::FAILED);

  // The failed eval says why, naming the bad part, in its attempt log.
  Task failed;
  for (const Task& t : AllTasks(daemon_->stub(), e.id())) {
    if (t.state() == Task::FAILED) failed = t;
  }
  ASSERT_EQ(failed.model_abbr(), "m2");
  ocx::v1::GetTaskRequest get;
  get.set_id(failed.id());
  grpc::ClientContext get_ctx;
  ASSERT_TRUE(daemon_->stub()->GetTask(&get_ctx, get, &failed).ok());
  ASSERT_GT(failed.attempts_size(), 0);
  auto log = ReadFile(failed.attempts(0).log_path());
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, HasSubstr("predictions/m2/story_1.json"));

  // Results files, with details.
  auto m1_qa = ReadFile(e.work_dir() + "/results/m1/qa.json");
  ASSERT_TRUE(m1_qa.ok()) << daemon_->log();
  EXPECT_THAT(*m1_qa, HasSubstr("\"accuracy\": 75.0,"));
  EXPECT_THAT(*m1_qa, HasSubstr("\"prediction\": \"answer C\", "
                                "\"processed\": \"C\", \"gold\": \"C\", "
                                "\"correct\": true"));

  // The summary files, written before the evaluation's end was committed.
  const std::string qa_v = summary::DatasetVersion(*qa);
  const std::string story_v = summary::DatasetVersion(*story);
  const std::string csv =
      "dataset,version,metric,mode,m1,m2\n"
      "qa," +
      qa_v +
      ",accuracy,ppl,75.00,50.00\n"
      "story," +
      story_v +
      ",rouge1,gen,41.67,-\n"
      "story," +
      story_v +
      ",rouge2,gen,30.00,-\n"
      "story," +
      story_v + ",rougeL,gen,41.67,-\n";
  auto csv_file = ReadFile(e.work_dir() + "/summary/summary.csv");
  ASSERT_TRUE(csv_file.ok()) << daemon_->log();
  EXPECT_EQ(*csv_file, csv);

  // ocxctl results prints exactly the files, in every format.
  RunResult table = Ctl({"results", e.id()});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out, *ReadFile(e.work_dir() + "/summary/summary.txt"));
  EXPECT_THAT(table.out, HasSubstr("accuracy  ppl   75.00  50.00\n"));
  RunResult csv_out = Ctl({"results", e.id(), "--format", "csv"});
  EXPECT_EQ(csv_out.out, csv);
  RunResult md = Ctl({"results", e.id(), "-o", "md"});
  EXPECT_EQ(md.out, *ReadFile(e.work_dir() + "/summary/summary.md"));
  RunResult json = Ctl({"-o", "json", "results", e.id()});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"metric\": \"accuracy\", \"mode\": "
                                  "\"ppl\", \"values\": {\"m1\": 75, "
                                  "\"m2\": 50}"));
  EXPECT_THAT(json.out, HasSubstr("\"m2\": null"));

  // The RPC keeps a missing value apart from 0.
  ocx::v1::GetEvaluationResultsRequest req;
  req.set_name(e.id());
  ocx::v1::EvaluationResults results;
  grpc::ClientContext ctx;
  ASSERT_TRUE(daemon_->stub()->GetEvaluationResults(&ctx, req, &results).ok());
  EXPECT_THAT(results.model_abbrs(), ::testing::ElementsAre("m1", "m2"));
  ASSERT_EQ(results.rows_size(), 4);
  EXPECT_TRUE(results.rows(0).values(1).present());
  EXPECT_FALSE(results.rows(1).values(1).present());

  RunResult unknown = Ctl({"results", "nosuchid"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("nosuchid"));

  // Several evaluations: a column per (evaluation, model), rows by dataset
  // version (here the same evaluation twice, through the real daemon).
  RunResult both = Ctl({"results", e.id(), e.id(), "--format", "csv"});
  EXPECT_EQ(both.exit_code, 0) << both.err;
  const std::string m = "m1@" + e.id() + ",m2@" + e.id();
  EXPECT_THAT(both.out, ::testing::StartsWith("dataset,version,metric,mode," +
                                              m + "," + m + "\n"));
  EXPECT_THAT(both.out, HasSubstr("qa," + qa_v +
                                  ",accuracy,ppl,75.00,50.00,75.00,50.00"));
  RunResult one_unknown = Ctl({"results", e.id(), "nosuchid"});
  EXPECT_EQ(one_unknown.exit_code, 2);
  EXPECT_THAT(one_unknown.err, HasSubstr("nosuchid"));
}

TEST_F(ResultsE2ETest, RunningTaskProgressShowsInApiTasksAndWatch) {
  // The infer task reports 1..6 of 6 samples over ~6 s.
  ocx::v1::EvaluationSpec spec = TestSpec(1, 1, {}, 4, 0);
  auto* infer_argv =
      spec.mutable_infer()->mutable_runner()->mutable_task()->mutable_argv();
  for (const char* a : {"--progress", "6", "--sleep-ms", "6000"}) {
    infer_argv->Add(a);
  }
  Evaluation e = Create(spec);
  const std::string infer_id = e.id() + "-infer-0";

  // ListTasks shows the running task's progress once it reported.
  Task seen;
  for (int i = 0; i < 100 && !seen.has_progress(); ++i) {
    for (const Task& t : AllTasks(daemon_->stub(), e.id())) {
      if (t.id() == infer_id && t.has_progress()) seen = t;
    }
    if (!seen.has_progress()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(seen.has_progress()) << daemon_->log();
  EXPECT_EQ(seen.state(), Task::RUNNING);
  EXPECT_GE(seen.progress().done(), 1);
  EXPECT_EQ(seen.progress().total(), 6);
  EXPECT_GT(seen.progress().rate_per_s(), 0);
  EXPECT_GT(seen.progress().update_time().seconds(), 0);

  RunResult tasks = Ctl({"tasks", e.id()});
  EXPECT_THAT(tasks.out, HasSubstr("PROGRESS"));
  EXPECT_THAT(tasks.out, ::testing::ContainsRegex("RUNNING +[1-6]/6 "));

  // The live view (plain, as in CI logs) prints the task's progress.
  RunResult watch = Ctl({"status", e.id(), "--watch"});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_THAT(watch.out,
              ::testing::ContainsRegex(infer_id + " progress [1-6]/6 "));

  // Once it ended, no progress is reported.
  ocx::v1::GetTaskRequest get;
  get.set_id(infer_id);
  Task after;
  grpc::ClientContext ctx;
  ASSERT_TRUE(daemon_->stub()->GetTask(&ctx, get, &after).ok());
  EXPECT_EQ(after.state(), Task::SUCCEEDED);
  EXPECT_FALSE(after.has_progress());
}

}  // namespace
}  // namespace ocx::testing
