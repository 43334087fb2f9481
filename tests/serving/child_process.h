// Test harness for the serving tests: a program (`ocx-task serve ...`) as a
// child of the test with an environment of the test's choosing, free port
// blocks, and held ports.
//
// Thread-compatible: one thread drives a child.
#ifndef OCX_TESTS_SERVING_CHILD_PROCESS_H_
#define OCX_TESTS_SERVING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace ocx::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // Kill()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv (argv[0] a path) in its own process group, dying with the
  // test, with stderr appended to `stderr_path`. `env` changes the test's
  // environment: a value sets the variable, nullopt removes it.
  absl::Status Start(
      const std::vector<std::string>& argv,
      const std::vector<std::pair<std::string, std::optional<std::string>>>&
          env,
      const std::string& stderr_path);

  pid_t pid() const { return pid_; }

  // The exit code once the child exited within `timeout_ms` (128 + signal
  // when a signal ended it); nullopt while it still runs.
  std::optional<int> WaitExit(int timeout_ms);

  // SIGTERM to the group, up to 2 s, then SIGKILL; reaps.
  void Kill();

 private:
  pid_t pid_ = -1;
};

// Polls until `path` exists; false after `timeout_ms`.
bool WaitForFile(const std::string& path, int timeout_ms);

// The first of `count` consecutive ports, all bindable on 127.0.0.1 now,
// from a base that differs per test process (so parallel tests rarely
// meet); 0 when none was found.
int FreePortBlock(int count);

// A port nobody listens on: bound on 127.0.0.1 (port 0) to find it free,
// then closed, so connecting to it is refused. 0 when no port was bound.
int DeadPort();

// A TCP port bound and listening on 127.0.0.1 while this object lives.
class HeldPort {
 public:
  explicit HeldPort(int port);
  ~HeldPort();
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace ocx::testing

#endif  // OCX_TESTS_SERVING_CHILD_PROCESS_H_
