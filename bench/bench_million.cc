// bench_million: a million queued tasks in one real ocxd.
//
// Targets (issue 15): create a 1,000,000-task evaluation in < 10 s; ocxd
// VmHWM < 300 MB with them queued and < 100 MB after they finished;
// GetEvaluation p50 of it <= 2x a bare gRPC health check p50 in the same
// run; `ocxctl status` of it < 50 ms.
//
// A real ocxd (tests/e2e/ocxd_process.h) with --max-parallel 1; a small
// evaluation created first holds the only slot (`sleep 3600`), so the big
// one (500 models x 1,000 datasets, NaivePartitioner: 500,000 infer and
// 500,000 eval tasks) stays queued. Measured: the big CreateEvaluation
// (one call), ocxd's VmHWM and VmRSS with it queued, GetEvaluation (basic
// view, as `ocxctl status` asks, and full view) against grpc.health.v1
// Check (p50 and p95 of interleaved calls), `ocxctl status` against
// `ocxctl --help` (client start-up; medians). Then everything is cancelled (the
// tasks finish CANCELLED; the big evaluation first, alone: cancel_big_s is
// its bulk cancel), ocxd is restarted on the same database and read again:
// VmHWM of the restarted daemon, and VmRSS of the first one after the
// cancel. The load average at the start and the end goes with the numbers.
//
// Usage: bench_million [--models M] [--datasets D] [--gets N] [--create-only]
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/daemon_bench.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "ocx/v1/service.grpc.pb.h"
#include "tests/e2e/ocxd_process.h"

namespace {

using ocx::bench::Context;
using ocx::bench::Fmt;
using ocx::bench::Now;
using ocx::bench::Sample;
using ocx::bench::TimedGet;
using ocx::bench::TimedOcxctl;

struct Args {
  int models = 500;
  int datasets = 1000;
  int gets = 300;
  // Only the create: then the small evaluation is cancelled and ocxd
  // stopped with the big one still queued (for iterating on creates).
  bool create_only = false;
};

double Mb(int64_t kb) { return kb * 1024.0 / 1e6; }

// The 1-minute load average: absolute times on a shared machine mean
// little without it.
std::string LoadAverage() {
  FILE* f = fopen("/proc/loadavg", "r");
  double load = -1;
  if (f != nullptr) {
    if (fscanf(f, "%lf", &load) != 1) load = -1;
    fclose(f);
  }
  return Fmt(load, 2);
}

double TimedHealth(grpc::health::v1::Health::Stub* health) {
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  auto ctx = Context(30);
  double start = Now();
  grpc::Status s = health->Check(ctx.get(), req, &resp);
  double elapsed = Now() - start;
  if (!s.ok()) {
    fprintf(stderr, "health check: %s\n", s.error_message().c_str());
    return -1;
  }
  return elapsed;
}

// Reads of the big evaluation against health checks, interleaved.
struct Reads {
  Sample health, get_basic, get_full, status, version;
};

bool MeasureReads(ocx::testing::OcxdProcess& ocxd, const std::string& id,
                  const std::string& out_path, int gets, Reads* r) {
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(ocxd.server(), grpc::InsecureChannelCredentials()));
  auto* stub = ocxd.stub();
  TimedHealth(health.get());  // warm-up: connect
  TimedGet(stub, id, true);
  for (int i = 0; i < gets; ++i) {
    r->health.Add(TimedHealth(health.get()));
    r->get_basic.Add(TimedGet(stub, id, true));
    if (i % 10 == 0) r->get_full.Add(TimedGet(stub, id, false));
  }
  for (int i = 0; i < 5; ++i) {
    r->status.Add(TimedOcxctl(ocxd, out_path, {"status", id}));
    r->version.Add(TimedOcxctl(ocxd, out_path, {"--help"}));
  }
  return r->health.ok && r->get_basic.ok && r->get_full.ok && r->status.ok &&
         r->version.ok;
}

void PrintReads(const char* when, const Reads& r) {
  printf(
      "%s: health check p50 %.3f ms (p95 %.3f); GetEvaluation basic p50 "
      "%.3f ms (p95 %.3f), ratio %.2f; full view p50 %.3f ms; ocxctl status "
      "%.1f ms, ocxctl --help %.1f ms\n",
      when, r.health.MedianMs(), r.health.P95Ms(), r.get_basic.MedianMs(),
      r.get_basic.P95Ms(), r.get_basic.MedianMs() / r.health.MedianMs(),
      r.get_full.MedianMs(), r.status.MedianMs(), r.version.MedianMs());
}

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--create-only") {
      args->create_only = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    if (a == "--models") {
      args->models = atoi(argv[++i]);
    } else if (a == "--datasets") {
      args->datasets = atoi(argv[++i]);
    } else if (a == "--gets") {
      args->gets = atoi(argv[++i]);
    } else {
      return false;
    }
  }
  return args->models > 0 && args->datasets > 0 && args->gets > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    fprintf(stderr,
            "usage: %s [--models M] [--datasets D] [--gets N] "
            "[--create-only]\n",
            argv[0]);
    return 2;
  }
  const int64_t tasks = 2LL * args.models * args.datasets;
  const std::string load_start = LoadAverage();
  printf("bench_million: %d models x %d datasets = %lld tasks\n", args.models,
         args.datasets, static_cast<long long>(tasks));
  ocx::testing::TempDir dir;
  const std::string out_path = dir.path() + "/ocxctl.out";
  ocx::v1::Evaluation small, big;
  double create_s = 0, cancel_s = 0, cancel_big_s = 0, create_load = 0;
  int64_t hwm_empty = 0, hwm_queued = 0, rss_queued = 0, rss_ended = 0;
  Reads queued;
  {
    ocx::testing::OcxdProcess ocxd(dir.path(), {"--max-parallel", "1"});
    if (absl::Status s = ocxd.Start(); !s.ok()) {
      fprintf(stderr, "ocxd: %s\n", s.ToString().c_str());
      return 1;
    }
    auto* stub = ocxd.stub();
    hwm_empty = ocx::bench::ProcStatusKb(ocxd.pid(), "VmHWM");
    ocx::v1::CreateEvaluationRequest req;
    *req.mutable_spec() = ocx::bench::SleepSpec(1, 1);
    grpc::Status st = stub->CreateEvaluation(Context(60).get(), req, &small);
    if (!st.ok()) {
      fprintf(stderr, "create small: %s\n", st.error_message().c_str());
      return 1;
    }
    std::vector<std::string> ids = {small.id()};
    // Whatever happens from here on, no `sleep 3600` task is left behind.
    auto cancel_all = absl::MakeCleanup(
        [&ids, stub] { ocx::bench::CancelAll(stub, ids, 900); });
    *req.mutable_spec() = ocx::bench::SleepSpec(args.models, args.datasets);
    req.set_name("million");
    double start = Now();
    st = stub->CreateEvaluation(Context(600).get(), req, &big);
    create_s = Now() - start;
    create_load = ocx::bench::LoadAverage();
    if (!st.ok()) {
      fprintf(stderr, "create big: %s\n", st.error_message().c_str());
      return 1;
    }
    ids.push_back(big.id());
    hwm_queued = ocx::bench::ProcStatusKb(ocxd.pid(), "VmHWM");
    rss_queued = ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS");
    printf(
        "create %d tasks: %.2f s (target < 10 s; load average %.2f); ocxd "
        "VmHWM %.1f MB, VmRSS %.1f MB (empty daemon VmHWM %.1f MB)\n",
        big.task_count(), create_s, create_load, Mb(hwm_queued), Mb(rss_queued),
        Mb(hwm_empty));
    if (args.create_only) {
      ids.pop_back();  // the big one stays queued; its files go with `dir`
      std::move(cancel_all).Invoke();
      ocxd.Stop(SIGTERM);
      return 0;
    }
    if (!MeasureReads(ocxd, big.id(), out_path, args.gets, &queued)) return 1;
    PrintReads("queued", queued);
    // The big one first, alone: its CancelEvaluation is the bulk cancel
    // of its queued tasks (committed when it returns). Then the small one,
    // and both to their end.
    start = Now();
    ocx::bench::CancelAll(stub, {big.id()}, 900);
    cancel_big_s = Now() - start;
    ids.pop_back();  // ended
    std::move(cancel_all).Invoke();
    cancel_s = Now() - start;
    rss_ended = ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS");
    printf(
        "cancelled in %.1f s (the big one alone %.1f s); ocxd VmRSS after "
        "%.1f MB (load average %s)\n",
        cancel_s, cancel_big_s, Mb(rss_ended), LoadAverage().c_str());
    ocxd.Stop(SIGTERM);
  }
  ocx::testing::OcxdProcess again(dir.path(), {"--max-parallel", "1"});
  if (absl::Status s = again.Start(); !s.ok()) {
    fprintf(stderr, "ocxd (restart): %s\n", s.ToString().c_str());
    return 1;
  }
  Reads ended;
  if (!MeasureReads(again, big.id(), out_path, args.gets, &ended)) return 1;
  PrintReads("ended, restarted", ended);
  const int64_t hwm_ended = ocx::bench::ProcStatusKb(again.pid(), "VmHWM");
  printf("restarted ocxd with the ended evaluation: VmHWM %.1f MB\n",
         Mb(hwm_ended));
  const int64_t db_bytes = ocx::bench::FileSize(again.database());
  again.Stop(SIGTERM);
  ocx::bench::PrintResult({
      {"bench", "million"},
      {"tasks", absl::StrCat(big.task_count())},
      {"create_s", Fmt(create_s, 2)},
      {"create_load", Fmt(create_load, 2)},
      {"hwm_queued_mb", Fmt(Mb(hwm_queued), 1)},
      {"rss_queued_mb", Fmt(Mb(rss_queued), 1)},
      {"hwm_empty_mb", Fmt(Mb(hwm_empty), 1)},
      {"health_p50_ms", Fmt(queued.health.MedianMs(), 3)},
      {"get_p50_ms", Fmt(queued.get_basic.MedianMs(), 3)},
      {"get_full_p50_ms", Fmt(queued.get_full.MedianMs(), 3)},
      {"ratio_get_vs_health",
       Fmt(queued.get_basic.MedianMs() / queued.health.MedianMs(), 2)},
      {"status_ms", Fmt(queued.status.MedianMs(), 1)},
      {"help_ms", Fmt(queued.version.MedianMs(), 1)},
      {"cancel_s", Fmt(cancel_s, 1)},
      {"cancel_big_s", Fmt(cancel_big_s, 1)},
      {"rss_ended_mb", Fmt(Mb(rss_ended), 1)},
      {"hwm_ended_mb", Fmt(Mb(hwm_ended), 1)},
      {"status_ended_ms", Fmt(ended.status.MedianMs(), 1)},
      {"db_mb", Fmt(db_bytes / 1e6, 1)},
      {"load_start", load_start},
      {"load_end", LoadAverage()},
  });
  return 0;
}
