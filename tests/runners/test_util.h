// Helpers shared by the runner tests: temporary directories, files, waiting
// with deadlines, and whether a process is gone.
#ifndef OCX_TESTS_RUNNERS_TEST_UTIL_H_
#define OCX_TESTS_RUNNERS_TEST_UTIL_H_

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "runners/local/attempt_files.h"

namespace ocx::runners::testing {

// A fresh directory under $TEST_TMPDIR or /tmp.
inline std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl =
      absl::StrCat(base != nullptr ? base : "/tmp", "/ocx-runners-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << ": " << strerror(errno);
  }
  return tmpl;
}

// The file's content; "" when it cannot be read.
inline std::string Slurp(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFile(path);
  return s.ok() ? *s : "";
}

// Polls `cond` every few milliseconds until it holds or `timeout_ms` passed.
inline bool WaitFor(const std::function<bool()>& cond, int timeout_ms) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// True when `pid` no longer runs (gone, or a zombie nobody reaped yet).
inline bool ProcessGone(pid_t pid) {
  absl::StatusOr<ProcStat> st = ReadProcStat(pid);
  return !st.ok() || st->state == 'Z' || st->state == 'X';
}

// The pid in a file such as task.pid; -1 when absent or malformed.
inline pid_t ReadPidFile(const std::string& path) {
  std::string text = Slurp(path);
  int pid = -1;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid)) return -1;
  return pid;
}

// Ends whatever a test left running under `root` (a failed assertion may
// return before its shims end) and removes `root`. A shim is only killed
// after its claim was verified against /proc; its task's process group is
// killed first, while the live shim guarantees the group id is still its.
// Then reaps the test process's own exited children (shims of destroyed
// runners), so repeated runs do not pile up zombies.
inline void CleanUp(const std::string& root) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename() != kClaimFile) continue;
    std::string dir = it->path().parent_path().string();
    absl::StatusOr<Claim> claim = ReadClaim(dir);
    if (!claim.ok()) continue;
    absl::StatusOr<bool> alive = ClaimHolderAlive(*claim);
    if (!alive.ok() || !*alive) continue;
    pid_t task = ReadPidFile(dir + "/" + kTaskPidFile);
    if (task > 0) kill(-task, SIGKILL);
    kill(claim->pid, SIGKILL);
  }
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  std::filesystem::remove_all(root, ec);
}

}  // namespace ocx::runners::testing

#endif  // OCX_TESTS_RUNNERS_TEST_UTIL_H_
