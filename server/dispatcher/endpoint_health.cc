#include "server/dispatcher/endpoint_health.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace ocx::server {
namespace {

using State = EndpointHealth::State;

constexpr State kStates[] = {State::kChecking, State::kUp, State::kDown,
                             State::kBreakerOpen};

const char* StateLabel(State s) {
  switch (s) {
    case State::kChecking:
      return "checking";
    case State::kUp:
      return "up";
    case State::kDown:
      return "down";
    case State::kBreakerOpen:
      return "breaker_open";
  }
  return "unknown";
}

metrics::Family& StateGauge() {
  static metrics::Family& gauge = metrics::Gauge(
      "ocx_endpoint_state",
      "User-given model endpoints by state (1 for the endpoint's current "
      "state): checking, up, down, breaker_open.",
      {"endpoint", "state"});
  return gauge;
}

}  // namespace

EndpointHealth::EndpointHealth(EndpointHealthOptions options,
                               std::function<void()> wake)
    : options_(options), prober_(options.probe_timeout_ms, std::move(wake)) {}

int64_t EndpointHealth::Backoff(int n) const {
  int64_t delay = std::max<int64_t>(options_.initial_backoff_ms, 1);
  const int64_t cap = std::max(options_.max_backoff_ms, delay);
  for (int i = 1; i < n && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

void EndpointHealth::SetState(const std::string& base_url, Endpoint& e,
                              State state) {
  e.state = state;
  for (State s : kStates) {
    StateGauge().Set({base_url, StateLabel(s)}, s == state ? 1 : 0);
  }
}

EndpointHealth::State EndpointHealth::StateOf(
    const std::string& base_url) const {
  auto it = endpoints_.find(base_url);
  return it == endpoints_.end() ? State::kChecking : it->second.state;
}

EndpointHealth::Verdict EndpointHealth::Gate(const std::string& base_url,
                                             const std::string& model) {
  auto [it, added] = endpoints_.try_emplace(base_url);
  Endpoint& e = it->second;
  if (added) SetState(base_url, e, State::kChecking);
  Verdict v;
  switch (e.state) {
    case State::kChecking:
      v.kind = Verdict::Kind::kWait;
      v.reason = absl::StrCat("waiting for endpoint: checking ", base_url);
      return v;
    case State::kDown:
      v.kind = Verdict::Kind::kWait;
      v.reason = absl::StrCat("waiting for endpoint: ", e.last.detail, " at ",
                              base_url);
      return v;
    case State::kBreakerOpen:
      v.kind = Verdict::Kind::kWait;
      v.reason = absl::StrCat("waiting for endpoint: circuit breaker open at ",
                              base_url, " after ", options_.breaker_failures,
                              " connection failures in a row (",
                              e.breaker_detail, ")");
      return v;
    case State::kUp:
      break;
  }
  if (std::string missing = serving::ModelMissing(e.last, model);
      !missing.empty()) {
    v.kind = Verdict::Kind::kFail;
    v.reason = std::move(missing);
  }
  return v;
}

std::vector<EndpointHealth::BreakerChange> EndpointHealth::Step(int64_t now) {
  std::vector<BreakerChange> changes;
  for (serving::EndpointCheck& check : prober_.Take()) {
    if (auto change = Checked(std::move(check), now)) {
      changes.push_back(std::move(*change));
    }
  }
  for (auto& [base, e] : endpoints_) {
    if (e.state == State::kUp || e.in_flight || e.next_check_ms > now) {
      continue;
    }
    e.in_flight = true;
    prober_.Probe(base);
  }
  return changes;
}

std::optional<EndpointHealth::BreakerChange> EndpointHealth::Checked(
    serving::EndpointCheck check, int64_t now) {
  auto it = endpoints_.find(check.base_url);
  if (it == endpoints_.end()) return std::nullopt;  // forgotten meanwhile
  Endpoint& e = it->second;
  e.in_flight = false;
  const std::string& base = it->first;
  const State before = e.state;
  const bool reachable = check.reachable;
  e.last = std::move(check);
  if (!reachable) {
    ++e.checks_failed;
    if (before != State::kBreakerOpen) SetState(base, e, State::kDown);
    e.next_check_ms = now + Backoff(e.checks_failed);
    return std::nullopt;
  }
  e.checks_failed = 0;
  e.connect_failures = 0;
  SetState(base, e, State::kUp);
  if (before != State::kBreakerOpen) return std::nullopt;
  return BreakerChange{
      base, false,
      absl::StrCat("endpoint ", base, " answered a check (",
                   e.last.listed ? "HTTP 200" : e.last.detail, " in ",
                   e.last.latency_ms, " ms): circuit breaker closed")};
}

std::optional<EndpointHealth::BreakerChange> EndpointHealth::ConnectionFailed(
    const std::string& base_url, const std::string& detail, int64_t now) {
  static metrics::Family& opens = metrics::Counter(
      "ocx_endpoint_breaker_opens_total",
      "Times an endpoint's circuit breaker opened (task attempts failed on "
      "connection errors in a row).",
      {"endpoint"});
  auto it = endpoints_.find(base_url);
  if (it == endpoints_.end() || it->second.state != State::kUp) {
    return std::nullopt;  // already held back
  }
  Endpoint& e = it->second;
  if (++e.connect_failures < std::max(options_.breaker_failures, 1)) {
    return std::nullopt;
  }
  ++e.opens;
  e.checks_failed = 0;
  e.breaker_detail = detail;
  e.next_check_ms = now + Backoff(e.opens);
  SetState(base_url, e, State::kBreakerOpen);
  opens.Add({base_url});
  return BreakerChange{
      base_url, true,
      absl::StrCat("circuit breaker open at ", base_url, " after ",
                   e.connect_failures,
                   " task attempts in a row failed to connect (last: ", detail,
                   "); its tasks wait until it answers a check")};
}

void EndpointHealth::Answered(const std::string& base_url) {
  auto it = endpoints_.find(base_url);
  if (it != endpoints_.end()) it->second.connect_failures = 0;
}

void EndpointHealth::Retain(const std::set<std::string>& in_use) {
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    if (in_use.count(it->first) > 0) {
      ++it;
      continue;
    }
    for (State s : kStates) StateGauge().Set({it->first, StateLabel(s)}, 0);
    it = endpoints_.erase(it);
  }
}

}  // namespace ocx::server
