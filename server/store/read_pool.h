// ReadPool: the store's read-only connections, bounded.
//
// At most `max_open` connections exist at once. Take() hands out an idle
// one, else opens one while fewer than `max_open` are open, else waits for
// one to come back: a burst of readers queues, it never opens more. A
// returned connection is kept for the next reader (the most recently used
// first, so the rest age); a reaper thread closes those idle longer than
// `idle_timeout`, down to `keep_idle`, so a burst's connections and their
// page caches do not stay for the daemon's life.
//
// Descriptors: SQLite keeps the descriptor of a closed connection open for
// the next connection to the same file while any connection of the process
// holds a lock on it, and in WAL mode the writer always does. So the
// descriptors on the database never fall below the largest number of
// connections ever open at once; the bound is what keeps that small.
//
// Thread-safe. Connections must all be returned before the pool goes.
#ifndef OCX_SERVER_STORE_READ_POOL_H_
#define OCX_SERVER_STORE_READ_POOL_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/sqlite.h"

namespace ocx::store {

struct ReadPoolOptions {
  // Connections open at once, idle or in use (>= 1).
  int max_open = 4;
  // An idle connection is closed after this long unused...
  absl::Duration idle_timeout = absl::Seconds(30);
  // ...unless no more than this many are idle.
  int keep_idle = 1;
  // Take() gives up with UNAVAILABLE after waiting this long, which only a
  // reader stuck with a connection can cause.
  absl::Duration max_wait = absl::Seconds(30);
};

class ReadPool {
 public:
  using Opener = std::function<absl::StatusOr<std::unique_ptr<Connection>>()>;

  ReadPool(Opener open, ReadPoolOptions options);
  ~ReadPool();
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  // A connection for one reader; give it back with Return().
  absl::StatusOr<std::unique_ptr<Connection>> Take();
  void Return(std::unique_ptr<Connection> conn);

  // Connections open now (idle and in use), and the most open at once.
  int open() const;
  int peak() const;
  // Readers that had to wait for a connection, since the start.
  int64_t waits() const;

  // Closes connections idle since before `now - idle_timeout`, keeping
  // `keep_idle`. The reaper calls it; tests may too.
  void CloseIdle(absl::Time now);

 private:
  struct Idle {
    std::unique_ptr<Connection> conn;
    absl::Time since;
  };
  void Reap();
  void SetOpen(int open) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Opener opener_;
  const ReadPoolOptions options_;
  mutable absl::Mutex mu_;
  std::vector<Idle> idle_ ABSL_GUARDED_BY(mu_);  // most recent last
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int peak_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t waits_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

}  // namespace ocx::store

#endif  // OCX_SERVER_STORE_READ_POOL_H_
