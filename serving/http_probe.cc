#include "serving/http_probe.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ocx::serving {
namespace {

struct Sink {
  std::string* body;
  size_t max;
};

size_t KeepBody(char* data, size_t size, size_t n, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  const size_t bytes = size * n;
  if (sink->body->size() < sink->max) {
    sink->body->append(data, std::min(bytes, sink->max - sink->body->size()));
  }
  return bytes;  // the rest is read and dropped, not an error
}

// A refused or unreachable connection in the kernel's words ("connection
// refused"), which say more than libcurl's "Couldn't connect to server".
std::string Explain(CURL* easy, CURLcode code, const char* buffer,
                    int timeout_ms) {
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return absl::StrCat("timed out (no answer within ", timeout_ms, " ms)");
  }
  long os_errno = 0;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
  if (code == CURLE_COULDNT_CONNECT && os_errno != 0) {
    char text[128];
    return absl::AsciiStrToLower(
        strerror_r(static_cast<int>(os_errno), text, sizeof(text)));
  }
  return buffer[0] != '\0' ? std::string(buffer)
                           : std::string(curl_easy_strerror(code));
}

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

HttpProbe::HttpProbe() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  easy_ = curl_easy_init();
}

HttpProbe::~HttpProbe() { curl_easy_cleanup(static_cast<CURL*>(easy_)); }

ProbeAnswer HttpProbe::Get(const std::string& url, int timeout_ms,
                           size_t max_body) {
  ProbeAnswer answer;
  CURL* easy = static_cast<CURL*>(easy_);
  if (easy == nullptr) {
    answer.error = "curl_easy_init failed";
    return answer;
  }
  timeout_ms = std::max(timeout_ms, 1);
  curl_easy_reset(easy);
  char error[CURL_ERROR_SIZE] = {0};
  Sink sink{&answer.body, max_body};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, KeepBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  const int64_t start = SteadyMillis();
  const CURLcode code = curl_easy_perform(easy);
  answer.latency_ms = SteadyMillis() - start;
  // The buffer and the sink live on this frame only.
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, nullptr);
  if (code != CURLE_OK) {
    answer.error = Explain(easy, code, error, timeout_ms);
    return answer;
  }
  answer.answered = true;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

}  // namespace ocx::serving
