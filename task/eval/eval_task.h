// OpenICLEvalTask: reads every prediction part of each (model, dataset)
// pair of the task and writes results/<model>/<dataset>.json (issue 4).
#ifndef OCX_TASK_EVAL_EVAL_TASK_H_
#define OCX_TASK_EVAL_EVAL_TASK_H_

#include <string>

#include "absl/status/status.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::task {

absl::Status RunEvalTask(const ocx::v1::TaskParams& params,
                         const std::string& task_json);

}  // namespace ocx::task

#endif  // OCX_TASK_EVAL_EVAL_TASK_H_
