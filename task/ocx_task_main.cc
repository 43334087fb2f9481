// ocx-task: the task program that runners launch (`<ocx-task> infer|eval
// <task.json>`, server/dispatcher/task_command.h). It reads the task's
// parameters and runs one stage of OpenCompass's pipeline on them.
// `ocx-task serve ...` starts a managed model server (task/serve/).
//
// Exit codes: 0 the task's outputs are written; 1 the task failed (the
// reason is the last line on stderr, which is the attempt's log, and, when
// the daemon gave an attempt dir in OCX_ATTEMPT_DIR, the TaskError record
// <attempt dir>/error.json that ocxd reads); 2 bad usage or unreadable
// parameters.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "common/file_util.h"
#include "common/work_dir_layout.h"
#include "google/protobuf/util/json_util.h"
#include "ocx/v1/resources.pb.h"
#include "task/error/task_error.h"
#include "task/eval/eval_task.h"
#include "task/infer/infer_task.h"
#include "task/serve/serve_main.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: ocx-task infer|eval TASK_JSON\n"
               "       ocx-task serve --endpoint-file F --ports A-B ... -- "
               "command...\n"
               "  Runs one OpenICLInferTask or OpenICLEvalTask of ocxd, or "
               "starts a\n"
               "  managed model server.\n");
  return 2;
}

// The failure as a TaskError in the attempt dir, for ocxd.
void WriteErrorRecord(const absl::Status& status) {
  const char* attempt_dir = std::getenv("OCX_ATTEMPT_DIR");
  if (attempt_dir == nullptr || *attempt_dir == '\0') return;
  absl::Status written =
      ocx::task::WriteTaskError(ocx::layout::ErrorRecordFileIn(attempt_dir),
                                ocx::task::TaskErrorOf(status));
  if (!written.ok()) {
    std::fprintf(stderr, "ocx-task: %s\n", written.ToString().c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) {
    return ocx::task::RunServe(argc - 2, argv + 2);
  }
  if (argc != 3) return Usage();
  const std::string verb = argv[1];
  const std::string task_json = argv[2];
  if (verb != "infer" && verb != "eval") return Usage();

  absl::StatusOr<std::string> text = ocx::ReadFile(task_json);
  if (!text.ok()) {
    std::fprintf(stderr, "ocx-task: %s\n", text.status().ToString().c_str());
    return 2;
  }
  ocx::v1::TaskParams params;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(*text, &params, options);
  if (!parsed.ok()) {
    std::fprintf(stderr, "ocx-task: %s is not a task file: %s\n",
                 task_json.c_str(), parsed.ToString().c_str());
    return 2;
  }

  absl::Status status = verb == "infer"
                            ? ocx::task::RunInferTask(params, task_json)
                            : ocx::task::RunEvalTask(params, task_json);
  if (!status.ok()) {
    std::fprintf(stderr, "ocx-task %s failed: %s\n", verb.c_str(),
                 status.ToString().c_str());
    WriteErrorRecord(status);
    return 1;
  }
  return 0;
}
