// Small helpers shared by the benchmarks: clocks, statistics, timed child
// processes, /proc readings and the final machine-readable RESULT line.
// Nothing here talks to ocxd; benchmarks that need a daemon link
// ocx_e2e_harness as well.
#ifndef OCX_BENCH_BENCH_UTIL_H_
#define OCX_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ocx::bench {

// Monotonic seconds.
double Now();

// Online processors (nproc), at least 1.
int Cores();

// Median and nearest-rank percentile (p in [0, 100]) of a non-empty sample.
double Median(std::vector<double> v);
double Percentile(std::vector<double> v, double p);
double Mean(const std::vector<double>& v);

// A fresh directory under $TMPDIR or /tmp, removed (rm -rf) by the
// destructor unless OCX_KEEP_BENCH_DIRS is set.
class BenchDir {
 public:
  BenchDir();
  ~BenchDir();
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs argv (argv[0] is a path) with stdin from /dev/null and stdout and
// stderr to `output_path`; waits. Returns the wall time in seconds and the
// exit code (128 + signal when killed, -1 when it could not start).
struct TimedRun {
  double seconds = 0;
  int exit_code = -1;
};
TimedRun RunTimed(const std::vector<std::string>& argv,
                  const std::string& output_path,
                  const std::vector<std::string>& extra_env = {});

// Runs `command` with /bin/sh -c; returns the wall time in seconds, or a
// negative value when it did not exit 0.
double ShellTimed(const std::string& command);

// User + system CPU seconds of this process (RUSAGE_SELF) and of its
// reaped descendants (RUSAGE_CHILDREN).
struct CpuTimes {
  double self = 0;
  double children = 0;
};
CpuTimes ProcessCpu();
// User + system CPU seconds of the calling thread.
double ThreadCpu();

// User + system CPU seconds process `pid` has used so far (its own, not its
// children's), from /proc/<pid>/stat; -1 when unreadable.
double ProcCpuSeconds(pid_t pid);

// A "VmRSS:"-style field of /proc/<pid>/status in KiB; -1 when missing.
int64_t ProcStatusKb(pid_t pid, const std::string& field);

// Size of a file in bytes; -1 when it cannot be stat'ed.
int64_t FileSize(const std::string& path);

// Contents of a (small) file; empty when unreadable.
std::string ReadSmallFile(const std::string& path);

// The 1-minute load average (/proc/loadavg), to print with each number
// measured on a shared machine; -1 when unreadable.
double LoadAverage();

// Fixed-precision formatting for the RESULT line and the reports.
std::string Fmt(double value, int decimals = 3);

// Prints "RESULT k1=v1 k2=v2 ..." on stdout and flushes.
void PrintResult(const std::vector<std::pair<std::string, std::string>>& kv);

}  // namespace ocx::bench

#endif  // OCX_BENCH_BENCH_UTIL_H_
