// Metrics in the Prometheus text exposition format (version 0.0.4), kept
// in one process-wide registry as Prometheus's own client libraries do, so
// that any module can count without a registry threaded through every
// constructor. ocxd serves Render() at /metrics (server/http).
//
// Families are created once (usually as function-local statics) and never
// destroyed; Add/Set/Observe are thread-safe and cheap (one mutex per
// family, a map lookup by label values).
//
// Example:
//   static auto& commits = metrics::Histogram(
//       "ocx_store_transaction_seconds", "Time from BEGIN to COMMIT.",
//       {}, metrics::kLatencyBuckets);
//   commits.Observe({}, seconds);
#ifndef OCX_COMMON_METRICS_H_
#define OCX_COMMON_METRICS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace ocx::metrics {

using Labels = std::vector<std::string>;  // values, in the family's order

enum class Type { kCounter, kGauge, kHistogram };

// One metric family: a name, help, label names and a value per label set.
class Family {
 public:
  Family(std::string name, std::string help, Type type,
         std::vector<std::string> label_names, std::vector<double> buckets);

  // Counter: adds `delta` (>= 0). Gauge: adds `delta` (any sign).
  void Add(const Labels& labels, double delta = 1);
  // Gauge only.
  void Set(const Labels& labels, double value);
  // Histogram only.
  void Observe(const Labels& labels, double value);
  // Gauge only: forgets every label set (before a scrape-time refill).
  void Clear();

  void Render(std::string* out) const;
  Type type() const { return type_; }

 private:
  struct Series {
    double value = 0;                // counter, gauge; histogram: sum
    std::vector<uint64_t> counts;    // histogram: per bucket (not cumulative)
    uint64_t count = 0;              // histogram
  };

  std::string LabelText(const Labels& labels, const std::string& extra) const;

  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> buckets_;
  mutable absl::Mutex mu_;
  std::map<Labels, Series> series_ ABSL_GUARDED_BY(mu_);
};

// Upper bounds in seconds, 1 ms to 5 min.
extern const std::vector<double> kLatencyBuckets;
// Upper bounds in seconds, 1 s to 1 day: task durations.
extern const std::vector<double> kDurationBuckets;

// The families of the process-wide registry, made on first use. Asking
// again with the same name returns the same family (the first one's labels;
// a different type is a programming error and aborts).
Family& Counter(const std::string& name, const std::string& help,
                std::vector<std::string> label_names);
Family& Gauge(const std::string& name, const std::string& help,
              std::vector<std::string> label_names);
Family& Histogram(const std::string& name, const std::string& help,
                  std::vector<std::string> label_names,
                  const std::vector<double>& buckets);

// Called at the start of each Render(), e.g. to refill gauges from the
// store. Runs on the scraping thread.
void AddCollector(std::function<void()> collect);

// Every family, sorted by name, with process_* metrics from /proc/self.
std::string Render();

}  // namespace ocx::metrics

#endif  // OCX_COMMON_METRICS_H_
