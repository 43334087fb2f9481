// Where a task's files live and the command line it runs. Pure functions of
// the task's params, so recovery after a restart finds the same paths. The
// paths come from common/work_dir_layout.h; this gathers those of one
// attempt.
#ifndef OCX_SERVER_DISPATCHER_TASK_COMMAND_H_
#define OCX_SERVER_DISPATCHER_TASK_COMMAND_H_

#include <string>
#include <vector>

#include "ocx/v1/resources.pb.h"

namespace ocx::server {

struct TaskPaths {
  std::string task_dir;
  std::string task_json;
  std::string attempt_dir;
  std::string log_path;
};

TaskPaths PathsFor(const ocx::v1::TaskParams& params, int attempt);

// The argv of one attempt. For `command` tasks, argv with placeholders
// {task_json} {task_id} {evaluation_id} {work_dir} {attempt} {stage}
// replaced ({{ and }} are literal braces); for OpenICLInferTask and
// OpenICLEvalTask, `<task_program> infer|eval <task.json>`.
std::vector<std::string> TaskArgv(const ocx::v1::TaskParams& params,
                                  const TaskPaths& paths, int attempt,
                                  const std::string& task_program);

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_TASK_COMMAND_H_
