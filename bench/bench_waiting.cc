// bench_waiting: what ocxd pays for tasks that wait for their model's
// endpoint, against the same number of tasks that wait for a slot.
//
// Target (issue 15, a million tasks per daemon): tasks that cannot start
// cost what queued tasks cost. A task that waits for a free slot stays a
// compact QueuedTask (docs/design.md); one whose model's endpoint is down
// (docs/endpoints.md) must not cost more memory, nor a walk over every one
// of them in each dispatcher turn while the endpoint is re-checked.
//
// Two real ocxds in turn, each with --max-parallel 1 and a first
// evaluation holding the slot (`sleep 3600`); in the same run:
//  A (baseline): M models x D datasets of command tasks, no endpoint,
//    queued behind the slot;
//  B: the same plan with OpenICLInferTask and every model's endpoint at a
//    port nobody listens on: its infer tasks wait for the endpoint.
// Each is created in its own daemon, left --settle-s seconds (the endpoint
// is re-checked in that time), measured and cancelled. Printed: ocxd's
// VmRSS growth per task, its VmHWM, and its CPU seconds over the settle
// time, for each, and B/A.
//
// Usage: bench_waiting [--models M] [--datasets D] [--settle-s S]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/daemon_bench.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/serving/child_process.h"

namespace {

using ocx::bench::Context;
using ocx::bench::Now;

struct Args {
  int models = 100;
  int datasets = 1000;
  int settle_s = 10;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    int* target = a == "--models"     ? &args->models
                  : a == "--datasets" ? &args->datasets
                  : a == "--settle-s" ? &args->settle_s
                                      : nullptr;
    if (target == nullptr) return false;
    *target = std::atoi(argv[++i]);
    if (*target <= 0) return false;
  }
  return true;
}

double Mb(int64_t kb) { return kb / 1024.0; }

struct Round {
  double rss_bytes_per_task = 0;
  int64_t hwm_kb = 0;
  double cpu_s = 0;  // ocxd's, over the settle time
  int tasks = 0;
};

// Starts a daemon whose one slot a sleeping task holds, creates `spec`,
// lets it settle, measures, checks that its infer tasks wait for
// `expected_wait`, cancels both.
bool RunRound(ocx::v1::EvaluationSpec spec, const char* label,
              const char* expected_wait, int settle_s, Round* out) {
  ocx::testing::TempDir dir;
  ocx::testing::OcxdProcess ocxd(dir.path(), {"--max-parallel", "1"});
  if (absl::Status s = ocxd.Start(); !s.ok()) {
    fprintf(stderr, "ocxd: %s\n", s.ToString().c_str());
    return false;
  }
  auto* stub = ocxd.stub();
  std::vector<std::string> ids;
  auto cancel = absl::MakeCleanup(
      [stub, &ids] { ocx::bench::CancelAll(stub, ids, 600); });
  ocx::v1::CreateEvaluationRequest req;
  *req.mutable_spec() = ocx::bench::SleepSpec(1, 1);
  ocx::v1::Evaluation e;
  grpc::Status st = stub->CreateEvaluation(Context(60).get(), req, &e);
  if (!st.ok()) {
    fprintf(stderr, "create holder: %s\n", st.error_message().c_str());
    return false;
  }
  ids.push_back(e.id());
  const int64_t rss_before = ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS");
  *req.mutable_spec() = std::move(spec);
  req.set_name(label);
  st = stub->CreateEvaluation(Context(600).get(), req, &e);
  if (!st.ok()) {
    fprintf(stderr, "create %s: %s\n", label, st.error_message().c_str());
    return false;
  }
  ids.push_back(e.id());
  // The create's own work is over when it returns; what follows is the
  // waiting.
  const double cpu_start = ocx::bench::ProcCpuSeconds(ocxd.pid());
  const double start = Now();
  while (Now() - start < settle_s) usleep(100 * 1000);
  out->cpu_s = ocx::bench::ProcCpuSeconds(ocxd.pid()) - cpu_start;
  const int64_t rss = ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS");
  out->hwm_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "VmHWM");
  out->tasks = e.task_count();
  // What its first and last infer task wait for, as `ocxctl task` shows
  // it: the round measures nothing if they do not wait for what it says.
  for (int index : {0, e.task_count() / 2 - 1}) {
    ocx::v1::GetTaskRequest get;
    get.set_id(absl::StrCat(e.id(), "-infer-", index));
    ocx::v1::Task task;
    st = stub->GetTask(Context(30).get(), get, &task);
    if (!st.ok()) {
      fprintf(stderr, "get %s: %s\n", get.id().c_str(),
              st.error_message().c_str());
      return false;
    }
    printf("  %s (%s): %s\n", get.id().c_str(), task.model_abbr().c_str(),
           task.pending_reason().c_str());
    if (!absl::StrContains(task.pending_reason(), expected_wait)) {
      fprintf(stderr, "%s does not wait for %s\n", get.id().c_str(),
              expected_wait);
      return false;
    }
  }
  out->rss_bytes_per_task = (rss - rss_before) * 1024.0 / e.task_count();
  printf(
      "%s: %d tasks; ocxd VmRSS %.1f -> %.1f MB (%.0f bytes a task), VmHWM "
      "%.1f MB, CPU %.2f s in %d s of waiting\n",
      label, e.task_count(), Mb(rss_before), Mb(rss), out->rss_bytes_per_task,
      Mb(out->hwm_kb), out->cpu_s, settle_s);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    fprintf(stderr, "usage: %s [--models M] [--datasets D] [--settle-s S]\n",
            argv[0]);
    return 2;
  }
  printf("bench_waiting: %d models x %d datasets; load average %.2f\n",
         args.models, args.datasets, ocx::bench::LoadAverage());
  Round slot, endpoint;
  if (!RunRound(ocx::bench::SleepSpec(args.models, args.datasets),
                "A, waiting for a slot", "max_parallel", args.settle_s,
                &slot)) {
    return 1;
  }
  ocx::v1::EvaluationSpec down =
      ocx::bench::SleepSpec(args.models, args.datasets);
  const std::string base =
      absl::StrCat("http://127.0.0.1:", ocx::testing::DeadPort(), "/v1");
  for (ocx::v1::ModelConfig& m : *down.mutable_models()) {
    m.set_openai_api_base(base);
  }
  // OpenICLInferTask talks to the endpoint: it is checked before a launch.
  ocx::v1::TaskConfig* infer =
      down.mutable_infer()->mutable_runner()->mutable_task();
  infer->Clear();
  infer->set_type("OpenICLInferTask");
  if (!RunRound(std::move(down), "B, waiting for the endpoint", "endpoint",
                args.settle_s, &endpoint)) {
    return 1;
  }
  const double mem_ratio =
      endpoint.rss_bytes_per_task / std::max(1.0, slot.rss_bytes_per_task);
  // CPU as seconds, not a ratio: A's is about nothing.
  printf(
      "B/A: memory a task %.2f, VmHWM %.2f; CPU while waiting %.2f s vs "
      "%.2f s (load average %.2f)\n",
      mem_ratio, static_cast<double>(endpoint.hwm_kb) / slot.hwm_kb,
      endpoint.cpu_s, slot.cpu_s, ocx::bench::LoadAverage());
  printf(
      "RESULT bench_waiting tasks=%d rss_per_task_slot=%.0f "
      "rss_per_task_endpoint=%.0f mem_ratio=%.2f hwm_slot_mb=%.1f "
      "hwm_endpoint_mb=%.1f cpu_slot_s=%.2f cpu_endpoint_s=%.2f\n",
      endpoint.tasks, slot.rss_bytes_per_task, endpoint.rss_bytes_per_task,
      mem_ratio, Mb(slot.hwm_kb), Mb(endpoint.hwm_kb), slot.cpu_s,
      endpoint.cpu_s);
  return 0;
}
