#include "serving/health_prober.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/time_util.h"
#include "serving/http_probe.h"

namespace ocx::serving {
namespace {

constexpr char kNoEndpointFile[] = "no endpoint file yet";
constexpr int kDefaultIntervalMs = 1000;

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Probe {
  HealthProber::Result result;
  bool counts = true;  // a failure that adds to the failures in a row
};

Probe ProbeOnce(HttpProbe& http, const HealthProber::Target& target,
                int timeout_ms) {
  Probe probe;
  HealthProber::Result& r = probe.result;
  r.replica_id = target.replica_id;
  r.attempt = target.attempt;
  absl::StatusOr<std::optional<Endpoint>> endpoint =
      ReadEndpointFile(target.endpoint_file);
  if (!endpoint.ok()) {
    r.detail = std::string(endpoint.status().message());
  } else if (!endpoint->has_value()) {
    // A start that has not chosen its port yet is not failing.
    r.detail = kNoEndpointFile;
    probe.counts = false;
  } else {
    r.endpoint = **endpoint;
    // The answer's body tells nothing the status code does not.
    const ProbeAnswer answer =
        http.Get(BaseUrl(*r.endpoint, target.ready_path), timeout_ms);
    r.ok = answer.answered && answer.status == 200;
    if (!r.ok) {
      r.detail =
          answer.answered ? absl::StrCat("HTTP ", answer.status) : answer.error;
    }
  }
  r.time_ms = NowMillis();
  return probe;
}

bool SameEndpoint(const std::optional<Endpoint>& a,
                  const std::optional<Endpoint>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() ||
         (a->host == b->host && a->port == b->port && a->pid == b->pid);
}

bool SameResult(const HealthProber::Result& a, const HealthProber::Result& b) {
  return SameEndpoint(a.endpoint, b.endpoint) && a.ok == b.ok &&
         a.failures == b.failures && a.detail == b.detail;
}

}  // namespace

HealthProber::HealthProber(int timeout_ms, std::function<void()> wake)
    // CURLOPT_TIMEOUT_MS 0 would mean no limit: a probe of a server that
    // never answers would then hang the thread and its destruction.
    : timeout_ms_(std::max(timeout_ms, 1)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { Loop(); });
}

HealthProber::~HealthProber() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void HealthProber::SetTargets(std::vector<Target> targets) {
  absl::MutexLock lock(&mu_);
  std::map<std::string, Target> next;
  for (Target& t : targets) {
    auto old = targets_.find(t.replica_id);
    if (old == targets_.end() || old->second.attempt != t.attempt) {
      due_ms_[t.replica_id] = 0;
      last_.erase(t.replica_id);
      changed_.erase(t.replica_id);
    }
    std::string id = t.replica_id;
    next[id] = std::move(t);
  }
  for (const auto& [id, unused] : targets_) {
    if (next.count(id) > 0) continue;
    due_ms_.erase(id);
    last_.erase(id);
    changed_.erase(id);
  }
  targets_ = std::move(next);
}

std::vector<HealthProber::Result> HealthProber::Take() {
  absl::MutexLock lock(&mu_);
  std::vector<Result> out;
  out.reserve(changed_.size());
  for (auto& [id, result] : changed_) out.push_back(std::move(result));
  changed_.clear();
  return out;
}

bool HealthProber::Record(const Target& target, Result result, bool counts) {
  auto current = targets_.find(target.replica_id);
  if (current == targets_.end() || current->second.attempt != target.attempt) {
    return false;
  }
  const std::string& id = target.replica_id;
  auto before = last_.find(id);
  const int failures_before =
      before == last_.end() ? 0 : before->second.failures;
  result.failures = result.ok ? 0 : failures_before + (counts ? 1 : 0);
  const bool changed =
      before == last_.end() || !SameResult(before->second, result);
  // A repeat still refreshes a change not taken yet: Take gives the newest.
  if (changed || changed_.count(id) > 0) changed_[id] = result;
  last_[id] = std::move(result);
  return changed;
}

void HealthProber::Loop() {
  HttpProbe http;
  // True when the thread has work: stopping, or a target is due.
  auto work = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (stopping_) return true;
    const int64_t now = SteadyMillis();
    for (const auto& [id, due] : due_ms_) {
      if (due <= now) return true;
    }
    return false;
  };
  mu_.Lock();
  while (!stopping_) {
    auto next = std::min_element(
        due_ms_.begin(), due_ms_.end(),
        [](const auto& a, const auto& b) { return a.second < b.second; });
    const int64_t now = SteadyMillis();
    if (next == due_ms_.end() || next->second > now) {
      mu_.AwaitWithTimeout(absl::Condition(&work),
                           next == due_ms_.end()
                               ? absl::InfiniteDuration()
                               : absl::Milliseconds(next->second - now));
      continue;
    }
    const Target target = targets_.at(next->first);
    next->second = now + (target.interval_ms > 0 ? target.interval_ms
                                                 : kDefaultIntervalMs);
    // Never hold mu_ during a probe: SetTargets and Take must not wait on
    // a server.
    mu_.Unlock();
    Probe probe = ProbeOnce(http, target, timeout_ms_);
    mu_.Lock();
    if (stopping_) break;
    if (Record(target, std::move(probe.result), probe.counts) && wake_) {
      mu_.Unlock();
      wake_();
      mu_.Lock();
    }
  }
  mu_.Unlock();
}

}  // namespace ocx::serving
