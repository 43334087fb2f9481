#include "runners/local/gpu_slots.h"

#include <stdlib.h>

#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::runners {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(GpuSlotsTest, TaskNeedingMoreGpusThanExistIsRefusedForGood) {
  // OpenCompass compared num_gpus against max(id)+1 = 6 and spun forever.
  GpuSlots slots({4, 5});
  absl::StatusOr<std::vector<int>> got = slots.Acquire(4, 1);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got.status().message(),
            "task needs 4 GPUs but this machine has 2 (4,5)");
  EXPECT_EQ(slots.occupancy(4), 0);
  EXPECT_EQ(slots.occupancy(5), 0);
}

TEST(GpuSlotsTest, NoGpusAtAll) {
  GpuSlots slots({});
  absl::StatusOr<std::vector<int>> got = slots.Acquire(1, 1);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(got.status().message(), HasSubstr("has 0 (none)"));
  // A CPU task always fits.
  ASSERT_TRUE(slots.Acquire(0, 1).ok());
  EXPECT_THAT(*slots.Acquire(0, 1), IsEmpty());
}

TEST(GpuSlotsTest, ReturnsListedIdsNotIndexes) {
  GpuSlots slots({4, 5});
  absl::StatusOr<std::vector<int>> got = slots.Acquire(2, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, ElementsAre(4, 5));
  EXPECT_EQ(slots.occupancy(4), 1);
  EXPECT_EQ(slots.occupancy(5), 1);
}

TEST(GpuSlotsTest, ExhaustedUntilReleased) {
  GpuSlots slots({4, 5});
  ASSERT_THAT(*slots.Acquire(1, 1), ElementsAre(4));
  ASSERT_THAT(*slots.Acquire(1, 1), ElementsAre(5));
  absl::StatusOr<std::vector<int>> got = slots.Acquire(1, 1);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
  slots.Release({5});
  got = slots.Acquire(1, 1);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, ElementsAre(5));
}

TEST(GpuSlotsTest, SharingWithMaxWorkersPerGpu) {
  GpuSlots slots({4, 5});
  // Four one-GPU tasks fit with two workers per GPU, spread evenly.
  std::vector<int> seen;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<std::vector<int>> got = slots.Acquire(1, 2);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status();
    ASSERT_EQ(got->size(), 1u);
    seen.push_back((*got)[0]);
  }
  EXPECT_THAT(seen, ElementsAre(4, 5, 4, 5));
  EXPECT_EQ(slots.Acquire(1, 2).status().code(),
            absl::StatusCode::kResourceExhausted);
  // A task that wants a GPU to itself finds none.
  slots.Release({4});
  EXPECT_EQ(slots.Acquire(1, 1).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(*slots.Acquire(1, 2), ElementsAre(4));
}

TEST(GpuSlotsTest, PrefersLowestOccupancyThenLowestId) {
  GpuSlots slots({0, 1, 2, 3});
  slots.Reserve({0, 1});
  slots.Reserve({0});
  // Occupancy: 0→2, 1→1, 2→0, 3→0.
  EXPECT_THAT(*slots.Acquire(1, 4), ElementsAre(2));
  // Now 0→2, 1→1, 2→1, 3→0: least used are 3, then 1 (lower id than 2).
  EXPECT_THAT(*slots.Acquire(2, 4), ElementsAre(1, 3));
  EXPECT_EQ(slots.occupancy(0), 2);
  EXPECT_EQ(slots.occupancy(1), 2);
  EXPECT_EQ(slots.occupancy(2), 1);
  EXPECT_EQ(slots.occupancy(3), 1);
}

TEST(GpuSlotsTest, ReserveIgnoresLimitAndUnknownIds) {
  GpuSlots slots({4, 5});
  slots.Reserve({4, 4, 9});
  EXPECT_EQ(slots.occupancy(4), 2);
  EXPECT_EQ(slots.occupancy(9), 0);
  EXPECT_THAT(*slots.Acquire(1, 2), ElementsAre(5));
  slots.Release({4, 4, 4, 9});
  EXPECT_EQ(slots.occupancy(4), 0);
}

TEST(GpuSlotsTest, FailedAcquireTakesNothing) {
  GpuSlots slots({4, 5});
  slots.Reserve({4});
  EXPECT_EQ(slots.Acquire(2, 1).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(slots.occupancy(5), 0);
}

TEST(GpuSlotsTest, RejectsBadArguments) {
  GpuSlots slots({0});
  EXPECT_EQ(slots.Acquire(-1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(slots.Acquire(1, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseGpuListTest, Forms) {
  EXPECT_THAT(*ParseGpuList("4,5"), ElementsAre(4, 5));
  EXPECT_THAT(*ParseGpuList(" 0 , 2 "), ElementsAre(0, 2));
  EXPECT_THAT(*ParseGpuList("none"), IsEmpty());
  EXPECT_THAT(*ParseGpuList(""), IsEmpty());
  EXPECT_EQ(ParseGpuList("4,x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParseGpuList("4,x").status().message(), HasSubstr("\"x\""));
  EXPECT_EQ(ParseGpuList("-1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseGpuList("1,1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseGpuList("1,").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseCudaVisibleDevicesTest, OpenCompassSemantics) {
  EXPECT_THAT(*ParseCudaVisibleDevices("4,5"), ElementsAre(4, 5));
  EXPECT_THAT(*ParseCudaVisibleDevices("-1"), IsEmpty());
  EXPECT_THAT(*ParseCudaVisibleDevices(""), IsEmpty());
  EXPECT_THAT(*ParseCudaVisibleDevices("0,-1,3"), ElementsAre(0, 3));
  EXPECT_THAT(*ParseCudaVisibleDevices("2, 7"), ElementsAre(2, 7));
  EXPECT_EQ(ParseCudaVisibleDevices("GPU-8c2f1e7a").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseCudaVisibleDevicesTest, FromEnvironment) {
  ASSERT_EQ(setenv("CUDA_VISIBLE_DEVICES", "6,7", 1), 0);
  EXPECT_THAT(*GpusFromEnvironment(), ElementsAre(6, 7));
  ASSERT_EQ(setenv("CUDA_VISIBLE_DEVICES", "-1", 1), 0);
  EXPECT_THAT(*GpusFromEnvironment(), IsEmpty());
  ASSERT_EQ(unsetenv("CUDA_VISIBLE_DEVICES"), 0);
  EXPECT_THAT(*GpusFromEnvironment(), IsEmpty());
}

TEST(FormatGpuListTest, Forms) {
  EXPECT_EQ(FormatGpuList({4, 5}), "4,5");
  EXPECT_EQ(FormatGpuList({}), "none");
}

}  // namespace
}  // namespace ocx::runners
