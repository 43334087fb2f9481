#include "server/dispatcher/task_command.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "spec/placeholders.h"

namespace ocx::server {
namespace {

std::string StageWord(ocx::v1::Stage stage) {
  return stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
}

}  // namespace

TaskPaths PathsFor(const ocx::v1::TaskParams& p, int attempt) {
  TaskPaths paths;
  paths.task_dir =
      JoinPath(p.work_dir(), absl::StrCat(".ocx/tasks/", p.task_id()));
  paths.task_json = JoinPath(paths.task_dir, "task.json");
  paths.attempt_dir = JoinPath(paths.task_dir, absl::StrCat(attempt));
  paths.log_path =
      JoinPath(p.work_dir(), absl::StrCat("logs/", StageWord(p.stage()), "/",
                                          p.model().abbr(), "/", p.task_id(),
                                          ".", attempt, ".out"));
  return paths;
}

std::vector<std::string> TaskArgv(const ocx::v1::TaskParams& p,
                                  const TaskPaths& paths, int attempt,
                                  const std::string& task_program) {
  std::vector<std::string> argv;
  if (p.task().type() == "command") {
    const std::map<std::string, std::string> values = {
        {"task_json", paths.task_json},       {"task_id", p.task_id()},
        {"evaluation_id", p.evaluation_id()}, {"work_dir", p.work_dir()},
        {"attempt", absl::StrCat(attempt)},   {"stage", StageWord(p.stage())}};
    for (const std::string& arg : p.task().argv()) {
      // Validation accepted exactly what expands; keep the text otherwise.
      absl::StatusOr<std::string> expanded =
          spec::ExpandPlaceholders(arg, values);
      argv.push_back(expanded.ok() ? *std::move(expanded) : arg);
    }
    return argv;
  }
  argv = {task_program, StageWord(p.stage()), paths.task_json};
  return argv;
}

}  // namespace ocx::server
