// HttpProbe: one blocking GET at a time through a reused libcurl easy
// handle, for the daemon's probes of model servers (the health prober of
// managed replicas, the endpoint prober of user-given endpoints, and the
// preflight check). A server that keeps the connection open is not
// reconnected every time. Probes never go through a proxy: a lab's
// http_proxy must not route probes of its own nodes.
//
// Thread-compatible: one thread uses one HttpProbe at a time.
#ifndef OCX_SERVING_HTTP_PROBE_H_
#define OCX_SERVING_HTTP_PROBE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace ocx::serving {

struct ProbeAnswer {
  // An HTTP status line came back.
  bool answered = false;
  long status = 0;
  // The start of the body, at most the `max_body` asked for.
  std::string body;
  // Why no answer came, in words a user can act on: "connection refused",
  // "timed out (no answer within 2000 ms)", or libcurl's own message. Empty
  // when answered.
  std::string error;
  int64_t latency_ms = 0;
};

class HttpProbe {
 public:
  HttpProbe();
  ~HttpProbe();
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // GET `url` within `timeout_ms` (at least 1: libcurl's 0 means no
  // limit), keeping at most `max_body` bytes of the body (0: none).
  ProbeAnswer Get(const std::string& url, int timeout_ms, size_t max_body = 0);

 private:
  void* easy_ = nullptr;  // CURL*, kept out of this header
};

}  // namespace ocx::serving

#endif  // OCX_SERVING_HTTP_PROBE_H_
