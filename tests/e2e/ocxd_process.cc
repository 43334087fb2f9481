#include "tests/e2e/ocxd_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

extern char** environ;

namespace ocx::testing {

std::string OcxdPath() { return OCX_OCXD_PATH; }
std::string OcxctlPath() { return OCX_OCXCTL_PATH; }
std::string TestTaskPath() { return OCX_TEST_TASK_PATH; }

TempDir::TempDir() {
  const char* base = getenv("TEST_TMPDIR");
  // Socket paths must stay under 108 bytes: keep the prefix short.
  std::string tmpl =
      absl::StrCat(base != nullptr ? base : "/tmp", "/ocxe2e.XXXXXX");
  char* made = mkdtemp(tmpl.data());
  path_ = made != nullptr ? made : "/tmp";
}

TempDir::~TempDir() {
  if (getenv("OCX_KEEP_TEST_DIRS") != nullptr || path_ == "/tmp") return;
  std::string cmd = absl::StrCat("rm -rf '", path_, "'");
  int rc = system(cmd.c_str());
  (void)rc;
}

OcxdProcess::OcxdProcess(std::string dir, std::vector<std::string> extra_args)
    : dir_(std::move(dir)), extra_args_(std::move(extra_args)) {}

OcxdProcess::~OcxdProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

std::string OcxdProcess::log() const {
  std::ifstream in(dir_ + "/ocxd.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::Status OcxdProcess::Start() {
  if (absl::Status spawned = Spawn(); !spawned.ok()) return spawned;
  return WaitUntilReady();
}

absl::Status OcxdProcess::Spawn() {
  std::vector<std::string> args = {
      OcxdPath(), "--listen", listen_.empty() ? server() : listen_,
      "--database", database(), "--work-root", work_root(),
      "--retry-initial-backoff-ms", "100",
      // Tests write work dirs in their temp dir.
      "--work-dir-root", dir_};
  // The machine may run the tests as root: ocxd then runs each task as its
  // owner, and every test submits as root (tests/e2e/run_as_test.cc covers
  // the other owners).
  if (geteuid() == 0 && allow_root_tasks_) {
    args.push_back("--allow-root-tasks");
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log_path = dir_ + "/ocxd.log";
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("spawn ocxd: ", rc));
  pid_ = pid;
  stub_.reset();
  return absl::OkStatus();
}

absl::Status OcxdProcess::WaitUntilReady() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat("ocxd exited at start: ", log()));
    }
    if (!listen_.empty()) {
      recorded_ = FileText(database() + ".address");
      while (!recorded_.empty() && recorded_.back() == '\n') {
        recorded_.pop_back();
      }
    }
    if (listen_.empty() ? access(socket_path().c_str(), F_OK) == 0
                        : !recorded_.empty()) {
      // A fresh channel per try: one that failed to connect (to the stale
      // socket of a killed daemon) waits out a reconnect backoff.
      stub_.reset();
      ocx::v1::ListEvaluationsRequest req;
      ocx::v1::ListEvaluationsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
      if (stub()->ListEvaluations(&ctx, req, &resp).ok()) {
        return absl::OkStatus();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError("ocxd did not answer within 20 s");
}

int OcxdProcess::Stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  stub_.reset();
  return status;
}

ocx::v1::EvaluationService::Stub* OcxdProcess::stub() {
  if (stub_ == nullptr) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    stub_ = ocx::v1::EvaluationService::NewStub(grpc::CreateCustomChannel(
        server(),
        credentials_ != nullptr ? credentials_
                                : grpc::InsecureChannelCredentials(),
        args));
  }
  return stub_.get();
}

RunResult RunProgram(const std::vector<std::string>& args,
                     const std::vector<std::string>& env) {
  RunResult result;
  char out_tmpl[] = "/tmp/ocxrun.out.XXXXXX";
  char err_tmpl[] = "/tmp/ocxrun.err.XXXXXX";
  int out_fd = mkstemp(out_tmpl);
  int err_fd = mkstemp(err_tmpl);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (const std::string& kv : env) putenv(strdup(kv.c_str()));
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const char* path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  result.out = slurp(out_tmpl);
  result.err = slurp(err_tmpl);
  close(out_fd);
  close(err_fd);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return result;
}

bool PollUntil(const std::function<bool()>& done, int timeout_s) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

std::string MetricsUrl(const std::string& log) {
  const std::string marker = "metrics at ";
  size_t at = log.find(marker);
  if (at == std::string::npos) return "";
  size_t end = log.find('\n', at);
  return log.substr(at + marker.size(), end - at - marker.size());
}

std::string FileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int DescriptorsOpenOn(pid_t pid, const std::string& path) {
  char resolved[PATH_MAX];
  const std::string target =
      realpath(path.c_str(), resolved) != nullptr ? resolved : path;
  const std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (struct dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string link = fd_dir + "/" + entry->d_name;
    char buf[PATH_MAX];
    ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
    if (n > 0 && target == std::string(buf, static_cast<size_t>(n))) ++count;
  }
  closedir(dir);
  return count;
}

absl::StatusOr<ocx::v1::Evaluation> WaitForEnd(
    ocx::v1::EvaluationService::Stub* stub, const std::string& id,
    int timeout_s) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  ocx::v1::Evaluation e;
  while (std::chrono::steady_clock::now() < deadline) {
    ocx::v1::GetEvaluationRequest req;
    req.set_id(id);
    grpc::ClientContext ctx;
    grpc::Status s = stub->GetEvaluation(&ctx, req, &e);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    if (e.state() == ocx::v1::Evaluation::SUCCEEDED ||
        e.state() == ocx::v1::Evaluation::FAILED ||
        e.state() == ocx::v1::Evaluation::CANCELLED) {
      return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "evaluation ", id, " still ", ocx::v1::Evaluation::State_Name(e.state()),
      " after ", timeout_s, " s"));
}

absl::StatusOr<std::vector<ocx::v1::Event>> EventsOf(
    ocx::v1::EvaluationService::Stub* stub, const std::string& id) {
  ocx::v1::WatchEvaluationRequest req;
  req.set_id(id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub->WatchEvaluation(&ctx, req);
  std::vector<ocx::v1::Event> events;
  ocx::v1::WatchEvaluationResponse resp;
  while (reader->Read(&resp)) {
    for (const auto& ev : resp.events()) events.push_back(ev);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return events;
}

ocx::v1::Evaluation CreateOrFail(ocx::v1::EvaluationService::Stub* stub,
                                 const ocx::v1::EvaluationSpec& spec,
                                 const std::string& request_id) {
  ocx::v1::CreateEvaluationRequest req;
  *req.mutable_spec() = spec;
  req.set_request_id(request_id);
  ocx::v1::Evaluation e;
  grpc::ClientContext ctx;
  grpc::Status s = stub->CreateEvaluation(&ctx, req, &e);
  EXPECT_TRUE(s.ok()) << "CreateEvaluation: " << s.error_message();
  return e;
}

ocx::v1::Task GetTaskOrFail(ocx::v1::EvaluationService::Stub* stub,
                            const std::string& id) {
  ocx::v1::GetTaskRequest req;
  req.set_id(id);
  ocx::v1::Task t;
  grpc::ClientContext ctx;
  grpc::Status s = stub->GetTask(&ctx, req, &t);
  EXPECT_TRUE(s.ok()) << "GetTask " << id << ": " << s.error_message();
  return t;
}

std::vector<ocx::v1::Task> AllTasks(ocx::v1::EvaluationService::Stub* stub,
                                    const std::string& id) {
  std::vector<ocx::v1::Task> tasks;
  std::string token;
  do {
    ocx::v1::ListTasksRequest req;
    req.set_evaluation_id(id);
    req.set_page_size(100);
    req.set_page_token(token);
    ocx::v1::ListTasksResponse resp;
    grpc::ClientContext ctx;
    if (!stub->ListTasks(&ctx, req, &resp).ok()) break;
    for (const auto& t : resp.tasks()) tasks.push_back(t);
    token = resp.next_page_token();
  } while (!token.empty());
  return tasks;
}

ocx::v1::EvaluationSpec TestSpec(int models, int datasets,
                                 const std::vector<std::string>& task_args,
                                 int max_num_workers, int retry) {
  ocx::v1::EvaluationSpec spec;
  for (int m = 0; m < models; ++m) {
    auto* model = spec.add_models();
    model->set_abbr(absl::StrCat("model", m));
    model->set_type("OpenAISDK");
    model->set_path("stories260K");
  }
  for (int d = 0; d < datasets; ++d) {
    auto* ds = spec.add_datasets();
    ds->set_abbr(absl::StrCat("ds", d));
    ds->set_path(absl::StrCat("/data/ds", d, ".jsonl"));
  }
  for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
    auto* runner = stage->mutable_runner();
    runner->set_type("LocalRunner");
    runner->set_max_num_workers(max_num_workers);
    runner->set_retry(retry);
    auto* task = runner->mutable_task();
    task->set_type("command");
    task->add_argv(TestTaskPath());
    task->add_argv("{task_json}");
    task->add_argv("--attempt");
    task->add_argv("{attempt}");
    for (const auto& a : task_args) task->add_argv(a);
  }
  return spec;
}

}  // namespace ocx::testing
