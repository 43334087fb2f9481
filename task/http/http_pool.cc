#include "task/http/http_pool.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ocx::task {
namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct HttpPool::Transfer {
  HttpRequest request;
  Callback done;
  HttpResponse response;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
};

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  absl::string_view line(data, size * n);
  auto* response = static_cast<HttpResponse*>(user);
  constexpr absl::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size() &&
      absl::EqualsIgnoreCase(line.substr(0, kRetryAfter.size()), kRetryAfter)) {
    double seconds = 0;
    if (absl::SimpleAtod(
            absl::StripAsciiWhitespace(line.substr(kRetryAfter.size())),
            &seconds) &&
        seconds >= 0) {
      response->retry_after_ms = static_cast<int64_t>(seconds * 1000);
    }
  }
  // A new status line (after a redirect or 100-continue) starts over.
  if (absl::StartsWith(line, "HTTP/")) response->retry_after_ms = -1;
  return size * n;
}

}  // namespace

HttpPool::HttpPool(Options options) : options_(options) {
  GlobalInit();
  if (options_.max_in_flight < 1) options_.max_in_flight = 1;
  multi_ = curl_multi_init();
  // Keep as many connections open as requests may run at once.
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAXCONNECTS,
                    static_cast<long>(options_.max_in_flight + 4));
}

HttpPool::~HttpPool() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (auto& t : in_flight_) {
    curl_multi_remove_handle(multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
  }
  for (void* easy : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(easy));
  curl_multi_cleanup(multi);
}

void HttpPool::Submit(HttpRequest request, Callback done, int64_t delay_ms) {
  auto t = std::make_shared<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  if (delay_ms <= 0) {
    ready_.push_back(std::move(t));
  } else {
    delayed_.push({NowUs() / 1000 + delay_ms, seq_++, std::move(t)});
  }
}

void HttpPool::ReleaseHandle(void* easy) {
  curl_easy_reset(static_cast<CURL*>(easy));
  idle_handles_.push_back(easy);
}

void HttpPool::Start(std::shared_ptr<Transfer> t) {
  CURL* easy = nullptr;
  if (!idle_handles_.empty()) {
    easy = static_cast<CURL*>(idle_handles_.back());
    idle_handles_.pop_back();
  } else {
    easy = curl_easy_init();
  }
  t->easy = easy;
  t->response = HttpResponse();
  curl_easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(t->request.timeout_ms));
  curl_easy_setopt(
      easy, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::min<int64_t>(t->request.timeout_ms, 30000)));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t->response.body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t->response);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  t->error[0] = '\0';
  curl_slist_free_all(t->headers);
  t->headers = nullptr;
  for (const std::string& h : t->request.headers) {
    t->headers = curl_slist_append(t->headers, h.c_str());
  }
  if (!t->request.body.empty()) {
    t->headers =
        curl_slist_append(t->headers, "Content-Type: application/json");
    // No "Expect: 100-continue" round trip for larger bodies.
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(t->request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.data());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
  curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
  in_flight_.push_back(std::move(t));
  ++started_;
}

void HttpPool::StartDue(int64_t spacing_us) {
  const int64_t now_us = NowUs();
  while (!delayed_.empty() && delayed_.top().due_ms * 1000 <= now_us) {
    ready_.push_back(delayed_.top().transfer);
    delayed_.pop();
  }
  while (!ready_.empty() &&
         static_cast<int>(in_flight_.size()) < options_.max_in_flight &&
         (spacing_us == 0 || next_start_us_ <= now_us)) {
    std::shared_ptr<Transfer> t = std::move(ready_.front());
    ready_.pop_front();
    Start(std::move(t));
    if (spacing_us > 0) {
      next_start_us_ = std::max(next_start_us_, now_us) + spacing_us;
    }
  }
}

void HttpPool::Finish(void* handle, int code) {
  CURL* easy = static_cast<CURL*>(handle);
  const CURLcode result = static_cast<CURLcode>(code);
  Transfer* raw = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
  auto it = std::find_if(
      in_flight_.begin(), in_flight_.end(),
      [&](const std::shared_ptr<Transfer>& t) { return t.get() == raw; });
  if (it == in_flight_.end()) return;
  std::shared_ptr<Transfer> t = std::move(*it);
  in_flight_.erase(it);
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
  if (result == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->response.status);
  } else {
    t->response.status = 0;
    t->response.timed_out = result == CURLE_OPERATION_TIMEDOUT;
    t->response.transport_error = t->error[0] != '\0'
                                      ? std::string(t->error)
                                      : std::string(curl_easy_strerror(result));
  }
  ReleaseHandle(easy);
  curl_slist_free_all(t->headers);
  t->headers = nullptr;
  t->easy = nullptr;
  Callback done = std::move(t->done);
  done(std::move(t->response));
}

bool HttpPool::FinishDone() {
  int left = 0;
  while (CURLMsg* msg =
             curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Finish(msg->easy_handle, msg->data.result);
    if (stopped_) return false;
  }
  return true;
}

absl::Status HttpPool::Wait(int64_t spacing_us) {
  // Sleep until a socket is ready or the next delayed/spaced start is due.
  int64_t wait_ms = 100;
  const int64_t after_us = NowUs();
  if (!delayed_.empty()) {
    wait_ms = std::min<int64_t>(
        wait_ms, std::max<int64_t>(0, delayed_.top().due_ms - after_us / 1000));
  }
  if (!ready_.empty() &&
      static_cast<int>(in_flight_.size()) < options_.max_in_flight) {
    wait_ms = spacing_us == 0
                  ? 0
                  : std::min<int64_t>(
                        wait_ms, std::max<int64_t>(
                                     0, (next_start_us_ - after_us) / 1000));
  }
  if (in_flight_.empty() && wait_ms > 0) {
    // Nothing to poll: just wait for the next due start.
    struct timespec ts = {static_cast<time_t>(wait_ms / 1000),
                          static_cast<long>((wait_ms % 1000) * 1000000)};
    nanosleep(&ts, nullptr);
  } else if (wait_ms > 0 || !in_flight_.empty()) {
    int numfds = 0;
    CURLMcode mc = curl_multi_poll(static_cast<CURLM*>(multi_), nullptr, 0,
                                   static_cast<int>(wait_ms), &numfds);
    if (mc != CURLM_OK) {
      return absl::InternalError(
          absl::StrCat("libcurl: ", curl_multi_strerror(mc)));
    }
  }
  return absl::OkStatus();
}

absl::Status HttpPool::Run() {
  stopped_ = false;
  const int64_t spacing_us =
      options_.queries_per_second > 0
          ? static_cast<int64_t>(1e6 / options_.queries_per_second)
          : 0;
  while (!stopped_ &&
         (!ready_.empty() || !delayed_.empty() || !in_flight_.empty())) {
    StartDue(spacing_us);
    int running = 0;
    CURLMcode mc = curl_multi_perform(static_cast<CURLM*>(multi_), &running);
    if (mc != CURLM_OK) {
      return absl::InternalError(
          absl::StrCat("libcurl: ", curl_multi_strerror(mc)));
    }
    if (!FinishDone()) return absl::OkStatus();
    if (absl::Status waited = Wait(spacing_us); !waited.ok()) return waited;
  }
  return absl::OkStatus();
}

}  // namespace ocx::task
