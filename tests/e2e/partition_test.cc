// End to end with SizePartitioner: a real ocxd counts a dataset file beside
// the config (ocxctl makes its path absolute), splits it into parts that run
// as separate tasks, starts its eval only after every part, and on
// resubmission into the same work dir reuses everything — until a partition
// setting changes, which makes new parts and reuses nothing stale.
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/journal.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Task;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kReused[] = "reused: outputs with the same fingerprint exist";

class PartitionE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<OcxdProcess>(dir_.path());
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
    config_dir_ = dir_.path() + "/cfg";
    ASSERT_EQ(mkdir(config_dir_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((config_dir_ + "/data").c_str(), 0755), 0);
    // gsm8k: 1319 samples, as the real test split.
    std::ofstream gsm8k(config_dir_ + "/data/gsm8k.jsonl");
    for (int i = 0; i < 1319; ++i) {
      gsm8k << "{\"question\": \"q" << i << "\", \"answer\": \"" << i
            << "\"}\n";
    }
    std::ofstream tiny(config_dir_ + "/data/tiny.csv");
    tiny << "question,answer\n\"a, b\",1\n\"multi\nline\",2\nc,3\nd,4\ne,5\n";
  }

  std::string journal() const { return dir_.path() + "/journal"; }
  std::string work_dir() const { return dir_.path() + "/out"; }

  // eval.yaml beside data/, with relative dataset paths.
  std::string WriteConfig(int max_task_size) {
    std::string path = config_dir_ + "/eval.yaml";
    std::string task = absl::StrCat(
        "{type: command, argv: [\"", TestTaskPath(),
        "\", \"{task_json}\", --attempt, \"{attempt}\", --journal, \"",
        journal(), "\"]}");
    std::ofstream out(path);
    out << "models: [{abbr: m, type: OpenAISDK, path: stories260K}]\n"
        << "datasets:\n"
        << "  - {abbr: gsm8k, path: data/gsm8k.jsonl}\n"
        << "  - {abbr: tiny, path: data/tiny.csv}\n"
        << "work_dir: " << work_dir() << "\n"
        << "infer:\n"
        << "  partitioner: {type: SizePartitioner, max_task_size: "
        << max_task_size << "}\n"
        << "  runner: {max_num_workers: 4, task: " << task << "}\n"
        << "eval:\n"
        << "  runner: {task: " << task << "}\n";
    return path;
  }

  std::vector<std::string> Env() const {
    return {"OCX_SERVER=" + daemon_->server()};
  }

  // Submits with ocxctl and waits for the end; returns the evaluation.
  Evaluation SubmitAndWait(const std::string& config) {
    RunResult r =
        RunProgram({OcxctlPath(), "-o", "name", "submit", config}, Env());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::string id(absl::StripAsciiWhitespace(r.out));
    auto done = WaitForEnd(daemon_->stub(), id, 120);
    EXPECT_TRUE(done.ok()) << done.status() << daemon_->log();
    return done.ok() ? *done : Evaluation();
  }

  Task GetTask(const std::string& id) {
    return GetTaskOrFail(daemon_->stub(), id);
  }

  // Journal runs of one evaluation's tasks: task id -> runs.
  std::map<std::string, std::vector<JournalRun>> Runs(const std::string& id) {
    std::map<std::string, std::vector<JournalRun>> mine;
    for (auto& [task, runs] : ReadJournal(journal())) {
      if (absl::StartsWith(task, id + "-")) mine[task] = runs;
    }
    return mine;
  }

  // (path, num_samples) rows of the daemon's size cache.
  std::map<std::string, int64_t> CachedSizes() {
    std::map<std::string, int64_t> rows;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(daemon_->database().c_str(), &db, SQLITE_OPEN_READONLY,
                        nullptr) == SQLITE_OK) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT path, num_samples FROM dataset_sizes",
                             -1, &s, nullptr) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
          rows[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))] =
              sqlite3_column_int64(s, 1);
        }
      }
      sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return rows;
  }

  TempDir dir_;
  std::string config_dir_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(PartitionE2ETest, SplitPartsRunThenEvalThenReuseUntilSettingsChange) {
  const std::string config = WriteConfig(40000);

  // The plan, before anything runs: gsm8k (factor 20 x 10) in 7 parts of
  // 189, tiny (5 samples, cost 100) whole.
  RunResult plan =
      RunProgram({OcxctlPath(), "submit", config, "--dry-run"}, Env());
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("gsm8k_0 [0:189]"));
  EXPECT_THAT(plan.out, HasSubstr("gsm8k_6 [1134:1323]"));
  EXPECT_THAT(plan.out, HasSubstr("10 tasks (8 infer, 2 eval), 1324 samples "
                                  "(cost 263900)"));
  EXPECT_THAT(plan.out, HasSubstr("dry run: nothing was stored"));
  EXPECT_TRUE(CachedSizes().empty());  // a dry run stores nothing

  // First run: every part is a task of its own; the eval of gsm8k waits
  // for all seven.
  Evaluation first = SubmitAndWait(config);
  ASSERT_EQ(first.state(), Evaluation::SUCCEEDED) << daemon_->log();
  EXPECT_EQ(first.task_count(), 10);
  const std::string id1 = first.id();
  auto runs = Runs(id1);
  EXPECT_EQ(runs.size(), 10u);
  for (auto& [task, list] : runs) EXPECT_EQ(list.size(), 1u) << task;
  int64_t last_part_end = 0;
  for (int i = 0; i < 7; ++i) {
    Task part = GetTask(absl::StrCat(id1, "-infer-", i));
    ASSERT_EQ(part.params().datasets_size(), 1);
    EXPECT_EQ(part.params().datasets(0).config().abbr(),
              absl::StrCat("gsm8k_", i));
    EXPECT_EQ(part.params().datasets(0).config().reader_cfg().test_range(),
              absl::StrCat("[", 189 * i, ":", 189 * (i + 1), "]"));
    last_part_end = std::max(last_part_end, runs[part.id()].at(0).end_ms);
    std::string pred =
        absl::StrCat(work_dir(), "/predictions/m/gsm8k_", i, ".json");
    EXPECT_EQ(access(pred.c_str(), F_OK), 0) << pred;
  }
  Task eval = GetTask(id1 + "-eval-0");
  EXPECT_EQ(eval.name(), "OpenICLEval[m/gsm8k]");
  EXPECT_EQ(eval.depends_on_size(), 7);
  EXPECT_EQ(eval.params().required_inputs_size(), 7);
  EXPECT_GE(runs[eval.id()].at(0).start_ms, last_part_end);
  // The counted sizes are cached by the daemon, under absolute paths.
  auto cached = CachedSizes();
  EXPECT_EQ(cached[config_dir_ + "/data/gsm8k.jsonl"], 1319);
  EXPECT_EQ(cached[config_dir_ + "/data/tiny.csv"], 5);

  // Resubmitting into the same work dir reuses everything: no task program
  // runs again.
  Evaluation second = SubmitAndWait(config);
  ASSERT_EQ(second.state(), Evaluation::SUCCEEDED);
  EXPECT_EQ(second.task_count(), 10);
  EXPECT_TRUE(Runs(second.id()).empty());
  for (int i = 0; i < 8; ++i) {
    Task t = GetTask(absl::StrCat(second.id(), "-infer-", i));
    EXPECT_EQ(t.state(), Task::SUCCEEDED);
    EXPECT_EQ(t.reason(), kReused);
    EXPECT_EQ(t.attempts_size(), 0);
  }
  RunResult replan =
      RunProgram({OcxctlPath(), "submit", config, "--dry-run"}, Env());
  EXPECT_THAT(replan.out, HasSubstr("10 tasks are reused"));

  // A changed partition setting: 14 parts of 95. gsm8k_0..6 exist on disk
  // but with other ranges: they run again, with the new ones; tiny's task
  // and its eval are unchanged and reused.
  Evaluation third = SubmitAndWait(WriteConfig(20000));
  ASSERT_EQ(third.state(), Evaluation::SUCCEEDED);
  const std::string id3 = third.id();
  EXPECT_EQ(third.task_count(), 14 + 1 + 2);
  runs = Runs(id3);
  EXPECT_EQ(runs.size(), 15u);
  for (int i = 0; i < 14; ++i) {
    Task part = GetTask(absl::StrCat(id3, "-infer-", i));
    EXPECT_EQ(part.params().datasets(0).config().abbr(),
              absl::StrCat("gsm8k_", i));
    EXPECT_EQ(part.params().datasets(0).config().reader_cfg().test_range(),
              absl::StrCat("[", 95 * i, ":", 95 * (i + 1), "]"));
    EXPECT_THAT(part.reason(), Not(HasSubstr("reused")));
    EXPECT_EQ(runs[part.id()].size(), 1u) << part.id();
  }
  Task tiny = GetTask(id3 + "-infer-14");
  EXPECT_EQ(tiny.name(), "OpenICLInfer[m/tiny]");
  EXPECT_EQ(tiny.reason(), kReused);
  Task eval3 = GetTask(id3 + "-eval-0");
  EXPECT_THAT(eval3.reason(), Not(HasSubstr("reused")));
  EXPECT_EQ(eval3.params().required_inputs_size(), 14);
  EXPECT_EQ(runs[eval3.id()].size(), 1u);
  EXPECT_EQ(GetTask(id3 + "-eval-1").reason(), kReused);  // tiny's eval
}

TEST_F(PartitionE2ETest, BadDatasetsAreRefusedNamingFieldAndLine) {
  std::string config = WriteConfig(40000);
  {
    std::ofstream broken(config_dir_ + "/data/gsm8k.jsonl", std::ios::app);
    broken << "{\"question\": \"unterminated\n";
  }
  RunResult r = RunProgram({OcxctlPath(), "submit", config}, Env());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(
                         "datasets[0].path: ", config_dir_,
                         "/data/gsm8k.jsonl:1320:27: unterminated string")));
  ASSERT_EQ(unlink((config_dir_ + "/data/tiny.csv").c_str()), 0);
  std::ofstream(config_dir_ + "/data/gsm8k.jsonl") << "{}\n";
  r = RunProgram({OcxctlPath(), "submit", config}, Env());
  // tiny.csv is gone: relative, so the daemon cannot read it.
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("datasets[1].path: \"data/tiny.csv\" is "
                               "relative"));
  RunResult list = RunProgram({OcxctlPath(), "list", "-o", "name"}, Env());
  EXPECT_EQ(list.out, "");  // nothing was stored
}

}  // namespace
}  // namespace ocx::testing
