// HealthProber against real HTTP: the real tiny-model server, a port nobody
// listens on, a raw-socket responder answering an error status, and a
// listening socket that never answers.
#include "serving/health_prober.h"

#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serving/endpoint_file.h"
#include "tests/server/test_util.h"
#include "tests/tools/llm_server.h"

namespace ocx::serving {
namespace {

using Result = HealthProber::Result;
using Target = HealthProber::Target;
using ::ocx::server::testing::TempDir;
using ::testing::HasSubstr;

// Generous: the machine is shared and slow.
constexpr auto kDeadline = std::chrono::seconds(60);

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A TCP socket listening on 127.0.0.1 at a free port.
int Listen(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot listen on 127.0.0.1";
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// A port nobody listens on: bound once to find it free, then closed.
int DeadPort() {
  int port = 0;
  close(Listen(&port));
  return port;
}

// Answers every request with `status` and closes the connection: a server
// that is up but not ready.
class StatusResponder {
 public:
  explicit StatusResponder(int status) : status_(status) {
    fd_ = Listen(&port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~StatusResponder() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int conn = accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(conn, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, n);
      }
      const std::string answer =
          "HTTP/1.1 " + std::to_string(status_) +
          " Not Ready\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
          "not ready";
      (void)!write(conn, answer.data(), answer.size());
      close(conn);
    }
  }

  const int status_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A prober whose wake takes the results at once, on the prober's thread,
// so every change is seen in order (Take gives only the newest).
class Recorder {
 public:
  explicit Recorder(int timeout_ms)
      : prober_(timeout_ms, [this] { OnWake(); }) {}

  HealthProber& prober() { return prober_; }

  // Waits until a result of `id` matches `pred`; returns it, or nullopt
  // after the deadline (with a test failure).
  std::optional<Result> WaitFor(
      const std::string& id, const std::function<bool(const Result&)>& pred,
      std::chrono::milliseconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    size_t seen = 0;
    while (std::chrono::steady_clock::now() < until) {
      {
        absl::MutexLock lock(&mu_);
        for (; seen < log_.size(); ++seen) {
          if (log_[seen].replica_id == id && pred(log_[seen])) {
            return log_[seen];
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "no matching result of " << id << " in time";
    return std::nullopt;
  }

  // Every result of `id` so far, in order.
  std::vector<Result> Of(const std::string& id) {
    absl::MutexLock lock(&mu_);
    std::vector<Result> out;
    for (const Result& r : log_) {
      if (r.replica_id == id) out.push_back(r);
    }
    return out;
  }

 private:
  void OnWake() {
    std::vector<Result> results = prober_.Take();
    absl::MutexLock lock(&mu_);
    log_.insert(log_.end(), results.begin(), results.end());
  }

  absl::Mutex mu_;
  std::vector<Result> log_ ABSL_GUARDED_BY(mu_);
  HealthProber prober_;  // last: its thread stops before log_ goes
};

Target MakeTarget(const std::string& id, int attempt, const std::string& file,
                  int interval_ms) {
  Target t;
  t.replica_id = id;
  t.attempt = attempt;
  t.endpoint_file = file;
  t.ready_path = "/v1/models";
  t.interval_ms = interval_ms;
  return t;
}

std::string WriteEndpoint(const TempDir& dir, const std::string& name, int port,
                          int64_t pid = 0) {
  const std::string file = JoinPath(dir.path(), name);
  Endpoint e;
  e.host = "127.0.0.1";
  e.port = port;
  e.pid = pid;
  EXPECT_TRUE(WriteEndpointFile(file, e).ok());
  return file;
}

bool Refused(const Result& r) {
  return absl::StrContains(r.detail, "onnect");  // "Failed to connect ..."
}

TEST(HealthProberTest, EndpointFileWrittenLaterThenReady) {
  ocx::testing::LlmServer server;
  ASSERT_TRUE(server.Start().ok());
  TempDir dir;
  std::atomic<int> wakes{0};
  HealthProber prober(10000, [&] { ++wakes; });
  const std::string file = EndpointFileIn(dir.path());
  prober.SetTargets({MakeTarget("srv-a-1", 1, file, 100)});

  // Taken from this thread, as the dispatcher does.
  auto take_until = [&](const std::function<bool(const Result&)>& pred) {
    const int64_t until = SteadyMs() + 60000;
    while (SteadyMs() < until) {
      for (const Result& r : prober.Take()) {
        if (pred(r)) return std::optional<Result>(r);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::optional<Result>();
  };
  std::optional<Result> first = take_until([](const Result&) { return true; });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->replica_id, "srv-a-1");
  EXPECT_EQ(first->attempt, 1);
  EXPECT_FALSE(first->endpoint.has_value());
  EXPECT_FALSE(first->ok);
  EXPECT_EQ(first->detail, "no endpoint file yet");
  EXPECT_EQ(first->failures, 0);  // not yet started is not failing
  EXPECT_GT(first->time_ms, 0);
  EXPECT_GE(wakes.load(), 1);

  WriteEndpoint(dir, "endpoint.json", server.port(), server.pid());
  std::optional<Result> ready =
      take_until([](const Result& r) { return r.ok; });
  ASSERT_TRUE(ready.has_value());
  ASSERT_TRUE(ready->endpoint.has_value());
  EXPECT_EQ(ready->endpoint->port, server.port());
  EXPECT_EQ(ready->endpoint->pid, server.pid());
  EXPECT_EQ(ready->failures, 0);
  EXPECT_EQ(ready->detail, "");
  EXPECT_GE(wakes.load(), 2);

  // A repeat of the same result is no change: nothing to take, no wake.
  const int wakes_when_ready = wakes.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(prober.Take().empty());
  EXPECT_EQ(wakes.load(), wakes_when_ready);
}

TEST(HealthProberTest, KilledServerFlipsOkToFalse) {
  ocx::testing::LlmServer server;
  ASSERT_TRUE(server.Start().ok());
  TempDir dir;
  const std::string file = WriteEndpoint(dir, "endpoint.json", server.port());
  Recorder rec(10000);
  rec.prober().SetTargets({MakeTarget("srv-a-1", 1, file, 50)});
  ASSERT_TRUE(rec.WaitFor("srv-a-1", [](const Result& r) { return r.ok; }));

  server.Kill();
  std::optional<Result> down =
      rec.WaitFor("srv-a-1", [](const Result& r) { return !r.ok; });
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->failures, 1);
  EXPECT_TRUE(Refused(*down)) << down->detail;
  EXPECT_TRUE(down->endpoint.has_value());
}

TEST(HealthProberTest, RefusedPortCountsFailuresInARow) {
  TempDir dir;
  const std::string file = WriteEndpoint(dir, "endpoint.json", DeadPort());
  Recorder rec(10000);
  rec.prober().SetTargets({MakeTarget("srv-a-1", 1, file, 50)});
  ASSERT_TRUE(
      rec.WaitFor("srv-a-1", [](const Result& r) { return r.failures >= 3; }));
  std::vector<Result> results = rec.Of("srv-a-1");
  ASSERT_GE(results.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(results[i].ok);
    EXPECT_EQ(results[i].failures, static_cast<int>(i) + 1);
    EXPECT_TRUE(Refused(results[i])) << results[i].detail;
    ASSERT_TRUE(results[i].endpoint.has_value());
  }
}

TEST(HealthProberTest, ErrorStatusIsTheDetail) {
  // A lab's proxy must not route the probes: with one that goes nowhere,
  // the servers' own answers still come back.
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
  StatusResponder unavailable(503);
  StatusResponder not_found(404);
  TempDir dir;
  Recorder rec(10000);
  rec.prober().SetTargets(
      {MakeTarget("srv-a-1", 1,
                  WriteEndpoint(dir, "a.json", unavailable.port()), 50),
       MakeTarget("srv-b-1", 1, WriteEndpoint(dir, "b.json", not_found.port()),
                  50)});
  std::optional<Result> a =
      rec.WaitFor("srv-a-1", [](const Result& r) { return r.failures >= 2; });
  std::optional<Result> b =
      rec.WaitFor("srv-b-1", [](const Result& r) { return r.failures >= 2; });
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->detail, "HTTP 503");
  EXPECT_EQ(b->detail, "HTTP 404");
  EXPECT_FALSE(a->ok || b->ok);
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
}

TEST(HealthProberTest, MalformedEndpointFileIsAFailure) {
  TempDir dir;
  const std::string file = JoinPath(dir.path(), "endpoint.json");
  ASSERT_TRUE(WriteFileAtomic(file, "{\"host\": ").ok());
  Recorder rec(10000);
  rec.prober().SetTargets({MakeTarget("srv-a-1", 1, file, 50)});
  std::optional<Result> r =
      rec.WaitFor("srv-a-1", [](const Result& r) { return r.failures >= 2; });
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->endpoint.has_value());
  EXPECT_THAT(r->detail, HasSubstr(file));
}

TEST(HealthProberTest, DroppedTargetDropsItsResults) {
  TempDir dir;
  const std::string dead = WriteEndpoint(dir, "dead.json", DeadPort());
  // Take from this thread: results pile up until taken.
  std::atomic<int> wakes{0};
  HealthProber prober(10000, [&] { ++wakes; });
  prober.SetTargets(
      {MakeTarget("srv-a-1", 1, dead, 50), MakeTarget("srv-b-1", 1, dead, 50)});
  // Both were probed (both were due at once), so both have a result that
  // nobody took.
  const int64_t both_until = SteadyMs() + 60000;
  while (wakes.load() < 2 && SteadyMs() < both_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(wakes.load(), 2);
  prober.SetTargets({MakeTarget("srv-b-1", 1, dead, 50)});
  bool saw_b = false;
  const int64_t until = SteadyMs() + 1000;
  while (SteadyMs() < until) {
    for (const Result& r : prober.Take()) {
      EXPECT_EQ(r.replica_id, "srv-b-1");
      saw_b = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(saw_b);
}

TEST(HealthProberTest, NewAttemptStartsFreshSameAttemptKeepsCounting) {
  TempDir dir;
  const std::string dead = WriteEndpoint(dir, "dead.json", DeadPort());
  Recorder rec(10000);
  rec.prober().SetTargets({MakeTarget("srv-a-1", 1, dead, 50)});
  std::optional<Result> third =
      rec.WaitFor("srv-a-1", [](const Result& r) { return r.failures == 3; });
  ASSERT_TRUE(third.has_value());

  // The same (replica_id, attempt) set again keeps its count.
  rec.prober().SetTargets({MakeTarget("srv-a-1", 1, dead, 50)});
  std::optional<Result> fourth =
      rec.WaitFor("srv-a-1", [](const Result& r) { return r.failures == 4; });
  ASSERT_TRUE(fourth.has_value());
  EXPECT_EQ(fourth->attempt, 1);

  // A new attempt starts over: its first probe is its first failure.
  rec.prober().SetTargets({MakeTarget("srv-a-1", 2, dead, 60000)});
  std::optional<Result> fresh =
      rec.WaitFor("srv-a-1", [](const Result& r) { return r.attempt == 2; });
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->failures, 1);
  // Its next probe waits for its interval (60 s).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<Result> all = rec.Of("srv-a-1");
  EXPECT_EQ(all.back().attempt, 2);
  EXPECT_EQ(all.back().failures, 1);
}

TEST(HealthProberTest, DestructionDuringAHangingProbeIsPrompt) {
  // Listening but never accepting: the connection completes in the
  // backlog and the GET waits for an answer that never comes.
  int port = 0;
  const int blackhole = Listen(&port);
  TempDir dir;
  const std::string file = WriteEndpoint(dir, "endpoint.json", port);
  constexpr int kTimeoutMs = 1500;
  auto rec = std::make_unique<Recorder>(kTimeoutMs);
  rec->prober().SetTargets({MakeTarget("srv-a-1", 1, file, 50)});
  std::optional<Result> timed_out =
      rec->WaitFor("srv-a-1", [](const Result& r) { return r.failures == 1; });
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_THAT(timed_out->detail, HasSubstr("imed out"));

  // The next probe is under way (interval 50 ms): destroy mid-probe.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t start = SteadyMs();
  rec.reset();
  EXPECT_LT(SteadyMs() - start, kTimeoutMs + 500);
  close(blackhole);
}

TEST(HealthProberTest, DestructionWhileIdleIsPrompt) {
  TempDir dir;
  auto prober = std::make_unique<HealthProber>(10000, [] {});
  prober->SetTargets({MakeTarget(
      "srv-a-1", 1, JoinPath(dir.path(), "endpoint.json"), 600000)});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int64_t start = SteadyMs();
  prober.reset();
  EXPECT_LT(SteadyMs() - start, 500);
}

}  // namespace
}  // namespace ocx::serving
