// Preflight (rpc CheckEvaluation, `ocxctl check`; docs/endpoints.md): what
// would keep an evaluation from running, found before it is submitted and
// judged from where its tasks run: every user-given model endpoint (GET
// <base>/models answers, the model is listed, latency), every dataset file
// (exists, readable by the caller by the permission bits, row count) and
// each stage's runner (available here, GPUs, sbatch / dlc found). Stores
// nothing.
//
// Thread-safe: no shared state; each call makes its own HTTP probe.
#ifndef OCX_SERVER_PREFLIGHT_H_
#define OCX_SERVER_PREFLIGHT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/identity.h"
#include "ocx/v1/service.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::server {

struct PreflightSettings {
  // One endpoint check's limit (ServingSettings.probe_timeout_ms).
  int probe_timeout_ms = 2000;
  // LocalRunner's GPU ids.
  std::vector<int> gpus;
  // The Slurm and DLC command lines as configured; empty: found in PATH.
  std::string sbatch_path;
  std::string dlc_path;
};

// The checks of `spec` (validated here: INVALID_ARGUMENT naming the field
// when it does not validate), run for `caller`: endpoints, then datasets,
// then runners.
absl::StatusOr<std::vector<ocx::v1::PreflightCheck>> Preflight(
    const ocx::v1::EvaluationSpec& spec, const Identity& caller,
    const PreflightSettings& settings);

}  // namespace ocx::server

#endif  // OCX_SERVER_PREFLIGHT_H_
