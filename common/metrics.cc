#include "common/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace ocx::metrics {
namespace {

std::string Number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.17g", v);
}

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

struct Registry {
  absl::Mutex mu;
  std::map<std::string, std::unique_ptr<Family>> families ABSL_GUARDED_BY(mu);
  std::vector<std::function<void()>> collectors ABSL_GUARDED_BY(mu);
};

Registry& Global() {
  static Registry* registry = new Registry;  // Never destroyed.
  return *registry;
}

Family& Make(const std::string& name, const std::string& help, Type type,
             std::vector<std::string> label_names,
             const std::vector<double>& buckets) {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  auto it = r.families.find(name);
  if (it == r.families.end()) {
    it = r.families
             .emplace(name, std::make_unique<Family>(name, help, type,
                                                     std::move(label_names),
                                                     buckets))
             .first;
  }
  if (it->second->type() != type) {
    fprintf(stderr, "metric %s registered twice with different types\n",
            name.c_str());
    abort();
  }
  return *it->second;
}

// process_* as the Prometheus client libraries export them, from /proc.
void RenderProcess(std::string* out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces), from field 3.
  size_t close = stat.rfind(')');
  std::vector<std::string> f =
      close == std::string::npos
          ? std::vector<std::string>{}
          : absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  auto field = [&](size_t n) {  // n: 1-based field number of proc(5)
    return n >= 3 && n - 3 < f.size() ? std::atof(f[n - 3].c_str()) : 0.0;
  };
  double btime = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);) {
    if (line.rfind("btime ", 0) == 0) btime = std::atof(line.c_str() + 6);
  }
  int fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (struct dirent* e = readdir(dir)) fds += e->d_name[0] != '.';
    closedir(dir);
    --fds;  // The directory's own descriptor.
  }
  struct rlimit limit = {};
  getrlimit(RLIMIT_NOFILE, &limit);
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  struct Line {
    const char* name;
    const char* type;
    const char* help;
    double value;
  };
  const Line lines[] = {
      {"process_cpu_seconds_total", "counter",
       "Total user and system CPU time spent in seconds.",
       (field(14) + field(15)) / ticks},
      {"process_max_fds", "gauge", "Maximum number of open file descriptors.",
       static_cast<double>(limit.rlim_cur)},
      {"process_open_fds", "gauge", "Number of open file descriptors.",
       static_cast<double>(fds)},
      {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
       field(24) * page},
      {"process_start_time_seconds", "gauge",
       "Start time of the process since unix epoch in seconds.",
       btime + field(22) / ticks},
      {"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
       field(23)},
  };
  for (const Line& l : lines) {
    absl::StrAppend(out, "# HELP ", l.name, " ", l.help, "\n# TYPE ", l.name,
                    " ", l.type, "\n", l.name, " ", Number(l.value), "\n");
  }
}

}  // namespace

const std::vector<double> kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5,   1,      2.5,   5,    10,    30,   60,  300};
const std::vector<double> kDurationBuckets = {
    1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400};

Family::Family(std::string name, std::string help, Type type,
               std::vector<std::string> label_names,
               std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

void Family::Add(const Labels& labels, double delta) {
  absl::MutexLock lock(&mu_);
  series_[labels].value += delta;
}

void Family::Set(const Labels& labels, double value) {
  absl::MutexLock lock(&mu_);
  series_[labels].value = value;
}

void Family::Observe(const Labels& labels, double value) {
  absl::MutexLock lock(&mu_);
  Series& s = series_[labels];
  if (s.counts.empty()) s.counts.assign(buckets_.size(), 0);
  size_t i = std::lower_bound(buckets_.begin(), buckets_.end(), value) -
             buckets_.begin();
  if (i < buckets_.size()) ++s.counts[i];
  s.value += value;
  ++s.count;
}

void Family::Clear() {
  absl::MutexLock lock(&mu_);
  series_.clear();
}

std::string Family::LabelText(const Labels& labels,
                              const std::string& extra) const {
  std::vector<std::string> parts;
  for (size_t i = 0; i < label_names_.size() && i < labels.size(); ++i) {
    parts.push_back(
        absl::StrCat(label_names_[i], "=\"", Escape(labels[i]), "\""));
  }
  if (!extra.empty()) parts.push_back(extra);
  if (parts.empty()) return "";
  std::string text = "{";
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::StrAppend(&text, i ? "," : "", parts[i]);
  }
  return text + "}";
}

void Family::Render(std::string* out) const {
  absl::MutexLock lock(&mu_);
  absl::StrAppend(out, "# HELP ", name_, " ", help_, "\n# TYPE ", name_, " ",
                  TypeName(type_), "\n");
  for (const auto& [labels, s] : series_) {
    if (type_ != Type::kHistogram) {
      absl::StrAppend(out, name_, LabelText(labels, ""), " ", Number(s.value),
                      "\n");
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      cumulative += s.counts.empty() ? 0 : s.counts[i];
      absl::StrAppend(
          out, name_, "_bucket",
          LabelText(labels, absl::StrCat("le=\"", Number(buckets_[i]), "\"")),
          " ", cumulative, "\n");
    }
    absl::StrAppend(out, name_, "_bucket", LabelText(labels, "le=\"+Inf\""),
                    " ", s.count, "\n", name_, "_sum", LabelText(labels, ""),
                    " ", Number(s.value), "\n", name_, "_count",
                    LabelText(labels, ""), " ", s.count, "\n");
  }
}

Family& Counter(const std::string& name, const std::string& help,
                std::vector<std::string> label_names) {
  return Make(name, help, Type::kCounter, std::move(label_names), {});
}

Family& Gauge(const std::string& name, const std::string& help,
              std::vector<std::string> label_names) {
  return Make(name, help, Type::kGauge, std::move(label_names), {});
}

Family& Histogram(const std::string& name, const std::string& help,
                  std::vector<std::string> label_names,
                  const std::vector<double>& buckets) {
  return Make(name, help, Type::kHistogram, std::move(label_names), buckets);
}

void AddCollector(std::function<void()> collect) {
  Registry& r = Global();
  absl::MutexLock lock(&r.mu);
  r.collectors.push_back(std::move(collect));
}

std::string Render() {
  Registry& r = Global();
  std::vector<std::function<void()>> collectors;
  {
    absl::MutexLock lock(&r.mu);
    collectors = r.collectors;
  }
  for (const auto& collect : collectors) collect();
  std::string out;
  {
    absl::MutexLock lock(&r.mu);
    for (const auto& [name, family] : r.families) family->Render(&out);
  }
  RenderProcess(&out);
  return out;
}

}  // namespace ocx::metrics
