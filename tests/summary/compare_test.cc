#include "summary/compare.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "summary/render.h"

namespace ocx::summary {
namespace {

SummaryRow Row(const std::string& dataset, const std::string& version,
               const std::string& metric,
               std::vector<std::optional<double>> values) {
  return SummaryRow{dataset, version, metric, "gen", std::move(values)};
}

TEST(CompareTest, ColumnsPerEvaluationAndModelRowsMatchedOnVersion) {
  SummaryTable a;
  a.model_abbrs = {"m1", "m2"};
  a.rows = {Row("qa", "abc123", "accuracy", {50.0, 75.0}),
            Row("story", "def456", "score", {1.5, std::nullopt})};
  SummaryTable b;
  b.model_abbrs = {"m1"};
  b.rows = {Row("qa", "abc123", "accuracy", {60.0}),
            // Prompted differently: not comparable with a's story row.
            Row("story", "999999", "score", {2.5}),
            Row("extra", "aaaaaa", "accuracy", {10.0})};
  SummaryTable merged = CompareTables({{"e1", a}, {"e2", b}});
  EXPECT_THAT(merged.model_abbrs,
              ::testing::ElementsAre("m1@e1", "m2@e1", "m1@e2"));
  EXPECT_EQ(RenderCsv(merged),
            "dataset,version,metric,mode,m1@e1,m2@e1,m1@e2\n"
            "qa,abc123,accuracy,gen,50.00,75.00,60.00\n"
            "story,def456,score,gen,1.50,-,-\n"
            "story,999999,score,gen,-,-,2.50\n"
            "extra,aaaaaa,accuracy,gen,-,-,10.00\n");
}

TEST(CompareTest, PlaceholderRowsGiveWayToMeasuredOnes) {
  SummaryTable running;  // No results yet for qa.
  running.model_abbrs = {"m1"};
  running.rows = {Row("qa", "abc123", "-", {std::nullopt})};
  SummaryTable done;
  done.model_abbrs = {"m1"};
  done.rows = {Row("qa", "abc123", "accuracy", {80.0})};
  SummaryTable merged = CompareTables({{"e1", running}, {"e2", done}});
  EXPECT_EQ(RenderCsv(merged),
            "dataset,version,metric,mode,m1@e1,m1@e2\n"
            "qa,abc123,accuracy,gen,-,80.00\n");
}

}  // namespace
}  // namespace ocx::summary
