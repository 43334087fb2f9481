// EndpointHealth: the dispatcher's view of user-given model endpoints (a
// model's openai_api_base; docs/endpoints.md). Before an infer task
// against an endpoint launches, the endpoint must have answered a check
// (serving::CheckEndpoint) that lists the task's model. While it does not
// answer, its tasks wait READY, spending no attempt, and it is checked
// again with exponential backoff (initial, doubling, capped). A model the
// endpoint's list lacks fails its tasks for good. An endpoint that is up is
// checked again while it has infer tasks queued, first recheck_initial_ms
// after the check that answered, doubling up to max_backoff_ms: one that
// stops answering holds its queued tasks back before they spend attempts
// on it.
//
// Changes worth an event: the first check's outcome (reachable or not), a
// later check that finds it gone or back, a breaker opened or closed.
//
// The circuit breaker: when `breaker_failures` task attempts in a row end
// on connection errors (TaskError kind endpoint_unreachable), the breaker
// opens: the endpoint's tasks wait again, and it is checked after a
// backoff that grows with each opening; a check that answers closes it.
// Any attempt that reached the server resets the count.
//
// Checks run on the EndpointProber's thread; everything else here runs on
// the dispatcher's loop thread (thread-compatible). Metrics:
// ocx_endpoint_state{endpoint,state} (1 for the endpoint's state) and
// ocx_endpoint_breaker_opens_total{endpoint}.
#ifndef OCX_SERVER_DISPATCHER_ENDPOINT_HEALTH_H_
#define OCX_SERVER_DISPATCHER_ENDPOINT_HEALTH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "serving/endpoint_check.h"
#include "serving/endpoint_prober.h"

namespace ocx::server {

struct EndpointHealthOptions {
  int64_t initial_backoff_ms = 500;
  // DaemonConfig.endpoint_probe_max_backoff_ms.
  int64_t max_backoff_ms = 30000;
  // The first re-check of an endpoint that answered (capped by the above).
  int64_t recheck_initial_ms = 5000;
  // DaemonConfig.endpoint_breaker_failures.
  int breaker_failures = 3;
  int probe_timeout_ms = 2000;
};

class EndpointHealth {
 public:
  enum class State { kChecking, kUp, kDown, kBreakerOpen };
  struct Verdict {
    enum class Kind { kLaunch, kWait, kFail } kind = Kind::kLaunch;
    // kWait: "waiting for endpoint: connection refused at http://h:9/v1";
    // kFail: the model missing from the endpoint's list.
    std::string reason;
  };
  // A change for the evaluations' events.
  struct Change {
    enum class Kind {
      kReachable,    // first check answered, or answered again after down
      kUnreachable,  // first check unanswered, or a re-check of an up one
      kBreakerOpened,
      kBreakerClosed,
    };
    std::string base_url;
    Kind kind = Kind::kReachable;
    std::string message;
  };

  // `wake` is called from the prober's thread after each check.
  EndpointHealth(EndpointHealthOptions options, std::function<void()> wake);

  // Whether an infer task asking `base_url` for `model` may launch now.
  // An endpoint seen for the first time is checked first.
  Verdict Gate(const std::string& base_url, const std::string& model);

  // Takes the checks done, sends the ones due; returns the changes the
  // checks made. `queued`: the endpoints with infer tasks waiting to
  // launch; of the endpoints that are up, only these are checked again.
  std::vector<Change> Step(int64_t now, const std::set<std::string>& queued);

  // A task attempt against `base_url` ended on a connection error
  // (`detail`: its reason); the breaker's change when this opened it.
  std::optional<Change> ConnectionFailed(const std::string& base_url,
                                         const std::string& detail,
                                         int64_t now);
  // A task attempt against `base_url` reached the server.
  void Answered(const std::string& base_url);

  // Forgets endpoints not in `in_use` (no unfinished task needs them): a
  // later evaluation checks them afresh.
  void Retain(const std::set<std::string>& in_use);

  State StateOf(const std::string& base_url) const;

 private:
  struct Endpoint {
    State state = State::kChecking;
    serving::EndpointCheck last;  // the newest check
    int64_t next_check_ms = 0;    // 0: at once
    bool in_flight = false;
    int checks_failed = 0;       // in a row, for the backoff
    int checks_ok = 0;           // in a row while up, for the re-checks
    int connect_failures = 0;    // task attempts in a row
    int opens = 0;               // times the breaker opened
    std::string breaker_detail;  // the attempt reason that opened it
  };
  // The n-th delay (1-based) from `first`, doubling, capped at
  // max_backoff_ms.
  int64_t Backoff(int n, int64_t first) const;
  int64_t Backoff(int n) const {
    return Backoff(n, options_.initial_backoff_ms);
  }
  void SetState(const std::string& base_url, Endpoint& e, State state);
  std::optional<Change> Checked(serving::EndpointCheck check, int64_t now);

  const EndpointHealthOptions options_;
  std::map<std::string, Endpoint> endpoints_;
  serving::EndpointProber prober_;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_ENDPOINT_HEALTH_H_
