// Task params by reference (docs/design.md, "One spec per evaluation"):
// ocxd stores and holds a task's params with its model, dataset and task
// configs as indexes into the evaluation's spec (TaskParams.refs), so a
// config shared by 10,000 tasks is kept once. ExpandTaskParams rebuilds the
// params a task program and an API client see.
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_TASK_PARAMS_H_
#define OCX_COMMON_TASK_PARAMS_H_

#include "absl/status/status.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx {

// The stub a stored TaskParams keeps of a config it refers to: the model's
// abbr; the dataset part's abbr and reader_cfg.test_range.
ocx::v1::ModelConfig ModelStub(const ocx::v1::ModelConfig& model);
ocx::v1::DatasetConfig DatasetStub(const ocx::v1::DatasetConfig& part);

// Replaces `params`' references by copies of the configs in `spec` (the
// evaluation's stored spec, defaults applied) and clears `refs`. Params
// without refs (rows stored before, or already expanded) are left as they
// are. INTERNAL naming the index when a reference is outside the spec.
absl::Status ExpandTaskParams(const ocx::v1::EvaluationSpec& spec,
                              ocx::v1::TaskParams* params);

}  // namespace ocx

#endif  // OCX_COMMON_TASK_PARAMS_H_
