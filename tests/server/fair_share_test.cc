// Fair share through the real dispatcher: a real SQLite store, a real
// LocalRunner spawning ocx-shim, tasks that sleep. Evaluations carry owners
// set directly in the submission (distinct uids; the tasks still run as the
// test's user). Orders and overlaps are read back from the task rows' start
// and end times, which the dispatcher stamps when a task takes and gives
// back its slot.
#include "server/dispatcher/fair_share.h"

#include <errno.h>
#include <signal.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time_util.h"
#include "common/waker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/local/local_runner.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/store.h"
#include "tests/server/test_util.h"

namespace ocx::server {
namespace {

using ::ocx::server::testing::TempDir;
using ::ocx::v1::Evaluation;
using ::ocx::v1::Task;
using ::testing::HasSubstr;

Waker* g_waker = nullptr;
extern "C" void OnSigchld(int) {
  int saved = errno;
  if (g_waker != nullptr) g_waker->Notify();
  errno = saved;
}

const Account kAlice{990101, "ocxfair-alice"};
const Account kBob{990102, "ocxfair-bob"};

struct EvalOptions {
  int tasks = 1;
  int sleep_ms = 200;
  int priority = 0;
  int num_gpus = 0;
  int max_workers = 64;
};

EvalOptions Opts(int tasks, int sleep_ms = 200, int priority = 0,
                 int num_gpus = 0) {
  EvalOptions o;
  o.tasks = tasks;
  o.sleep_ms = sleep_ms;
  o.priority = priority;
  o.num_gpus = num_gpus;
  return o;
}

class FairShareDispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_waker = &waker_;
    struct sigaction sa = {};
    sa.sa_handler = OnSigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &old_);
    auto store = store::Store::Open(dir_.path() + "/ocx.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    if (dispatcher_ != nullptr) dispatcher_->Stop();
    dispatcher_.reset();
    sigaction(SIGCHLD, &old_, nullptr);
    g_waker = nullptr;
  }

  void Start(const ocx::v1::FairShareSettings& fair, int max_parallel,
             std::vector<int> gpus = {}) {
    runners::LocalRunner::Options o;
    o.shim_path = OCX_SHIM_PATH;
    o.max_parallel = max_parallel;
    o.gpus = std::move(gpus);
    auto runner = runners::LocalRunner::Create(o);
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(*runner);
    DispatcherOptions options;
    options.fair_share = fair;
    dispatcher_ = std::make_unique<Dispatcher>(store_.get(), runner_.get(),
                                               &waker_, options);
    ASSERT_TRUE(dispatcher_->Recover().ok());
    dispatcher_->Start();
  }

  // An evaluation of `o.tasks` READY infer tasks, each sleeping.
  std::string Submit(const std::string& id, const Account& owner,
                     const EvalOptions& o) {
    Submission sub;
    Evaluation& e = sub.evaluation;
    e.set_id(id);
    e.set_name(id);
    const std::string work_dir = dir_.path() + "/work/" + id;
    e.set_work_dir(work_dir);
    e.mutable_owner()->set_user(owner.user);
    e.mutable_owner()->set_uid(owner.uid);
    e.mutable_owner()->set_gid(owner.uid);
    ocx::v1::EvaluationSpec* spec = e.mutable_spec();
    spec->set_priority(o.priority);
    spec->add_models()->set_abbr("m");
    const std::string sleep = absl::StrCat("sleep ", o.sleep_ms / 1000.0);
    for (ocx::v1::StageConfig* stage :
         {spec->mutable_infer(), spec->mutable_eval()}) {
      ocx::v1::RunnerConfig* r = stage->mutable_runner();
      r->set_type("LocalRunner");
      r->set_max_num_workers(o.max_workers);
      r->set_max_workers_per_gpu(1);
    }
    for (int i = 0; i < o.tasks; ++i) {
      Task t;
      t.set_id(absl::StrCat(id, "-infer-", i));
      t.set_evaluation_id(id);
      t.set_stage(ocx::v1::STAGE_INFER);
      t.set_index(i);
      t.set_name(absl::StrCat("sleep[m/", i, "]"));
      t.set_state(Task::READY);
      t.set_model_abbr("m");
      t.set_num_gpus(o.num_gpus);
      t.set_max_attempts(1);
      ocx::v1::TaskParams* p = t.mutable_params();
      p->set_task_id(t.id());
      p->set_evaluation_id(id);
      p->set_work_dir(work_dir);
      p->set_stage(ocx::v1::STAGE_INFER);
      p->mutable_model()->set_abbr("m");
      p->mutable_task()->set_type("command");
      for (const char* a : {"/bin/sh", "-c"}) p->mutable_task()->add_argv(a);
      p->mutable_task()->add_argv(sleep);
      sub.tasks.push_back(std::move(t));
    }
    sub.create_work_dir = true;
    auto got = dispatcher_->Submit(std::move(sub));
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : "";
  }

  std::vector<Task> Tasks(const std::string& id) {
    std::string next;
    auto tasks =
        store_->ListTasks(id, Task::STATE_UNSPECIFIED,
                          ocx::v1::STAGE_UNSPECIFIED, 10000, "", &next);
    EXPECT_TRUE(tasks.ok()) << tasks.status();
    return tasks.ok() ? *tasks : std::vector<Task>();
  }

  bool WaitEnded(const std::string& id, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      auto e = store_->GetEvaluation(id);
      if (e.ok() && (e->state() == Evaluation::SUCCEEDED ||
                     e->state() == Evaluation::FAILED ||
                     e->state() == Evaluation::CANCELLED)) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  TempDir dir_;
  Waker waker_;
  struct sigaction old_ = {};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runners::LocalRunner> runner_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

int64_t StartMs(const Task& t) { return TimestampMillis(t.start_time()); }
int64_t EndMs(const Task& t) { return TimestampMillis(t.end_time()); }

// Start times of the tasks that started, in order.
std::vector<int64_t> Starts(const std::vector<Task>& tasks) {
  std::vector<int64_t> out;
  for (const Task& t : tasks) {
    if (StartMs(t) > 0) out.push_back(StartMs(t));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The most tasks whose [start, end) intervals overlap at one instant,
// weighing each by `weight(task)`.
template <typename Weight>
int MaxOverlap(const std::vector<Task>& tasks, Weight weight) {
  std::vector<std::pair<int64_t, int>> edges;
  for (const Task& t : tasks) {
    if (StartMs(t) == 0) continue;
    edges.emplace_back(StartMs(t), weight(t));
    // A task without an end still runs.
    edges.emplace_back(EndMs(t) > 0 ? EndMs(t) : INT64_MAX, -weight(t));
  }
  // At equal times ends come first: the slot was handed over in one turn.
  std::sort(edges.begin(), edges.end());
  int now = 0, most = 0;
  for (const auto& [when, d] : edges) {
    now += d;
    most = std::max(most, now);
  }
  return most;
}

TEST_F(FairShareDispatchTest, ASmallUserIsNotStarvedByABigBacklog) {
  ASSERT_NO_FATAL_FAILURE(Start({}, /*max_parallel=*/2));
  const std::string a = Submit("efaira", kAlice, Opts(40));
  ASSERT_FALSE(a.empty());
  // Bob comes when Alice already holds both slots and 38 tasks wait.
  absl::SleepFor(absl::Milliseconds(50));
  const std::string b = Submit("efairb", kBob, Opts(4));
  ASSERT_TRUE(WaitEnded(b, absl::Seconds(30)));
  ASSERT_TRUE(dispatcher_->Cancel(a).ok());
  ASSERT_TRUE(WaitEnded(a, absl::Seconds(30)));

  std::vector<int64_t> alice = Starts(Tasks(a));
  std::vector<int64_t> bob = Starts(Tasks(b));
  ASSERT_EQ(bob.size(), 4u);
  // Bob's tasks alternate with Alice's: each of his starts is at most two
  // of hers after the previous one (strict FIFO would run her 40 first).
  int alice_before_bobs_last = std::count_if(
      alice.begin(), alice.end(), [&](int64_t s) { return s < bob.back(); });
  EXPECT_LE(alice_before_bobs_last, 2 + 4 + 1)
      << "Alice started " << alice_before_bobs_last
      << " tasks before Bob's last one";
  EXPECT_GE(alice.size(), 4u) << "Alice kept running while Bob ran";
  // Both slots stayed in use: Bob held at most one while Alice waited.
  auto one = [](const Task&) { return 1; };
  EXPECT_LE(MaxOverlap(Tasks(b), one), 2);
}

TEST_F(FairShareDispatchTest, PerUserRunningTaskLimitHolds) {
  ocx::v1::FairShareSettings fair;
  fair.set_user_max_running_tasks(2);
  (*fair.mutable_users())[kBob.user].set_max_running_tasks(1);
  ASSERT_NO_FATAL_FAILURE(Start(fair, /*max_parallel=*/8));
  const std::string a = Submit("efairlima", kAlice, Opts(8));
  const std::string b = Submit("efairlimb", kBob, Opts(3));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  // While they run, the waiting tasks say why.
  bool saw_alice = false, saw_bob = false;
  for (int i = 0; i < 200 && !(saw_alice && saw_bob); ++i) {
    saw_alice |= dispatcher_->PendingReason(a, ocx::v1::STAGE_INFER) ==
                 "waiting: user quota (ocxfair-alice runs 2 of 2 tasks)";
    saw_bob |= dispatcher_->PendingReason(b, ocx::v1::STAGE_INFER) ==
               "waiting: user quota (ocxfair-bob runs 1 of 1 task)";
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(saw_alice) << dispatcher_->PendingReason(a, ocx::v1::STAGE_INFER);
  EXPECT_TRUE(saw_bob) << dispatcher_->PendingReason(b, ocx::v1::STAGE_INFER);
  ASSERT_TRUE(WaitEnded(a, absl::Seconds(30)));
  ASSERT_TRUE(WaitEnded(b, absl::Seconds(30)));
  auto one = [](const Task&) { return 1; };
  EXPECT_EQ(MaxOverlap(Tasks(a), one), 2);
  EXPECT_EQ(MaxOverlap(Tasks(b), one), 1);
  EXPECT_EQ(Starts(Tasks(a)).size(), 8u);
  EXPECT_EQ(Starts(Tasks(b)).size(), 3u);
}

TEST_F(FairShareDispatchTest, PerUserGpuLimitHoldsAndATooBigTaskFails) {
  ocx::v1::FairShareSettings fair;
  fair.set_user_max_gpus(2);
  ASSERT_NO_FATAL_FAILURE(Start(fair, /*max_parallel=*/0, {0, 1, 2, 3}));
  // The too-big task first: a user's tasks are tried in order, so behind
  // the others it would fail only once they all started.
  const std::string big = Submit("efairbig", kAlice, Opts(1, 200, 0, 3));
  const std::string a = Submit("efairgpu", kAlice, Opts(6, 200, 0, 1));
  ASSERT_TRUE(WaitEnded(big, absl::Seconds(30)));
  std::vector<Task> failed = Tasks(big);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].state(), Task::FAILED);
  EXPECT_THAT(failed[0].reason(),
              HasSubstr("needs 3 GPUs but ocxfair-alice may hold at most 2"));
  bool saw = false;
  std::set<std::string> reasons;
  for (int i = 0; i < 200 && !saw; ++i) {
    reasons.insert(dispatcher_->PendingReason(a, ocx::v1::STAGE_INFER));
    saw = reasons.count(
              "waiting: user GPU quota (ocxfair-alice holds 2 of 2 GPUs, "
              "needs 1)") > 0;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(saw) << absl::StrJoin(reasons, " | ");
  ASSERT_TRUE(WaitEnded(a, absl::Seconds(30)));
  auto gpus = [](const Task& t) { return t.num_gpus(); };
  EXPECT_EQ(MaxOverlap(Tasks(a), gpus), 2);
  EXPECT_EQ(Starts(Tasks(a)).size(), 6u);
}

TEST_F(FairShareDispatchTest, PriorityOrdersOneUsersEvaluations) {
  ASSERT_NO_FATAL_FAILURE(Start({}, /*max_parallel=*/1));
  // Holds the one slot while the others queue up.
  const std::string blocker = Submit("efairblk", kAlice, Opts(1, 500));
  absl::SleepFor(absl::Milliseconds(50));
  const std::string low = Submit("efairlow", kAlice, Opts(2, 50, -5));
  const std::string mid = Submit("efairmid", kAlice, Opts(2, 50));
  const std::string high = Submit("efairhigh", kAlice, Opts(2, 50, 5));
  // While the blocker runs, the highest queue waits for the slot and the
  // others for it.
  const std::string full =
      "waiting: all 1 local slots are taken (max_parallel)";
  const std::string behind =
      "waiting: priority (ocxfair-alice's higher-priority evaluations first)";
  bool saw = false;
  for (int i = 0; i < 40 && !saw; ++i) {
    saw = dispatcher_->PendingReason(high, ocx::v1::STAGE_INFER) == full &&
          dispatcher_->PendingReason(mid, ocx::v1::STAGE_INFER) == behind &&
          dispatcher_->PendingReason(low, ocx::v1::STAGE_INFER) == behind;
    if (!saw) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(saw) << dispatcher_->PendingReason(high, ocx::v1::STAGE_INFER)
                   << " | "
                   << dispatcher_->PendingReason(mid, ocx::v1::STAGE_INFER);
  for (const std::string& id : {blocker, low, mid, high}) {
    ASSERT_TRUE(WaitEnded(id, absl::Seconds(30))) << id;
  }
  std::vector<int64_t> h = Starts(Tasks(high)), m = Starts(Tasks(mid)),
                       l = Starts(Tasks(low));
  ASSERT_EQ(h.size(), 2u);
  ASSERT_EQ(m.size(), 2u);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_LT(h.back(), m.front());
  EXPECT_LT(m.back(), l.front());
}

}  // namespace
}  // namespace ocx::server

namespace ocx::server {
namespace {

// A model that cannot start (its endpoint down, no replica ready) is
// skipped as one queue: the walk goes from its first task straight to the
// next model's, however the two models' tasks interleave by index, and
// never visits the rest of the skipped model's tasks.
TEST(FairShareQueuesTest, OneQueuePerModelAndSkipQueueSkipsOnlyThatModel) {
  FairShare fair;
  const Account alice{990201, "ocxfair-queues"};
  // Model 0 holds even indexes, model 1 odd ones (a dataset-major plan).
  for (int i = 0; i < 1000; ++i) {
    fair.Add(alice, QueueKey{0, 7, ocx::v1::STAGE_INFER, i % 2}, "ev", i,
             absl::StrCat("ev-infer-", i));
  }
  EXPECT_EQ(fair.ready_tasks(), 1000u);
  int queues = 0;
  fair.ForEachUser([&](const Account&, const UserQueues& q) {
    queues += static_cast<int>(q.size());
  });
  EXPECT_EQ(queues, 2);

  FairShare::Turn walk = fair.StartTurn();
  std::vector<std::pair<int, int>> visited;  // (model, index)
  while (auto c = walk.Next()) {
    visited.emplace_back(c->key->model, c->index);
    if (c->key->model == 0) {
      walk.SkipQueue();  // model 0 waits
    } else if (visited.size() < 4) {
      walk.Started();
    } else {
      walk.SkipUser();
    }
  }
  // Model 0's first task, then model 1's in order until the user stops.
  EXPECT_EQ(visited,
            (std::vector<std::pair<int, int>>{{0, 0}, {1, 1}, {1, 3}, {1, 5}}));
  EXPECT_EQ(fair.ready_tasks(), 998u);

  fair.RemoveEvaluation(alice.uid, 0, 7);
  EXPECT_EQ(fair.ready_tasks(), 0u);
}

}  // namespace
}  // namespace ocx::server
