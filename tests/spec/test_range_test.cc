#include "spec/test_range.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TestRange Parse(const std::string& text) {
  absl::StatusOr<TestRange> r = ParseTestRange(text);
  EXPECT_TRUE(r.ok()) << r.status() << " for " << text;
  return r.ok() ? *r : TestRange();
}

TEST(TestRangeTest, Kinds) {
  EXPECT_EQ(Parse("").kind, TestRange::Kind::kAll);
  EXPECT_EQ(Parse("  ").kind, TestRange::Kind::kAll);
  TestRange count = Parse("100");
  EXPECT_EQ(count.kind, TestRange::Kind::kCount);
  EXPECT_EQ(count.count, 100);
  EXPECT_EQ(Parse("0").kind, TestRange::Kind::kCount);
  TestRange ratio = Parse("0.25");
  EXPECT_EQ(ratio.kind, TestRange::Kind::kRatio);
  EXPECT_DOUBLE_EQ(ratio.ratio, 0.25);
  EXPECT_EQ(Parse("1.0").kind, TestRange::Kind::kRatio);
  TestRange big = Parse("250.7");
  EXPECT_EQ(big.kind, TestRange::Kind::kCount);
  EXPECT_EQ(big.count, 250);
  TestRange slice = Parse("[ 10 : -5 : 2 ]");
  EXPECT_EQ(slice.kind, TestRange::Kind::kSlices);
  ASSERT_EQ(slice.slices.size(), 1u);
  EXPECT_EQ(slice.slices[0].start, 10);
  EXPECT_EQ(slice.slices[0].stop, -5);
  EXPECT_EQ(slice.slices[0].step, 2);
  TestRange open = Parse("[:]");
  EXPECT_FALSE(open.slices[0].start.has_value());
  EXPECT_FALSE(open.slices[0].stop.has_value());
  EXPECT_FALSE(open.slices[0].step.has_value());
  EXPECT_EQ(Parse("[0:100][10: 20]").slices.size(), 2u);
}

TEST(TestRangeTest, Errors) {
  const std::string forms =
      "must be a count (100), a ratio in (0, 1] (0.5) or a slice such as "
      "[0:100], [:50], [100:] or [::2]";
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"abc", forms + ", got \"abc\""},
      {"[1:2", forms + ", got \"[1:2\""},
      {"[1]", forms + ", got \"[1]\""},
      {"[1:2]x", forms + ", got \"[1:2]x\""},
      {"[-:2]", forms + ", got \"[-:2]\""},
      {"[1.5:2]", forms + ", got \"[1.5:2]\""},
      {"[::0]", "slice step must not be 0, got \"[::0]\""},
      {"[1:2:-0]", "slice step must not be 0, got \"[1:2:-0]\""},
      {"-1", "a count must be >= 0, got \"-1\""},
      {"-0.5", "a ratio must be in (0, 1] and a count >= 0, got \"-0.5\""},
      {"0.0", "a ratio must be in (0, 1] and a count >= 0, got \"0.0\""},
      {"99999999999999999999",
       "count is out of range, got "
       "\"99999999999999999999\""},
      {"[99999999999999999999:]", forms + ", got \"[99999999999999999999:]\""},
      {"1e400", "count is out of range, got \"1e400\""},
      {"nan", forms + ", got \"nan\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TestRange> r = ParseTestRange(c.text);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(r.status().message(), c.error) << c.text;
  }
}

std::vector<int64_t> Rows(const std::string& text, int64_t size) {
  return Parse(text).SliceIndices(size);
}

TEST(TestRangeTest, SliceIndicesFollowPython) {
  EXPECT_THAT(Rows("[0:3]", 10), ElementsAre(0, 1, 2));
  EXPECT_THAT(Rows("[7:]", 10), ElementsAre(7, 8, 9));
  EXPECT_THAT(Rows("[:2]", 10), ElementsAre(0, 1));
  EXPECT_THAT(Rows("[-2:]", 10), ElementsAre(8, 9));
  EXPECT_THAT(Rows("[::4]", 10), ElementsAre(0, 4, 8));
  EXPECT_THAT(Rows("[::-3]", 10), ElementsAre(9, 6, 3, 0));
  EXPECT_THAT(Rows("[8:2:-2]", 10), ElementsAre(8, 6, 4));
  EXPECT_THAT(Rows("[5:100]", 7), ElementsAre(5, 6));
  EXPECT_THAT(Rows("[-100:2]", 7), ElementsAre(0, 1));
  EXPECT_THAT(Rows("[5:2]", 10), IsEmpty());
  EXPECT_THAT(Rows("[0:3]", 0), IsEmpty());
  // Chained as SizePartitioner writes them: part 1 of [10:20].
  EXPECT_THAT(Rows("[10:20][3: 6]", 100), ElementsAre(13, 14, 15));
  EXPECT_THAT(Rows("[0:5:9223372036854775807]", 10), ElementsAre(0));
  EXPECT_THAT(Rows("[::-9223372036854775808]", 10), ElementsAre(9));
}

TEST(TestRangeTest, CountOrRatioFollowedBySlices) {
  TestRange count = Parse("100[0:50]");
  EXPECT_EQ(count.kind, TestRange::Kind::kCount);
  EXPECT_EQ(count.count, 100);
  ASSERT_EQ(count.slices.size(), 1u);
  EXPECT_EQ(count.slices[0].stop, 50);
  TestRange ratio = Parse(" 0.5 [::2][1:]");
  EXPECT_EQ(ratio.kind, TestRange::Kind::kRatio);
  EXPECT_EQ(ratio.slices.size(), 2u);
  const std::string forms =
      "must be a count (100), a ratio in (0, 1] (0.5) or a slice such as "
      "[0:100], [:50], [100:] or [::2]";
  EXPECT_EQ(ParseTestRange("abc[0:1]").status().message(),
            forms + ", got \"abc[0:1]\"");
  EXPECT_EQ(ParseTestRange("100[0:").status().message(),
            forms + ", got \"100[0:\"");
  EXPECT_EQ(ParseTestRange("-1[0:1]").status().message(),
            forms + ", got \"-1[0:1]\"");
  EXPECT_EQ(ParseTestRange("5[::0]").status().message(),
            "slice step must not be 0, got \"5[::0]\"");
}

TEST(TestRangeTest, CountFollowsOpenCompassLoadPartialDataset) {
  // ''/None: all; a count: min(count, size), 0 meaning all; a ratio:
  // floor(ratio * size); then any slices.
  struct Case {
    std::string range;
    int64_t size;
    int64_t count;
  };
  const std::vector<Case> cases = {
      {"", 1319, 1319},
      {"100", 1319, 100},
      {"0", 1319, 1319},
      {"5000", 1319, 1319},
      {"0.5", 1319, 659},
      {"1.0", 7, 7},
      {"0.1", 5, 0},
      {"250.7", 1000, 250},
      {"[0:100]", 1319, 100},
      {"[:50]", 1319, 50},
      {"[100:]", 1319, 1219},
      {"[::2]", 1319, 660},
      {"[::2]", 1318, 659},
      {"[-10:]", 5, 5},
      {"[5:2]", 10, 0},
      {"[::-3]", 10, 4},
      {"100[0:50]", 1319, 50},
      {"100[90:200]", 1319, 10},
      {"0.5[::2]", 100, 25},
      {"[0:100][10:20]", 1319, 10},
      {"[100:][0:189]", 1319, 189},
      {"[100:][1134:1323]", 1319, 85},
      {"", 0, 0},
      {"100", -3, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Parse(c.range).Count(c.size), c.count)
        << c.range << " of " << c.size;
  }
  // Huge sizes are counted, not materialised.
  EXPECT_EQ(Parse("[::2]").Count(int64_t{1} << 53), int64_t{1} << 52);
  EXPECT_EQ(Parse("[::-9223372036854775808]").Count(int64_t{1} << 53), 1);
}

TEST(TestRangeTest, CountAgreesWithSliceIndices) {
  const std::vector<std::string> ranges = {"[:]",
                                           "[1:]",
                                           "[:-1]",
                                           "[2:7]",
                                           "[::3]",
                                           "[::-1]",
                                           "[::-2]",
                                           "[7:1:-2]",
                                           "[-3:-1]",
                                           "[-100:100]",
                                           "[1::4]",
                                           "[:1:-1]",
                                           "[3:3]",
                                           "[0:5][1:]",
                                           "[::2][::-1][1:3]",
                                           "[5:][::-3][1:]",
                                           "[-1::-1]",
                                           "[9:0:-4]",
                                           "[1:2:9223372036854775807]"};
  for (const std::string& text : ranges) {
    TestRange r = Parse(text);
    for (int64_t size = 0; size <= 23; ++size) {
      EXPECT_EQ(r.Count(size),
                static_cast<int64_t>(r.SliceIndices(size).size()))
          << text << " of " << size;
    }
  }
}

}  // namespace
}  // namespace ocx::spec
