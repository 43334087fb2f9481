// ocx-test-task: a real task program for tests. It reads task.json (the
// TaskParams contract), records its run in a journal, optionally fails, and
// writes the task's expected outputs — what a real inference or eval task
// would leave behind.
//
//   ocx-test-task TASK_JSON [--attempt N] [--journal FILE] [--sleep-ms MS]
//                 [--fail-attempts N] [--exit-code C] [--no-outputs]
//
// --fail-attempts N: attempts 1..N exit with --exit-code (default 3).
// --slow SUBSTR:MS: sleep MS more when the task id contains SUBSTR.
// --progress N: during the sleep, report N samples done one by one in
//   <dirname(TASK_JSON)>/progress.json, as ocx-task infer does.
// --outputs-from DIR: an expected output whose path exists under DIR is a
//   copy of that file (real prediction files for eval tests).
// The journal gets "<task_id> <attempt> start <ms>" and "... end <ms>"
// lines (O_APPEND, one write each), so tests can count runs and check that
// two attempts of a task never overlapped.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "google/protobuf/util/json_util.h"
#include "ocx/v1/resources.pb.h"

namespace {

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Journal(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t n = write(fd, line.data(), line.size());
  (void)n;
  close(fd);
}

void MakeParents(const std::string& path) {
  for (size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos;
       ++pos) {
    mkdir(path.substr(0, pos).c_str(), 0755);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ocx-test-task TASK_JSON [options]\n");
    return 2;
  }
  std::string task_json = argv[1];
  int attempt = 1, sleep_ms = 0, fail_attempts = 0, exit_code = 3;
  bool outputs = true;
  std::string journal;
  std::string slow;
  int progress = 0;
  std::string outputs_from;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--attempt")
      attempt = atoi(next().c_str());
    else if (a == "--journal")
      journal = next();
    else if (a == "--sleep-ms")
      sleep_ms = atoi(next().c_str());
    else if (a == "--fail-attempts")
      fail_attempts = atoi(next().c_str());
    else if (a == "--exit-code")
      exit_code = atoi(next().c_str());
    else if (a == "--no-outputs")
      outputs = false;
    else if (a == "--slow")
      slow = next();
    else if (a == "--progress")
      progress = atoi(next().c_str());
    else if (a == "--outputs-from")
      outputs_from = next();
    else {
      fprintf(stderr, "ocx-test-task: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::ifstream in(task_json);
  std::stringstream text;
  text << in.rdbuf();
  ocx::v1::TaskParams params;
  google::protobuf::util::JsonParseOptions options;
  auto status =
      google::protobuf::util::JsonStringToMessage(text.str(), &params, options);
  if (!status.ok()) {
    fprintf(stderr, "ocx-test-task: %s: %s\n", task_json.c_str(),
            status.ToString().c_str());
    return 2;
  }
  std::string id = params.task_id() + " " + std::to_string(attempt);
  Journal(journal, id + " start " + std::to_string(NowMs()) + "\n");
  printf("task %s attempt %d: %d dataset(s), CUDA_VISIBLE_DEVICES=%s\n",
         params.task_id().c_str(), attempt, params.datasets_size(),
         getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "");
  fflush(stdout);
  size_t colon = slow.rfind(':');
  if (colon != std::string::npos &&
      params.task_id().find(slow.substr(0, colon)) != std::string::npos) {
    sleep_ms += atoi(slow.substr(colon + 1).c_str());
  }
  if (progress > 0) {
    const std::string dir = task_json.substr(0, task_json.rfind('/') + 1);
    const int step_ms = sleep_ms / progress;
    for (int done = 1; done <= progress; ++done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
      std::ofstream(dir + "progress.json.tmp")
          << "{\"attempt\": " << attempt << ", \"done\": " << done
          << ", \"total\": " << progress
          << ", \"rate_per_s\": " << (step_ms > 0 ? 1000.0 / step_ms : 0.0)
          << ", \"update_time_ms\": " << NowMs() << "}\n";
      rename((dir + "progress.json.tmp").c_str(),
             (dir + "progress.json").c_str());
    }
  } else if (sleep_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  }
  int rc = 0;
  if (attempt <= fail_attempts) {
    fprintf(stderr, "failing attempt %d on purpose\n", attempt);
    rc = exit_code;
  } else if (outputs) {
    for (const std::string& rel : params.expected_outputs()) {
      std::string path = params.work_dir() + "/" + rel;
      MakeParents(path);
      std::ifstream from(outputs_from.empty() ? "" : outputs_from + "/" + rel);
      std::ofstream out(path);
      if (from) {
        out << from.rdbuf();
        continue;
      }
      out << "{\"task\": \"" << params.task_id()
          << "\", \"attempt\": " << attempt << "}\n";
    }
  }
  Journal(journal, id + " end " + std::to_string(NowMs()) + "\n");
  return rc;
}
