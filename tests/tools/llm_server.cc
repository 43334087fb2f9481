#include "tests/tools/llm_server.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ocx::testing {
namespace {

constexpr char kModelSha256[] =
    "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The first executable `name` on $PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(dirs, ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs argv to completion and returns its stdout; an error on a non-zero
// exit. Used for `sha256sum` (coreutils), so no crypto library is needed.
absl::StatusOr<std::string> Capture(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(args, " "),
                                            " failed (status ", status, ")"));
  }
  return out;
}

absl::StatusOr<std::string> VerifiedModel(const std::string& path) {
  std::string sha256sum = FindOnPath("sha256sum");
  if (sha256sum.empty()) {
    return absl::FailedPreconditionError("sha256sum (coreutils) not on PATH");
  }
  absl::StatusOr<std::string> out = Capture({sha256sum, path});
  if (!out.ok()) return out.status();
  std::string digest = out->substr(0, out->find(' '));
  if (digest != kModelSha256) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model file ", path, " has sha256 ", digest, ", expected ",
        kModelSha256, " (stories260K.gguf, see ../shared/models/README.md)"));
  }
  return path;
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

namespace {

// The main checkout of the repository at `source` when `source` is a git
// worktree (its .git is a file "gitdir: <main>/.git/worktrees/<name>");
// "" otherwise.
std::string MainCheckout(const std::string& source) {
  std::ifstream in(absl::StrCat(source, "/.git"));
  std::string line;
  if (!std::getline(in, line) || !absl::StartsWith(line, "gitdir: ")) {
    return "";
  }
  const std::string gitdir = line.substr(8);
  const size_t at = gitdir.rfind("/.git/worktrees/");
  return at == std::string::npos ? "" : gitdir.substr(0, at);
}

}  // namespace

absl::StatusOr<std::string> LlmServer::ModelPath() {
  static std::mutex mu;
  static absl::StatusOr<std::string>* cached = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (cached != nullptr) return *cached;
  std::vector<std::string> candidates;
  const char* env = getenv("OCX_TEST_MODEL");
  if (env != nullptr && *env != '\0') {
    if (!IsRegularFile(env)) {
      cached = new absl::StatusOr<std::string>(absl::NotFoundError(
          absl::StrCat("OCX_TEST_MODEL=", env, " is not a file")));
      return *cached;
    }
    candidates.push_back(env);
  }
  candidates.push_back(
      absl::StrCat(OCX_SOURCE_DIR, "/../shared/models/stories260K.gguf"));
  // A git worktree elsewhere: ../shared beside the main checkout.
  if (std::string main = MainCheckout(OCX_SOURCE_DIR); !main.empty()) {
    candidates.push_back(
        absl::StrCat(main, "/../shared/models/stories260K.gguf"));
  }
  for (const std::string& c : candidates) {
    if (IsRegularFile(c)) {
      cached = new absl::StatusOr<std::string>(VerifiedModel(c));
      return *cached;
    }
  }
  cached = new absl::StatusOr<std::string>(absl::NotFoundError(absl::StrCat(
      "the test model stories260K.gguf was not found (looked at ",
      absl::StrJoin(candidates, ", "),
      "); put it at ../shared/models/ beside the repository or set "
      "OCX_TEST_MODEL")));
  return *cached;
}

std::string LlmServer::ScriptPath() {
  return absl::StrCat(OCX_SOURCE_DIR, "/tests/tools/llm-server/server.mjs");
}

LlmServer::~LlmServer() { Stop(); }

absl::Status LlmServer::Start(std::vector<std::string> extra_args) {
  if (pid_ > 0) return absl::FailedPreconditionError("server already started");
  std::string node = FindOnPath("node");
  if (node.empty()) {
    return absl::FailedPreconditionError(
        "node is not on PATH: install Node.js >= 20 (scripts/install-deps.sh "
        "does)");
  }
  std::string dir = absl::StrCat(OCX_SOURCE_DIR, "/tests/tools/llm-server");
  if (!IsRegularFile(dir + "/node_modules/node-llama-cpp/package.json")) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir,
                     "/node_modules is missing node-llama-cpp: run `npm ci "
                     "--omit=optional` there (scripts/install-deps.sh does)"));
  }
  absl::StatusOr<std::string> model = ModelPath();
  if (!model.ok()) return model.status();

  std::vector<std::string> args = {node,   ScriptPath(), "--model",
                                   *model, "--port",     "0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  char err_tmpl[] = "/tmp/ocx-llm-server.err.XXXXXX";
  int err_fd = mkstemp(err_tmpl);
  if (err_fd < 0) return absl::InternalError("mkstemp failed");
  stderr_path_ = err_tmpl;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(err_fd);
    return absl::InternalError("pipe failed");
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Own group, so Kill() reaches anything node starts; and die with the
    // test process, so a crashed test leaves no server behind.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(out[1], 1);
    dup2(err_fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err_fd);
  if (pid < 0) {
    close(out[0]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  pid_ = pid;
  stdout_fd_ = out[0];

  std::string line_buf;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    size_t nl = line_buf.find('\n');
    if (nl != std::string::npos) {
      std::string line = line_buf.substr(0, nl);
      line_buf.erase(0, nl + 1);
      absl::string_view url = line;
      if (absl::ConsumePrefix(&url, "listening ")) {
        base_url_ = std::string(url);
        absl::string_view rest = url;
        absl::ConsumePrefix(&rest, "http://127.0.0.1:");
        rest = rest.substr(0, rest.find('/'));
        if (!absl::SimpleAtoi(rest, &port_)) port_ = 0;
        return absl::OkStatus();
      }
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      std::string err = stderr_text();
      Kill();
      return absl::DeadlineExceededError(absl::StrCat(
          "the LLM test server did not print its listening line within 60 s; "
          "stderr: ",
          err));
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    char buf[1024];
    ssize_t n = r > 0 ? read(stdout_fd_, buf, sizeof buf) : 0;
    if (r > 0 && n <= 0) {
      Reap(SIGKILL, 0);
      return absl::FailedPreconditionError(
          absl::StrCat("the LLM test server exited at start: ", args[0], " ",
                       args[1], "; stderr: ", stderr_text()));
    }
    if (n > 0) line_buf.append(buf, n);
  }
}

bool LlmServer::running() {
  if (pid_ <= 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    // Reap the rest of its group too, if anything is left.
    kill(-pid_, SIGKILL);
    pid_ = -1;
    return false;
  }
  return true;
}

std::string LlmServer::stderr_text() const {
  return stderr_path_.empty() ? "" : Slurp(stderr_path_);
}

void LlmServer::Reap(int sig, int grace_ms) {
  if (pid_ > 0) {
    kill(-pid_, sig);
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    int status;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(-pid_, SIGKILL);  // stragglers of the group, if any
    pid_ = -1;
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

void LlmServer::Kill() { Reap(SIGKILL, 0); }

void LlmServer::Stop() {
  Reap(SIGTERM, 5000);
  if (!stderr_path_.empty()) {
    unlink(stderr_path_.c_str());
    stderr_path_.clear();
  }
}

absl::StatusOr<HttpResult> HttpCall(const std::string& method,
                                    const std::string& url,
                                    const std::string& body,
                                    const std::vector<std::string>& headers,
                                    long timeout_ms) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  HttpResult result;
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Content-Type: application/json");
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(method, " ", url, ": ", curl_easy_strerror(rc)));
  }
  return result;
}

}  // namespace ocx::testing
