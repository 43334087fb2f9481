// Test harness: a real ocxd process on a unix socket in a temporary
// directory, with a gRPC stub to talk to it. Used by the end-to-end and
// crash tests; nothing in it is mocked.
#ifndef OCX_TESTS_E2E_OCXD_PROCESS_H_
#define OCX_TESTS_E2E_OCXD_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "ocx/v1/service.grpc.pb.h"

namespace ocx::testing {

// Paths of the binaries under test, from compile definitions.
std::string OcxdPath();
std::string OcxctlPath();
std::string TestTaskPath();

// A fresh directory under $TEST_TMPDIR or /tmp; removed by the destructor
// unless OCX_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class OcxdProcess {
 public:
  // `dir` holds the database, work root, socket and ocxd.log.
  explicit OcxdProcess(std::string dir,
                       std::vector<std::string> extra_args = {});
  ~OcxdProcess();  // SIGKILLs the daemon if still running (tasks live on).

  // Listen on `listen` (e.g. "127.0.0.1:0") instead of the unix socket in
  // the directory; Start() then reads the address ocxd records in
  // <database>.address. Call before Start().
  void UseListen(std::string listen) { listen_ = std::move(listen); }
  // Channel credentials of stub() (and of Start()'s readiness check), e.g.
  // TLS for a daemon started with --tls-cert. Default: plain text.
  void UseCredentials(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    credentials_ = std::move(credentials);
  }
  // Run as root, the harness passes --allow-root-tasks (every test submits
  // as root); false leaves the daemon's default, which refuses root-owned
  // evaluations. Call before Start().
  void AllowRootTasks(bool allow) { allow_root_tasks_ = allow; }
  // Starts ocxd and waits until it answers a health check (up to 20 s).
  absl::Status Start();
  // Starts ocxd without waiting for it (to kill it while it starts up).
  absl::Status Spawn();
  // Sends `sig` and waits for the process to exit; returns its wait status.
  int Stop(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  std::string socket_path() const { return dir_ + "/ocxd.sock"; }
  // The address clients dial: the unix socket, or what ocxd recorded.
  std::string server() const {
    return listen_.empty() ? "unix://" + socket_path() : recorded_;
  }
  std::string database() const { return dir_ + "/ocx.db"; }
  std::string work_root() const { return dir_ + "/work"; }
  std::string log() const;

  ocx::v1::EvaluationService::Stub* stub();

 private:
  absl::Status WaitUntilReady();
  std::string dir_;
  std::vector<std::string> extra_args_;
  std::string listen_;    // empty: the socket in dir_
  std::string recorded_;  // <database>.address as read by Start()
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  bool allow_root_tasks_ = true;
  pid_t pid_ = -1;
  std::unique_ptr<ocx::v1::EvaluationService::Stub> stub_;
};

// Runs a program to completion; returns its exit code (128+sig when killed)
// and captures stdout/stderr.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult RunProgram(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env = {});

// Calls `done` every 100 ms until it returns true or `timeout_s` passed;
// returns its last answer.
bool PollUntil(const std::function<bool()>& done, int timeout_s);

// The /metrics URL a daemon started with --http-listen printed in its log
// ("ocxd: metrics at http://127.0.0.1:N/metrics"); "" when none.
std::string MetricsUrl(const std::string& log);

// The whole file at `path`; "" when it cannot be read.
std::string FileText(const std::string& path);

// How many descriptors process `pid` holds open on the file at `path`
// (links in /proc/<pid>/fd that resolve to it; `path` itself is resolved
// first); -1 when /proc/<pid>/fd cannot be read.
int DescriptorsOpenOn(pid_t pid, const std::string& path);

// Polls GetEvaluation until the evaluation is final or `timeout_s` passed.
absl::StatusOr<ocx::v1::Evaluation> WaitForEnd(
    ocx::v1::EvaluationService::Stub* stub, const std::string& id,
    int timeout_s);

// Every event of an ended evaluation, by one WatchEvaluation from the start
// (the stream ends once the evaluation has ended); the stream's error when
// it does not end OK within 60 s.
absl::StatusOr<std::vector<ocx::v1::Event>> EventsOf(
    ocx::v1::EvaluationService::Stub* stub, const std::string& id);

// CreateEvaluation and GetTask for tests: a failed call is a test failure
// (with gRPC's message) and returns an empty message.
ocx::v1::Evaluation CreateOrFail(ocx::v1::EvaluationService::Stub* stub,
                                 const ocx::v1::EvaluationSpec& spec,
                                 const std::string& request_id = "");
ocx::v1::Task GetTaskOrFail(ocx::v1::EvaluationService::Stub* stub,
                            const std::string& id);

// Every task of an evaluation (follows page tokens).
std::vector<ocx::v1::Task> AllTasks(ocx::v1::EvaluationService::Stub* stub,
                                    const std::string& id);

// A spec of `models` x `datasets` whose tasks run ocx-test-task with
// `task_args` appended (after {task_json} --attempt {attempt}).
ocx::v1::EvaluationSpec TestSpec(int models, int datasets,
                                 const std::vector<std::string>& task_args,
                                 int max_num_workers = 4, int retry = 2);

}  // namespace ocx::testing

#endif  // OCX_TESTS_E2E_OCXD_PROCESS_H_
