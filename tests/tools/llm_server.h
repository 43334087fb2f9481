// Test harness: the real-model OpenAI-compatible test server
// (tests/tools/llm-server/server.mjs, llama.cpp through node-llama-cpp) as a
// child process of the test, serving ../shared/models/stories260K.gguf.
//
// Missing node, node_modules or the model is an error that says what to
// install or where to put it: tests fail on it, they never skip, because CI
// (scripts/install-deps.sh) installs all of it.
//
// Thread-compatible: one thread starts and stops a server.
#ifndef OCX_TESTS_TOOLS_LLM_SERVER_H_
#define OCX_TESTS_TOOLS_LLM_SERVER_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ocx::testing {

class LlmServer {
 public:
  LlmServer() = default;
  ~LlmServer();  // Stop()
  LlmServer(const LlmServer&) = delete;
  LlmServer& operator=(const LlmServer&) = delete;

  // The model file: $OCX_TEST_MODEL, else <source>/../shared/models/
  // stories260K.gguf, else (in a git worktree) the same path beside the
  // main checkout. The first that exists must have the model's sha256
  // (checked once per process).
  static absl::StatusOr<std::string> ModelPath();
  // tests/tools/llm-server/server.mjs in the source tree.
  static std::string ScriptPath();

  // Starts `node server.mjs --model <ModelPath()> --port 0 <extra_args>` in
  // its own process group (killed with the test process too) and waits up
  // to 60 s for its "listening" line. The server's stderr is in the error.
  absl::Status Start(std::vector<std::string> extra_args = {});

  // http://127.0.0.1:<port>/v1, valid after Start.
  std::string base_url() const { return base_url_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // False once the process has exited (e.g. after --die-after fired).
  bool running();
  // What the server wrote to stderr so far.
  std::string stderr_text() const;

  // SIGKILLs the process group and reaps it.
  void Kill();
  // SIGTERM, up to 5 s to exit, then Kill().
  void Stop();

 private:
  void Reap(int sig, int grace_ms);

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::string base_url_;
  std::string stderr_path_;
};

// A plain HTTP request for tests (libcurl, no retries): the status code and
// body, or an error when no HTTP answer came back at all.
struct HttpResult {
  long status = 0;
  std::string headers;  // the raw header lines
  std::string body;
};
absl::StatusOr<HttpResult> HttpCall(
    const std::string& method, const std::string& url,
    const std::string& body = "", const std::vector<std::string>& headers = {},
    long timeout_ms = 30000);

}  // namespace ocx::testing

#endif  // OCX_TESTS_TOOLS_LLM_SERVER_H_
