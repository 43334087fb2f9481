// Task params by reference (docs/design.md, "One spec per evaluation"):
// ocxd stores and holds a task's params with its model, dataset and task
// configs as indexes into the evaluation's spec (TaskParams.refs), so a
// config shared by 10,000 tasks is kept once, and without what the task's
// row and its evaluation already say (ids, stage, work dir).
// FillTaskParamsIds puts those back wherever stored params are read;
// ExpandTaskParams rebuilds the params a task program and an API client see.
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_TASK_PARAMS_H_
#define OCX_COMMON_TASK_PARAMS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx {

// The stub a stored TaskParams keeps of a config it refers to: the model's
// abbr; the dataset part's abbr and reader_cfg.test_range.
ocx::v1::ModelConfig ModelStub(const ocx::v1::ModelConfig& model);
ocx::v1::DatasetConfig DatasetStub(const ocx::v1::DatasetConfig& part);

// Fills what params by reference leave out: evaluation_id, task_id and
// stage (the task row's) and work_dir (its evaluation's), each only where
// empty (rows stored before still carry them, and read the same). Params
// without refs are complete as stored and left as they are. Every read of
// stored params calls this before the params are used or leave the store.
void FillTaskParamsIds(absl::string_view evaluation_id,
                       absl::string_view task_id, ocx::v1::Stage stage,
                       absl::string_view work_dir, ocx::v1::TaskParams* params);

// Replaces `params`' references by copies of the configs in `spec` (the
// evaluation's stored spec, defaults applied) and clears `refs`. Params
// without refs (rows stored before, or already expanded) are left as they
// are. INTERNAL naming the index when a reference is outside the spec.
absl::Status ExpandTaskParams(const ocx::v1::EvaluationSpec& spec,
                              ocx::v1::TaskParams* params);

}  // namespace ocx

#endif  // OCX_COMMON_TASK_PARAMS_H_
