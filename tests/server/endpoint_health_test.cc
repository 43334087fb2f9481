// EndpointHealth against real HTTP: a cpp-httplib server in the test
// process plays the model server (GET /v1/models), and a port nothing
// listens on plays a server that is down. Checks run on the prober's real
// thread; the test drives Step as the dispatcher's loop does, saying which
// endpoints have infer tasks queued.
#include "server/dispatcher/endpoint_health.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/serving/child_process.h"

namespace ocx::server {
namespace {

using ::testing::HasSubstr;
using Kind = EndpointHealth::Verdict::Kind;
using ChangeKind = EndpointHealth::Change::Kind;

// An OpenAI-compatible model list on 127.0.0.1, on a port of its own or
// one given (to come back where a server was).
class ModelList {
 public:
  explicit ModelList(int port = 0) {
    // One request per connection: stop() then need not wait out a probe's
    // kept-alive connection.
    server_.set_keep_alive_max_count(1);
    server_.Get(
        "/v1/models", [this](const httplib::Request&, httplib::Response& res) {
          ++requests_;
          res.set_content(
              R"({"object":"list","data":[{"id":"m1","object":"model"},)"
              R"({"id":"m2","object":"model"}]})",
              "application/json");
        });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (port_ > 0 && !server_.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~ModelList() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int requests() const { return requests_.load(); }
  std::string base() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/v1");
  }

 private:
  httplib::Server server_;
  int port_ = -1;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class EndpointHealthTest : public ::testing::Test {
 protected:
  EndpointHealthTest() {
    EndpointHealthOptions o;
    o.initial_backoff_ms = 50;
    o.max_backoff_ms = 200;
    o.recheck_initial_ms = 50;
    o.breaker_failures = 3;
    o.probe_timeout_ms = 2000;
    health_ = std::make_unique<EndpointHealth>(o, [this] { ++wakes_; });
  }

  // Steps until `base` is in `state` or 10 s passed; the changes seen on
  // the way are kept.
  bool StepUntil(const std::string& base, EndpointHealth::State state) {
    for (int i = 0; i < 1000; ++i) {
      Step();
      if (health_->StateOf(base) == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  void Step() {
    for (auto& c : health_->Step(NowMillis(), queued_)) changes_.push_back(c);
  }
  // Steps every 10 ms for `ms`.
  void StepFor(int ms) {
    for (int i = 0; i < ms / 10; ++i) {
      Step();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::unique_ptr<EndpointHealth> health_;
  std::atomic<int> wakes_{0};
  std::set<std::string> queued_;
  std::vector<EndpointHealth::Change> changes_;
};

TEST_F(EndpointHealthTest, FirstSeenEndpointIsCheckedThenLaunches) {
  ModelList server;
  EndpointHealth::Verdict v = health_->Gate(server.base(), "m1");
  EXPECT_EQ(v.kind, Kind::kWait);
  EXPECT_EQ(v.reason, "waiting for endpoint: checking " + server.base());
  ASSERT_TRUE(StepUntil(server.base(), EndpointHealth::State::kUp));
  EXPECT_GE(wakes_.load(), 1);
  EXPECT_EQ(health_->Gate(server.base(), "m1").kind, Kind::kLaunch);
  EXPECT_EQ(health_->Gate(server.base(), "m2").kind, Kind::kLaunch);
  // The first check's outcome is a change (an event for the evaluations).
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].kind, ChangeKind::kReachable);
  EXPECT_EQ(changes_[0].base_url, server.base());
  EXPECT_THAT(changes_[0].message,
              ::testing::MatchesRegex("endpoint " + server.base() +
                                      " answered its check \\(HTTP 200 in "
                                      "[0-9]+ ms\\): its infer tasks launch"));
}

TEST_F(EndpointHealthTest, ModelNotListedFailsNamingWhatIsServed) {
  ModelList server;
  health_->Gate(server.base(), "m1");
  ASSERT_TRUE(StepUntil(server.base(), EndpointHealth::State::kUp));
  EndpointHealth::Verdict v = health_->Gate(server.base(), "qwen-7b");
  EXPECT_EQ(v.kind, Kind::kFail);
  EXPECT_EQ(v.reason, "model \"qwen-7b\" is not served at " + server.base() +
                          ", which serves: m1, m2");
}

TEST_F(EndpointHealthTest, UnreachableEndpointWaitsWithTheReason) {
  const std::string base =
      absl::StrCat("http://127.0.0.1:", ocx::testing::DeadPort(), "/v1");
  health_->Gate(base, "m1");
  ASSERT_TRUE(StepUntil(base, EndpointHealth::State::kDown));
  EndpointHealth::Verdict v = health_->Gate(base, "m1");
  EXPECT_EQ(v.kind, Kind::kWait);
  EXPECT_EQ(v.reason, "waiting for endpoint: connection refused at " + base);
  // Checked again and again (backoff capped at 200 ms) and still down.
  const int before = wakes_.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Step();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  StepFor(300);
  EXPECT_GT(wakes_.load(), before + 1);
  EXPECT_EQ(health_->StateOf(base), EndpointHealth::State::kDown);
  // One change, the first check's: failed re-checks add none.
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].kind, ChangeKind::kUnreachable);
  EXPECT_EQ(changes_[0].message,
            "endpoint " + base +
                " did not answer its check (connection refused): its infer "
                "tasks wait without spending attempts; checked again with "
                "backoff up to 200 ms");
}

// An up endpoint with queued tasks is checked again, less often each time
// up to the cap; one that stops answering holds its tasks back, and its
// return lets them go, each with a change.
TEST_F(EndpointHealthTest, UpEndpointIsRecheckedWhileTasksAreQueued) {
  auto server = std::make_unique<ModelList>();
  const int port = server->port();
  const std::string base = server->base();
  queued_ = {base};
  health_->Gate(base, "m1");
  ASSERT_TRUE(StepUntil(base, EndpointHealth::State::kUp));
  const int first = server->requests();
  StepFor(1000);
  // Backoff 50, 100, 200, 200, ... ms: about 7 re-checks in 1 s; without
  // the backoff a step every 10 ms would make about 100.
  const int rechecks = server->requests() - first;
  EXPECT_GE(rechecks, 3);
  EXPECT_LE(rechecks, 12);
  EXPECT_EQ(health_->StateOf(base), EndpointHealth::State::kUp);
  EXPECT_EQ(changes_.size(), 1u);  // re-checks that answer change nothing

  server.reset();
  ASSERT_TRUE(StepUntil(base, EndpointHealth::State::kDown));
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].kind, ChangeKind::kUnreachable);
  EXPECT_THAT(changes_[1].message,
              HasSubstr(base + " stopped answering checks (connection "
                               "refused): its infer tasks wait"));
  EndpointHealth::Verdict v = health_->Gate(base, "m1");
  EXPECT_EQ(v.kind, Kind::kWait);
  EXPECT_EQ(v.reason, "waiting for endpoint: connection refused at " + base);

  ModelList back(port);
  ASSERT_EQ(back.port(), port);
  ASSERT_TRUE(StepUntil(base, EndpointHealth::State::kUp));
  ASSERT_EQ(changes_.size(), 3u);
  EXPECT_EQ(changes_[2].kind, ChangeKind::kReachable);
  EXPECT_THAT(changes_[2].message, HasSubstr(" answered a check again (HTTP "
                                             "200 in "));
  EXPECT_EQ(health_->Gate(base, "m1").kind, Kind::kLaunch);
}

// With no task queued an up endpoint is left alone: its running tasks'
// attempts (the breaker) say how it does.
TEST_F(EndpointHealthTest, UpEndpointWithNothingQueuedIsNotRechecked) {
  ModelList server;
  health_->Gate(server.base(), "m1");
  ASSERT_TRUE(StepUntil(server.base(), EndpointHealth::State::kUp));
  const int first = server.requests();
  StepFor(500);
  EXPECT_EQ(server.requests(), first);
  queued_ = {server.base()};
  StepFor(300);
  EXPECT_GT(server.requests(), first);
}

// N connection failures in a row open the breaker; an attempt that reached
// the server in between resets the count; a check that answers closes it.
TEST_F(EndpointHealthTest, BreakerOpensAfterFailuresInARowAndClosesOnCheck) {
  auto server = std::make_unique<ModelList>();
  const int port = server->port();
  const std::string base = server->base();
  health_->Gate(base, "m1");
  ASSERT_TRUE(StepUntil(base, EndpointHealth::State::kUp));
  changes_.clear();  // the first check's
  const int64_t now = NowMillis();
  EXPECT_FALSE(health_->ConnectionFailed(base, "refused 1", now));
  EXPECT_FALSE(health_->ConnectionFailed(base, "refused 2", now));
  health_->Answered(base);
  EXPECT_FALSE(health_->ConnectionFailed(base, "refused 3", now));
  EXPECT_FALSE(health_->ConnectionFailed(base, "refused 4", now));
  EXPECT_EQ(health_->Gate(base, "m1").kind, Kind::kLaunch);
  server.reset();  // down while the breaker is open
  std::optional<EndpointHealth::Change> opened = health_->ConnectionFailed(
      base, "exit code 1: endpoint_unreachable: x", now);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->kind, ChangeKind::kBreakerOpened);
  EXPECT_EQ(opened->message,
            "circuit breaker open at " + base +
                " after 3 task attempts in a row failed to connect (last: "
                "exit code 1: endpoint_unreachable: x); its tasks wait until "
                "it answers a check");
  EndpointHealth::Verdict v = health_->Gate(base, "m1");
  EXPECT_EQ(v.kind, Kind::kWait);
  EXPECT_THAT(v.reason, HasSubstr("waiting for endpoint: circuit breaker "
                                  "open at " +
                                  base));
  // Failures while open add nothing.
  EXPECT_FALSE(health_->ConnectionFailed(base, "again", now));
  // Stays open while checks are refused.
  StepFor(500);
  EXPECT_EQ(health_->StateOf(base), EndpointHealth::State::kBreakerOpen);
  EXPECT_TRUE(changes_.empty());
  ModelList back(port);
  ASSERT_EQ(back.port(), port);
  ASSERT_TRUE(StepUntil(base, EndpointHealth::State::kUp));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].kind, ChangeKind::kBreakerClosed);
  EXPECT_THAT(changes_[0].message, HasSubstr("circuit breaker closed"));
  EXPECT_EQ(health_->Gate(base, "m1").kind, Kind::kLaunch);
}

TEST_F(EndpointHealthTest, ForgottenEndpointIsCheckedAfresh) {
  ModelList server;
  health_->Gate(server.base(), "m1");
  ASSERT_TRUE(StepUntil(server.base(), EndpointHealth::State::kUp));
  health_->Retain({});
  EXPECT_EQ(health_->Gate(server.base(), "m1").kind, Kind::kWait);
}

}  // namespace
}  // namespace ocx::server
