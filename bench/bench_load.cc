// bench_load: ocxd under a mixed load of streams, submits and polls.
//
// Targets (issue 15, "Under load"): with 100 WatchEvaluation streams, 10
// submitters and 20 pollers, GetEvaluation p99 <= 2x a health check's p99
// measured in the same run, and CreateEvaluation p50 <= 5x GetEvaluation
// p50. Reported beside them: ocxd's CPU seconds per 1,000 requests, and the
// descriptors ocxd holds on the database file before, during (largest seen)
// and after the load ("SQLite handles do not pile up").
//
// A real ocxd (tests/e2e/ocxd_process.h) on a unix socket. The client is
// this one C++ process: blocking gRPC stubs on a few channels, one thread
// per caller, each waiting (not spinning) between calls, so the daemon has
// the machine's cores to itself. Load:
//   - 10 "long" evaluations whose tasks sleep through the run; the watchers
//     stream them (watcher i follows long evaluation i % 10);
//   - submitters: CreateEvaluation of 1 model x 1 dataset (one infer and one
//     eval task running /bin/true), then a pause, in a loop;
//   - pollers: GetEvaluation of a random evaluation created so far, every
//     fifth call ListEvaluations (page of 20), each followed by a pause;
//   - one prober: grpc.health.v1.Health/Check at a fixed interval, the
//     baseline (the same server and threads, no store read).
// Latencies are kept from calls that start after a warm-up. "Requests" in
// the CPU figure are the unary calls completed in the measured window (the
// watch streams' reads are work ocxd does for them on top).
//
// Usage: bench_load [--seconds S] [--watchers N] [--submitters N]
//   [--pollers N] [--submit-pause-ms MS] [--poll-pause-ms MS]
//   [--probe-interval-ms MS] [--ocxd-arg ARG]...
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/daemon_bench.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "ocx/v1/service.grpc.pb.h"
#include "tests/e2e/ocxd_process.h"

namespace {

using ocx::bench::Fmt;
using ocx::bench::Now;
using ocx::bench::Percentile;
using ocx::v1::EvaluationService;

struct Options {
  int seconds = 20;
  int warmup_seconds = 3;
  int watchers = 100;
  int submitters = 10;
  int pollers = 20;
  int submit_pause_ms = 200;
  int poll_pause_ms = 20;
  int probe_interval_ms = 10;
  int long_evaluations = 10;
  int channels = 4;
  std::vector<std::string> ocxd_args;
};

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    if (a == "--ocxd-arg") {
      o->ocxd_args.push_back(v);
      continue;
    }
    int n = atoi(v.c_str());
    if (a == "--seconds") {
      o->seconds = n;
    } else if (a == "--watchers") {
      o->watchers = n;
    } else if (a == "--submitters") {
      o->submitters = n;
    } else if (a == "--pollers") {
      o->pollers = n;
    } else if (a == "--submit-pause-ms") {
      o->submit_pause_ms = n;
    } else if (a == "--poll-pause-ms") {
      o->poll_pause_ms = n;
    } else if (a == "--probe-interval-ms") {
      o->probe_interval_ms = n;
    } else {
      return false;
    }
  }
  return o->seconds > 0 && o->long_evaluations > 0;
}

// Latencies of one kind of call, from many threads.
class Latencies {
 public:
  void Add(double start, double seconds, double window_start) {
    if (start < window_start) return;
    std::lock_guard<std::mutex> lock(mu_);
    seconds_.push_back(seconds);
  }
  void Fail() { failures_.fetch_add(1); }
  std::vector<double> Copy() {
    std::lock_guard<std::mutex> lock(mu_);
    return seconds_;
  }
  int failures() const { return failures_.load(); }

 private:
  std::mutex mu_;
  std::vector<double> seconds_;
  std::atomic<int> failures_{0};
};

// What every load thread shares.
struct Shared {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::atomic<bool> stop{false};
  double window_start = 0;              // calls started before it are warm-up
  std::atomic<int64_t> unary_calls{0};  // completed inside the window
  std::atomic<int64_t> watch_messages{0};
  std::mutex ids_mu;
  std::vector<std::string> ids;  // every evaluation created
  Latencies create, get, list, health;
  std::mutex watch_mu;
  std::vector<grpc::ClientContext*> watches;  // open, for TryCancel

  std::shared_ptr<grpc::Channel> Channel(int i) {
    return channels[i % channels.size()];
  }
  std::string RandomId(std::mt19937* rng) {
    std::lock_guard<std::mutex> lock(ids_mu);
    return ids[(*rng)() % ids.size()];
  }
  void Count(double start) {
    if (start >= window_start) unary_calls.fetch_add(1);
  }
};

// Samples the descriptors ocxd holds on its database file every 50 ms on a
// thread of its own, keeping the largest count.
class DbFdWatch {
 public:
  DbFdWatch(pid_t pid, std::string path) : pid_(pid), path_(std::move(path)) {}
  ~DbFdWatch() { StopSampling(); }
  int Count() const { return ocx::testing::DescriptorsOpenOn(pid_, path_); }
  void StartSampling() {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        largest_ = std::max(largest_.load(), Count());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  // The largest count seen.
  int StopSampling() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return largest_.load();
  }

 private:
  const pid_t pid_;
  const std::string path_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> largest_{0};
};

// The dispatcher's turns and write transactions so far, from ocxd's
// /metrics: where a CreateEvaluation's wait goes (it returns after the
// commit of the turn that took it).
struct DispatcherTimes {
  double turns = 0, turn_seconds = 0;
  double transactions = 0, transaction_seconds = 0;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The value of the unlabelled sample `name` in a Prometheus text page.
double Sample(const std::string& page, const std::string& name) {
  size_t at = page.find("\n" + name + " ");
  return at == std::string::npos ? 0
                                 : atof(page.c_str() + at + name.size() + 2);
}

DispatcherTimes ScrapeDispatcher(const std::string& url) {
  std::string page;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &page);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return {};
  return {Sample(page, "ocx_dispatcher_turn_seconds_count"),
          Sample(page, "ocx_dispatcher_turn_seconds_sum"),
          Sample(page, "ocx_store_transaction_seconds_count"),
          Sample(page, "ocx_store_transaction_seconds_sum")};
}

// Sleeps up to `ms`, waking early when the run stops.
void Pause(const Shared& s, int ms) {
  const double until = Now() + ms / 1e3;
  while (!s.stop.load() && Now() < until) {
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::min<int64_t>(ms * 1000, 50000)));
  }
}

void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(seconds));
}

void Submitter(Shared* s, int index, int pause_ms) {
  auto stub = EvaluationService::NewStub(s->Channel(index));
  const ocx::v1::EvaluationSpec spec =
      ocx::bench::CommandSpec(1, 1, {"/bin/true"});
  for (int n = 0; !s->stop.load(); ++n) {
    ocx::v1::CreateEvaluationRequest req;
    *req.mutable_spec() = spec;
    req.set_name(absl::StrCat("load-", index, "-", n));
    ocx::v1::Evaluation e;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 60);
    const double start = Now();
    grpc::Status st = stub->CreateEvaluation(&ctx, req, &e);
    const double took = Now() - start;
    if (!st.ok()) {
      fprintf(stderr, "CreateEvaluation: %s\n", st.error_message().c_str());
      s->create.Fail();
    } else {
      s->create.Add(start, took, s->window_start);
      s->Count(start);
      std::lock_guard<std::mutex> lock(s->ids_mu);
      s->ids.push_back(e.id());
    }
    Pause(*s, pause_ms);
  }
}

void Poller(Shared* s, int index, int pause_ms) {
  auto stub = EvaluationService::NewStub(s->Channel(index));
  std::mt19937 rng(index);
  for (int n = 0; !s->stop.load(); ++n) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 30);
    const bool list = n % 5 == 4;
    const double start = Now();
    grpc::Status st;
    if (list) {
      ocx::v1::ListEvaluationsRequest req;
      req.set_page_size(20);
      ocx::v1::ListEvaluationsResponse resp;
      st = stub->ListEvaluations(&ctx, req, &resp);
    } else {
      ocx::v1::GetEvaluationRequest req;
      req.set_id(s->RandomId(&rng));
      ocx::v1::Evaluation e;
      st = stub->GetEvaluation(&ctx, req, &e);
    }
    const double took = Now() - start;
    Latencies& kind = list ? s->list : s->get;
    if (!st.ok()) {
      fprintf(stderr, "%s: %s\n", list ? "ListEvaluations" : "GetEvaluation",
              st.error_message().c_str());
      kind.Fail();
    } else {
      kind.Add(start, took, s->window_start);
      s->Count(start);
    }
    Pause(*s, pause_ms);
  }
}

void Prober(Shared* s, int interval_ms) {
  auto stub = grpc::health::v1::Health::NewStub(s->Channel(0));
  while (!s->stop.load()) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 30);
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    const double start = Now();
    grpc::Status st = stub->Check(&ctx, req, &resp);
    const double took = Now() - start;
    if (!st.ok()) {
      s->health.Fail();
    } else {
      s->health.Add(start, took, s->window_start);
      s->Count(start);
    }
    Pause(*s, interval_ms);
  }
}

// Follows one evaluation until the run stops (TryCancel) or it ends.
void Watcher(Shared* s, int index, std::string id) {
  auto stub = EvaluationService::NewStub(s->Channel(index));
  grpc::ClientContext ctx;
  {
    std::lock_guard<std::mutex> lock(s->watch_mu);
    if (s->stop.load()) return;
    s->watches.push_back(&ctx);
  }
  ocx::v1::WatchEvaluationRequest req;
  req.set_id(id);
  auto reader = stub->WatchEvaluation(&ctx, req);
  ocx::v1::WatchEvaluationResponse resp;
  while (reader->Read(&resp)) s->watch_messages.fetch_add(1);
  reader->Finish().IgnoreError();
  std::lock_guard<std::mutex> lock(s->watch_mu);
  for (auto& w : s->watches) {
    if (w == &ctx) w = nullptr;
  }
}

void StopWatches(Shared* s) {
  std::lock_guard<std::mutex> lock(s->watch_mu);
  for (grpc::ClientContext* w : s->watches) {
    if (w != nullptr) w->TryCancel();
  }
}

struct Summary {
  double p50_ms = 0, p99_ms = 0;
  size_t n = 0;
};
Summary Summarize(Latencies& l) {
  std::vector<double> v = l.Copy();
  return {ocx::bench::Median(v) * 1e3, Percentile(v, 99) * 1e3, v.size()};
}

void PrintLine(const char* what, const Summary& s, int failures) {
  printf("  %-16s n=%-6zu p50 %7.2f ms  p99 %7.2f ms  failures %d\n", what, s.n,
         s.p50_ms, s.p99_ms, failures);
}

// Creates the long evaluations the watchers follow; their tasks sleep
// through the run (cancelled at the end).
bool CreateLong(EvaluationService::Stub* stub, const Options& o,
                std::vector<std::string>* ids) {
  const ocx::v1::EvaluationSpec spec = ocx::bench::CommandSpec(
      1, 1, {"/bin/sleep", absl::StrCat(o.warmup_seconds + o.seconds + 60)});
  for (int i = 0; i < o.long_evaluations; ++i) {
    ocx::v1::CreateEvaluationRequest req;
    *req.mutable_spec() = spec;
    req.set_name(absl::StrCat("long-", i));
    ocx::v1::Evaluation e;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 60);
    grpc::Status st = stub->CreateEvaluation(&ctx, req, &e);
    if (!st.ok()) {
      fprintf(stderr, "CreateEvaluation long: %s\n",
              st.error_message().c_str());
      return false;
    }
    ids->push_back(e.id());
  }
  return true;
}

void CancelAll(EvaluationService::Stub* stub,
               const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    ocx::v1::CancelEvaluationRequest req;
    req.set_id(id);
    ocx::v1::Evaluation e;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 60);
    stub->CancelEvaluation(&ctx, req, &e).IgnoreError();
  }
  for (const std::string& id : ids) {
    ocx::testing::WaitForEnd(stub, id, 60).IgnoreError();
  }
}

std::vector<std::shared_ptr<grpc::Channel>> Channels(const std::string& server,
                                                     int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    // A distinct argument keeps gRPC from sharing one connection.
    args.SetInt("ocx.bench_load_channel", i);
    out.push_back(grpc::CreateCustomChannel(
        server, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    fprintf(stderr,
            "usage: %s [--seconds S] [--watchers N] [--submitters N] "
            "[--pollers N] [--submit-pause-ms MS] [--poll-pause-ms MS] "
            "[--probe-interval-ms MS] [--ocxd-arg ARG]...\n",
            argv[0]);
    return 2;
  }
  printf(
      "bench_load: %d watch streams, %d submitters (pause %d ms), %d pollers "
      "(pause %d ms), health probe every %d ms; %d s measured after %d s "
      "warm-up; %d cores\n",
      o.watchers, o.submitters, o.submit_pause_ms, o.pollers, o.poll_pause_ms,
      o.probe_interval_ms, o.seconds, o.warmup_seconds, ocx::bench::Cores());

  ocx::testing::TempDir dir;
  std::vector<std::string> ocxd_args = {"--http-listen", "127.0.0.1:0"};
  ocxd_args.insert(ocxd_args.end(), o.ocxd_args.begin(), o.ocxd_args.end());
  ocx::testing::OcxdProcess ocxd(dir.path(), ocxd_args);
  if (absl::Status st = ocxd.Start(); !st.ok()) {
    fprintf(stderr, "ocxd: %s\n", st.ToString().c_str());
    return 1;
  }
  auto* stub = ocxd.stub();
  DbFdWatch fds(ocxd.pid(), ocxd.database());
  std::vector<std::string> long_ids;
  if (!CreateLong(stub, o, &long_ids)) return 1;
  std::vector<std::string> cancel_ids = long_ids;
  auto cancel =
      absl::MakeCleanup([&cancel_ids, stub] { CancelAll(stub, cancel_ids); });
  const int fds_before = fds.Count();

  Shared s;
  s.channels = Channels(ocxd.server(), o.channels);
  s.ids = long_ids;
  s.window_start = Now() + o.warmup_seconds;
  std::vector<std::thread> threads;
  for (int i = 0; i < o.watchers; ++i) {
    threads.emplace_back(Watcher, &s, i, long_ids[i % long_ids.size()]);
  }
  for (int i = 0; i < o.submitters; ++i) {
    threads.emplace_back(Submitter, &s, i, o.submit_pause_ms);
  }
  for (int i = 0; i < o.pollers; ++i) {
    threads.emplace_back(Poller, &s, i, o.poll_pause_ms);
  }
  threads.emplace_back(Prober, &s, o.probe_interval_ms);
  fds.StartSampling();

  std::this_thread::sleep_for(std::chrono::seconds(o.warmup_seconds));
  const std::string metrics = ocx::testing::MetricsUrl(ocxd.log());
  const DispatcherTimes d_start = ScrapeDispatcher(metrics);
  const double cpu_start = ocx::bench::ProcCpuSeconds(ocxd.pid());
  const double wall_start = Now();
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  const double cpu = ocx::bench::ProcCpuSeconds(ocxd.pid()) - cpu_start;
  const double wall = Now() - wall_start;
  const DispatcherTimes d_end = ScrapeDispatcher(metrics);
  const int64_t requests = s.unary_calls.load();
  s.stop = true;
  StopWatches(&s);
  for (std::thread& t : threads) t.join();
  const int fds_during = fds.StopSampling();
  {
    std::lock_guard<std::mutex> lock(s.ids_mu);
    cancel_ids = s.ids;
  }
  std::move(cancel).Invoke();
  // Idle: the pool's idle connections are let go.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int fds_after = fds.Count();
  const int64_t created = static_cast<int64_t>(cancel_ids.size()) -
                          static_cast<int64_t>(long_ids.size());
  ocxd.Stop(SIGTERM);

  Summary create = Summarize(s.create), get = Summarize(s.get),
          list = Summarize(s.list), health = Summarize(s.health);
  printf("\nlatencies over %.1f s (after warm-up):\n", wall);
  PrintLine("CreateEvaluation", create, s.create.failures());
  PrintLine("GetEvaluation", get, s.get.failures());
  PrintLine("ListEvaluations", list, s.list.failures());
  PrintLine("Health/Check", health, s.health.failures());
  const double p99_ratio = get.p99_ms / health.p99_ms;
  const double create_ratio = create.p50_ms / get.p50_ms;
  const double cpu_per_k = requests > 0 ? cpu / requests * 1000 : 0;
  printf("GetEvaluation p99 / health p99: %.2f (target <= 2)\n", p99_ratio);
  printf("CreateEvaluation p50 / GetEvaluation p50: %.2f (target <= 5)\n",
         create_ratio);
  printf(
      "ocxd CPU: %.2f s over %.1f s (%.0f%% of one core) for %lld unary "
      "requests (%.0f/s) and %lld watch messages: %.3f CPU s per 1,000 "
      "requests\n",
      cpu, wall, cpu / wall * 100, static_cast<long long>(requests),
      requests / wall, static_cast<long long>(s.watch_messages.load()),
      cpu_per_k);
  const double turns = d_end.turns - d_start.turns;
  const double turn_s = d_end.turn_seconds - d_start.turn_seconds;
  const double tx_s = d_end.transaction_seconds - d_start.transaction_seconds;
  const double turn_ms = turns > 0 ? turn_s / turns * 1e3 : 0;
  printf(
      "dispatcher: %.0f turns, mean %.1f ms, busy %.0f%% of the time; write "
      "transactions %.0f, %.0f%% of the turns' time (a create waits for the "
      "turn after the one running when it arrives)\n",
      turns, turn_ms, turn_s / wall * 100,
      d_end.transactions - d_start.transactions,
      turn_s > 0 ? tx_s / turn_s * 100 : 0);
  printf(
      "database descriptors in ocxd: before %d, during (largest) %d, after "
      "%d; evaluations created under load: %lld\n",
      fds_before, fds_during, fds_after, static_cast<long long>(created));
  const bool failed = s.create.failures() + s.get.failures() +
                          s.list.failures() + s.health.failures() >
                      0;
  ocx::bench::PrintResult({
      {"bench", "load"},
      {"get_p50_ms", Fmt(get.p50_ms, 2)},
      {"get_p99_ms", Fmt(get.p99_ms, 2)},
      {"health_p50_ms", Fmt(health.p50_ms, 2)},
      {"health_p99_ms", Fmt(health.p99_ms, 2)},
      {"ratio_get_p99_vs_health", Fmt(p99_ratio, 2)},
      {"create_p50_ms", Fmt(create.p50_ms, 2)},
      {"create_p99_ms", Fmt(create.p99_ms, 2)},
      {"ratio_create_vs_get_p50", Fmt(create_ratio, 2)},
      {"list_p50_ms", Fmt(list.p50_ms, 2)},
      {"cpu_s_per_1k_requests", Fmt(cpu_per_k, 3)},
      {"requests", absl::StrCat(requests)},
      {"turn_ms", Fmt(turn_ms, 2)},
      {"turn_tx_share", Fmt(turn_s > 0 ? tx_s / turn_s : 0, 2)},
      {"db_fds_before", absl::StrCat(fds_before)},
      {"db_fds_during", absl::StrCat(fds_during)},
      {"db_fds_after", absl::StrCat(fds_after)},
      {"failures", failed ? "yes" : "no"},
  });
  return failed ? 1 : 0;
}
