// EndpointProber: checks user-given endpoints (CheckEndpoint) on a thread
// of its own, so the dispatcher never waits on a server. Unlike the
// replica HealthProber it keeps no schedule: the dispatcher's endpoint
// health (server/dispatcher/endpoint_health.h) decides when an endpoint is
// checked again (backoff, the circuit breaker) and asks with Probe; each
// answer comes back through Take, and `wake` is called after each.
//
// Thread-safe: Probe and Take may be called from any thread.
#ifndef OCX_SERVING_ENDPOINT_PROBER_H_
#define OCX_SERVING_ENDPOINT_PROBER_H_

#include <deque>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "serving/endpoint_check.h"

namespace ocx::serving {

class EndpointProber {
 public:
  // `timeout_ms` bounds one check (connect + answer).
  EndpointProber(int timeout_ms, std::function<void()> wake);
  ~EndpointProber();  // stops and joins the thread (after a running check)

  EndpointProber(const EndpointProber&) = delete;
  EndpointProber& operator=(const EndpointProber&) = delete;

  // Queues a check of `base_url`; one already queued or running is not
  // queued twice.
  void Probe(const std::string& base_url);

  // The checks done since the last Take, oldest first.
  std::vector<EndpointCheck> Take();

 private:
  void Loop();

  const int timeout_ms_;
  const std::function<void()> wake_;
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> pending_ ABSL_GUARDED_BY(mu_);  // queued or running
  std::vector<EndpointCheck> done_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ocx::serving

#endif  // OCX_SERVING_ENDPOINT_PROBER_H_
