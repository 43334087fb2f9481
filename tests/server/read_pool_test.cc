// The store's bounded read pool (server/store/read_pool.h) on a real SQLite
// file: many concurrent readers never open more connections, or hold more
// descriptors on the database, than the bound; a reader waits for a
// connection rather than failing; idle connections are closed again.
#include "server/store/read_pool.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "tests/server/store_test_util.h"
#include "tests/server/test_util.h"

namespace ocx::store {
namespace {

using ::ocx::server::testing::TempDir;
using ::ocx::store::testing::MakeEvaluation;
using ::testing::HasSubstr;

// Descriptors this process holds on the file at `path`.
int DescriptorsOn(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return -1;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (struct dirent* entry = readdir(dir)) {
    std::string link = absl::StrCat("/proc/self/fd/", entry->d_name);
    char target[PATH_MAX];
    ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n > 0 && std::string(target, static_cast<size_t>(n)) == resolved) {
      ++count;
    }
  }
  closedir(dir);
  return count;
}

// Polls `done` every 10 ms for up to `timeout`.
template <typename F>
bool Eventually(F done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

class ReadPoolStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return dir_.path() + "/ocx.db"; }

  std::unique_ptr<Store> OpenStore(ReadPoolOptions options) {
    auto store = Store::Open(db_path(), options);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    // Something to read: one evaluation.
    EXPECT_TRUE((*store)->Begin().ok());
    EXPECT_TRUE((*store)->InsertEvaluation(MakeEvaluation("e1")).ok());
    EXPECT_TRUE((*store)->Commit().ok());
    return std::move(*store);
  }

  // `threads` readers doing `reads` GetEvaluation each, all at once; also
  // samples the descriptors on the database while they run. Returns the
  // largest count seen.
  int Burst(Store* store, int threads, int reads) {
    std::atomic<int> failures{0};
    std::atomic<bool> done{false};
    std::atomic<int> largest{0};
    std::thread sampler([&] {
      while (!done.load()) {
        largest = std::max(largest.load(), DescriptorsOn(db_path()));
        absl::SleepFor(absl::Milliseconds(1));
      }
    });
    std::vector<std::thread> readers;
    for (int t = 0; t < threads; ++t) {
      readers.emplace_back([&] {
        for (int i = 0; i < reads; ++i) {
          if (!store->GetEvaluation("e1").ok()) failures.fetch_add(1);
        }
      });
    }
    for (std::thread& t : readers) t.join();
    done = true;
    sampler.join();
    EXPECT_EQ(failures.load(), 0);
    return largest.load();
  }

  TempDir dir_;
};

TEST_F(ReadPoolStoreTest, ManyReadersNeverOpenMoreThanTheBound) {
  ReadPoolOptions options;
  options.max_open = 3;
  std::unique_ptr<Store> store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  const int writer_only = DescriptorsOn(db_path());
  EXPECT_GE(writer_only, 1);

  const int largest = Burst(store.get(), 32, 100);
  EXPECT_LE(store->readers().peak(), 3);
  EXPECT_GT(store->readers().waits(), 0) << "32 readers on 3 connections";
  // The writer's descriptor plus at most one per read connection, during
  // the burst and after it.
  EXPECT_LE(largest, writer_only + 3);
  EXPECT_LE(DescriptorsOn(db_path()), writer_only + 3);
}

TEST_F(ReadPoolStoreTest, ClosedConnectionsKeepTheirDescriptors) {
  // Why the bound matters: SQLite keeps a closed connection's descriptor
  // while the writer holds its lock, so descriptors stay at the largest
  // number of connections ever open at once. Eight connections held at
  // once, then closed:
  std::unique_ptr<Store> store = OpenStore({});
  ASSERT_NE(store, nullptr);
  const int writer_only = DescriptorsOn(db_path());
  ReadPoolOptions options;
  options.max_open = 8;
  options.idle_timeout = absl::Hours(1);
  options.keep_idle = 0;
  ReadPool pool([this] { return Connection::Open(db_path(), true); }, options);
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 8; ++i) {
    auto conn = pool.Take();
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE((*conn)->Exec("SELECT count(*) FROM evaluations").ok());
    held.push_back(std::move(*conn));
  }
  EXPECT_EQ(DescriptorsOn(db_path()), writer_only + 8);
  for (auto& c : held) pool.Return(std::move(c));
  pool.CloseIdle(absl::Now() + absl::Hours(2));
  EXPECT_EQ(pool.open(), 0);
  EXPECT_EQ(DescriptorsOn(db_path()), writer_only + 8);
  // A new connection reuses one of them rather than opening another.
  auto again = pool.Take();
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Exec("SELECT count(*) FROM evaluations").ok());
  EXPECT_EQ(DescriptorsOn(db_path()), writer_only + 8);
  pool.Return(std::move(*again));
}

TEST_F(ReadPoolStoreTest, IdleConnectionsAreClosedDownToKeepIdle) {
  ReadPoolOptions options;
  options.max_open = 4;
  options.idle_timeout = absl::Milliseconds(100);
  options.keep_idle = 1;
  std::unique_ptr<Store> store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  Burst(store.get(), 16, 50);
  EXPECT_EQ(store->readers().peak(), 4);
  EXPECT_TRUE(Eventually([&] { return store->readers().open() == 1; },
                         absl::Seconds(5)))
      << "open: " << store->readers().open();
  // And the pool still serves.
  EXPECT_TRUE(store->GetEvaluation("e1").ok());
  EXPECT_EQ(store->readers().open(), 1);
}

TEST_F(ReadPoolStoreTest, ZeroReadConnectionsIsRefused) {
  ReadPoolOptions options;
  options.max_open = 0;
  auto store = Store::Open(db_path(), options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("read_connections"));
}

// The pool alone, with a database to open.
class ReadPoolTest : public ::testing::Test {
 protected:
  ReadPool::Opener Opener() {
    std::string path = dir_.path() + "/plain.db";
    return [this, path]() -> absl::StatusOr<std::unique_ptr<Connection>> {
      opens_.fetch_add(1);
      if (fail_.load()) return absl::InternalError("cannot open");
      return Connection::Open(path, /*read_only=*/false);
    };
  }

  TempDir dir_;
  std::atomic<int> opens_{0};
  std::atomic<bool> fail_{false};
};

TEST_F(ReadPoolTest, AReaderWaitsForAConnectionInsteadOfFailing) {
  ReadPoolOptions options;
  options.max_open = 1;
  ReadPool pool(Opener(), options);
  auto held = pool.Take();
  ASSERT_TRUE(held.ok()) << held.status();
  std::atomic<bool> got{false};
  absl::Duration waited;
  std::thread waiter([&] {
    const absl::Time start = absl::Now();
    auto conn = pool.Take();
    waited = absl::Now() - start;
    EXPECT_TRUE(conn.ok()) << conn.status();
    got = true;
    if (conn.ok()) pool.Return(std::move(*conn));
  });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(got.load()) << "the only connection is held";
  pool.Return(std::move(*held));
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_GE(waited, absl::Milliseconds(150));
  EXPECT_EQ(pool.waits(), 1);
  EXPECT_EQ(opens_.load(), 1) << "the returned connection was reused";
  EXPECT_EQ(pool.peak(), 1);
}

TEST_F(ReadPoolTest, AWaitThatNeverEndsGivesUpNamingTheSetting) {
  ReadPoolOptions options;
  options.max_open = 1;
  options.max_wait = absl::Milliseconds(100);
  ReadPool pool(Opener(), options);
  auto held = pool.Take();
  ASSERT_TRUE(held.ok());
  auto second = pool.Take();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("read_connections"));
  pool.Return(std::move(*held));
}

TEST_F(ReadPoolTest, AFailedOpenGivesItsSlotBack) {
  ReadPoolOptions options;
  options.max_open = 1;
  options.max_wait = absl::Milliseconds(100);
  ReadPool pool(Opener(), options);
  fail_ = true;
  EXPECT_FALSE(pool.Take().ok());
  EXPECT_EQ(pool.open(), 0);
  fail_ = false;
  auto conn = pool.Take();
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(pool.open(), 1);
  pool.Return(std::move(*conn));
}

TEST_F(ReadPoolTest, CloseIdleKeepsTheMostRecentlyUsed) {
  ReadPoolOptions options;
  options.max_open = 3;
  options.idle_timeout = absl::Hours(1);  // only the explicit calls reap
  options.keep_idle = 1;
  ReadPool pool(Opener(), options);
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < 3; ++i) {
    auto conn = pool.Take();
    ASSERT_TRUE(conn.ok());
    conns.push_back(std::move(*conn));
  }
  Connection* last = conns[2].get();
  for (auto& c : conns) pool.Return(std::move(c));
  EXPECT_EQ(pool.open(), 3);
  pool.CloseIdle(absl::Now());  // none idle for an hour yet
  EXPECT_EQ(pool.open(), 3);
  pool.CloseIdle(absl::Now() + absl::Hours(2));
  EXPECT_EQ(pool.open(), 1);
  auto kept = pool.Take();
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->get(), last);
  EXPECT_EQ(opens_.load(), 3);
  pool.Return(std::move(*kept));
}

}  // namespace
}  // namespace ocx::store
