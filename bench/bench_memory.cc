// bench_memory: ocxd's memory with a large history.
//
// Target (issue): daemon memory stays under 100 MB with 100,000 finished
// tasks in the database (checked on VmHWM, the peak resident set).
//
// A database is filled through store::Store as the dispatcher would have
// left it: 20 SUCCEEDED evaluations x 5,000 tasks (100 models x 25
// datasets, planned by the real planner), each task SUCCEEDED with its
// attempt row and its events (READY for eval tasks, RUNNING, SUCCEEDED),
// plus the evaluation's own events. A real ocxd is started on it and
// exercised: ListEvaluations (all pages), GetEvaluation of each, ListTasks
// across every evaluation (default pages) and across one evaluation in one
// 5,000-task page, GetTask of some tasks, WatchEvaluation of one (replays
// its ~12,500 events). VmRSS and VmHWM are read from /proc/<pid>/status.
// Baseline: the same ocxd on an empty database, same exercise.
//
// Usage: bench_memory [--evaluations E] [--models M] [--datasets D]
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "common/time_util.h"
#include "ocx/v1/service.grpc.pb.h"
#include "server/dispatcher/task_command.h"
#include "server/store/store.h"
#include "server/submission.h"
#include "tests/e2e/ocxd_process.h"

namespace {

using ocx::bench::Fmt;
using ocx::v1::Attempt;
using ocx::v1::Evaluation;
using ocx::v1::Task;

struct Args {
  int evaluations = 20;
  int models = 100;
  int datasets = 25;
};

absl::Status AddEvent(ocx::store::Store* store, int64_t ms,
                      const std::string& eval_id, const std::string& task_id,
                      int attempt, const std::string& state,
                      const std::string& message) {
  ocx::v1::Event event;
  ocx::SetTimestamp(ms, event.mutable_time());
  event.set_evaluation_id(eval_id);
  event.set_task_id(task_id);
  event.set_attempt(attempt);
  event.set_state(state);
  event.set_message(message);
  return store->AppendEvent(event).status();
}

// Writes one finished evaluation the way the dispatcher leaves it.
absl::Status WriteEvaluation(ocx::store::Store* store,
                             ocx::server::Submission sub, int64_t t0) {
  Evaluation& e = sub.evaluation;
  const std::string id = e.id();
  const int n = static_cast<int>(sub.task_rows.size());
  e.set_state(Evaluation::QUEUED);
  e.set_task_count(n);
  ocx::SetTimestamp(t0, e.mutable_create_time());
  ocx::SetTimestamp(t0, e.mutable_update_time());
  if (absl::Status s = store->Begin(); !s.ok()) return s;
  auto body = [&]() -> absl::Status {
    absl::StatusOr<int64_t> seq = store->InsertEvaluation(e);
    if (!seq.ok()) return seq.status();
    absl::Status s =
        AddEvent(store, t0, id, "", 0, "QUEUED",
                 absl::StrCat("evaluation created with ", n, " tasks"));
    if (s.ok()) s = AddEvent(store, t0 + 1, id, "", 0, "RUNNING", "");
    int64_t t = t0 + 1;
    int pid = 100000;
    for (Task task : sub.task_rows) {
      if (!s.ok()) return s;
      const int64_t start = t, end = t + 1500;
      t += 20;
      ocx::SetTimestamp(t0, task.mutable_create_time());
      if (task.state() == Task::PENDING) {
        s = AddEvent(store, start, id, task.id(), 0, "READY",
                     "dependencies succeeded");
        if (!s.ok()) return s;
      }
      task.set_state(Task::SUCCEEDED);
      task.set_attempt_count(1);
      ocx::SetTimestamp(start, task.mutable_start_time());
      ocx::SetTimestamp(end, task.mutable_end_time());
      task.set_reason("attempt 1 succeeded");
      s = store->InsertTask(task);
      if (!s.ok()) return s;

      ocx::server::TaskPaths paths = ocx::server::PathsFor(task.params(), 1);
      ocx::store::AttemptRecord rec;
      rec.attempt_dir = paths.attempt_dir;
      Attempt& a = rec.attempt;
      a.set_task_id(task.id());
      a.set_number(1);
      a.set_state(Attempt::SUCCEEDED);
      a.set_name(absl::StrCat("ocx-", task.id(), "-1"));
      a.set_backend("local");
      a.set_backend_id(absl::StrCat(++pid));
      ocx::SetTimestamp(start, a.mutable_start_time());
      ocx::SetTimestamp(end, a.mutable_end_time());
      a.set_exit_code(0);
      a.set_reason("exit code 0");
      a.set_log_path(paths.log_path);
      s = store->PutAttempt(rec);
      if (s.ok()) {
        s = AddEvent(store, start, id, task.id(), 1, "RUNNING",
                     absl::StrCat("attempt 1 running as local ", pid));
      }
      if (s.ok()) {
        s = AddEvent(store, end, id, task.id(), 1, "SUCCEEDED",
                     "attempt 1 succeeded");
      }
    }
    if (!s.ok()) return s;
    s = store->UpdateEvaluationState(id, Evaluation::SUCCEEDED, t + 1500,
                                     t + 1500);
    if (s.ok()) {
      s = AddEvent(store, t + 1500, id, "", 0, "SUCCEEDED", "all tasks ended");
    }
    return s;
  };
  absl::Status s = body();
  if (!s.ok()) {
    store->Rollback();
    return s;
  }
  return store->Commit();
}

// Fills `db_path` with finished evaluations; returns their ids.
absl::StatusOr<std::vector<std::string>> Populate(const std::string& db_path,
                                                  const std::string& work_root,
                                                  const Args& args,
                                                  int64_t* task_count) {
  absl::StatusOr<std::unique_ptr<ocx::store::Store>> store =
      ocx::store::Store::Open(db_path);
  if (!store.ok()) return store.status();
  ocx::v1::EvaluationSpec spec =
      ocx::testing::TestSpec(args.models, args.datasets, {});
  ocx::server::SubmissionPolicy policy;
  policy.work_root = work_root;
  std::vector<std::string> ids;
  *task_count = 0;
  int64_t t0 = ocx::NowMillis() - 86400000LL;
  for (int i = 0; i < args.evaluations; ++i) {
    std::string id = absl::StrFormat("emem%05d", i);
    absl::StatusOr<ocx::server::Submission> sub =
        ocx::server::PrepareSubmission(spec, absl::StrCat("history-", i), "",
                                       id, policy,
                                       /*create_dirs=*/false);
    if (!sub.ok()) return sub.status();
    *task_count += static_cast<int64_t>(sub->task_rows.size());
    absl::Status s =
        WriteEvaluation(store->get(), *std::move(sub), t0 + i * 3600000LL);
    if (!s.ok()) return s;
    ids.push_back(id);
  }
  return ids;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(60));
  return ctx;
}

bool Failed(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return false;
  fprintf(stderr, "%s: %s\n", what.c_str(), s.error_message().c_str());
  return true;
}

// The read workload; false on an RPC error. Counts what it read.
bool Exercise(ocx::v1::EvaluationService::Stub* stub, int64_t* tasks_read,
              int64_t* events_read) {
  *tasks_read = 0;
  *events_read = 0;
  std::vector<std::string> ids;
  std::string token;
  do {
    ocx::v1::ListEvaluationsRequest req;
    req.set_page_size(5);
    req.set_page_token(token);
    ocx::v1::ListEvaluationsResponse resp;
    if (Failed(stub->ListEvaluations(Context().get(), req, &resp),
               "ListEvaluations")) {
      return false;
    }
    for (const Evaluation& e : resp.evaluations()) ids.push_back(e.id());
    token = resp.next_page_token();
  } while (!token.empty());

  for (const std::string& id : ids) {
    ocx::v1::GetEvaluationRequest req;
    req.set_id(id);
    Evaluation e;
    if (Failed(stub->GetEvaluation(Context().get(), req, &e),
               "GetEvaluation")) {
      return false;
    }
  }
  // Every evaluation in default-size pages, the first one in one page.
  for (size_t i = 0; i <= ids.size() && !ids.empty(); ++i) {
    const std::string& id = i < ids.size() ? ids[i] : ids[0];
    std::string page;
    do {
      ocx::v1::ListTasksRequest req;
      req.set_evaluation_id(id);
      req.set_page_token(page);
      if (i == ids.size()) req.set_page_size(10000);
      ocx::v1::ListTasksResponse resp;
      if (Failed(stub->ListTasks(Context().get(), req, &resp), "ListTasks")) {
        return false;
      }
      *tasks_read += resp.tasks_size();
      if (resp.tasks_size() > 0 && i == 0 && page.empty()) {
        for (int k = 0; k < resp.tasks_size(); k += 50) {
          ocx::v1::GetTaskRequest get;
          get.set_id(resp.tasks(k).id());
          Task t;
          if (Failed(stub->GetTask(Context().get(), get, &t), "GetTask")) {
            return false;
          }
        }
      }
      page = resp.next_page_token();
    } while (!page.empty());
  }
  if (!ids.empty()) {
    ocx::v1::WatchEvaluationRequest req;
    req.set_id(ids[0]);
    auto ctx = Context();
    auto reader = stub->WatchEvaluation(ctx.get(), req);
    ocx::v1::WatchEvaluationResponse resp;
    while (reader->Read(&resp)) *events_read += resp.events_size();
    if (Failed(reader->Finish(), "WatchEvaluation")) return false;
  }
  return true;
}

struct Memory {
  int64_t rss_start_kb = -1;
  int64_t rss_kb = -1;
  int64_t hwm_kb = -1;
  int64_t anon_kb = -1;
  int64_t file_kb = -1;
  double exercise_s = 0;
  double stop_s = 0;  // SIGTERM until the daemon exited
  int64_t tasks_read = 0;
  int64_t events_read = 0;
};

bool Measure(const std::string& dir, Memory* m) {
  ocx::testing::OcxdProcess ocxd(dir);
  if (absl::Status s = ocxd.Start(); !s.ok()) {
    fprintf(stderr, "ocxd: %s\n", s.ToString().c_str());
    return false;
  }
  m->rss_start_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS");
  double start = ocx::bench::Now();
  if (!Exercise(ocxd.stub(), &m->tasks_read, &m->events_read)) return false;
  m->exercise_s = ocx::bench::Now() - start;
  m->rss_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS");
  m->hwm_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "VmHWM");
  m->anon_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "RssAnon");
  m->file_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "RssFile");
  double stop_start = ocx::bench::Now();
  ocxd.Stop(SIGTERM);
  m->stop_s = ocx::bench::Now() - stop_start;
  return m->hwm_kb > 0;
}

double Mb(int64_t kb) { return kb * 1024.0 / 1e6; }

void Print(const char* what, const Memory& m) {
  printf(
      "%-22s start RSS %6.1f MB | after exercise: RSS %6.1f MB (anon %.1f, "
      "file %.1f), HWM %6.1f MB | %lld tasks + %lld events read in %.2f s; "
      "stopped in %.2f s\n",
      what, Mb(m.rss_start_kb), Mb(m.rss_kb), Mb(m.anon_kb), Mb(m.file_kb),
      Mb(m.hwm_kb), static_cast<long long>(m.tasks_read),
      static_cast<long long>(m.events_read), m.exercise_s, m.stop_s);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 < argc && a == "--evaluations") {
      args.evaluations = atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--models") {
      args.models = atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--datasets") {
      args.datasets = atoi(argv[++i]);
    } else {
      fprintf(stderr,
              "usage: %s [--evaluations E] [--models M] [--datasets D]\n",
              argv[0]);
      return 2;
    }
  }
  printf("bench_memory: %d finished evaluations x %d tasks\n", args.evaluations,
         2 * args.models * args.datasets);

  Memory empty;
  {
    ocx::testing::TempDir dir;
    if (!Measure(dir.path(), &empty)) return 1;
  }
  Print("empty database:", empty);

  ocx::testing::TempDir dir;
  std::string db = dir.path() + "/ocx.db";
  double start = ocx::bench::Now();
  int64_t tasks = 0;
  absl::StatusOr<std::vector<std::string>> ids =
      Populate(db, dir.path() + "/work", args, &tasks);
  if (!ids.ok()) {
    fprintf(stderr, "populate: %s\n", ids.status().ToString().c_str());
    return 1;
  }
  printf(
      "populated %lld finished tasks in %zu evaluations in %.1f s; "
      "database %.1f MB\n",
      static_cast<long long>(tasks), ids->size(), ocx::bench::Now() - start,
      ocx::bench::FileSize(db) / 1e6);

  Memory full;
  if (!Measure(dir.path(), &full)) return 1;
  Print("with history:", full);

  double ratio = static_cast<double>(full.hwm_kb) / empty.hwm_kb;
  printf(
      "\nVmHWM with %lld tasks: %.1f MB (target < 100 MB); empty: %.1f MB; "
      "ratio %.2f\n",
      static_cast<long long>(tasks), Mb(full.hwm_kb), Mb(empty.hwm_kb), ratio);
  ocx::bench::PrintResult({
      {"bench", "memory"},
      {"tasks", absl::StrCat(tasks)},
      {"hwm_mb", Fmt(Mb(full.hwm_kb), 1)},
      {"rss_mb", Fmt(Mb(full.rss_kb), 1)},
      {"rss_start_mb", Fmt(Mb(full.rss_start_kb), 1)},
      {"empty_hwm_mb", Fmt(Mb(empty.hwm_kb), 1)},
      {"empty_rss_mb", Fmt(Mb(empty.rss_kb), 1)},
      {"ratio_hwm_vs_empty", Fmt(ratio, 2)},
      {"db_mb", Fmt(ocx::bench::FileSize(db) / 1e6, 1)},
  });
  return 0;
}
