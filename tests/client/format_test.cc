#include "client/format.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ocx::client {
namespace {

using v1::Attempt;
using v1::Evaluation;
using v1::StageCounts;
using v1::Task;

// 2024-05-01 12:03:12 UTC.
const absl::Time kNow = absl::FromCivil(
    absl::CivilSecond(2024, 5, 1, 12, 3, 12), absl::UTCTimeZone());

void Set(google::protobuf::Timestamp* ts, absl::Time t) {
  ts->set_seconds(absl::ToUnixSeconds(t));
}

RenderOptions Options(OutputFormat format) {
  RenderOptions options;
  options.format = format;
  options.now = kNow;
  options.time_zone = absl::UTCTimeZone();
  return options;
}

StageCounts* AddStage(Evaluation* e, v1::Stage stage, int total, int pending,
                      int ready, int running, int succeeded, int failed) {
  StageCounts* c = e->add_stage_counts();
  c->set_stage(stage);
  c->set_total(total);
  c->set_pending(pending);
  c->set_ready(ready);
  c->set_running(running);
  c->set_succeeded(succeeded);
  c->set_failed(failed);
  return c;
}

std::vector<Evaluation> Evaluations() {
  Evaluation running;
  running.set_id("e7qk2m4xa");
  running.set_name("demo");
  running.set_state(Evaluation::RUNNING);
  running.set_work_dir("/work/evals/e7qk2m4xa");
  running.set_task_count(12);
  running.mutable_owner()->set_user("alice");
  running.mutable_owner()->set_uid(1001);
  Set(running.mutable_create_time(), kNow - absl::Seconds(192));
  AddStage(&running, v1::STAGE_INFER, 10, 2, 1, 2, 4, 1);
  AddStage(&running, v1::STAGE_EVAL, 2, 2, 0, 0, 0, 0);

  Evaluation done;
  done.set_id("e3ab");
  done.set_state(Evaluation::SUCCEEDED);
  done.set_task_count(1);
  done.set_work_dir("/w/e3ab");
  Set(done.mutable_create_time(), kNow - absl::Hours(72));
  Set(done.mutable_end_time(), kNow - absl::Hours(72) + absl::Seconds(45));
  AddStage(&done, v1::STAGE_INFER, 1, 0, 0, 0, 1, 0);
  return {running, done};
}

std::vector<Task> Tasks() {
  Task done;
  done.set_id("e7qk2m4xa-infer-0");
  done.set_stage(v1::STAGE_INFER);
  done.set_state(Task::SUCCEEDED);
  done.set_attempt_count(1);
  done.set_max_attempts(3);
  done.set_model_abbr("llama");
  done.add_dataset_abbrs("gsm8k_0");
  done.set_num_gpus(1);
  Set(done.mutable_create_time(), kNow - absl::Seconds(192));
  Set(done.mutable_start_time(), kNow - absl::Seconds(180));
  Set(done.mutable_end_time(), kNow - absl::Seconds(120));

  Task failed;
  failed.set_id("e7qk2m4xa-infer-1");
  failed.set_stage(v1::STAGE_INFER);
  failed.set_state(Task::FAILED);
  failed.set_attempt_count(3);
  failed.set_max_attempts(3);
  failed.set_model_abbr("llama");
  for (const char* ds : {"a", "b", "c", "d", "e"}) failed.add_dataset_abbrs(ds);
  failed.set_num_gpus(1);
  failed.set_reason("exit code 1");
  Set(failed.mutable_create_time(), kNow - absl::Seconds(192));
  Set(failed.mutable_start_time(), kNow - absl::Seconds(100));
  Set(failed.mutable_end_time(), kNow - absl::Seconds(40));

  Task pending;
  pending.set_id("e7qk2m4xa-eval-0");
  pending.set_stage(v1::STAGE_EVAL);
  pending.set_state(Task::PENDING);
  pending.set_max_attempts(3);
  pending.set_model_abbr("llama");
  pending.add_dataset_abbrs("gsm8k");
  Set(pending.mutable_create_time(), kNow - absl::Seconds(192));
  return {done, failed, pending};
}

// Two pools: one with a ready replica and one restarting after a failed
// start; one waiting for its first replica.
std::vector<v1::ServerPool> Servers() {
  v1::ServerPool qwen;
  qwen.set_id("srv-3f2a9c01bd");
  qwen.set_model_abbr("qwen2-7b");
  qwen.add_evaluation_ids("e7qk2m4xa");
  qwen.add_evaluation_ids("e9zz");
  qwen.set_outstanding_tasks(5);
  Set(qwen.mutable_create_time(), kNow - absl::Minutes(25));
  v1::Replica* ready = qwen.add_replicas();
  ready->set_id("srv-3f2a9c01bd-1");
  ready->set_state(v1::Replica::READY);
  ready->set_attempt(1);
  ready->set_host("127.0.0.1");
  ready->set_port(20001);
  ready->add_gpus(0);
  ready->add_gpus(1);
  ready->set_backend_id("41234");
  ready->set_active_tasks(2);
  ready->set_served_tasks(17);
  Set(ready->mutable_create_time(), kNow - absl::Minutes(25));
  v1::Replica* restarting = qwen.add_replicas();
  restarting->set_id("srv-3f2a9c01bd-2");
  restarting->set_state(v1::Replica::STARTING);
  restarting->set_attempt(2);
  restarting->add_gpus(2);
  restarting->set_reason(
      "exited 1 before ready; last log lines:\n  Traceback (most recent "
      "call last):\n  OSError: no model");
  Set(restarting->mutable_create_time(), kNow - absl::Seconds(192));

  v1::ServerPool llama;
  llama.set_id("srv-00aa11bb22");
  llama.set_model_abbr("llama");
  llama.add_evaluation_ids("e1");
  llama.set_outstanding_tasks(3);
  Set(llama.mutable_create_time(), kNow - absl::Seconds(45));
  return {qwen, llama};
}

TEST(HumanDurationTest, FollowsKubectl) {
  struct Case {
    absl::Duration d;
    const char* want;
  };
  const Case cases[] = {
      {absl::Seconds(-5), "<invalid>"},
      {absl::Seconds(-1), "0s"},
      {absl::ZeroDuration(), "0s"},
      {absl::Milliseconds(5900), "5s"},
      {absl::Seconds(119), "119s"},
      {absl::Seconds(120), "2m"},
      {absl::Seconds(192), "3m12s"},
      {absl::Minutes(10) + absl::Seconds(30), "10m"},
      {absl::Minutes(59) + absl::Seconds(59), "59m"},
      {absl::Minutes(60), "1h"},
      {absl::Hours(2) + absl::Minutes(5) + absl::Seconds(59), "2h5m"},
      {absl::Minutes(479), "7h59m"},
      {absl::Hours(8) + absl::Minutes(30), "8h"},
      {absl::Hours(47), "47h"},
      {absl::Hours(72), "3d"},
      {absl::Hours(77), "3d5h"},
      {absl::Hours(24 * 8), "8d"},
      {absl::Hours(24 * 400), "400d"},
      {absl::Hours(24 * 730), "2y"},
      {absl::Hours(24 * 760), "2y30d"},
      {absl::Hours(24 * 365 * 9), "9y"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(HumanDuration(c.d), c.want) << absl::FormatDuration(c.d);
  }
}

TEST(ParseOutputFormatTest, AcceptsKnownNamesInAnyCase) {
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("WIDE"), OutputFormat::kWide);
  EXPECT_EQ(*ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("Yaml"), OutputFormat::kYaml);
  EXPECT_EQ(*ParseOutputFormat("name"), OutputFormat::kName);
  absl::StatusOr<OutputFormat> bad = ParseOutputFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("known: table, wide, json, yaml, name"),
            std::string::npos);
}

TEST(NamesTest, StatesAndStagesHaveNoPrefix) {
  EXPECT_EQ(StateName(Evaluation::CANCELLING), "CANCELLING");
  EXPECT_EQ(StateName(Task::LAUNCHING), "LAUNCHING");
  EXPECT_EQ(StateName(Attempt::LOST), "LOST");
  EXPECT_EQ(StateName(Task::STATE_UNSPECIFIED), "UNKNOWN");
  EXPECT_EQ(StageName(v1::STAGE_INFER), "infer");
  EXPECT_EQ(StageName(v1::STAGE_EVAL), "eval");
  EXPECT_EQ(StageName(v1::STAGE_UNSPECIFIED), "-");
}

TEST(RenderTableTest, AlignsColumnsWithThreeSpacesAndNoTrailingBlanks) {
  EXPECT_EQ(RenderTable({{"A", "BB", "C"}, {"long", "", "x"}, {"é", "y", ""}}),
            "A      BB   C\n"
            "long        x\n"
            "é      y\n");
  EXPECT_EQ(RenderTable({}), "");
}

TEST(RenderFieldsTest, AlignsValues) {
  EXPECT_EQ(RenderFields({{"ID", "e1"}, {"Work dir", "/w"}}),
            "ID:         e1\n"
            "Work dir:   /w\n");
}

TEST(FormatEvaluationListTest, Table) {
  EXPECT_EQ(
      FormatEvaluationList(Evaluations(), Options(OutputFormat::kTable)),
      R"(ID          NAME   OWNER   STATE       TASKS   SUCCEEDED   FAILED   RUNNING   AGE
e7qk2m4xa   demo   alice   RUNNING     12      4           1        2         3m12s
e3ab        -      -       SUCCEEDED   1       1           0        0         3d
)");
}

TEST(FormatEvaluationListTest, Wide) {
  EXPECT_EQ(
      FormatEvaluationList(Evaluations(), Options(OutputFormat::kWide)),
      R"(ID          NAME   OWNER   STATE       TASKS   SUCCEEDED   FAILED   RUNNING   PENDING   CANCELLED   AGE     DURATION   WORK-DIR
e7qk2m4xa   demo   alice   RUNNING     12      4           1        2         5         0           3m12s   3m12s      /work/evals/e7qk2m4xa
e3ab        -      -       SUCCEEDED   1       1           0        0         0         0           3d      45s        /w/e3ab
)");
}

TEST(FormatEvaluationListTest, StructuredFormsCarryTheOwner) {
  std::string json =
      FormatEvaluationList(Evaluations(), Options(OutputFormat::kJson));
  EXPECT_NE(json.find(R"("owner": {
    "user": "alice",
    "uid": "1001")"),
            std::string::npos)
      << json;
  std::string yaml =
      FormatEvaluationList(Evaluations(), Options(OutputFormat::kYaml));
  EXPECT_NE(yaml.find("owner:\n      user: alice\n"), std::string::npos)
      << yaml;
}

TEST(FormatEvaluationListTest, Name) {
  EXPECT_EQ(FormatEvaluationList(Evaluations(), Options(OutputFormat::kName)),
            "e7qk2m4xa\ne3ab\n");
}

TEST(FormatEvaluationListTest, EmptyTableHasOnlyTheHeader) {
  EXPECT_EQ(
      FormatEvaluationList({}, Options(OutputFormat::kTable)),
      "ID   NAME   OWNER   STATE   TASKS   SUCCEEDED   FAILED   RUNNING   "
      "AGE\n");
}

Evaluation Small() {
  Evaluation e;
  e.set_id("e1");
  e.set_name("demo");
  e.set_state(Evaluation::RUNNING);
  e.set_last_event_sequence(7);
  e.mutable_create_time()->set_seconds(1714564800);  // 2024-05-01T12:00:00Z
  AddStage(&e, v1::STAGE_INFER, 2, 0, 0, 1, 1, 0);
  return e;
}

TEST(FormatEvaluationListTest, JsonUsesProtoFieldNamesAndAListObject) {
  EXPECT_EQ(FormatEvaluationList({Small()}, Options(OutputFormat::kJson)),
            R"({
 "evaluations": [
  {
   "id": "e1",
   "name": "demo",
   "state": "RUNNING",
   "create_time": "2024-05-01T12:00:00Z",
   "stage_counts": [
    {
     "stage": "STAGE_INFER",
     "total": 2,
     "running": 1,
     "succeeded": 1
    }
   ],
   "last_event_sequence": "7"
  }
 ]
}
)");
}

TEST(FormatEvaluationListTest, YamlIsBlockStyleAndKeepsStringTypes) {
  EXPECT_EQ(FormatEvaluationList({Small()}, Options(OutputFormat::kYaml)),
            R"(evaluations:
  - id: e1
    name: demo
    state: RUNNING
    create_time: 2024-05-01T12:00:00Z
    stage_counts:
      - stage: STAGE_INFER
        total: 2
        running: 1
        succeeded: 1
    last_event_sequence: "7"
)");
}

TEST(JsonToYamlTest, QuotesStringsThatWouldChangeType) {
  absl::StatusOr<std::string> yaml = JsonToYaml(
      R"({"a": "true", "b": true, "c": "1e3", "d": 12, "e": "", "f": null,)"
      R"( "g": [], "h": {}, "i": "x: y", "j": "null", "k": "0x1F"})");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(*yaml,
            "a: \"true\"\nb: true\nc: \"1e3\"\nd: 12\ne: \"\"\nf: null\n"
            "g: []\nh: {}\ni: \"x: y\"\nj: \"null\"\nk: \"0x1F\"\n");
}

TEST(JsonToYamlTest, RejectsMalformedJson) {
  absl::StatusOr<std::string> yaml = JsonToYaml("{\"a\": [1, 2");
  ASSERT_FALSE(yaml.ok());
  EXPECT_EQ(yaml.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FormatTaskListTest, TableShortensDatasetLists) {
  EXPECT_EQ(
      FormatTaskList(Tasks(), Options(OutputFormat::kTable)),
      R"(ID                  STAGE   STATE       PROGRESS   ATTEMPTS   MODEL   DATASETS   AGE
e7qk2m4xa-infer-0   infer   SUCCEEDED   -          1/3        llama   gsm8k_0    3m12s
e7qk2m4xa-infer-1   infer   FAILED      -          3/3        llama   a,b,c,+2   3m12s
e7qk2m4xa-eval-0    eval    PENDING     -          0/3        llama   gsm8k      3m12s
)");
}

TEST(FormatTaskListTest, WideAddsGpusDurationAndReason) {
  EXPECT_EQ(
      FormatTaskList(Tasks(), Options(OutputFormat::kWide)),
      R"(ID                  STAGE   STATE       PROGRESS   ATTEMPTS   MODEL   DATASETS    GPUS   AGE     DURATION   REASON
e7qk2m4xa-infer-0   infer   SUCCEEDED   -          1/3        llama   gsm8k_0     1      3m12s   60s        -
e7qk2m4xa-infer-1   infer   FAILED      -          3/3        llama   a,b,c,d,e   1      3m12s   60s        exit code 1
e7qk2m4xa-eval-0    eval    PENDING     -          0/3        llama   gsm8k       0      3m12s   -          -
)");
}

TEST(FormatTaskListTest, ProgressOfRunningTasks) {
  Task t;
  t.set_state(Task::RUNNING);
  EXPECT_EQ(FormatProgress(t, false), "-");
  t.mutable_progress()->set_done(120);
  EXPECT_EQ(FormatProgress(t, false), "120");
  t.mutable_progress()->set_total(500);
  t.mutable_progress()->set_rate_per_s(3.25);
  EXPECT_EQ(FormatProgress(t, false), "120/500");
  EXPECT_EQ(FormatProgress(t, true), "120/500 (3.2/s)");
}

TEST(FormatTaskListTest, NameAndJson) {
  EXPECT_EQ(FormatTaskList(Tasks(), Options(OutputFormat::kName)),
            "e7qk2m4xa-infer-0\ne7qk2m4xa-infer-1\ne7qk2m4xa-eval-0\n");
  std::string json = FormatTaskList(Tasks(), Options(OutputFormat::kJson));
  EXPECT_EQ(json.rfind("{\n \"tasks\": [\n", 0), 0u) << json;
  EXPECT_NE(json.find("\"model_abbr\": \"llama\""), std::string::npos);
  EXPECT_NE(json.find("\"dataset_abbrs\": ["), std::string::npos);
}

TEST(FormatEvaluationStatusTest, HeaderStagesAndTasks) {
  std::vector<Task> tasks = Tasks();
  tasks.resize(1);
  EXPECT_EQ(FormatEvaluationStatus(Evaluations()[0], tasks,
                                   Options(OutputFormat::kTable)),
            R"(ID:         e7qk2m4xa
Name:       demo
Owner:      alice (uid 1001)
State:      RUNNING
Work dir:   /work/evals/e7qk2m4xa
Created:    2024-05-01 12:00:00 UTC (3m12s ago)
Duration:   3m12s
Tasks:      12

STAGE   TOTAL   PENDING   READY   RUNNING   SUCCEEDED   FAILED   CANCELLED
infer   10      2         1       2         4           1        0
eval    2       2         0       0         0           0        0

ID                  STAGE   STATE       PROGRESS   ATTEMPTS   MODEL   DATASETS   AGE
e7qk2m4xa-infer-0   infer   SUCCEEDED   -          1/3        llama   gsm8k_0    3m12s
)");
}

TEST(FormatEvaluationStatusTest, EndedEvaluationShowsEndAndFixedDuration) {
  std::string text = FormatEvaluationStatus(Evaluations()[1], {},
                                            Options(OutputFormat::kTable));
  EXPECT_NE(text.find("Ended:      2024-04-28 12:03:57 UTC (2d23h ago)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Duration:   45s\n"), std::string::npos) << text;
}

TEST(FormatEvaluationStatusTest, StructuredFormatsShowTheEvaluation) {
  EXPECT_EQ(FormatEvaluationStatus(Evaluations()[0], Tasks(),
                                   Options(OutputFormat::kName)),
            "e7qk2m4xa\n");
  std::string yaml = FormatEvaluationStatus(Evaluations()[0], Tasks(),
                                            Options(OutputFormat::kYaml));
  EXPECT_EQ(yaml.rfind("id: e7qk2m4xa\nname: demo\nstate: RUNNING\n", 0), 0u)
      << yaml;
}

Task DetailedTask() {
  Task task = Tasks()[1];
  task.set_evaluation_id("e7qk2m4xa");
  task.set_name("OpenICLInfer[llama/a,llama/b]");
  Attempt* first = task.add_attempts();
  first->set_number(1);
  first->set_state(Attempt::FAILED);
  first->set_backend("local");
  first->set_backend_id("4242");
  Set(first->mutable_start_time(), kNow - absl::Seconds(100));
  Set(first->mutable_end_time(), kNow - absl::Seconds(70));
  first->set_exit_code(1);
  first->set_reason("exit code 1");
  first->set_log_path("/w/logs/infer/llama/e7qk2m4xa-infer-1.1.out");
  Attempt* second = task.add_attempts();
  second->set_number(2);
  second->set_state(Attempt::FAILED);
  second->set_backend("local");
  second->set_backend_id("4250");
  second->add_gpus(0);
  second->add_gpus(1);
  Set(second->mutable_start_time(), kNow - absl::Seconds(60));
  Set(second->mutable_end_time(), kNow - absl::Seconds(40));
  second->set_signal(9);
  second->set_reason("killed");
  Attempt* third = task.add_attempts();
  third->set_number(3);
  third->set_state(Attempt::LAUNCHING);
  return task;
}

TEST(FormatTaskDetailTest, DescribeViewWithAttempts) {
  EXPECT_EQ(FormatTaskDetail(DetailedTask(), Options(OutputFormat::kTable)),
            R"(ID:           e7qk2m4xa-infer-1
Evaluation:   e7qk2m4xa
Name:         OpenICLInfer[llama/a,llama/b]
Stage:        infer
State:        FAILED
Model:        llama
Datasets:     a,b,c,d,e
GPUs:         1
Depends on:   -
Attempts:     3/3
Created:      2024-05-01 12:00:00 UTC (3m12s ago)
Started:      2024-05-01 12:01:32 UTC (100s ago)
Ended:        2024-05-01 12:02:32 UTC (40s ago)
Duration:     60s
Reason:       exit code 1

NUMBER   STATE       BACKEND-ID   STARTED               DURATION   EXIT      REASON        LOG
1        FAILED      4242         2024-05-01 12:01:32   30s        1         exit code 1   /w/logs/infer/llama/e7qk2m4xa-infer-1.1.out
2        FAILED      4250         2024-05-01 12:02:12   20s        SIGKILL   killed        -
3        LAUNCHING   -            -                     -          -         -             -
)");
}

TEST(FormatAttemptsTest, WideAddsBackendAndGpus) {
  Task task = DetailedTask();
  std::vector<Attempt> attempts(task.attempts().begin(),
                                task.attempts().begin() + 2);
  EXPECT_EQ(
      FormatAttempts(attempts, Options(OutputFormat::kWide)),
      R"(NUMBER   STATE    BACKEND   BACKEND-ID   GPUS   STARTED               DURATION   EXIT      REASON        LOG
1        FAILED   local     4242         -      2024-05-01 12:01:32   30s        1         exit code 1   /w/logs/infer/llama/e7qk2m4xa-infer-1.1.out
2        FAILED   local     4250         0,1    2024-05-01 12:02:12   20s        SIGKILL   killed        -
)");
}

TEST(FormatExitTest, ExitCodeSignalOrNothing) {
  Attempt a;
  EXPECT_EQ(FormatExit(a), "-");
  a.set_signal(15);
  EXPECT_EQ(FormatExit(a), "SIGTERM");
  a.set_signal(40);
  EXPECT_EQ(FormatExit(a), "SIG40");
  a.set_exit_code(0);
  EXPECT_EQ(FormatExit(a), "0");
}

v1::PlanEvaluationResponse Plan() {
  v1::PlanEvaluationResponse plan;
  plan.set_work_dir("/w/dry-run");
  for (int i = 0; i < 2; ++i) {
    Task* t = plan.add_tasks();
    t->set_id("dry-run-infer-" + std::to_string(i));
    t->set_stage(v1::STAGE_INFER);
    t->set_model_abbr("llama");
    t->add_dataset_abbrs("gsm8k_" + std::to_string(i));
    t->set_num_gpus(1);
  }
  Task* eval = plan.add_tasks();
  eval->set_id("dry-run-eval-0");
  eval->set_stage(v1::STAGE_EVAL);
  eval->set_model_abbr("llama");
  eval->add_dataset_abbrs("gsm8k");
  eval->add_depends_on("dry-run-infer-0");
  eval->add_depends_on("dry-run-infer-1");
  return plan;
}

TEST(FormatPlanTest, TableAndTotals) {
  EXPECT_EQ(
      FormatPlan(Plan(), Options(OutputFormat::kTable)),
      R"(ID                STAGE   MODEL   DATASETS   SAMPLES   COST   GPUS   DEPENDS
dry-run-infer-0   infer   llama   gsm8k_0    -         -      1      -
dry-run-infer-1   infer   llama   gsm8k_1    -         -      1      -
dry-run-eval-0    eval    llama   gsm8k      -         -      0      dry-run-infer-0,dry-run-infer-1

3 tasks (2 infer, 1 eval), up to 1 GPU per task, work dir /w/dry-run
dry run: nothing was stored
)");
  EXPECT_EQ(FormatPlan(Plan(), Options(OutputFormat::kName)),
            "dry-run-infer-0\ndry-run-infer-1\ndry-run-eval-0\n");
}

TEST(FormatPlanTest, PartsRangesSamplesCostsAndReuse) {
  v1::PlanEvaluationResponse plan = Plan();
  auto add_part = [](Task* t, const std::string& abbr, const std::string& range,
                     int64_t samples, int64_t cost) {
    v1::TaskDataset* d = t->mutable_params()->add_datasets();
    d->mutable_config()->set_abbr(abbr);
    d->mutable_config()->mutable_reader_cfg()->set_test_range(range);
    d->set_num_samples(samples);
    d->set_cost(cost);
  };
  add_part(plan.mutable_tasks(0), "gsm8k_0", "[0:189]", 189, 37800);
  add_part(plan.mutable_tasks(1), "gsm8k_1", "100[189:378]", 185, 37000);
  add_part(plan.mutable_tasks(1), "mmlu", "", 20, 80);
  add_part(plan.mutable_tasks(2), "gsm8k", "", 374, 0);
  plan.mutable_tasks(0)->set_state(Task::SUCCEEDED);
  plan.set_total_samples(394);
  plan.set_total_cost(74880);
  plan.set_reused_tasks(1);
  EXPECT_EQ(
      FormatPlan(plan, Options(OutputFormat::kTable)),
      R"(ID                STAGE   MODEL   DATASETS                    SAMPLES   COST    GPUS   DEPENDS                           REUSED
dry-run-infer-0   infer   llama   gsm8k_0 [0:189]             189       37800   1      -                                 yes
dry-run-infer-1   infer   llama   gsm8k_1 100[189:378],mmlu   205       37080   1      -
dry-run-eval-0    eval    llama   gsm8k                       374       -       0      dry-run-infer-0,dry-run-infer-1

3 tasks (2 infer, 1 eval), 394 samples (cost 74880), up to 1 GPU per task, work dir /w/dry-run
1 task is reused: outputs with the same fingerprint exist
dry run: nothing was stored
)");
}

TEST(FormatCreatedTest, SentenceOrId) {
  Evaluation e = Evaluations()[0];
  EXPECT_EQ(FormatCreated(e, Options(OutputFormat::kTable)),
            "evaluation e7qk2m4xa created (12 tasks)\n");
  EXPECT_EQ(FormatCreated(e, Options(OutputFormat::kName)), "e7qk2m4xa\n");
  e.set_task_count(1);
  EXPECT_EQ(FormatCreated(e, Options(OutputFormat::kWide)),
            "evaluation e7qk2m4xa created (1 task)\n");
}

TEST(FormatServerListTest, TableOneRowPerReplicaAndPoolsWithoutOne) {
  EXPECT_EQ(
      FormatServerList(Servers(), Options(OutputFormat::kTable)),
      R"(REPLICA            MODEL      STATE      ENDPOINT          GPUS   ACTIVE   SERVED   AGE     REASON
srv-3f2a9c01bd-1   qwen2-7b   READY      127.0.0.1:20001   0,1    2        17       25m     -
srv-3f2a9c01bd-2   qwen2-7b   STARTING   -                 2      0        0        3m12s   exited 1 before ready; last log lines:…
srv-00aa11bb22     llama      -          -                 -      -        -        45s     no replica yet; 3 infer tasks waiting
)");
}

TEST(FormatServerListTest, WideAddsAttemptWaitingBackendAndWholeReason) {
  EXPECT_EQ(
      FormatServerList(Servers(), Options(OutputFormat::kWide)),
      R"(REPLICA            MODEL      STATE      ATTEMPT   ENDPOINT          GPUS   ACTIVE   SERVED   WAITING   BACKEND-ID   AGE     EVALUATIONS      REASON
srv-3f2a9c01bd-1   qwen2-7b   READY      1         127.0.0.1:20001   0,1    2        17       5         41234        25m     e7qk2m4xa,e9zz   -
srv-3f2a9c01bd-2   qwen2-7b   STARTING   2         -                 2      0        0        5         -            3m12s   e7qk2m4xa,e9zz   exited 1 before ready; last log lines: Traceback (most recent call last): OSError: no model
srv-00aa11bb22     llama      -          -         -                 -      -        -        3         -            45s     e1               no replica yet; 3 infer tasks waiting
)");
}

TEST(FormatServerListTest, NameJsonAndTheStatusSection) {
  EXPECT_EQ(FormatServerList(Servers(), Options(OutputFormat::kName)),
            "srv-3f2a9c01bd-1\nsrv-3f2a9c01bd-2\nsrv-00aa11bb22\n");
  std::string json = FormatServerList(Servers(), Options(OutputFormat::kJson));
  EXPECT_EQ(json.rfind("{\n \"servers\": [\n", 0), 0u) << json;
  EXPECT_NE(json.find("\"outstanding_tasks\": 5"), std::string::npos);
  EXPECT_NE(json.find("\"state\": \"STARTING\""), std::string::npos);
  EXPECT_EQ(FormatServersSection({}, Options(OutputFormat::kTable)), "");
  std::vector<v1::ServerPool> one = Servers();
  one.resize(1);
  EXPECT_EQ(
      FormatServersSection(one, Options(OutputFormat::kTable)),
      "\nServers:\n" + FormatServerList(one, Options(OutputFormat::kTable)));
}

TEST(NamesTest, ReplicaStates) {
  EXPECT_EQ(StateName(v1::Replica::UNHEALTHY), "UNHEALTHY");
  EXPECT_EQ(StateName(v1::Replica::STATE_UNSPECIFIED), "UNKNOWN");
}

}  // namespace
}  // namespace ocx::client
