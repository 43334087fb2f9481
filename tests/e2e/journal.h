// Reads the journal ocx-test-task appends to: one "start" and one "end" line
// per run, so tests can count how often each task really ran.
#ifndef OCX_TESTS_E2E_JOURNAL_H_
#define OCX_TESTS_E2E_JOURNAL_H_

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ocx::testing {

struct JournalRun {
  int attempt = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // 0: no end line (killed)
};

// task id -> runs in journal order.
inline std::map<std::string, std::vector<JournalRun>> ReadJournal(
    const std::string& path) {
  std::map<std::string, std::vector<JournalRun>> runs;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string task, what;
    int attempt = 0;
    int64_t ms = 0;
    if (!(f >> task >> attempt >> what >> ms)) continue;
    auto& list = runs[task];
    if (what == "start") {
      list.push_back(JournalRun{attempt, ms, 0});
    } else {
      for (auto it = list.rbegin(); it != list.rend(); ++it) {
        if (it->attempt == attempt && it->end_ms == 0) {
          it->end_ms = ms;
          break;
        }
      }
    }
  }
  return runs;
}

}  // namespace ocx::testing

#endif  // OCX_TESTS_E2E_JOURNAL_H_
