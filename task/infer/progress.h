// Progress of an infer task: `<task dir>/progress.json`, written atomically
// about once a second and at the end, and a line in the task's log every few
// seconds. ocxd reads the file for running tasks (`ocxctl status --watch`).
//
// File: common/progress_file.h ("done" counts resumed samples too; the
// token counts are this attempt's).
//
// Thread-compatible.
#ifndef OCX_TASK_INFER_PROGRESS_H_
#define OCX_TASK_INFER_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace ocx::task {

class Progress {
 public:
  // `path` empty: nothing is written (only log lines).
  Progress(std::string path, int attempt, int64_t total);

  // Counts samples finished (or found already finished in a journal).
  void Add(int64_t samples);
  // Counts tokens the model server reported (`usage`) for this attempt.
  void AddTokens(int64_t prompt, int64_t completion) {
    prompt_tokens_ += prompt;
    completion_tokens_ += completion;
  }

  // Writes the file and a log line now.
  absl::Status Flush();

  int64_t done() const { return done_; }
  int64_t total() const { return total_; }

 private:
  void MaybeReport();

  std::string path_;
  int attempt_;
  int64_t total_;
  int64_t done_ = 0;
  int64_t prompt_tokens_ = 0;
  int64_t completion_tokens_ = 0;
  int64_t last_write_ms_ = 0;
  int64_t last_log_ms_ = 0;
  int64_t interval_start_ms_;
  int64_t interval_start_done_ = 0;
  double rate_ = 0;
};

}  // namespace ocx::task

#endif  // OCX_TASK_INFER_PROGRESS_H_
