#include "task/infer/progress.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/progress_file.h"
#include "common/time_util.h"

namespace ocx::task {
namespace {

constexpr int64_t kWriteEveryMs = 1000;
constexpr int64_t kLogEveryMs = 5000;

}  // namespace

Progress::Progress(std::string path, int attempt, int64_t total)
    : path_(std::move(path)),
      attempt_(attempt),
      total_(total),
      interval_start_ms_(NowMillis()) {}

void Progress::Add(int64_t samples) {
  done_ += samples;
  MaybeReport();
}

void Progress::MaybeReport() {
  const int64_t now = NowMillis();
  if (now - last_write_ms_ >= kWriteEveryMs) (void)Flush();
}

absl::Status Progress::Flush() {
  const int64_t now = NowMillis();
  if (now > interval_start_ms_) {
    rate_ = static_cast<double>(done_ - interval_start_done_) * 1000.0 /
            static_cast<double>(now - interval_start_ms_);
  }
  interval_start_ms_ = now;
  interval_start_done_ = done_;
  last_write_ms_ = now;
  if (now - last_log_ms_ >= kLogEveryMs || done_ == total_) {
    last_log_ms_ = now;
    std::printf("progress: %lld/%lld samples (%.1f%%), %.1f/s\n",
                static_cast<long long>(done_), static_cast<long long>(total_),
                total_ > 0 ? 100.0 * static_cast<double>(done_) /
                                 static_cast<double>(total_)
                           : 100.0,
                rate_);
    std::fflush(stdout);
  }
  if (path_.empty()) return absl::OkStatus();
  ProgressReport report;
  report.attempt = attempt_;
  report.done = done_;
  report.total = total_;
  report.rate_per_s = rate_;
  report.update_time_ms = now;
  report.prompt_tokens = prompt_tokens_;
  report.completion_tokens = completion_tokens_;
  return WriteFileAtomic(path_, ProgressJson(report));
}

}  // namespace ocx::task
