// LogTail: the console's live log of a task, as server-sent events
// (https://html.spec.whatwg.org/multipage/server-sent-events.html). Each
// Poll reads what the attempt's log file gained since the last one and
// frames it as
//   event: log     data: {"attempt": N, "offset": BYTES, "text": "..."}
//   event: attempt data: {"attempt": N}        (a retry started: following)
//   event: end     data: {"state": "SUCCEEDED"} (nothing more will come)
// Text is cut on a UTF-8 character edge and made valid UTF-8, and the JSON
// escapes <, > and &, so a log line is inert however a page shows it.
//
// Following (attempt 0) starts at the latest attempt, waits for the first
// one when the task has not started, moves to the next attempt when a retry
// starts, and ends when the task has ended and its last log is read. A
// given attempt ends when that attempt has.
//
// Reads the store's read pool and the log file; never the dispatcher.
// Thread-compatible: one stream, one thread.
#ifndef OCX_SERVER_HTTP_CONSOLE_LOG_H_
#define OCX_SERVER_HTTP_CONSOLE_LOG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ocx/v1/resources.pb.h"
#include "server/store/store.h"

namespace ocx::server {

class LogTail {
 public:
  // `attempt` 0 follows the task; `offset` is where to start in the first
  // attempt's log.
  LogTail(store::Store* store, std::string task_id, int attempt,
          int64_t offset);

  // The events ready now ("" when nothing is new), or NOT_FOUND for an
  // unknown task. Sets *done once the stream is over (the `end` event is
  // in the returned text).
  absl::StatusOr<std::string> Poll(bool* done);

  // Most bytes of log one event carries.
  static constexpr size_t kMaxChunk = 64 * 1024;

 private:
  // Bytes of the current attempt's log after offset_, up to kMaxChunk.
  std::string ReadMore() const;
  // The events for the stream's end, or for moving to a retry; "" while
  // the task is between attempts.
  absl::StatusOr<std::string> AfterAttempt(bool* done);

  store::Store* const store_;
  const std::string task_id_;
  const int requested_;
  int64_t offset_;
  std::optional<ocx::v1::Attempt> attempt_;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_CONSOLE_LOG_H_
