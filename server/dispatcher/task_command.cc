#include "server/dispatcher/task_command.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/work_dir_layout.h"
#include "spec/placeholders.h"

namespace ocx::server {

TaskPaths PathsFor(const ocx::v1::TaskParams& p, int attempt) {
  TaskPaths paths;
  paths.task_dir = layout::TaskDir(p.work_dir(), p.task_id());
  paths.task_json = layout::TaskJsonFile(p.work_dir(), p.task_id());
  paths.attempt_dir = layout::AttemptDir(p.work_dir(), p.task_id(), attempt);
  paths.log_path = layout::AttemptLogFile(
      p.work_dir(), p.stage(), p.model().abbr(), p.task_id(), attempt);
  return paths;
}

std::vector<std::string> TaskArgv(const ocx::v1::TaskParams& p,
                                  const TaskPaths& paths, int attempt,
                                  const std::string& task_program) {
  std::vector<std::string> argv;
  if (p.task().type() == "command") {
    const std::map<std::string, std::string> values = {
        {"task_json", paths.task_json},
        {"task_id", p.task_id()},
        {"evaluation_id", p.evaluation_id()},
        {"work_dir", p.work_dir()},
        {"attempt", absl::StrCat(attempt)},
        {"stage", layout::StageName(p.stage())}};
    for (const std::string& arg : p.task().argv()) {
      // Validation accepted exactly what expands; keep the text otherwise.
      absl::StatusOr<std::string> expanded =
          spec::ExpandPlaceholders(arg, values);
      argv.push_back(expanded.ok() ? *std::move(expanded) : arg);
    }
    return argv;
  }
  argv = {task_program, layout::StageName(p.stage()), paths.task_json};
  return argv;
}

}  // namespace ocx::server
