#include "server/dispatcher/task_command.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ocx::server {
namespace {

std::string StageWord(ocx::v1::Stage stage) {
  return stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
}

std::string Expand(const std::string& arg, const ocx::v1::TaskParams& p,
                   const TaskPaths& paths, int attempt) {
  std::string out;
  for (size_t i = 0; i < arg.size(); ++i) {
    char c = arg[i];
    if ((c == '{' || c == '}') && i + 1 < arg.size() && arg[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    size_t end = arg.find('}', i);
    if (end == std::string::npos) {
      out.append(arg, i, std::string::npos);
      break;
    }
    std::string name = arg.substr(i + 1, end - i - 1);
    if (name == "task_json") {
      out += paths.task_json;
    } else if (name == "task_id") {
      out += p.task_id();
    } else if (name == "evaluation_id") {
      out += p.evaluation_id();
    } else if (name == "work_dir") {
      out += p.work_dir();
    } else if (name == "attempt") {
      absl::StrAppend(&out, attempt);
    } else if (name == "stage") {
      out += StageWord(p.stage());
    } else {
      // Validation rejects unknown placeholders; keep the text if one slips by.
      out.append(arg, i, end - i + 1);
    }
    i = end;
  }
  return out;
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
    for (const std::string& arg : p.task().argv()) {
      argv.push_back(Expand(arg, p, paths, attempt));
    }
    return argv;
  }
  argv = {task_program, StageWord(p.stage()), paths.task_json};
  return argv;
}

}  // namespace ocx::server
