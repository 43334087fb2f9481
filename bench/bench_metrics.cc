// bench_metrics: a /metrics scrape with a million tasks stored.
//
// Target (issue 14): /metrics renders in < 50 ms with 1M tasks stored.
//
// A database is filled through store::Store: 100 SUCCEEDED evaluations of
// 10,000 tasks each (infer and eval, mostly SUCCEEDED, some FAILED and
// CANCELLED), small rows as the dispatcher writes them (params by
// reference). A real ocxd with --http-listen is started on it, and scraped
// repeatedly. Baselines measured in the same run:
//   - /healthz on the same listener: what any HTTP answer costs;
//   - GetEvaluation (gRPC) of one 10,000-task evaluation;
//   - the GROUP BY over the tasks table that each scrape ran before the
//     counts were kept (server/store/task_counts.h), on its own connection.
// Prints the p50 of each, the ratio metrics / healthz, and ocxd's start-up
// time (it seeds the counts with that GROUP BY once).
//
// Usage: bench_metrics [--tasks N] [--scrapes S]
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "common/time_util.h"
#include "ocx/v1/service.grpc.pb.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"
#include "tests/e2e/ocxd_process.h"

namespace {

using ocx::bench::Fmt;
using ocx::v1::Evaluation;
using ocx::v1::Task;

constexpr int kTasksPerEvaluation = 10000;

// One finished evaluation of `n` tasks, in one transaction.
absl::Status WriteEvaluation(ocx::store::Store* store, int index, int n,
                             const std::string& work_root) {
  const int64_t t0 = ocx::NowMillis();
  Evaluation e;
  e.set_id(absl::StrCat("bench", index));
  e.set_name(e.id());
  e.set_state(Evaluation::SUCCEEDED);
  e.set_work_dir(absl::StrCat(work_root, "/", e.id()));
  e.set_task_count(n);
  ocx::SetTimestamp(t0, e.mutable_create_time());
  ocx::SetTimestamp(t0, e.mutable_update_time());
  ocx::SetTimestamp(t0, e.mutable_end_time());
  if (absl::Status s = store->Begin(); !s.ok()) return s;
  absl::Status s = store->InsertEvaluation(e).status();
  for (int i = 0; s.ok() && i < n; ++i) {
    const bool infer = i < n / 2;
    Task t;
    t.set_evaluation_id(e.id());
    t.set_stage(infer ? ocx::v1::STAGE_INFER : ocx::v1::STAGE_EVAL);
    t.set_index(infer ? i : i - n / 2);
    t.set_id(absl::StrCat(e.id(), infer ? "-infer-" : "-eval-", t.index()));
    t.set_name(absl::StrCat("OpenICL[m", t.index() % 100, "/ds",
                            t.index() / 100, "]"));
    t.set_state(i % 97 == 0   ? Task::FAILED
                : i % 89 == 0 ? Task::CANCELLED
                              : Task::SUCCEEDED);
    t.set_model_abbr(absl::StrCat("m", t.index() % 100));
    t.add_dataset_abbrs(absl::StrCat("ds", t.index() / 100));
    t.set_max_attempts(3);
    t.set_attempt_count(1);
    ocx::SetTimestamp(t0, t.mutable_create_time());
    ocx::SetTimestamp(t0, t.mutable_end_time());
    ocx::v1::TaskParams* p = t.mutable_params();
    p->set_evaluation_id(e.id());
    p->set_task_id(t.id());
    p->set_stage(t.stage());
    p->set_work_dir(e.work_dir());
    s = store->InsertTask(t);
  }
  if (!s.ok()) {
    store->Rollback();
    return s;
  }
  return store->Commit();
}

// Milliseconds of `call`, `n` times.
template <typename Call>
std::vector<double> TimeEach(int n, Call call) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const double begin = ocx::bench::Now();
    if (!call()) return {};
    ms.push_back((ocx::bench::Now() - begin) * 1000);
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  int tasks = 1000000;
  int scrapes = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tasks") tasks = std::atoi(argv[i + 1]);
    if (flag == "--scrapes") scrapes = std::atoi(argv[i + 1]);
  }
  ocx::bench::BenchDir dir;
  ocx::testing::OcxdProcess daemon(dir.path(),
                                   {"--http-listen", "127.0.0.1:0"});
  {
    auto store = ocx::store::Store::Open(daemon.database());
    if (!store.ok()) {
      fprintf(stderr, "bench_metrics: %s\n", store.status().ToString().c_str());
      return 1;
    }
    const double begin = ocx::bench::Now();
    for (int done = 0, e = 0; done < tasks; done += kTasksPerEvaluation, ++e) {
      const int n = std::min(kTasksPerEvaluation, tasks - done);
      absl::Status s = WriteEvaluation(store->get(), e, n, daemon.work_root());
      if (!s.ok()) {
        fprintf(stderr, "bench_metrics: %s\n", s.ToString().c_str());
        return 1;
      }
    }
    printf("stored %d tasks in %s s\n", tasks,
           Fmt(ocx::bench::Now() - begin, 1).c_str());
  }
  const double start = ocx::bench::Now();
  if (absl::Status s = daemon.Start(); !s.ok()) {
    fprintf(stderr, "bench_metrics: %s\n%s\n", s.ToString().c_str(),
            daemon.log().c_str());
    return 1;
  }
  const double start_s = ocx::bench::Now() - start;
  const std::string url = ocx::testing::MetricsUrl(daemon.log());
  const std::string prefix = "http://";
  const std::string host_port =
      url.substr(prefix.size(), url.find('/', prefix.size()) - prefix.size());
  httplib::Client http("http://" + host_port);
  std::string body;
  auto get = [&](const char* path) {
    httplib::Result r = http.Get(path);
    if (!r || r->status != 200) return false;
    body = r->body;
    return true;
  };
  get("/metrics");  // warm: first scrape registers the families
  std::vector<double> metrics_ms =
      TimeEach(scrapes, [&] { return get("/metrics"); });
  std::vector<double> healthz_ms =
      TimeEach(scrapes, [&] { return get("/healthz"); });
  std::vector<double> grpc_ms = TimeEach(scrapes, [&] {
    ocx::v1::GetEvaluationRequest req;
    req.set_id("bench0");
    ocx::v1::Evaluation e;
    grpc::ClientContext ctx;
    return daemon.stub()->GetEvaluation(&ctx, req, &e).ok();
  });
  auto conn = ocx::store::Connection::Open(daemon.database(), true);
  std::vector<double> group_ms;
  if (conn.ok()) {
    group_ms = TimeEach(3, [&] {
      auto stmt = (*conn)->Prepare(
          "SELECT stage, state, count(*) FROM tasks GROUP BY 1, 2");
      if (!stmt.ok()) return false;
      while (true) {
        auto row = (*stmt)->Step();
        if (!row.ok()) return false;
        if (!*row) return true;
      }
    });
  }
  get("/metrics");
  const bool counted =
      body.find("ocx_tasks{stage=\"infer\",state=\"succeeded\"}") !=
      std::string::npos;
  if (metrics_ms.empty() || healthz_ms.empty() || grpc_ms.empty() ||
      group_ms.empty() || !counted) {
    fprintf(stderr, "bench_metrics: a call failed\n%s\n", daemon.log().c_str());
    return 1;
  }
  const double m = ocx::bench::Median(metrics_ms);
  const double h = ocx::bench::Median(healthz_ms);
  const double g = ocx::bench::Median(grpc_ms);
  const double old = ocx::bench::Median(group_ms);
  printf("ocxd start with %d tasks: %s s\n", tasks, Fmt(start_s, 2).c_str());
  printf(
      "/metrics p50 %s ms (p95 %s), /healthz p50 %s ms, GetEvaluation p50 "
      "%s ms, the old per-scrape GROUP BY %s ms\n",
      Fmt(m, 2).c_str(), Fmt(ocx::bench::Percentile(metrics_ms, 95), 2).c_str(),
      Fmt(h, 2).c_str(), Fmt(g, 2).c_str(), Fmt(old, 1).c_str());
  printf("target: /metrics < 50 ms with %d tasks: %s\n", tasks,
         m < 50 ? "met" : "MISSED");
  ocx::bench::PrintResult({{"tasks", absl::StrCat(tasks)},
                           {"metrics_ms", Fmt(m, 2)},
                           {"healthz_ms", Fmt(h, 2)},
                           {"get_evaluation_ms", Fmt(g, 2)},
                           {"group_by_ms", Fmt(old, 1)},
                           {"metrics_vs_healthz", Fmt(m / h, 2)},
                           {"start_s", Fmt(start_s, 2)}});
  daemon.Stop(SIGTERM);
  return 0;
}
