// Dispatcher tests: the task graph, the task/attempt state machine, retries
// with backoff, worker limits, cancellation and recovery after a restart.
// The store is a real SQLite file; the runner is a FakeRunner, so the test
// decides when and how each attempt ends. Waits follow the dispatcher's
// commits (WaitForCommit) with a deadline as a safety net only.
#include "server/dispatcher/dispatcher.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/time_util.h"
#include "common/waker.h"
#include "common/work_dir_layout.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioners/plan.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"
#include "spec/validate.h"
#include "tests/server/fake_runner.h"
#include "tests/server/test_util.h"

namespace ocx::server {
namespace {

using ::ocx::runners::AttemptKey;
using ::ocx::server::testing::FakeRunner;
using ::ocx::server::testing::TempDir;
using ::ocx::v1::Attempt;
using ::ocx::v1::Evaluation;
using ::ocx::v1::Task;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kInitialBackoffMs = 50;
constexpr absl::Duration kDeadline = absl::Seconds(30);

AttemptKey Key(const std::string& task_id, int attempt) {
  return {task_id, attempt};
}

bool IsFinal(Evaluation::State s) {
  return s == Evaluation::SUCCEEDED || s == Evaluation::FAILED ||
         s == Evaluation::CANCELLED;
}

bool IsInfer(const AttemptKey& key) {
  return absl::StrContains(key.task_id, "-infer-");
}
bool IsEval(const AttemptKey& key) {
  return absl::StrContains(key.task_id, "-eval-");
}

// What varies between the tests' specs, set fluently:
// MakeSpec(SpecOptions().Datasets(2).Retry(1)).
struct SpecOptions {
  int models = 1;
  int datasets = 1;
  int retry = 0;
  int infer_workers = 0;  // 0: the default
  int eval_workers = 0;
  int eval_group = 1;  // datasets per eval task (NaivePartitioner n)
  int num_gpus = 0;    // per infer task

  SpecOptions& Models(int n) {
    models = n;
    return *this;
  }
  SpecOptions& Datasets(int n) {
    datasets = n;
    return *this;
  }
  SpecOptions& Retry(int n) {
    retry = n;
    return *this;
  }
  SpecOptions& InferWorkers(int n) {
    infer_workers = n;
    return *this;
  }
  SpecOptions& EvalWorkers(int n) {
    eval_workers = n;
    return *this;
  }
  SpecOptions& EvalGroup(int n) {
    eval_group = n;
    return *this;
  }
  SpecOptions& NumGpus(int n) {
    num_gpus = n;
    return *this;
  }
};

FakeRunner::Options WithGpus(int gpus) {
  FakeRunner::Options o;
  o.gpus = gpus;
  return o;
}

FakeRunner::Options WithCapacity(int capacity) {
  FakeRunner::Options o;
  o.capacity = capacity;
  return o;
}

// A valid spec with defaults applied: `command` tasks running /bin/true
// (the FakeRunner runs nothing), LocalRunner, NaivePartitioner.
ocx::v1::EvaluationSpec MakeSpec(const SpecOptions& o) {
  ocx::v1::EvaluationSpec spec;
  for (int m = 0; m < o.models; ++m) {
    auto* model = spec.add_models();
    model->set_abbr(absl::StrCat("m", m));
    model->set_type("OpenAISDK");
    model->set_path("stories260K");
    model->mutable_run_cfg()->set_num_gpus(o.num_gpus);
  }
  for (int d = 0; d < o.datasets; ++d) {
    auto* ds = spec.add_datasets();
    ds->set_abbr(absl::StrCat("ds", d));
    ds->set_path(absl::StrCat("/data/ds", d, ".jsonl"));
  }
  for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
    auto* runner = stage->mutable_runner();
    runner->set_type("LocalRunner");
    runner->set_retry(o.retry);
    runner->mutable_task()->set_type("command");
    runner->mutable_task()->add_argv("/bin/true");
  }
  if (o.infer_workers > 0) {
    spec.mutable_infer()->mutable_runner()->set_max_num_workers(
        o.infer_workers);
  }
  if (o.eval_workers > 0) {
    spec.mutable_eval()->mutable_runner()->set_max_num_workers(o.eval_workers);
  }
  spec.mutable_eval()->mutable_partitioner()->set_n(o.eval_group);
  absl::Status valid = spec::ValidateEvaluationSpec(spec);
  EXPECT_TRUE(valid.ok()) << valid;
  spec::ApplyDefaults(&spec);
  return spec;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_root_ = dir_.path() + "/work";
    options_.initial_backoff_ms = kInitialBackoffMs;
    options_.backoff_multiplier = 2;
    options_.max_backoff_ms = 1000;
    options_.task_program = "/nonexistent/ocx-task";
    ASSERT_NO_FATAL_FAILURE(OpenStore());
  }

  void TearDown() override {
    StopDispatcher();
    for (const auto& r : runners_) EXPECT_THAT(r->errors(), IsEmpty());
  }

  void OpenStore() {
    auto store = store::Store::Open(dir_.path() + "/ocx.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // A dispatcher over the store with a new FakeRunner, recovered but not
  // started.
  void NewDispatcher(FakeRunner::Options runner_options = {}) {
    runner_options.waker = &waker_;
    runners_.push_back(std::make_unique<FakeRunner>(runner_options));
    runner_ = runners_.back().get();
    dispatcher_ = std::make_unique<Dispatcher>(store_.get(), runner_, &waker_,
                                               options_, summary_writer_);
    absl::Status recovered = dispatcher_->Recover();
    ASSERT_TRUE(recovered.ok()) << recovered;
  }

  void StartDispatcher(FakeRunner::Options runner_options = {}) {
    ASSERT_NO_FATAL_FAILURE(NewDispatcher(runner_options));
    dispatcher_->Start();
  }

  void StopDispatcher() {
    if (dispatcher_ == nullptr) return;
    dispatcher_->Stop();
    dispatcher_.reset();
  }

  // A daemon restart: the loop stops (the old runner keeps its attempts),
  // the store is closed and opened again, and a new dispatcher with a new
  // FakeRunner recovers from the file. Not started.
  void Restart(FakeRunner::Options runner_options = {}) {
    StopDispatcher();
    store_.reset();
    ASSERT_NO_FATAL_FAILURE(OpenStore());
    ASSERT_NO_FATAL_FAILURE(NewDispatcher(runner_options));
  }

  Submission MakeSubmission(const ocx::v1::EvaluationSpec& spec,
                            const std::string& id,
                            const std::string& request_id = "") {
    Submission sub;
    sub.evaluation.set_id(id);
    sub.evaluation.set_name(id);
    sub.evaluation.set_request_id(request_id);
    *sub.evaluation.mutable_spec() = spec;
    sub.evaluation.set_work_dir(JoinPath(work_root_, id));
    auto tasks = partitioners::PlanTasks(spec, id);
    EXPECT_TRUE(tasks.ok()) << tasks.status();
    if (tasks.ok()) sub.tasks = std::move(*tasks);
    return sub;
  }

  // Submits and returns the evaluation id ("" on failure).
  std::string Submit(const ocx::v1::EvaluationSpec& spec,
                     const std::string& id = "ev",
                     const std::string& request_id = "") {
    auto result = dispatcher_->Submit(MakeSubmission(spec, id, request_id));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : "";
  }

  // Re-checks `cond` after each dispatcher commit until it holds; false
  // after the (safety-net) deadline.
  bool WaitUntil(const std::function<bool()>& cond,
                 absl::Duration timeout = kDeadline) {
    absl::Time deadline = absl::Now() + timeout;
    uint64_t seen = dispatcher_->WaitForCommit(0, absl::ZeroDuration());
    while (true) {
      if (cond()) return true;
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      uint64_t now = dispatcher_->WaitForCommit(
          seen, std::min(left, absl::Milliseconds(100)));
      if (now == seen) absl::SleepFor(absl::Milliseconds(1));
      seen = now;
    }
  }

  // Lets `n` more loop turns commit.
  void WaitTurns(int n) {
    uint64_t seen = dispatcher_->WaitForCommit(0, absl::ZeroDuration());
    for (int i = 0; i < n; ++i) {
      seen = dispatcher_->WaitForCommit(seen, absl::Seconds(5));
    }
  }

  Task GetTask(const std::string& id) {
    auto t = store_->GetTask(id);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : Task();
  }
  Task::State TaskState(const std::string& id) { return GetTask(id).state(); }
  Evaluation GetEvaluation(const std::string& id) {
    auto e = store_->GetEvaluation(id);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : Evaluation();
  }
  Evaluation::State EvalState(const std::string& id) {
    return GetEvaluation(id).state();
  }

  bool WaitTaskState(const std::string& id, Task::State state) {
    bool ok = WaitUntil([&] { return TaskState(id) == state; });
    EXPECT_TRUE(ok) << id << " is " << Task::State_Name(TaskState(id))
                    << ", not " << Task::State_Name(state);
    return ok;
  }
  bool WaitEvalState(const std::string& id, Evaluation::State state) {
    bool ok = WaitUntil([&] { return EvalState(id) == state; });
    EXPECT_TRUE(ok) << id << " is " << Evaluation::State_Name(EvalState(id))
                    << ", not " << Evaluation::State_Name(state);
    return ok;
  }
  bool WaitLaunched(const AttemptKey& key) {
    bool ok = WaitUntil([&] { return runner_->IsLive(key); });
    EXPECT_TRUE(ok) << key.task_id << "#" << key.attempt << " not launched";
    return ok;
  }

  // Leaves the task's expected outputs behind, then reports exit 0.
  void Succeed(const AttemptKey& key) {
    Task t = GetTask(key.task_id);
    for (const std::string& out : t.params().expected_outputs()) {
      std::string path = JoinPath(t.params().work_dir(), out);
      ASSERT_TRUE(
          MakeDirs(std::filesystem::path(path).parent_path().string()).ok());
      ASSERT_TRUE(WriteFileAtomic(path, "{}").ok()) << path;
    }
    runner_->Exit(key, 0);
  }

  // Lets every live attempt of the evaluation succeed until it ends.
  Evaluation::State RunToEnd(const std::string& eval_id) {
    auto mine = [&] {
      std::vector<AttemptKey> keys;
      for (const AttemptKey& k : runner_->live()) {
        if (absl::StartsWith(k.task_id, eval_id + "-")) keys.push_back(k);
      }
      return keys;
    };
    for (int i = 0; i < 1000; ++i) {
      bool ok = WaitUntil(
          [&] { return IsFinal(EvalState(eval_id)) || !mine().empty(); });
      if (!ok) {
        ADD_FAILURE() << eval_id << " stuck in "
                      << Evaluation::State_Name(EvalState(eval_id));
        break;
      }
      if (IsFinal(EvalState(eval_id))) break;
      std::vector<AttemptKey> keys = mine();
      for (const AttemptKey& k : keys) Succeed(k);
      WaitUntil([&] {
        return std::none_of(keys.begin(), keys.end(), [&](const AttemptKey& k) {
          return runner_->IsLive(k);
        });
      });
    }
    return EvalState(eval_id);
  }

  std::vector<ocx::v1::Event> Events(const std::string& eval_id) {
    auto events = store_->ListEvents(eval_id, 0, 10000);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<ocx::v1::Event>();
  }

  TempDir dir_;
  std::string work_root_;
  DispatcherOptions options_;
  SummaryWriter summary_writer_;
  std::unique_ptr<store::Store> store_;
  std::vector<std::unique_ptr<FakeRunner>> runners_;
  FakeRunner* runner_ = nullptr;
  Waker waker_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

// ---- Task graph ----

TEST_F(DispatcherTest, EvalTaskWaitsForEveryInferTaskItDependsOn) {
  // One eval task covers ds0 and ds1: it depends on both infer tasks.
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Datasets(2).EvalGroup(2)));
  Task eval = GetTask("ev-eval-0");
  EXPECT_THAT(eval.depends_on(),
              UnorderedElementsAre("ev-infer-0", "ev-infer-1"));
  EXPECT_EQ(eval.state(), Task::PENDING);
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-1", 1)));
  EXPECT_EQ(EvalState(ev), Evaluation::RUNNING);

  Succeed(Key("ev-infer-0", 1));
  ASSERT_TRUE(WaitTaskState("ev-infer-0", Task::SUCCEEDED));
  // Decided in the same transaction that recorded the success.
  EXPECT_EQ(TaskState("ev-eval-0"), Task::PENDING);
  WaitTurns(3);
  EXPECT_EQ(TaskState("ev-eval-0"), Task::PENDING);
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-eval-0", 1)));

  Succeed(Key("ev-infer-1", 1));
  ASSERT_TRUE(WaitLaunched(Key("ev-eval-0", 1)));
  EXPECT_EQ(TaskState("ev-infer-1"), Task::SUCCEEDED);
  // The event log says why it became ready.
  bool ready_event = false;
  for (const ocx::v1::Event& e : Events(ev)) {
    if (e.task_id() == "ev-eval-0" && e.state() == "READY") {
      ready_event = true;
      EXPECT_EQ(e.message(), "dependencies succeeded");
    }
  }
  EXPECT_TRUE(ready_event);

  Succeed(Key("ev-eval-0", 1));
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::SUCCEEDED));
  Evaluation done = GetEvaluation(ev);
  EXPECT_TRUE(done.has_end_time());
  ASSERT_EQ(done.stage_counts_size(), 2);
  EXPECT_EQ(done.stage_counts(0).succeeded(), 2);
  EXPECT_EQ(done.stage_counts(1).succeeded(), 1);
  EXPECT_EQ(runner_->launched().size(), 3u);
}

// Every backend gets the task's identity from the dispatcher, in the
// environment and in the LaunchSpec: runners do not add it themselves.
TEST_F(DispatcherTest, EveryLaunchCarriesTheTaskIdentityAndStageSettings) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submit(MakeSpec(SpecOptions().Retry(1)));
  const std::string id = "ev-infer-0";
  ASSERT_TRUE(WaitLaunched(Key(id, 1)));
  runner_->Exit(Key(id, 1), 3);
  ASSERT_TRUE(WaitLaunched(Key(id, 2)));
  const Task task = GetTask(id);
  std::vector<runners::LaunchSpec> specs = runner_->launched();
  ASSERT_EQ(specs.size(), 2u);
  for (int n = 1; n <= 2; ++n) {
    const runners::LaunchSpec& spec = specs[n - 1];
    ASSERT_EQ(spec.key.attempt, n);
    EXPECT_EQ(spec.env.at("OCX_TASK_ID"), id);
    EXPECT_EQ(spec.env.at("OCX_ATTEMPT"), absl::StrCat(n));
    EXPECT_EQ(spec.env.at("OCX_ATTEMPT_DIR"), spec.attempt_dir);
    EXPECT_TRUE(absl::EndsWith(spec.attempt_dir, absl::StrCat("/", n)))
        << spec.attempt_dir;
    EXPECT_EQ(spec.stage, ocx::v1::STAGE_INFER);
    EXPECT_EQ(spec.task_name, task.name());
    EXPECT_EQ(spec.runner.type(), "LocalRunner");
  }
}

TEST_F(DispatcherTest, EvalOfOnePairStartsWhileAnotherPairStillInfers) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Datasets(2)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-1", 1)));
  EXPECT_THAT(GetTask("ev-eval-0").depends_on(), ElementsAre("ev-infer-0"));

  Succeed(Key("ev-infer-0", 1));
  ASSERT_TRUE(WaitLaunched(Key("ev-eval-0", 1)));
  // No stage barrier: pair (m0, ds1) is still inferring.
  EXPECT_TRUE(runner_->IsLive(Key("ev-infer-1", 1)));
  EXPECT_EQ(TaskState("ev-infer-1"), Task::RUNNING);
  EXPECT_EQ(TaskState("ev-eval-1"), Task::PENDING);
  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
}

// ---- Retries ----

TEST_F(DispatcherTest, FailedAttemptsAreRetriedWithDoublingBackoffThenFail) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(2)));
  const std::string id = "ev-infer-0";
  EXPECT_EQ(GetTask(id).max_attempts(), 3);

  int64_t expected_backoff = kInitialBackoffMs;
  for (int n = 1; n <= 2; ++n) {
    ASSERT_TRUE(WaitLaunched(Key(id, n)));
    // Holding new placements keeps the task READY for the test to read.
    runner_->SetCapacity(0);
    runner_->Exit(Key(id, n), 3);
    ASSERT_TRUE(WaitUntil([&] {
      Task t = GetTask(id);
      return t.state() == Task::READY && t.attempt_count() == n;
    }));
    Task t = GetTask(id);
    ASSERT_EQ(t.attempts_size(), n);
    const Attempt& failed = t.attempts(n - 1);
    EXPECT_EQ(failed.state(), Attempt::FAILED);
    EXPECT_EQ(failed.exit_code(), 3);
    ASSERT_TRUE(failed.has_end_time());
    ASSERT_TRUE(t.has_next_attempt_time());
    int64_t next = TimestampMillis(t.next_attempt_time());
    EXPECT_EQ(next - TimestampMillis(failed.end_time()), expected_backoff)
        << "attempt " << n;
    // The event log says why it waits (the task's reason is set when it
    // ends).
    std::string why;
    for (const ocx::v1::Event& e : Events(ev)) {
      if (e.task_id() == id && e.state() == "READY" && e.attempt() == n) {
        why = e.message();
      }
    }
    EXPECT_THAT(
        why, HasSubstr(absl::StrCat("attempt ", n, "/3 failed: exit code 3")));
    EXPECT_THAT(why, HasSubstr("retrying in"));
    // The dependent eval task waits on.
    EXPECT_EQ(TaskState("ev-eval-0"), Task::PENDING);

    // The next attempt is not even placed before the backoff is over.
    ASSERT_TRUE(
        WaitUntil([&] { return runner_->first_place_ms(Key(id, n + 1)) > 0; }));
    EXPECT_GE(runner_->first_place_ms(Key(id, n + 1)), next);
    runner_->SetCapacity(-1);
    expected_backoff *= 2;
  }

  ASSERT_TRUE(WaitLaunched(Key(id, 3)));
  runner_->Exit(Key(id, 3), 3);
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::FAILED));

  Task infer = GetTask(id);
  EXPECT_EQ(infer.state(), Task::FAILED);
  EXPECT_EQ(infer.reason(), "attempt 3/3 failed: exit code 3");
  EXPECT_EQ(infer.attempt_count(), 3);
  EXPECT_TRUE(infer.has_end_time());
  ASSERT_EQ(infer.attempts_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const Attempt& a = infer.attempts(i);
    EXPECT_EQ(a.number(), i + 1);
    EXPECT_EQ(a.name(), absl::StrCat("ocx-", id, "-", i + 1));
    EXPECT_EQ(a.state(), Attempt::FAILED);
    EXPECT_TRUE(a.has_exit_code());
    EXPECT_EQ(a.exit_code(), 3);
    EXPECT_FALSE(a.has_signal());
    EXPECT_EQ(a.reason(), "exit code 3");
    EXPECT_EQ(a.backend(), "fake");
    EXPECT_FALSE(a.backend_id().empty());
    EXPECT_TRUE(a.has_start_time());
    EXPECT_TRUE(a.has_end_time());
    EXPECT_THAT(a.log_path(), HasSubstr(absl::StrCat(id, ".", i + 1, ".out")));
  }
  // What the runner was asked to run.
  auto spec = runner_->FindLaunch(Key(id, 2));
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->name, absl::StrCat("ocx-", id, "-2"));
  EXPECT_THAT(spec->argv, ElementsAre("/bin/true"));
  EXPECT_EQ(spec->log_path, infer.attempts(1).log_path());

  Task eval = GetTask("ev-eval-0");
  EXPECT_EQ(eval.state(), Task::FAILED);
  EXPECT_EQ(eval.reason(), "dependency ev-infer-0 failed");
  EXPECT_EQ(eval.attempt_count(), 0);
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-eval-0", 1)));
  Evaluation done = GetEvaluation(ev);
  EXPECT_TRUE(done.has_end_time());
  ASSERT_EQ(done.stage_counts_size(), 2);
  EXPECT_EQ(done.stage_counts(0).failed(), 1);
  EXPECT_EQ(done.stage_counts(1).failed(), 1);
}

TEST_F(DispatcherTest, BackoffIsCappedAtTheMaximum) {
  options_.backoff_multiplier = 10;
  options_.max_backoff_ms = 120;
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submit(MakeSpec(SpecOptions().Retry(2)));
  const std::string id = "ev-infer-0";
  ASSERT_TRUE(WaitLaunched(Key(id, 1)));
  runner_->Exit(Key(id, 1), 3);
  ASSERT_TRUE(WaitLaunched(Key(id, 2)));
  runner_->SetCapacity(0);
  runner_->Exit(Key(id, 2), 3);
  ASSERT_TRUE(WaitUntil([&] {
    Task t = GetTask(id);
    return t.state() == Task::READY && t.attempt_count() == 2;
  }));
  Task t = GetTask(id);
  ASSERT_EQ(t.attempts_size(), 2);
  // 50 * 10 = 500, capped at 120.
  EXPECT_EQ(TimestampMillis(t.next_attempt_time()) -
                TimestampMillis(t.attempts(1).end_time()),
            120);
  runner_->SetCapacity(-1);
}

TEST_F(DispatcherTest, DeathBySignalNamesTheSignal) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(0)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  runner_->Kill(Key("ev-infer-0", 1), SIGKILL);
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::FAILED));
  Task t = GetTask("ev-infer-0");
  EXPECT_EQ(t.state(), Task::FAILED);
  EXPECT_EQ(t.reason(), "attempt 1/1 failed: killed by signal 9 (SIGKILL)");
  ASSERT_EQ(t.attempts_size(), 1);
  EXPECT_EQ(t.attempts(0).state(), Attempt::FAILED);
  EXPECT_TRUE(t.attempts(0).has_signal());
  EXPECT_EQ(t.attempts(0).signal(), SIGKILL);
  EXPECT_FALSE(t.attempts(0).has_exit_code());
  EXPECT_THAT(t.attempts(0).reason(), HasSubstr("SIGKILL"));
}

TEST_F(DispatcherTest, TheRunnersWordsAreAddedToTheReason) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(0)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  runners::AttemptUpdate u;
  u.key = Key("ev-infer-0", 1);
  u.kind = runners::AttemptUpdate::Kind::kExited;
  u.signal = SIGKILL;
  u.reason = "killed after timeout of 30 s";
  runner_->Push(u);
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::FAILED));
  EXPECT_EQ(GetTask("ev-infer-0").attempts(0).reason(),
            "killed by signal 9 (SIGKILL); killed after timeout of 30 s");
}

// ocx-task's error record is the attempt's reason; an HTTP 403 in it is
// permanent, so the task fails with attempts left.
TEST_F(DispatcherTest, TheTasksErrorRecordIsTheReasonAndCanBePermanent) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(2)));
  const std::string id = "ev-infer-0";
  ASSERT_TRUE(WaitLaunched(Key(id, 1)));
  std::optional<runners::LaunchSpec> spec = runner_->FindLaunch(Key(id, 1));
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->env.at("OCX_ATTEMPT_DIR"), spec->attempt_dir);
  ASSERT_TRUE(MakeDirs(spec->attempt_dir).ok());
  ASSERT_TRUE(
      WriteFileAtomic(layout::ErrorRecordFileIn(spec->attempt_dir),
                      R"({"kind": "http_error", "message": "HTTP 403: no",)"
                      R"( "http_status": 403, "body_excerpt": "{}"})")
          .ok());
  runner_->Exit(Key(id, 1), 1);
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::FAILED));
  Task infer = GetTask(id);
  EXPECT_EQ(infer.state(), Task::FAILED);
  ASSERT_EQ(infer.attempts_size(), 1);
  EXPECT_EQ(infer.attempts(0).reason(),
            "exit code 1: http_error: HTTP 403: no");
  EXPECT_EQ(infer.reason(),
            "attempt 1/3 failed: exit code 1: http_error: HTTP 403: no; not "
            "retried: the model server answered HTTP 403");
}

// A launch the runner refuses as INVALID_ARGUMENT (E2BIG) is not retried.
TEST_F(DispatcherTest, ALaunchRefusedAsInvalidIsNotRetried) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  runner_->FailNextLaunch(
      absl::InvalidArgumentError("cannot run /bin/x: argument list too long"));
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(2)));
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::FAILED));
  Task infer = GetTask("ev-infer-0");
  EXPECT_EQ(infer.attempts_size(), 1);
  EXPECT_THAT(infer.reason(),
              HasSubstr("could not start: cannot run /bin/x: argument list "
                        "too long; not retried"));
}

TEST_F(DispatcherTest, LostAttemptIsRecordedAsLostAndRetried) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  runner_->Lose(Key("ev-infer-0", 1), "supervisor vanished without an exit");
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 2)));
  Task t = GetTask("ev-infer-0");
  ASSERT_EQ(t.attempts_size(), 2);
  EXPECT_EQ(t.attempts(0).state(), Attempt::LOST);
  EXPECT_EQ(t.attempts(0).reason(), "supervisor vanished without an exit");
  EXPECT_TRUE(t.attempts(0).has_end_time());
  EXPECT_FALSE(t.attempts(0).has_exit_code());
  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
  t = GetTask("ev-infer-0");
  EXPECT_EQ(t.reason(), "attempt 2 succeeded");
  EXPECT_EQ(t.attempts(1).state(), Attempt::SUCCEEDED);
  EXPECT_EQ(t.attempts(1).exit_code(), 0);
}

TEST_F(DispatcherTest, ExitZeroWithoutExpectedOutputsFails) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(0)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  runner_->Exit(Key("ev-infer-0", 1), 0);  // no predictions written
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::FAILED));
  Task t = GetTask("ev-infer-0");
  EXPECT_EQ(t.state(), Task::FAILED);
  ASSERT_EQ(t.attempts_size(), 1);
  const Attempt& a = t.attempts(0);
  EXPECT_EQ(a.state(), Attempt::FAILED);
  EXPECT_TRUE(a.has_exit_code());
  EXPECT_EQ(a.exit_code(), 0);
  EXPECT_THAT(a.reason(), HasSubstr("expected outputs are missing"));
  EXPECT_THAT(a.reason(), HasSubstr("predictions/m0/ds0.json"));
  EXPECT_THAT(t.reason(), HasSubstr("predictions/m0/ds0.json"));
}

// ---- Parts manifest and keyed reuse ----

TEST_F(DispatcherTest, EvalWithAMissingPartFailsWithoutStarting) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submission sub = MakeSubmission(MakeSpec(SpecOptions().Retry(0)), "ev");
  // As if the pair had a second prediction part that nothing produced.
  for (Task& t : sub.tasks) {
    if (t.stage() == ocx::v1::STAGE_EVAL) {
      EXPECT_THAT(t.params().required_inputs(),
                  ElementsAre("predictions/m0/ds0.json"));
      t.mutable_params()->add_required_inputs("predictions/m0/ds0_1.json");
    }
  }
  ASSERT_TRUE(dispatcher_->Submit(std::move(sub)).ok());
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  Succeed(Key("ev-infer-0", 1));
  ASSERT_TRUE(WaitEvalState("ev", Evaluation::FAILED));
  Task eval = GetTask("ev-eval-0");
  EXPECT_EQ(eval.state(), Task::FAILED);
  ASSERT_EQ(eval.attempts_size(), 1);
  EXPECT_EQ(eval.attempts(0).state(), Attempt::FAILED);
  EXPECT_EQ(eval.attempts(0).reason(),
            "missing inputs: predictions/m0/ds0_1.json");
  EXPECT_EQ(eval.reason(),
            "attempt 1/1 failed: missing inputs: predictions/m0/ds0_1.json");
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-eval-0", 1)));
}

TEST_F(DispatcherTest, SucceededTasksRecordTheirOutputsFingerprints) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Datasets(2)));
  ASSERT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
  for (const char* id : {"ev-infer-0", "ev-infer-1", "ev-eval-0"}) {
    Task t = GetTask(id);
    ASSERT_EQ(t.params().output_fingerprints_size(), 1) << id;
    std::string path =
        JoinPath(t.params().work_dir(), t.params().expected_outputs(0));
    auto records = store_->GetOutputs({path});
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_TRUE((*records)[0].has_value()) << path;
    const store::OutputRecord& r = *(*records)[0];
    EXPECT_EQ(r.fingerprint, t.params().output_fingerprints(0));
    EXPECT_EQ(r.task_id, id);
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(r.size, st.st_size);
    EXPECT_EQ(r.mtime_ns,
              int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec);
  }
}

TEST_F(DispatcherTest, ReusedTasksAreStoredButNeverRunAndFreeTheirDependents) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submission sub = MakeSubmission(MakeSpec(SpecOptions().Datasets(2)), "ev");
  // (m0, ds0) was done before: its infer task is reused, its eval starts
  // at once.
  partitioners::MarkReusedTasks(
      &sub.tasks, [](const std::string& path, const std::string&) {
        return path == "predictions/m0/ds0.json";
      });
  ASSERT_EQ(sub.tasks[0].state(), Task::SUCCEEDED);
  ASSERT_EQ(sub.tasks[2].state(), Task::READY);  // ev-eval-0
  // Its input exists, as reuse found it.
  std::string pred =
      JoinPath(sub.evaluation.work_dir(), "predictions/m0/ds0.json");
  ASSERT_TRUE(
      MakeDirs(std::filesystem::path(pred).parent_path().string()).ok());
  ASSERT_TRUE(WriteFileAtomic(pred, "{}").ok());
  ASSERT_TRUE(dispatcher_->Submit(std::move(sub)).ok());
  ASSERT_TRUE(WaitLaunched(Key("ev-eval-0", 1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-1", 1)));
  EXPECT_EQ(RunToEnd("ev"), Evaluation::SUCCEEDED);
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-infer-0", 1)));
  EXPECT_EQ(runner_->launched().size(), 3u);
  Task reused = GetTask("ev-infer-0");
  EXPECT_EQ(reused.state(), Task::SUCCEEDED);
  EXPECT_EQ(reused.reason(), partitioners::kReusedReason);
  EXPECT_EQ(reused.attempts_size(), 0);
  EXPECT_TRUE(reused.has_end_time());
  Evaluation done = GetEvaluation("ev");
  ASSERT_EQ(done.stage_counts_size(), 2);
  EXPECT_EQ(done.stage_counts(0).succeeded(), 2);
  EXPECT_EQ(done.stage_counts(1).succeeded(), 2);
}

TEST_F(DispatcherTest, AFullyReusedEvaluationSucceedsAtOnce) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submission sub = MakeSubmission(MakeSpec(SpecOptions()), "ev");
  EXPECT_EQ(partitioners::MarkReusedTasks(
                &sub.tasks,
                [](const std::string&, const std::string&) { return true; }),
            2);
  sub.dataset_sizes.push_back({"/d/x.jsonl", "jsonl", 1, 2, 3});
  ASSERT_TRUE(dispatcher_->Submit(std::move(sub)).ok());
  ASSERT_TRUE(WaitEvalState("ev", Evaluation::SUCCEEDED));
  EXPECT_TRUE(runner_->launched().empty());
  std::vector<ocx::v1::Event> events = Events("ev");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].message(),
            "evaluation created with 2 tasks (2 reused: outputs with the same "
            "fingerprint exist)");
  // The counted size went into the cache in the same transaction.
  auto cached = store_->LookupDatasetSize("/d/x.jsonl", "jsonl", 1, 2);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(*cached, std::optional<int64_t>(3));
}

TEST_F(DispatcherTest, LaunchErrorFailsTheAttemptAndFreesItsPlace) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  runner_->FailNextLaunch(absl::UnavailableError("backend down"));
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 2)));
  Task t = GetTask("ev-infer-0");
  ASSERT_EQ(t.attempts_size(), 2);
  EXPECT_EQ(t.attempts(0).state(), Attempt::FAILED);
  EXPECT_EQ(t.attempts(0).reason(), "could not start: backend down");
  bool unplaced = false;
  for (const FakeRunner::Call& c : runner_->calls()) {
    if (c.kind == FakeRunner::Call::Kind::kUnplace &&
        c.key == Key("ev-infer-0", 1)) {
      unplaced = true;
    }
  }
  EXPECT_TRUE(unplaced);
  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
}

// ---- Slots ----

TEST_F(DispatcherTest, MaxNumWorkersIsRespectedPerStage) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(
      MakeSpec(SpecOptions().Datasets(5).InferWorkers(2).EvalWorkers(1)));
  // Finish infer attempts one at a time; leave eval attempts running.
  for (int done = 0; done < 5; ++done) {
    AttemptKey next;
    ASSERT_TRUE(WaitUntil([&] {
      for (const AttemptKey& k : runner_->live()) {
        if (IsInfer(k)) {
          next = k;
          return true;
        }
      }
      return false;
    }));
    Succeed(next);
    ASSERT_TRUE(WaitTaskState(next.task_id, Task::SUCCEEDED));
  }
  // Every eval task is runnable now, but only one may run.
  ASSERT_TRUE(WaitUntil([&] {
    Evaluation e = GetEvaluation(ev);
    return e.stage_counts_size() == 2 && e.stage_counts(1).running() == 1 &&
           e.stage_counts(1).ready() == 4;
  }));
  WaitTurns(5);
  Evaluation e = GetEvaluation(ev);
  EXPECT_EQ(e.stage_counts(1).running(), 1);
  EXPECT_EQ(e.stage_counts(1).ready(), 4);
  EXPECT_EQ(runner_->MaxLive(IsEval), 1);

  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
  EXPECT_EQ(runner_->MaxLive(IsInfer), 2);
  EXPECT_EQ(runner_->MaxLive(IsEval), 1);
  EXPECT_EQ(runner_->launched().size(), 10u);
}

TEST_F(DispatcherTest, PlaceFailedPreconditionFailsTheTaskWithTheMessage) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher(WithGpus(0)));
  std::string ev = Submit(MakeSpec(SpecOptions().NumGpus(1)));
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::FAILED));
  Task infer = GetTask("ev-infer-0");
  EXPECT_EQ(infer.state(), Task::FAILED);
  EXPECT_EQ(infer.reason(),
            "cannot run on fake: a task needs 1 GPU(s) but the fake backend "
            "has 0");
  EXPECT_EQ(infer.attempt_count(), 0);
  EXPECT_THAT(infer.attempts(), IsEmpty());
  Task eval = GetTask("ev-eval-0");
  EXPECT_EQ(eval.state(), Task::FAILED);
  EXPECT_EQ(eval.reason(), "dependency ev-infer-0 failed");
  EXPECT_THAT(runner_->launched(), IsEmpty());
}

TEST_F(DispatcherTest, ResourceExhaustedWaitsAndLaunchesLater) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher(WithCapacity(1)));
  std::string ev = Submit(MakeSpec(SpecOptions().Datasets(2)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  // The dispatcher asked for a second slot and was told to wait.
  ASSERT_TRUE(WaitUntil([&] { return runner_->exhausted_count() > 0; }));
  Task waiting = GetTask("ev-infer-1");
  EXPECT_EQ(waiting.state(), Task::READY);
  EXPECT_EQ(waiting.attempt_count(), 0);
  EXPECT_THAT(waiting.attempts(), IsEmpty());
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-infer-1", 1)));

  Succeed(Key("ev-infer-0", 1));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-1", 1)));
  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
  EXPECT_EQ(runner_->MaxLive([](const AttemptKey&) { return true; }), 1);
}

// ---- Cancel ----

TEST_F(DispatcherTest, CancelEndsUnstartedTasksAtOnceAndRunningOnesOnExit) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Datasets(2).InferWorkers(1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  ASSERT_EQ(TaskState("ev-infer-1"), Task::READY);
  ASSERT_EQ(TaskState("ev-eval-0"), Task::PENDING);

  absl::Status cancel = dispatcher_->Cancel(ev);
  ASSERT_TRUE(cancel.ok()) << cancel;
  // Committed when Cancel returns.
  EXPECT_EQ(EvalState(ev), Evaluation::CANCELLING);
  for (const char* id : {"ev-infer-1", "ev-eval-0", "ev-eval-1"}) {
    Task t = GetTask(id);
    EXPECT_EQ(t.state(), Task::CANCELLED) << id;
    EXPECT_TRUE(t.has_end_time()) << id;
  }
  EXPECT_EQ(GetTask("ev-infer-1").reason(), "cancelled by user");
  // The unstarted tasks end with one event, not one each.
  int task_events = 0;
  std::string cancel_note;
  for (const ocx::v1::Event& e : Events(ev)) {
    if (!e.task_id().empty() && e.state() == "CANCELLED") ++task_events;
    // (The state change itself follows as a CANCELLING event of its own.)
    if (e.task_id().empty() && e.state() == "CANCELLING" &&
        !e.message().empty()) {
      cancel_note = e.message();
    }
  }
  EXPECT_EQ(task_events, 0);
  EXPECT_THAT(cancel_note, HasSubstr("3 unstarted tasks cancelled"));
  EXPECT_EQ(TaskState("ev-infer-0"), Task::RUNNING);
  EXPECT_TRUE(runner_->WasCancelled(Key("ev-infer-0", 1)));
  // Cancelling again while it is under way is fine.
  EXPECT_TRUE(dispatcher_->Cancel(ev).ok());

  runner_->Kill(Key("ev-infer-0", 1), SIGTERM);
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::CANCELLED));
  Task infer = GetTask("ev-infer-0");
  EXPECT_EQ(infer.state(), Task::CANCELLED);
  ASSERT_EQ(infer.attempts_size(), 1);
  EXPECT_EQ(infer.attempts(0).state(), Attempt::CANCELLED);
  EXPECT_THAT(infer.attempts(0).reason(), HasSubstr("cancelled by user"));
  EXPECT_THAT(infer.attempts(0).reason(), HasSubstr("SIGTERM"));
  EXPECT_TRUE(GetEvaluation(ev).has_end_time());
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-infer-1", 1)));
  // The log shows CANCELLING before CANCELLED.
  std::vector<std::string> eval_states;
  for (const ocx::v1::Event& e : Events(ev)) {
    if (e.task_id().empty()) eval_states.push_back(e.state());
  }
  auto cancelling =
      std::find(eval_states.begin(), eval_states.end(), "CANCELLING");
  auto cancelled =
      std::find(eval_states.begin(), eval_states.end(), "CANCELLED");
  EXPECT_NE(cancelling, eval_states.end());
  EXPECT_NE(cancelled, eval_states.end());
  EXPECT_LT(cancelling, cancelled);

  absl::Status again = dispatcher_->Cancel(ev);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
  EXPECT_THAT(again.message(), HasSubstr("CANCELLED"));
}

TEST_F(DispatcherTest, CancelDuringRetryBackoffCancelsAtOnce) {
  options_.initial_backoff_ms = 600000;  // never due during the test
  options_.max_backoff_ms = 600000;
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  runner_->Exit(Key("ev-infer-0", 1), 3);
  ASSERT_TRUE(WaitUntil([&] {
    Task t = GetTask("ev-infer-0");
    return t.state() == Task::READY && t.attempt_count() == 1;
  }));
  ASSERT_TRUE(dispatcher_->Cancel(ev).ok());
  EXPECT_EQ(EvalState(ev), Evaluation::CANCELLED);
  EXPECT_EQ(TaskState("ev-infer-0"), Task::CANCELLED);
  EXPECT_EQ(TaskState("ev-eval-0"), Task::CANCELLED);
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-infer-0", 2)));
}

TEST_F(DispatcherTest, CancelOfAnEndedEvaluationIsFailedPrecondition) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions()));
  ASSERT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
  absl::Status s = dispatcher_->Cancel(ev);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("SUCCEEDED"));
  EXPECT_EQ(EvalState(ev), Evaluation::SUCCEEDED);
}

TEST_F(DispatcherTest, CancelOfAnUnknownEvaluationIsNotFound) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  absl::Status s = dispatcher_->Cancel("nope");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(s.message(), HasSubstr("nope"));
}

// ---- Submit ----

TEST_F(DispatcherTest, SubmitIsDurableWhenItReturns) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Models(2).Datasets(3)));
  EXPECT_EQ(ev, "ev");
  Evaluation e = GetEvaluation(ev);
  EXPECT_EQ(e.task_count(), 12);
  EXPECT_TRUE(e.has_create_time());
  EXPECT_TRUE(e.has_spec());
  std::string next;
  auto tasks = store_->ListTasks(ev, Task::STATE_UNSPECIFIED,
                                 ocx::v1::STAGE_UNSPECIFIED, 100, "", &next);
  ASSERT_TRUE(tasks.ok());
  EXPECT_EQ(tasks->size(), 12u);
}

// AIP-155 with the request's hash: a retry of the same request returns the
// first evaluation and makes no work dir; the same request_id with another
// request is ALREADY_EXISTS naming request_id, and makes no work dir either.
TEST_F(DispatcherTest, RequestIdRetryMakesNoDirAndAnotherRequestIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  ocx::v1::EvaluationSpec spec = MakeSpec(SpecOptions());
  auto submit = [&](const std::string& id, const std::string& hash) {
    Submission sub = MakeSubmission(spec, id, "req-h");
    sub.request_hash = hash;
    sub.create_work_dir = true;
    return dispatcher_->Submit(std::move(sub));
  };
  auto first = submit("first", "hash-a");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "first");
  EXPECT_TRUE(PathExists(JoinPath(work_root_, "first")));
  auto retry = submit("retry", "hash-a");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, "first");
  EXPECT_FALSE(PathExists(JoinPath(work_root_, "retry")));
  auto other = submit("other", "hash-b");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists)
      << other.status();
  EXPECT_THAT(other.status().message(), HasSubstr("request_id"));
  EXPECT_THAT(other.status().message(), HasSubstr("first"));
  EXPECT_FALSE(PathExists(JoinPath(work_root_, "other")));
  EXPECT_EQ(store_->GetEvaluation("other").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(DispatcherTest, SubmitWithAKnownRequestIdReturnsTheFirstEvaluation) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  ocx::v1::EvaluationSpec spec = MakeSpec(SpecOptions());
  EXPECT_EQ(Submit(spec, "first", "req-1"), "first");
  EXPECT_EQ(Submit(spec, "second", "req-1"), "first");
  EXPECT_EQ(store_->GetEvaluation("second").status().code(),
            absl::StatusCode::kNotFound);
  // Two at once, likely in the same group commit.
  std::string a, b;
  std::thread t1([&] { a = Submit(spec, "third", "req-2"); });
  std::thread t2([&] { b = Submit(spec, "fourth", "req-2"); });
  t1.join();
  t2.join();
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a == "third" || a == "fourth") << a;

  std::string next;
  auto list =
      store_->ListEvaluations(Evaluation::STATE_UNSPECIFIED, 100, "", &next);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(RunToEnd("first"), Evaluation::SUCCEEDED);
  for (const auto& launch : runner_->launched()) {
    EXPECT_FALSE(absl::StartsWith(launch.key.task_id, "second"))
        << launch.key.task_id;
  }
}

// A Submit that fails because its id is taken must fail alone: it used to
// erase the live evaluation's entry, and the daemon aborted on its tasks'
// next update.
TEST_F(DispatcherTest, SubmitWithATakenIdLeavesTheFirstRunning) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  ocx::v1::EvaluationSpec spec = MakeSpec(SpecOptions());
  ASSERT_EQ(Submit(spec, "ev"), "ev");
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  auto dup = dispatcher_->Submit(MakeSubmission(spec, "ev"));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists)
      << dup.status();
  EXPECT_EQ(RunToEnd("ev"), Evaluation::SUCCEEDED);
}

TEST_F(DispatcherTest, SubmitAndCancelAfterStopAreUnavailable) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions()));
  dispatcher_->Stop();
  auto late = dispatcher_->Submit(MakeSubmission(MakeSpec(SpecOptions()), "x"));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable)
      << late.status();
  EXPECT_EQ(dispatcher_->Cancel(ev).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->GetEvaluation("x").status().code(),
            absl::StatusCode::kNotFound);
}

// ---- Recovery ----

TEST_F(DispatcherTest, RecoveryAdoptsRunningAttemptsAndResumesTheRest) {
  // GPUs make the adopted placement visible; retry makes attempt numbers > 1.
  FakeRunner::Options with_gpus = WithGpus(4);
  ASSERT_NO_FATAL_FAILURE(StartDispatcher(with_gpus));
  std::string ev =
      Submit(MakeSpec(SpecOptions().Datasets(3).Retry(1).NumGpus(1)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitLaunched(Key(absl::StrCat("ev-infer-", i), 1)));
  }
  runner_->Exit(Key("ev-infer-0", 1), 3);
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 2)));
  // With two attempts live, the runner is full: eval-1 stays READY.
  runner_->SetCapacity(2);
  Succeed(Key("ev-infer-1", 1));
  ASSERT_TRUE(WaitTaskState("ev-infer-1", Task::SUCCEEDED));
  ASSERT_TRUE(WaitUntil([&] { return runner_->exhausted_count() > 0; }));
  ASSERT_EQ(TaskState("ev-eval-1"), Task::READY);
  Task infer0 = GetTask("ev-infer-0");
  Task infer2 = GetTask("ev-infer-2");
  ASSERT_EQ(infer0.attempts_size(), 2);
  ASSERT_EQ(infer2.attempts_size(), 1);
  const Attempt running0 = infer0.attempts(1);
  const Attempt running2 = infer2.attempts(0);
  ASSERT_EQ(running0.gpus_size(), 1);
  ASSERT_EQ(running2.gpus_size(), 1);

  ASSERT_NO_FATAL_FAILURE(Restart(with_gpus));
  // Recover() alone re-attaches, launches nothing.
  std::vector<FakeRunner::Adoption> adopted = runner_->adopted();
  ASSERT_EQ(adopted.size(), 2u);
  std::sort(adopted.begin(), adopted.end(), [](const auto& x, const auto& y) {
    return x.spec.key < y.spec.key;
  });
  const std::pair<const FakeRunner::Adoption*, const Attempt*> pairs[] = {
      {&adopted[0], &running0}, {&adopted[1], &running2}};
  for (const auto& [adoption, attempt] : pairs) {
    SCOPED_TRACE(attempt->name());
    EXPECT_EQ(adoption->spec.key, Key(attempt->task_id(), attempt->number()));
    EXPECT_EQ(adoption->spec.name, attempt->name());
    EXPECT_EQ(adoption->backend_id, attempt->backend_id());
    EXPECT_EQ(adoption->spec.log_path, attempt->log_path());
    EXPECT_THAT(adoption->spec.attempt_dir,
                ::testing::EndsWith(absl::StrCat("/", attempt->number())));
    EXPECT_THAT(adoption->spec.gpus, ElementsAre(attempt->gpus(0)));
  }
  EXPECT_EQ(adopted[0].spec.key, Key("ev-infer-0", 2));
  EXPECT_THAT(runner_->launched(), IsEmpty());

  dispatcher_->Start();
  // READY resumes; PENDING ones follow their dependencies.
  ASSERT_TRUE(WaitLaunched(Key("ev-eval-1", 1)));
  EXPECT_EQ(TaskState("ev-eval-0"), Task::PENDING);
  EXPECT_EQ(TaskState("ev-eval-2"), Task::PENDING);
  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
  for (const auto& launch : runner_->launched()) {
    EXPECT_TRUE(IsEval(launch.key)) << launch.key.task_id << " launched again";
    EXPECT_EQ(launch.key.attempt, 1);
  }
  EXPECT_EQ(runner_->launched().size(), 3u);
  EXPECT_EQ(GetTask("ev-infer-0").attempts_size(), 2);
  EXPECT_EQ(GetTask("ev-infer-0").reason(), "attempt 2 succeeded");
}

TEST_F(DispatcherTest, RecoveryResumesACancellingEvaluation) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Datasets(2).InferWorkers(1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  ASSERT_TRUE(dispatcher_->Cancel(ev).ok());
  ASSERT_EQ(EvalState(ev), Evaluation::CANCELLING);

  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_EQ(runner_->adopted().size(), 1u);
  EXPECT_EQ(runner_->adopted()[0].spec.key, Key("ev-infer-0", 1));
  // The cancel is sent again, to the new runner.
  EXPECT_TRUE(runner_->WasCancelled(Key("ev-infer-0", 1)));
  EXPECT_EQ(EvalState(ev), Evaluation::CANCELLING);

  dispatcher_->Start();
  runner_->Kill(Key("ev-infer-0", 1), SIGTERM);
  ASSERT_TRUE(WaitEvalState(ev, Evaluation::CANCELLED));
  EXPECT_EQ(TaskState("ev-infer-0"), Task::CANCELLED);
  EXPECT_EQ(TaskState("ev-infer-1"), Task::CANCELLED);
  EXPECT_THAT(runner_->launched(), IsEmpty());
}

TEST_F(DispatcherTest, RecoveryAdoptsAnAttemptLeftLaunching) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions()));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));
  StopDispatcher();
  // As after a crash between committing the attempt and the backend's
  // answer: task and attempt LAUNCHING, no backend id.
  ASSERT_TRUE(store_->Begin().ok());
  auto active = store_->LoadActiveTasks();
  ASSERT_TRUE(active.ok()) << active.status();
  for (store::ActiveTaskRecord& r : *active) {
    if (r.task.id() != "ev-infer-0") continue;
    ASSERT_TRUE(r.last_attempt.has_value());
    r.task.set_state(Task::LAUNCHING);
    ASSERT_TRUE(store_->UpdateTask(r.task).ok());
    r.last_attempt->attempt.set_state(Attempt::LAUNCHING);
    r.last_attempt->attempt.clear_backend_id();
    ASSERT_TRUE(store_->PutAttempt(*r.last_attempt).ok());
  }
  ASSERT_TRUE(store_->Commit().ok());

  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_EQ(runner_->adopted().size(), 1u);
  EXPECT_EQ(runner_->adopted()[0].spec.key, Key("ev-infer-0", 1));
  EXPECT_EQ(runner_->adopted()[0].backend_id, "");
  dispatcher_->Start();
  // The runner reports it running under its id.
  runners::AttemptUpdate running;
  running.key = Key("ev-infer-0", 1);
  running.kind = runners::AttemptUpdate::Kind::kRunning;
  running.backend_id = "fake-77";
  runner_->Push(running);
  ASSERT_TRUE(WaitTaskState("ev-infer-0", Task::RUNNING));
  Attempt a = GetTask("ev-infer-0").attempts(0);
  EXPECT_EQ(a.state(), Attempt::RUNNING);
  EXPECT_EQ(a.backend_id(), "fake-77");
  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
  EXPECT_EQ(GetTask("ev-infer-0").attempts_size(), 1);
  EXPECT_FALSE(runner_->WasLaunched(Key("ev-infer-0", 1)));
}

TEST_F(DispatcherTest, RecoveryMarksAnAttemptItCannotAdoptLostAndRetries) {
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  std::string ev = Submit(MakeSpec(SpecOptions().Retry(1)));
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 1)));

  StopDispatcher();
  store_.reset();
  ASSERT_NO_FATAL_FAILURE(OpenStore());
  FakeRunner::Options runner_options;
  runner_options.waker = &waker_;
  runners_.push_back(std::make_unique<FakeRunner>(runner_options));
  runner_ = runners_.back().get();
  runner_->FailAdopt(absl::NotFoundError("no such job"));
  dispatcher_ =
      std::make_unique<Dispatcher>(store_.get(), runner_, &waker_, options_);
  absl::Status recovered = dispatcher_->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered;
  Task t = GetTask("ev-infer-0");
  ASSERT_EQ(t.attempts_size(), 1);
  EXPECT_EQ(t.attempts(0).state(), Attempt::LOST);
  EXPECT_THAT(t.attempts(0).reason(),
              HasSubstr("could not re-attach after restart: no such job"));
  EXPECT_EQ(t.state(), Task::READY);

  runner_->FailAdopt(absl::OkStatus());
  dispatcher_->Start();
  ASSERT_TRUE(WaitLaunched(Key("ev-infer-0", 2)));
  EXPECT_EQ(RunToEnd(ev), Evaluation::SUCCEEDED);
}

// ---- The summary step ----

TEST_F(DispatcherTest, SummaryIsWrittenOutsideTheTransactionBeforeTheEnd) {
  int calls = 0;
  summary_writer_ = [&](const Evaluation& e) -> absl::StatusOr<bool> {
    ++calls;
    // No write transaction is open: another writer gets the lock at once.
    auto conn = store::Connection::Open(dir_.path() + "/ocx.db", false);
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (conn.ok()) {
      EXPECT_TRUE((*conn)->Exec("BEGIN IMMEDIATE").ok());
      EXPECT_TRUE((*conn)->Exec("ROLLBACK").ok());
    }
    // Every task's end is committed; the evaluation's own end is not yet.
    EXPECT_EQ(EvalState(e.id()), Evaluation::RUNNING);
    std::string next;
    auto tasks = store_->ListTasks(e.id(), Task::STATE_UNSPECIFIED,
                                   ocx::v1::STAGE_UNSPECIFIED, 100, "", &next);
    EXPECT_TRUE(tasks.ok());
    for (const Task& t : *tasks) EXPECT_EQ(t.state(), Task::SUCCEEDED);
    return true;
  };
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submit(MakeSpec(SpecOptions()));
  EXPECT_EQ(RunToEnd("ev"), Evaluation::SUCCEEDED);
  EXPECT_EQ(calls, 1);
  std::vector<ocx::v1::Event> events = Events("ev");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), "SUCCEEDED");
  EXPECT_EQ(events.back().message(),
            "all tasks ended; summary written to summary/summary.{txt,csv,md}");
}

TEST_F(DispatcherTest, AFailedSummaryIsNotedAndNeverChangesTheOutcome) {
  summary_writer_ = [](const Evaluation&) -> absl::StatusOr<bool> {
    return absl::PermissionDeniedError("disk says no");
  };
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submit(MakeSpec(SpecOptions()));
  EXPECT_EQ(RunToEnd("ev"), Evaluation::SUCCEEDED);
  EXPECT_EQ(Events("ev").back().message(),
            "all tasks ended; summary not written: disk says no");
}

TEST_F(DispatcherTest, RecoveryEndsAnEvaluationWhoseTasksEndedBeforeACrash) {
  int calls = 0;
  summary_writer_ = [&](const Evaluation&) -> absl::StatusOr<bool> {
    ++calls;
    return false;  // no results: nothing to write, no note
  };
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  Submit(MakeSpec(SpecOptions()));
  EXPECT_EQ(RunToEnd("ev"), Evaluation::SUCCEEDED);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Events("ev").back().message(), "all tasks ended");
  // A crash after the tasks' ends were committed, before the evaluation's.
  StopDispatcher();
  {
    auto conn = store::Connection::Open(dir_.path() + "/ocx.db", false);
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE((*conn)
                    ->Exec(absl::StrCat(
                        "UPDATE evaluations SET state = ", Evaluation::RUNNING,
                        ", end_ms = 0 WHERE id = 'ev'"))
                    .ok());
  }
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(calls, 2);  // the summary is written again
  EXPECT_EQ(EvalState("ev"), Evaluation::SUCCEEDED);
  EXPECT_TRUE(runner_->launched().empty());
}

}  // namespace
}  // namespace ocx::server
