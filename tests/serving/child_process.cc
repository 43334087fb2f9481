#include "tests/serving/child_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace ocx::testing {
namespace {

int BindLoopback(int port, bool listen_too) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      (listen_too && ::listen(fd, 4) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

ChildProcess::~ChildProcess() { Kill(); }

absl::Status ChildProcess::Start(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& env,
    const std::string& stderr_path) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    size_t eq = entry.find('=');
    if (eq != std::string::npos)
      vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [name, value] : env) {
    if (value.has_value()) {
      vars[name] = *value;
    } else {
      vars.erase(name);
    }
  }
  std::vector<std::string> entries;
  for (const auto& [name, value] : vars) entries.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> exec_argv;
  for (std::string& a : args) exec_argv.push_back(a.data());
  exec_argv.push_back(nullptr);

  int err_fd = ::open(stderr_path.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err_fd < 0) {
    return absl::InternalError(
        absl::StrCat(stderr_path, ": ", std::strerror(errno)));
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(1);
    ::dup2(err_fd, 2);
    ::execve(exec_argv[0], exec_argv.data(), envp.data());
    _exit(127);
  }
  ::close(err_fd);
  if (pid < 0) return absl::InternalError("fork failed");
  pid_ = pid;
  return absl::OkStatus();
}

std::optional<int> ChildProcess::WaitExit(int timeout_ms) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  if (WaitExit(2000).has_value()) return;
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool WaitForFile(const std::string& path, int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  struct stat st;
  while (::stat(path.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

int FreePortBlock(int count) {
  // Below Linux's ephemeral range (32768+), where outgoing connections
  // take their ports.
  constexpr int kFirst = 21000;
  constexpr int kSpan = 11000;
  const int start = kFirst + (::getpid() * 7 % (kSpan / count)) * count;
  for (int k = 0; k < kSpan / count; ++k) {
    const int base = kFirst + (start - kFirst + k * count) % (kSpan - count);
    bool all = true;
    for (int p = base; p < base + count && all; ++p) {
      int fd = BindLoopback(p, /*listen_too=*/false);
      all = fd >= 0;
      if (fd >= 0) ::close(fd);
    }
    if (all) return base;
  }
  return 0;
}

int DeadPort() {
  const int fd = BindLoopback(0, /*listen_too=*/false);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  const int ok =
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

HeldPort::HeldPort(int port) : fd_(BindLoopback(port, /*listen_too=*/true)) {}

HeldPort::~HeldPort() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ocx::testing
