// OpenICLInferTask: writes predictions/<model>/<part abbr>.json for every
// dataset part of the task (issue 4).
#ifndef OCX_TASK_INFER_INFER_TASK_H_
#define OCX_TASK_INFER_INFER_TASK_H_

#include <string>

#include "absl/status/status.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::task {

// `task_json` is the path the parameters were read from; its directory is
// the task's private directory (.ocx/tasks/<task id>/), where progress.json
// is written.
absl::Status RunInferTask(const ocx::v1::TaskParams& params,
                          const std::string& task_json);

}  // namespace ocx::task

#endif  // OCX_TASK_INFER_INFER_TASK_H_
