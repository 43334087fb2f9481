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

int64_t EndpointHealth::Backoff(int n, int64_t first) const {
  int64_t delay = std::max<int64_t>(first, 1);
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

std::vector<EndpointHealth::Change> EndpointHealth::Step(
    int64_t now, const std::set<std::string>& queued) {
  std::vector<Change> changes;
  for (serving::EndpointCheck& check : prober_.Take()) {
    if (auto change = Checked(std::move(check), now)) {
      changes.push_back(std::move(*change));
    }
  }
  for (auto& [base, e] : endpoints_) {
    if (e.in_flight || e.next_check_ms > now) continue;
    // Up and nothing queued: the tasks' own attempts (the breaker) tell.
    if (e.state == State::kUp && queued.count(base) == 0) continue;
    e.in_flight = true;
    prober_.Probe(base);
  }
  return changes;
}

std::optional<EndpointHealth::Change> EndpointHealth::Checked(
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
    e.checks_ok = 0;
    if (before != State::kBreakerOpen) SetState(base, e, State::kDown);
    e.next_check_ms = now + Backoff(e.checks_failed);
    if (before != State::kChecking && before != State::kUp) return std::nullopt;
    return Change{
        base, Change::Kind::kUnreachable,
        absl::StrCat("endpoint ", base,
                     before == State::kUp ? " stopped answering checks ("
                                          : " did not answer its check (",
                     e.last.detail,
                     "): its infer tasks wait without spending attempts; "
                     "checked again with backoff up to ",
                     options_.max_backoff_ms, " ms")};
  }
  const int failed_before = e.checks_failed;
  e.checks_failed = 0;
  // The re-checks of an endpoint that stays up back off, from the start
  // again after a change.
  if (before != State::kUp) e.checks_ok = 0;
  e.next_check_ms = now + Backoff(++e.checks_ok, options_.recheck_initial_ms);
  if (before == State::kUp) return std::nullopt;
  // A check that answers says nothing about the tasks' connections while
  // up (nodes may not reach what ocxd reaches); after a change it does.
  e.connect_failures = 0;
  SetState(base, e, State::kUp);
  const std::string how =
      absl::StrCat(e.last.listed ? "HTTP 200" : e.last.detail, " in ",
                   e.last.latency_ms, " ms");
  if (before == State::kBreakerOpen) {
    return Change{base, Change::Kind::kBreakerClosed,
                  absl::StrCat("endpoint ", base, " answered a check (", how,
                               "): circuit breaker closed")};
  }
  return Change{
      base, Change::Kind::kReachable,
      before == State::kChecking
          ? absl::StrCat("endpoint ", base, " answered its check (", how,
                         "): its infer tasks launch")
          : absl::StrCat("endpoint ", base, " answered a check again (", how,
                         ") after ", failed_before,
                         " that did not: its infer tasks launch")};
}

std::optional<EndpointHealth::Change> EndpointHealth::ConnectionFailed(
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
  return Change{
      base_url, Change::Kind::kBreakerOpened,
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
