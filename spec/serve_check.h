// The spec-level rules of models' `serve` sections (docs/serving.md): what
// can be checked without the daemon, and the defaults stored specs carry.
// The daemon-side checks (GPUs, ports, program in PATH) are
// serving::CheckServeRunnable's.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_SERVE_CHECK_H_
#define OCX_SPEC_SERVE_CHECK_H_

#include "absl/status/status.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::spec {

// For each model with `serve`, in model order: serving::CheckServeConfig on
// `models[i].serve`; `models[i].openai_api_base` must be empty (ocx fills
// it); the infer runner must be LocalRunner (the default) or SlurmRunner
// (`infer.runner.type`). INVALID_ARGUMENT naming the field.
absl::Status ValidateServeModels(const ocx::v1::EvaluationSpec& spec);

// serving::WithDefaults on every model's `serve` section that is set.
void ApplyServeDefaults(ocx::v1::EvaluationSpec* spec);

}  // namespace ocx::spec

#endif  // OCX_SPEC_SERVE_CHECK_H_
