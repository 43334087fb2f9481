// HealthProber: probes managed-server replicas over HTTP on a thread of its
// own, so the dispatcher never waits on a server. The dispatcher says what
// to probe (SetTargets) and takes the results (Take) on its own thread.
//
// For each target, every `interval_ms`: read the endpoint file (until it
// exists), then GET http://<host>:<port><ready_path> with the prober's
// timeout. A probe is ok when the answer is HTTP 200. `wake` is called
// when a target's result changes (endpoint first seen, ok flips, another
// failure in a row), never for a repeat of the same result.
//
// Thread-safe: SetTargets and Take may be called from any thread.
#ifndef OCX_SERVING_HEALTH_PROBER_H_
#define OCX_SERVING_HEALTH_PROBER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "serving/endpoint_file.h"

namespace ocx::serving {

class HealthProber {
 public:
  struct Target {
    std::string replica_id;
    int attempt = 0;
    std::string endpoint_file;
    std::string ready_path;  // e.g. "/v1/models"
    int interval_ms = 1000;
  };
  struct Result {
    std::string replica_id;
    int attempt = 0;
    // Read from the endpoint file; unset until it exists.
    std::optional<Endpoint> endpoint;
    bool ok = false;
    // Failed probes in a row since the last ok (0 when ok).
    int failures = 0;
    int64_t time_ms = 0;
    // Why the last probe failed: "HTTP 503", "Connection refused", a bad
    // endpoint file; empty when ok.
    std::string detail;
  };

  // `timeout_ms` bounds one probe (connect + answer).
  HealthProber(int timeout_ms, std::function<void()> wake);
  ~HealthProber();  // stops and joins the thread

  HealthProber(const HealthProber&) = delete;
  HealthProber& operator=(const HealthProber&) = delete;

  // Replaces the set of targets. A target whose (replica_id, attempt) is
  // unchanged keeps its schedule and failure count; others start fresh and
  // are probed at once.
  void SetTargets(std::vector<Target> targets);

  // The newest result of each target whose result changed since the last
  // Take(), keyed by replica id; results of targets no longer set are
  // dropped.
  std::vector<Result> Take();

 private:
  void Loop();
  // Stores a probe of `target`, adding it to the failures in a row when
  // `counts` (a start with no endpoint file yet is not failing); true when
  // the result changed, so `wake_` is due. Drops a probe of a target that
  // was replaced or removed while it ran.
  bool Record(const Target& target, Result result, bool counts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int timeout_ms_;
  const std::function<void()> wake_;
  absl::Mutex mu_;
  std::map<std::string, Target> targets_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Result> last_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Result> changed_ ABSL_GUARDED_BY(mu_);
  // Steady-clock ms at which each target is probed next (0: at once).
  std::map<std::string, int64_t> due_ms_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ocx::serving

#endif  // OCX_SERVING_HEALTH_PROBER_H_
