#include "bench/daemon_bench.h"

#include <chrono>
#include <cstdio>

#include "bench/bench_util.h"

namespace ocx::bench {

ocx::v1::EvaluationSpec CommandSpec(int models, int datasets,
                                    const std::vector<std::string>& argv) {
  ocx::v1::EvaluationSpec spec =
      ocx::testing::TestSpec(models, datasets, {}, /*max_num_workers=*/4,
                             /*retry=*/0);
  for (ocx::v1::StageConfig* stage :
       {spec.mutable_infer(), spec.mutable_eval()}) {
    stage->mutable_partitioner()->set_type("NaivePartitioner");
    stage->mutable_partitioner()->set_n(1);
    ocx::v1::TaskConfig* task = stage->mutable_runner()->mutable_task();
    task->clear_argv();
    for (const std::string& a : argv) task->add_argv(a);
  }
  return spec;
}

ocx::v1::EvaluationSpec SleepSpec(int models, int datasets) {
  return CommandSpec(models, datasets, {"/bin/sleep", "3600"});
}

std::unique_ptr<grpc::ClientContext> Context(int seconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(seconds));
  return ctx;
}

void CancelAll(ocx::v1::EvaluationService::Stub* stub,
               const std::vector<std::string>& ids, int wait_s) {
  for (const std::string& id : ids) {
    ocx::v1::CancelEvaluationRequest req;
    req.set_id(id);
    ocx::v1::Evaluation e;
    auto ctx = Context(wait_s);
    grpc::Status s = stub->CancelEvaluation(ctx.get(), req, &e);
    if (!s.ok()) {
      fprintf(stderr, "cancel %s: %s\n", id.c_str(), s.error_message().c_str());
    }
  }
  for (const std::string& id : ids) {
    auto e = ocx::testing::WaitForEnd(stub, id, wait_s);
    if (!e.ok()) fprintf(stderr, "%s\n", e.status().ToString().c_str());
  }
}

double TimedGet(ocx::v1::EvaluationService::Stub* stub, const std::string& id,
                bool basic) {
  ocx::v1::GetEvaluationRequest req;
  req.set_id(id);
  if (basic) req.set_view(ocx::v1::EVALUATION_VIEW_BASIC);
  ocx::v1::Evaluation e;
  auto ctx = Context(30);
  double start = Now();
  grpc::Status s = stub->GetEvaluation(ctx.get(), req, &e);
  double elapsed = Now() - start;
  if (!s.ok()) {
    fprintf(stderr, "GetEvaluation %s: %s\n", id.c_str(),
            s.error_message().c_str());
    return -1;
  }
  return elapsed;
}

double Sample::MedianMs() const { return Median(seconds) * 1e3; }
double Sample::P95Ms() const { return Percentile(seconds, 95) * 1e3; }

double TimedOcxctl(const ocx::testing::OcxdProcess& ocxd,
                   const std::string& out_path,
                   const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ocx::testing::OcxctlPath(), "--server",
                                   ocxd.server(), "--timeout", "60s"};
  argv.insert(argv.end(), args.begin(), args.end());
  TimedRun run = RunTimed(argv, out_path);
  if (run.exit_code != 0) {
    std::string out = ReadSmallFile(out_path);
    fprintf(stderr, "ocxctl %s exited %d: %.2000s\n", args[0].c_str(),
            run.exit_code, out.c_str());
    return -1;
  }
  return run.seconds;
}

}  // namespace ocx::bench
