// SQLite handles do not pile up (issue 15): a real ocxd with
// `read_connections: 2` takes a burst of concurrent gRPC reads (Get, List,
// ListTasks and watch streams from many threads at once), answers every
// one, and the descriptors it holds on the database file stay within the
// bound plus the writer and a small constant, during the burst and after.
// Without the bound they grew with the number of concurrent readers and
// stayed (SQLite keeps a closed connection's descriptor for reuse).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

constexpr int kReadConnections = 2;
// Besides the read connections: the writer's connection and the daemon's
// flock on the database file (design.md, "Two locks"); one spare.
constexpr int kOtherDescriptors = 3;
constexpr int kThreads = 32;
constexpr int kReadsPerThread = 30;
constexpr int kWatchers = 16;

// Samples DescriptorsOpenOn(pid, path) every 2 ms until stopped; keeps the
// largest count.
class DescriptorSampler {
 public:
  DescriptorSampler(pid_t pid, std::string path)
      : thread_([this, pid, path] {
          while (!stop_.load()) {
            largest_ = std::max(largest_.load(), DescriptorsOpenOn(pid, path));
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        }) {}
  int Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return largest_.load();
  }
  ~DescriptorSampler() { Stop(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> largest_{0};
  std::thread thread_;
};

std::shared_ptr<grpc::Channel> Channel(const OcxdProcess& ocxd, int i) {
  grpc::ChannelArguments args;
  args.SetInt("ocx.test_channel", i);  // a connection of its own
  return grpc::CreateCustomChannel(ocxd.server(),
                                   grpc::InsecureChannelCredentials(), args);
}

// One of three reads, by `n`; false with the status printed on failure.
bool Read(ocx::v1::EvaluationService::Stub* stub, const std::string& id,
          int n) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status s;
  if (n % 3 == 0) {
    ocx::v1::GetEvaluationRequest req;
    req.set_id(id);
    ocx::v1::Evaluation e;
    s = stub->GetEvaluation(&ctx, req, &e);
  } else if (n % 3 == 1) {
    ocx::v1::ListEvaluationsRequest req;
    ocx::v1::ListEvaluationsResponse resp;
    s = stub->ListEvaluations(&ctx, req, &resp);
  } else {
    ocx::v1::ListTasksRequest req;
    req.set_evaluation_id(id);
    ocx::v1::ListTasksResponse resp;
    s = stub->ListTasks(&ctx, req, &resp);
  }
  EXPECT_TRUE(s.ok()) << s.error_message();
  return s.ok();
}

TEST(ReadPoolE2eTest, DatabaseDescriptorsStayWithinTheBoundUnderABurst) {
  TempDir dir;
  const std::string config = dir.path() + "/ocxd.yaml";
  std::ofstream(config) << "read_connections: " << kReadConnections << "\n";
  OcxdProcess ocxd(dir.path(), {"--config", config});
  ASSERT_TRUE(ocxd.Start().ok()) << FileText(ocxd.log());
  auto* stub = ocxd.stub();
  // Tasks that sleep: the evaluation stays RUNNING and watchers stay open.
  ocx::v1::Evaluation e = CreateOrFail(
      stub, TestSpec(2, 2, {"--sleep-ms", "60000"}, /*max_num_workers=*/1));
  ASSERT_FALSE(e.id().empty());
  const int before = DescriptorsOpenOn(ocxd.pid(), ocxd.database());
  ASSERT_GE(before, 1);
  const int bound = kReadConnections + kOtherDescriptors;
  EXPECT_LE(before, bound);

  DescriptorSampler sampler(ocxd.pid(), ocxd.database());
  std::vector<std::unique_ptr<grpc::ClientContext>> watch_contexts;
  std::vector<std::thread> threads;
  std::atomic<int> watch_snapshots{0};
  for (int w = 0; w < kWatchers; ++w) {
    watch_contexts.push_back(std::make_unique<grpc::ClientContext>());
    grpc::ClientContext* ctx = watch_contexts.back().get();
    threads.emplace_back([&, ctx, w] {
      auto watch_stub = ocx::v1::EvaluationService::NewStub(Channel(ocxd, w));
      ocx::v1::WatchEvaluationRequest req;
      req.set_id(e.id());
      auto reader = watch_stub->WatchEvaluation(ctx, req);
      ocx::v1::WatchEvaluationResponse resp;
      while (reader->Read(&resp)) watch_snapshots.fetch_add(1);
      reader->Finish().IgnoreError();
    });
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&, t] {
      auto read_stub = ocx::v1::EvaluationService::NewStub(Channel(ocxd, t));
      for (int n = 0; n < kReadsPerThread; ++n) {
        if (!Read(read_stub.get(), e.id(), n + t)) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_TRUE(
      PollUntil([&] { return watch_snapshots.load() >= kWatchers; }, 30))
      << "every watcher gets its first snapshot";
  for (auto& ctx : watch_contexts) ctx->TryCancel();
  for (std::thread& t : threads) t.join();
  const int during = sampler.Stop();

  EXPECT_EQ(failures.load(), 0) << "a read waits for a connection, not fails";
  EXPECT_LE(during, bound) << "largest count during the burst; before: "
                           << before;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int after = DescriptorsOpenOn(ocxd.pid(), ocxd.database());
  EXPECT_LE(after, bound);
  EXPECT_GE(after, 1);

  ocx::v1::CancelEvaluationRequest cancel;
  cancel.set_id(e.id());
  ocx::v1::Evaluation cancelled;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->CancelEvaluation(&ctx, cancel, &cancelled).ok());
  EXPECT_TRUE(WaitForEnd(stub, e.id(), 60).ok());
}

}  // namespace
}  // namespace ocx::testing
