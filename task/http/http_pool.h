// HttpPool: many HTTP POST/GET requests in flight on one thread, through a
// libcurl multi handle. Connections are kept alive and reused between
// requests to the same host (the multi handle's connection cache); at most
// `max_in_flight` requests run at once, starts are spaced to at most
// `queries_per_second`, and a request may be delayed (retry backoff).
//
// Completion callbacks run on the thread that calls Run(), one at a time,
// and may Submit() more requests (retries, follow-ups) or Stop() the pool.
//
// Thread-compatible: use one pool from one thread.
#ifndef OCX_TASK_HTTP_HTTP_POOL_H_
#define OCX_TASK_HTTP_HTTP_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ocx::task {

struct HttpRequest {
  std::string url;
  // POST when non-empty (Content-Type: application/json), else GET.
  std::string body;
  // Extra headers, "Name: value".
  std::vector<std::string> headers;
  int64_t timeout_ms = 60000;
};

struct HttpResponse {
  // 0 when the transfer failed before a status line (see `transport_error`).
  long status = 0;
  std::string body;
  // libcurl's description of a connection failure or timeout; empty when a
  // response arrived.
  std::string transport_error;
  bool timed_out = false;
  // Retry-After in milliseconds when the server sent one in seconds; -1
  // otherwise.
  int64_t retry_after_ms = -1;
};

class HttpPool {
 public:
  struct Options {
    int max_in_flight = 8;
    // 0: no limit.
    double queries_per_second = 0;
  };
  using Callback = std::function<void(HttpResponse)>;

  explicit HttpPool(Options options);
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  // Queues `request`; it starts no earlier than `delay_ms` from now.
  void Submit(HttpRequest request, Callback done, int64_t delay_ms = 0);

  // Runs transfers until nothing is queued, delayed or in flight, or until
  // Stop(). Requests still in flight at Stop() are abandoned without their
  // callbacks. INTERNAL when libcurl itself fails.
  absl::Status Run();

  // Makes Run() return after the current callback.
  void Stop() { stopped_ = true; }

  // Requests started so far (each retry counts).
  int64_t requests_started() const { return started_; }

 private:
  struct Transfer;
  struct Delayed {
    int64_t due_ms;
    int64_t seq;
    std::shared_ptr<Transfer> transfer;
    bool operator>(const Delayed& o) const {
      return due_ms != o.due_ms ? due_ms > o.due_ms : seq > o.seq;
    }
  };

  void Start(std::shared_ptr<Transfer> transfer);
  void ReleaseHandle(void* easy);
  // The steps of one turn of Run(): start what is due (delayed transfers
  // whose time has come, ready ones up to max_in_flight and the QPS
  // spacing), hand finished transfers to their callbacks (false when one of
  // them stopped the pool), and wait for a socket or the next due start.
  void StartDue(int64_t spacing_us);
  bool FinishDone();
  void Finish(void* easy, int result);
  absl::Status Wait(int64_t spacing_us);

  Options options_;
  void* multi_ = nullptr;            // CURLM*
  std::vector<void*> idle_handles_;  // CURL* kept for connection reuse
  std::deque<std::shared_ptr<Transfer>> ready_;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<Delayed>>
      delayed_;
  std::vector<std::shared_ptr<Transfer>> in_flight_;
  int64_t seq_ = 0;
  int64_t started_ = 0;
  int64_t next_start_us_ = 0;  // QPS spacing, steady clock
  bool stopped_ = false;
};

}  // namespace ocx::task

#endif  // OCX_TASK_HTTP_HTTP_POOL_H_
