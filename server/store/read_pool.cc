#include "server/store/read_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace ocx::store {
namespace {

metrics::Family& OpenGauge() {
  static metrics::Family& open = metrics::Gauge(
      "ocx_store_read_connections",
      "Read-only database connections open (idle and in use); at most "
      "read_connections.",
      {});
  return open;
}

metrics::Family& WaitCounter() {
  static metrics::Family& waits = metrics::Counter(
      "ocx_store_read_connection_waits_total",
      "Reads that waited for a database connection because read_connections "
      "were all in use.",
      {});
  return waits;
}

}  // namespace

ReadPool::ReadPool(Opener open, ReadPoolOptions options)
    : opener_(std::move(open)), options_(options) {
  WaitCounter().Add({}, 0);  // present (as 0) before the first wait
  reaper_ = std::thread([this] { Reap(); });
}

ReadPool::~ReadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  reaper_.join();
  absl::MutexLock lock(&mu_);
  SetOpen(open_ - static_cast<int>(idle_.size()));
  idle_.clear();
}

void ReadPool::SetOpen(int open) {
  OpenGauge().Add({}, open - open_);
  open_ = open;
  peak_ = std::max(peak_, open_);
}

absl::StatusOr<std::unique_ptr<Connection>> ReadPool::Take() {
  {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.max_open;
    };
    if (!available()) {
      ++waits_;
      WaitCounter().Add({});
      if (!mu_.AwaitWithTimeout(absl::Condition(&available),
                                options_.max_wait)) {
        return absl::UnavailableError(
            absl::StrCat("all ", options_.max_open,
                         " read connections of the database stayed in use for ",
                         absl::FormatDuration(options_.max_wait),
                         "; raise read_connections in the daemon config"));
      }
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back().conn);
      idle_.pop_back();
      return conn;
    }
    SetOpen(open_ + 1);  // the slot is ours while we open outside the lock
  }
  absl::StatusOr<std::unique_ptr<Connection>> opened = opener_();
  if (!opened.ok()) {
    absl::MutexLock lock(&mu_);
    SetOpen(open_ - 1);
  }
  return opened;
}

void ReadPool::Return(std::unique_ptr<Connection> conn) {
  if (conn == nullptr) return;
  absl::MutexLock lock(&mu_);
  idle_.push_back({std::move(conn), absl::Now()});
}

int ReadPool::open() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

int ReadPool::peak() const {
  absl::MutexLock lock(&mu_);
  return peak_;
}

int64_t ReadPool::waits() const {
  absl::MutexLock lock(&mu_);
  return waits_;
}

void ReadPool::CloseIdle(absl::Time now) {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time cutoff = now - options_.idle_timeout;
    // The oldest are at the front; keep the most recently used.
    size_t stale = 0;
    while (stale < idle_.size() && idle_[stale].since <= cutoff) ++stale;
    const size_t keep = static_cast<size_t>(std::max(options_.keep_idle, 0));
    stale = std::min(stale, idle_.size() > keep ? idle_.size() - keep : 0);
    for (size_t i = 0; i < stale; ++i) {
      closing.push_back(std::move(idle_[i].conn));
    }
    idle_.erase(idle_.begin(), idle_.begin() + static_cast<long>(stale));
    SetOpen(open_ - static_cast<int>(stale));
  }
  // sqlite3_close outside the lock: readers need not wait for it.
  closing.clear();
}

void ReadPool::Reap() {
  // Often enough that a connection outlives idle_timeout by at most half
  // of it again; rarely enough to cost nothing.
  const absl::Duration period = std::clamp(
      options_.idle_timeout / 2, absl::Milliseconds(10), absl::Seconds(5));
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
    }
    CloseIdle(absl::Now());
  }
}

}  // namespace ocx::store
