// Helpers of the benchmarks that drive a real ocxd (bench_submit,
// bench_million): a spec whose tasks sleep, timed RPCs and ocxctl runs,
// samples, and cancelling what a benchmark created.
#ifndef OCX_BENCH_DAEMON_BENCH_H_
#define OCX_BENCH_DAEMON_BENCH_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/client_context.h"
#include "ocx/v1/service.grpc.pb.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::bench {

// `models` x `datasets` with NaivePartitioner n=1 in both stages (2 * models
// * datasets tasks), every task running `argv`, no retries.
ocx::v1::EvaluationSpec CommandSpec(int models, int datasets,
                                    const std::vector<std::string>& argv);

// CommandSpec with every task `/bin/sleep 3600`.
ocx::v1::EvaluationSpec SleepSpec(int models, int datasets);

// A client context with a deadline `seconds` from now.
std::unique_ptr<grpc::ClientContext> Context(int seconds);

// Cancels the evaluations and waits (up to `wait_s` each) until they ended.
void CancelAll(ocx::v1::EvaluationService::Stub* stub,
               const std::vector<std::string>& ids, int wait_s = 60);

// One GetEvaluation (BASIC view with `basic`); seconds, negative (and the
// error printed) on failure.
double TimedGet(ocx::v1::EvaluationService::Stub* stub, const std::string& id,
                bool basic = false);

// Timings in seconds; a negative one (an error) marks the sample failed.
struct Sample {
  std::vector<double> seconds;
  bool ok = true;
  void Add(double s) {
    if (s < 0) ok = false;
    seconds.push_back(s);
  }
  double MedianMs() const;
  double P95Ms() const;
};

// One run of ocxctl against `ocxd`; seconds, negative (and the output
// printed) on failure.
double TimedOcxctl(const ocx::testing::OcxdProcess& ocxd,
                   const std::string& out_path,
                   const std::vector<std::string>& args);

}  // namespace ocx::bench

#endif  // OCX_BENCH_DAEMON_BENCH_H_
