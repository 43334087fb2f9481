// llm-server-runner: the real-model test server (llm_server.h) for tests
// that are not C++ (tests/e2e/console_browser_test.py). Starts it with the
// given extra arguments, prints its base URL ("http://127.0.0.1:PORT/v1")
// as the first line of stdout, and stops it when stdin closes — so the
// server never outlives the test that started it.
//
//   llm-server-runner [SERVER_ARG...]
// Exit 1 with the reason on stderr when the server cannot start.
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/tools/llm_server.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  ocx::testing::LlmServer server;
  absl::Status started = server.Start(args);
  if (!started.ok()) {
    fprintf(stderr, "llm-server-runner: %s\n",
            std::string(started.message()).c_str());
    return 1;
  }
  printf("%s\n", server.base_url().c_str());
  fflush(stdout);
  // node makes the stdin it shares with us non-blocking: wait with poll.
  char buf[256];
  while (true) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) break;
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
  }
  server.Stop();
  return 0;
}
