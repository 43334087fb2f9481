#include "serving/endpoint_prober.h"

#include <utility>

namespace ocx::serving {

EndpointProber::EndpointProber(int timeout_ms, std::function<void()> wake)
    : timeout_ms_(timeout_ms), wake_(std::move(wake)) {
  thread_ = std::thread([this] { Loop(); });
}

EndpointProber::~EndpointProber() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void EndpointProber::Probe(const std::string& base_url) {
  absl::MutexLock lock(&mu_);
  if (!pending_.insert(base_url).second) return;
  queue_.push_back(base_url);
}

std::vector<EndpointCheck> EndpointProber::Take() {
  absl::MutexLock lock(&mu_);
  std::vector<EndpointCheck> out;
  out.swap(done_);
  return out;
}

void EndpointProber::Loop() {
  HttpProbe http;
  auto work = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return stopping_ || !queue_.empty();
  };
  mu_.Lock();
  while (true) {
    mu_.Await(absl::Condition(&work));
    if (stopping_) break;
    const std::string base = std::move(queue_.front());
    queue_.pop_front();
    // Never hold mu_ during a check: Probe and Take must not wait on a
    // server.
    mu_.Unlock();
    EndpointCheck check = CheckEndpoint(http, base, timeout_ms_);
    mu_.Lock();
    pending_.erase(base);
    done_.push_back(std::move(check));
    if (wake_) {
      mu_.Unlock();
      wake_();
      mu_.Lock();
    }
  }
  mu_.Unlock();
}

}  // namespace ocx::serving
