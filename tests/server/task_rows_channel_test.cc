// TaskRowsChannel: order, the end of a plan, the producer's error, the
// consumer stopping, and the bound, with real threads.
#include "common/task_rows_channel.h"

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ocx {
namespace {

// A chunk of `n` rows whose ids start with `prefix`.
TaskRows Chunk(const std::string& prefix, int n) {
  TaskRows rows;
  for (int i = 0; i < n; ++i) {
    ocx::v1::Task t;
    t.set_id(absl::StrCat(prefix, i));
    rows.Add(t);
  }
  return rows;
}

std::string FirstId(const TaskRows& rows) {
  return std::string(rows.View(0).id);
}

TEST(TaskRowsChannelTest, ChunksComeInOrderThenTheEnd) {
  TaskRowsChannel channel(4);
  ASSERT_TRUE(channel.Push(Chunk("a", 2)));
  ASSERT_TRUE(channel.Push(Chunk("b", 3)));
  channel.Close();
  auto first = channel.Pop();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ(FirstId(**first), "a0");
  EXPECT_EQ((*first)->size(), 2u);
  auto second = channel.Pop();
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ(FirstId(**second), "b0");
  auto end = channel.Pop();
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(end->has_value());
  // A push after the end is refused.
  EXPECT_FALSE(channel.Push(Chunk("c", 1)));
}

TEST(TaskRowsChannelTest, TheProducersErrorVoidsTheQueuedChunks) {
  TaskRowsChannel channel(4);
  ASSERT_TRUE(channel.Push(Chunk("a", 2)));
  channel.Close(absl::InvalidArgumentError("datasets[3].path: bad line 7"));
  auto popped = channel.Pop();
  EXPECT_EQ(popped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(popped.status().message(), "datasets[3].path: bad line 7");
  // A second Close does not change the end.
  channel.Close();
  EXPECT_FALSE(channel.Pop().ok());
}

TEST(TaskRowsChannelTest, AStoppedConsumerTurnsAwayTheProducer) {
  TaskRowsChannel channel(4);
  ASSERT_TRUE(channel.Push(Chunk("a", 1)));
  channel.Stop(absl::InternalError("disk full"));
  EXPECT_FALSE(channel.Push(Chunk("b", 1)));
  EXPECT_EQ(channel.stopped().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(channel.Pop().status().code(), absl::StatusCode::kInternal);
}

TEST(TaskRowsChannelTest, AFullQueueBlocksTheProducerUntilAPop) {
  TaskRowsChannel channel(1);
  ASSERT_TRUE(channel.Push(Chunk("a", 1)));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(channel.Push(Chunk("b", 1)));
    pushed = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(pushed.load()) << "the queue holds one chunk at most";
  auto a = channel.Pop();
  ASSERT_TRUE(a.ok() && a->has_value());
  producer.join();
  EXPECT_TRUE(pushed.load());
  auto b = channel.Pop();
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ(FirstId(**b), "b0");
}

TEST(TaskRowsChannelTest, StopWakesAProducerWaitingForRoom) {
  TaskRowsChannel channel(1);
  ASSERT_TRUE(channel.Push(Chunk("a", 1)));
  std::atomic<int> result{-1};
  std::thread producer([&] { result = channel.Push(Chunk("b", 1)) ? 1 : 0; });
  absl::SleepFor(absl::Milliseconds(50));
  channel.Stop(absl::OkStatus());
  producer.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_EQ(channel.stopped().code(), absl::StatusCode::kCancelled);
}

TEST(TaskRowsChannelTest, CloseWakesAConsumerWaitingForAChunk) {
  TaskRowsChannel channel(2);
  absl::StatusOr<std::optional<TaskRows>> popped =
      absl::UnknownError("not popped");
  std::thread consumer([&] { popped = channel.Pop(); });
  absl::SleepFor(absl::Milliseconds(50));
  channel.Close(absl::ResourceExhaustedError("limits.max_tasks"));
  consumer.join();
  EXPECT_EQ(popped.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace ocx
