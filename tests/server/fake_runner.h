// FakeRunner: a runners::Runner kept entirely in memory, the seam for
// dispatcher tests (real-process tests live in tests/runners and tests/e2e).
// Nothing runs: the test decides how each attempt ends by queueing updates
// (Exit, Kill, Lose) that the next Poll() returns, and inspects what the
// dispatcher asked for (Launch, Adopt, Cancel, Place).
//
// It also checks the dispatcher's side of the Runner contract and records
// every breach in errors(): a Launch without a Place, a second Launch or
// Adopt of a live attempt, an Unplace of an attempt never placed.
//
// Thread-safe: the dispatcher thread calls the Runner methods while the test
// thread queues updates and reads the records.
#ifndef OCX_TESTS_SERVER_FAKE_RUNNER_H_
#define OCX_TESTS_SERVER_FAKE_RUNNER_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/time_util.h"
#include "common/waker.h"
#include "runners/runner.h"

namespace ocx::server::testing {

class FakeRunner : public runners::Runner {
 public:
  using AttemptKey = runners::AttemptKey;
  using AttemptUpdate = runners::AttemptUpdate;
  using LaunchSpec = runners::LaunchSpec;

  struct Options {
    // Stored with each attempt.
    std::string backend = "fake";
    // Attempts placed and not yet finished at once; Place() answers
    // RESOURCE_EXHAUSTED beyond it. -1: no limit.
    int capacity = -1;
    // GPUs of this backend, ids 0..gpus-1. Place() answers
    // FAILED_PRECONDITION for a spec that needs more, RESOURCE_EXHAUSTED
    // when not enough are free. -1: GPUs are not checked (none handed out).
    int gpus = -1;
    int64_t poll_interval_ms = 10;
    // Notified when the test queues an update, so that the dispatcher polls
    // at once (what a real runner's wake-up callback does). May be null.
    Waker* waker = nullptr;
  };

  // A call the dispatcher made, in order: successful launches and
  // adoptions, final updates handed out by Poll(), cancels, unplaces.
  struct Call {
    enum class Kind { kLaunch, kAdopt, kFinish, kCancel, kUnplace };
    Kind kind;
    AttemptKey key;
    int64_t time_ms = 0;
  };

  struct Adoption {
    LaunchSpec spec;
    std::string backend_id;
  };

  explicit FakeRunner(Options options) : options_(std::move(options)) {}
  FakeRunner() : FakeRunner(Options()) {}

  // ---- runners::Runner (the dispatcher thread) ----

  std::string backend() const override { return options_.backend; }

  absl::StatusOr<std::vector<int>> Place(const LaunchSpec& spec) override {
    absl::MutexLock lock(&mu_);
    if (first_place_ms_.count(spec.key) == 0) {
      first_place_ms_[spec.key] = NowMillis();
    }
    if (reserved_.count(spec.key) > 0) {
      errors_.push_back(absl::StrCat("Place of ", Name(spec.key),
                                     ", which holds a reservation"));
    }
    if (options_.gpus >= 0 && spec.num_gpus > options_.gpus) {
      return absl::FailedPreconditionError(
          absl::StrCat("a task needs ", spec.num_gpus,
                       " GPU(s) but the fake backend has ", options_.gpus));
    }
    if (capacity_ >= 0 && static_cast<int>(reserved_.size()) >= capacity_) {
      ++exhausted_;
      return absl::ResourceExhaustedError("fake backend is full");
    }
    std::vector<int> gpus;
    if (options_.gpus >= 0) {
      std::set<int> used;
      for (const auto& [key, ids] : reserved_)
        used.insert(ids.begin(), ids.end());
      for (int g = 0;
           g < options_.gpus && static_cast<int>(gpus.size()) < spec.num_gpus;
           ++g) {
        if (used.count(g) == 0) gpus.push_back(g);
      }
      if (static_cast<int>(gpus.size()) < spec.num_gpus) {
        ++exhausted_;
        return absl::ResourceExhaustedError("no free GPU on the fake backend");
      }
    }
    reserved_[spec.key] = gpus;
    return gpus;
  }

  void Unplace(const AttemptKey& key) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({Call::Kind::kUnplace, key, NowMillis()});
    if (reserved_.erase(key) == 0) {
      errors_.push_back(absl::StrCat("Unplace of ", Name(key),
                                     ", which holds no reservation"));
    }
  }

  absl::StatusOr<std::string> Launch(const LaunchSpec& spec) override {
    absl::MutexLock lock(&mu_);
    launched_.push_back(spec);
    if (reserved_.count(spec.key) == 0) {
      errors_.push_back(
          absl::StrCat("Launch of ", Name(spec.key), " without a Place"));
    }
    if (live_.count(spec.key) > 0) {
      errors_.push_back(absl::StrCat("second Launch of live ", Name(spec.key)));
    }
    if (!launch_errors_.empty()) {
      absl::Status error = launch_errors_.front();
      launch_errors_.pop_front();
      return error;
    }
    std::string id = absl::StrCat("fake-", ++next_id_);
    calls_.push_back({Call::Kind::kLaunch, spec.key, NowMillis()});
    live_[spec.key] = id;
    return id;
  }

  absl::Status Adopt(const LaunchSpec& spec,
                     const std::string& backend_id) override {
    absl::MutexLock lock(&mu_);
    adopted_.push_back({spec, backend_id});
    if (live_.count(spec.key) > 0) {
      errors_.push_back(absl::StrCat("Adopt of live ", Name(spec.key)));
    }
    if (!adopt_error_.ok()) return adopt_error_;
    calls_.push_back({Call::Kind::kAdopt, spec.key, NowMillis()});
    reserved_[spec.key] = spec.gpus;
    live_[spec.key] = backend_id;
    return absl::OkStatus();
  }

  std::vector<AttemptUpdate> Poll() override {
    absl::MutexLock lock(&mu_);
    std::vector<AttemptUpdate> out(queued_.begin(), queued_.end());
    queued_.clear();
    for (const AttemptUpdate& u : out) {
      if (u.kind == AttemptUpdate::Kind::kRunning) continue;
      if (live_.erase(u.key) > 0) {
        calls_.push_back({Call::Kind::kFinish, u.key, NowMillis()});
      }
      reserved_.erase(u.key);
    }
    return out;
  }

  absl::Status Cancel(const AttemptKey& key) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({Call::Kind::kCancel, key, NowMillis()});
    cancelled_.push_back(key);
    if (live_.count(key) == 0) {
      return absl::NotFoundError(absl::StrCat(Name(key), " is not running"));
    }
    return absl::OkStatus();
  }

  int live_count() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(live_.size());
  }

  int64_t poll_interval_ms() const override {
    return options_.poll_interval_ms;
  }

  // ---- The test's side ----

  // Queues "exited with `exit_code`" for the next Poll().
  void Exit(const AttemptKey& key, int exit_code,
            const std::string& reason = "") {
    AttemptUpdate u;
    u.key = key;
    u.kind = AttemptUpdate::Kind::kExited;
    u.exit_code = exit_code;
    u.reason = reason;
    Push(std::move(u));
  }

  // Queues "killed by `signal`".
  void Kill(const AttemptKey& key, int signal) {
    AttemptUpdate u;
    u.key = key;
    u.kind = AttemptUpdate::Kind::kExited;
    u.signal = signal;
    Push(std::move(u));
  }

  // Queues "the backend lost it".
  void Lose(const AttemptKey& key, const std::string& reason = "") {
    AttemptUpdate u;
    u.key = key;
    u.kind = AttemptUpdate::Kind::kLost;
    u.reason = reason;
    Push(std::move(u));
  }

  // Queues any update.
  void Push(AttemptUpdate u) {
    {
      absl::MutexLock lock(&mu_);
      queued_.push_back(std::move(u));
    }
    if (options_.waker != nullptr) options_.waker->Notify();
  }

  // The next Launch() calls fail with these, in order.
  void FailNextLaunch(absl::Status error) {
    absl::MutexLock lock(&mu_);
    launch_errors_.push_back(std::move(error));
  }

  // Adopt() fails with `error` from now on (OK: succeeds again).
  void FailAdopt(absl::Status error) {
    absl::MutexLock lock(&mu_);
    adopt_error_ = std::move(error);
  }

  // Changes the capacity (-1: no limit); wakes the dispatcher.
  void SetCapacity(int capacity) {
    {
      absl::MutexLock lock(&mu_);
      capacity_ = capacity;
    }
    if (options_.waker != nullptr) options_.waker->Notify();
  }

  // Every Launch() call, failed ones included.
  std::vector<LaunchSpec> launched() const {
    absl::MutexLock lock(&mu_);
    return launched_;
  }
  // Every Adopt() call, failed ones included.
  std::vector<Adoption> adopted() const {
    absl::MutexLock lock(&mu_);
    return adopted_;
  }
  std::vector<AttemptKey> cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  std::vector<Call> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<std::string> errors() const {
    absl::MutexLock lock(&mu_);
    return errors_;
  }

  // The launch spec of `key`, if it was launched.
  std::optional<LaunchSpec> FindLaunch(const AttemptKey& key) const {
    absl::MutexLock lock(&mu_);
    for (const LaunchSpec& s : launched_) {
      if (s.key == key) return s;
    }
    return std::nullopt;
  }
  bool WasLaunched(const AttemptKey& key) const {
    return FindLaunch(key).has_value();
  }
  bool WasCancelled(const AttemptKey& key) const {
    absl::MutexLock lock(&mu_);
    return std::find(cancelled_.begin(), cancelled_.end(), key) !=
           cancelled_.end();
  }
  // Launched or adopted, and its final update not yet polled.
  bool IsLive(const AttemptKey& key) const {
    absl::MutexLock lock(&mu_);
    return live_.count(key) > 0;
  }
  std::vector<AttemptKey> live() const {
    absl::MutexLock lock(&mu_);
    std::vector<AttemptKey> keys;
    for (const auto& [key, id] : live_) keys.push_back(key);
    return keys;
  }
  // Place() calls refused with RESOURCE_EXHAUSTED.
  int exhausted_count() const {
    absl::MutexLock lock(&mu_);
    return exhausted_;
  }
  // Epoch ms of the first Place() call for `key`; 0 if none.
  int64_t first_place_ms(const AttemptKey& key) const {
    absl::MutexLock lock(&mu_);
    auto it = first_place_ms_.find(key);
    return it == first_place_ms_.end() ? 0 : it->second;
  }

  // The most attempts matching `filter` that were live at once (launched or
  // adopted, final update not yet polled), replayed from calls().
  int MaxLive(const std::function<bool(const AttemptKey&)>& filter) const {
    int live = 0;
    int max = 0;
    for (const Call& c : calls()) {
      if (!filter(c.key)) continue;
      if (c.kind == Call::Kind::kLaunch || c.kind == Call::Kind::kAdopt) {
        max = std::max(max, ++live);
      } else if (c.kind == Call::Kind::kFinish) {
        --live;
      }
    }
    return max;
  }

 private:
  static std::string Name(const AttemptKey& key) {
    return absl::StrCat(key.task_id, "#", key.attempt);
  }

  const Options options_;
  mutable absl::Mutex mu_;
  int capacity_ ABSL_GUARDED_BY(mu_) = options_.capacity;
  std::map<AttemptKey, std::vector<int>> reserved_ ABSL_GUARDED_BY(mu_);
  std::map<AttemptKey, std::string> live_ ABSL_GUARDED_BY(mu_);
  std::deque<AttemptUpdate> queued_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> launch_errors_ ABSL_GUARDED_BY(mu_);
  absl::Status adopt_error_ ABSL_GUARDED_BY(mu_);
  std::vector<LaunchSpec> launched_ ABSL_GUARDED_BY(mu_);
  std::vector<Adoption> adopted_ ABSL_GUARDED_BY(mu_);
  std::vector<AttemptKey> cancelled_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::map<AttemptKey, int64_t> first_place_ms_ ABSL_GUARDED_BY(mu_);
  int exhausted_ ABSL_GUARDED_BY(mu_) = 0;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ocx::server::testing

#endif  // OCX_TESTS_SERVER_FAKE_RUNNER_H_
