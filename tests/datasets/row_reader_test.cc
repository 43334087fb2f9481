// The row reader against the counter: both run the same scanner, so for
// every file they must agree on the number of samples and on the error of a
// malformed file, word for word. Also what the rows hold (decoded strings,
// numbers, CSV cells) and the reader's own rule (a sample must be a row of
// columns).
#include "datasets/row_reader.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "datasets/sample_counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/datasets/temp_dir.h"

namespace ocx::datasets {
namespace {

using ::testing::ElementsAre;

using TempDir = ::ocx::testing::DatasetDir;

struct Case {
  DatasetFormat format;
  std::string text;
};

// Well-formed files whose samples are all rows of columns.
const std::vector<Case>& GoodFiles() {
  static const auto* cases = new std::vector<Case>{
      {DatasetFormat::kJsonl, ""},
      {DatasetFormat::kJsonl, "{\"q\": 1}"},
      {DatasetFormat::kJsonl, "\xEF\xBB\xBF{\"q\": 1}\n\n  \n{\"q\": 2}\r\n"},
      {DatasetFormat::kJsonl, "{\"q\": {\"a\": [1, {\"b\": null}]}}\n{}\n"},
      {DatasetFormat::kJson, "[]"},
      {DatasetFormat::kJson, "\n[\n  {\"q\": 1},\n  {\"q\": \"]\"}\n]\n"},
      {DatasetFormat::kJson,
       "{\"train\": [1, 2], \"test\": [{\"q\": \"[a,b]\"}, {\"q\": [2]}]}"},
      {DatasetFormat::kJson, "{\"meta\": {\"test\": [1]}, \"test\": [{}]}"},
      {DatasetFormat::kCsv, ""},
      {DatasetFormat::kCsv, "q,a\n"},
      {DatasetFormat::kCsv, "q,a\r\n1,2\r\n\r\n3,4"},
      {DatasetFormat::kCsv,
       "q,a\n\"multi\nline\",x\n\"he said \"\"hi\"\"\",3\n"},
      {DatasetFormat::kCsv, "\xEF\xBB\xBFq,a\nab\"c,1\n"},
  };
  return *cases;
}

// Malformed files, one of each kind of problem.
const std::vector<Case>& BadFiles() {
  static const auto* cases = new std::vector<Case>{
      {DatasetFormat::kJsonl, "{\"q\": 1}\n{\"q\": 2}\n{\"q\": 3\n"},
      {DatasetFormat::kJsonl, "{} {}\n"},
      {DatasetFormat::kJsonl, "{}\n{\"a\": tru}\n"},
      {DatasetFormat::kJsonl, "{\"q\": 1}\n{'q': 2}\n"},
      {DatasetFormat::kJsonl, "{\"a\": \"\\u12g4\"}\n"},
      {DatasetFormat::kJsonl, "{\"a\": \"\t\"}\n"},
      {DatasetFormat::kJsonl, "\xEF\xBB{}\n"},
      {DatasetFormat::kJson, "[\n{\"q\": 1},\n{\"q\": 2\n]\n"},
      {DatasetFormat::kJson, "[{}, {}"},
      {DatasetFormat::kJson, ""},
      {DatasetFormat::kJson, "42"},
      {DatasetFormat::kJson, "{\"train\": [{}]}"},
      {DatasetFormat::kJson, "{\n\"test\": {\"a\": 1}}"},
      {DatasetFormat::kCsv, "q,a\n1,2\n\"never\nclosed,3\n"},
  };
  return *cases;
}

TEST(RowReaderTest, CountsTheSamplesTheCounterCounts) {
  for (const Case& c : GoodFiles()) {
    absl::StatusOr<int64_t> count =
        CountSamplesInText(c.text, c.format, "test");
    absl::StatusOr<std::vector<Row>> rows = ParseRows(c.text, c.format, "test");
    ASSERT_TRUE(count.ok()) << count.status() << " in " << c.text;
    ASSERT_TRUE(rows.ok()) << rows.status() << " in " << c.text;
    EXPECT_EQ(static_cast<int64_t>(rows->size()), *count) << c.text;
  }
}

TEST(RowReaderTest, RefusesAMalformedFileWithTheCountersMessage) {
  for (const Case& c : BadFiles()) {
    absl::StatusOr<int64_t> count =
        CountSamplesInText(c.text, c.format, "test");
    absl::StatusOr<std::vector<Row>> rows = ParseRows(c.text, c.format, "test");
    ASSERT_FALSE(count.ok()) << c.text;
    EXPECT_EQ(count.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(rows.status(), count.status()) << c.text;
  }
}

TEST(RowReaderTest, FilesGetTheSameErrorsFromBoth) {
  TempDir dir;
  for (size_t i = 0; i < BadFiles().size(); ++i) {
    const Case& c = BadFiles()[i];
    const std::string path =
        dir.Write(absl::StrCat("bad", i, ".", FormatName(c.format)), c.text);
    absl::StatusOr<int64_t> count = CountSamplesInFile(path, c.format, "test");
    absl::StatusOr<std::vector<Row>> rows =
        ReadRowsFromFile(path, c.format, "test");
    ASSERT_FALSE(rows.ok()) << c.text;
    EXPECT_EQ(rows.status(), count.status()) << c.text;
    EXPECT_EQ(rows.status().message().substr(0, path.size() + 1), path + ":");
  }
  // A missing file: the same words; the planner calls it a precondition.
  const std::string missing = dir.path() + "/missing.jsonl";
  absl::StatusOr<int64_t> count =
      CountSamplesInFile(missing, DatasetFormat::kJsonl, "test");
  absl::StatusOr<std::vector<Row>> rows =
      ReadRowsFromFile(missing, DatasetFormat::kJsonl, "test");
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(count.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(rows.status().message(), count.status().message());
  EXPECT_EQ(rows.status().message(),
            "cannot read " + missing + ": No such file or directory");
}

TEST(RowReaderTest, LoadTestRowsReportsTheCountersError) {
  TempDir dir;
  const std::string path =
      dir.Write("bad.jsonl", "{\"q\": 1}\n{\"q\": 2}\n{\"q\": 3,}\n");
  ocx::v1::DatasetConfig d;
  d.set_abbr("bad");
  d.set_path(path);
  absl::StatusOr<std::vector<Row>> rows = LoadTestRows(d);
  EXPECT_EQ(rows.status(),
            CountSamplesInFile(path, DatasetFormat::kJsonl, "test").status());
  EXPECT_EQ(rows.status().message(),
            path + ":3:9: expected a string key, got '}' (jsonl)");
}

TEST(RowReaderTest, ChunkBoundariesDoNotMatter) {
  TempDir dir;
  // Larger than two 1 MiB reads, with escapes and multi-byte characters
  // crossing the read boundaries somewhere.
  std::string big;
  const int kRows = 30000;
  for (int i = 0; i < kRows; ++i) {
    absl::StrAppend(&big, "{\"i\": ", i, ", \"s\": \"caf\\u00e9 \\\"", i,
                    "\\\" \xE2\x82\xAC ",
                    "padding to cross chunk boundaries\"}\n");
  }
  ASSERT_GT(big.size(), 2u << 20);
  const std::string path = dir.Write("big.jsonl", big);
  absl::StatusOr<std::vector<Row>> rows =
      ReadRowsFromFile(path, DatasetFormat::kJsonl, "test");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), kRows);
  EXPECT_EQ(*CountSamplesInFile(path, DatasetFormat::kJsonl, "test"), kRows);
  for (int i : {0, 1, 12345, kRows - 1}) {
    const auto& fields = (*rows)[i].struct_value().fields();
    EXPECT_EQ(fields.at("i").number_value(), i);
    EXPECT_EQ(
        fields.at("s").string_value(),
        absl::StrCat("caf\xC3\xA9 \"", i,
                     "\" \xE2\x82\xAC padding to cross chunk boundaries"));
  }
}

TEST(RowReaderTest, RowsHoldTheDecodedValues) {
  auto rows = ParseRows(
      "{\"s\": \"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\\ud800x\", "
      "\"n\": -1.5e3, \"i\": 42, \"t\": true, \"f\": false, \"z\": null, "
      "\"nan\": NaN, \"inf\": -Infinity, \"l\": [1, \"2\", [3]], "
      "\"o\": {\"k\\u0041\": {}}}\n",
      DatasetFormat::kJsonl, "test");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  const auto& f = (*rows)[0].struct_value().fields();
  EXPECT_EQ(f.at("s").string_value(),
            "a\"b\\c/\n\t\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBDx");
  EXPECT_EQ(f.at("n").number_value(), -1500);
  EXPECT_EQ(f.at("i").number_value(), 42);
  EXPECT_TRUE(f.at("t").bool_value());
  EXPECT_TRUE(f.at("f").has_bool_value());
  EXPECT_FALSE(f.at("f").bool_value());
  EXPECT_TRUE(f.at("z").has_null_value());
  EXPECT_TRUE(std::isnan(f.at("nan").number_value()));
  EXPECT_EQ(f.at("inf").number_value(), -INFINITY);
  const auto& l = f.at("l").list_value();
  ASSERT_EQ(l.values_size(), 3);
  EXPECT_EQ(l.values(1).string_value(), "2");
  EXPECT_EQ(l.values(2).list_value().values(0).number_value(), 3);
  EXPECT_TRUE(f.at("o").struct_value().fields().at("kA").has_struct_value());
}

TEST(RowReaderTest, ARepeatedKeyKeepsItsLastValue) {
  auto rows = ParseRows("{\"a\": [1, 2], \"b\": 1, \"a\": [3]}\n",
                        DatasetFormat::kJsonl, "test");
  ASSERT_TRUE(rows.ok()) << rows.status();
  const auto& a = (*rows)[0].struct_value().fields().at("a").list_value();
  ASSERT_EQ(a.values_size(), 1);
  EXPECT_EQ(a.values(0).number_value(), 3);
}

TEST(RowReaderTest, JsonSplitsAndCsvCells) {
  auto json = ParseRows(
      "{\"test\": [{\"q\": \"x\"}, {\"q\": \"y\"}], \"train\": [{\"q\": 1}]}",
      DatasetFormat::kJson, "train");
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_EQ(json->size(), 1u);
  EXPECT_EQ((*json)[0].struct_value().fields().at("q").number_value(), 1);

  auto csv = ParseRows("q,a\n\"x, \"\"y\"\"\",1\nab\"c,\"\"\n",
                       DatasetFormat::kCsv, "test");
  ASSERT_TRUE(csv.ok()) << csv.status();
  ASSERT_EQ(csv->size(), 2u);
  std::vector<std::string> q, a;
  for (const Row& r : *csv) {
    q.push_back(r.struct_value().fields().at("q").string_value());
    a.push_back(r.struct_value().fields().at("a").string_value());
  }
  EXPECT_THAT(q, ElementsAre("x, \"y\"", "ab\"c"));
  EXPECT_THAT(a, ElementsAre("1", ""));
}

TEST(RowReaderTest, ASampleThatIsNotARowIsCountedButNotRead) {
  struct NotRow {
    DatasetFormat format;
    std::string text;
    int64_t count;
    std::string error;
  };
  const std::vector<NotRow> cases = {
      {DatasetFormat::kJsonl, "{\"q\": 1}\n\n3\n", 2,
       "line 3: expected a JSON object (a row of columns)"},
      {DatasetFormat::kJson, "[{\"q\": 1},\n [1, 2]]", 2,
       "line 2: expected a JSON object (a row of columns)"},
      {DatasetFormat::kCsv, "q,a\n1,2\n\"x\ny\",2,3\n", 2,
       "line 3: the record has 3 fields, the header 2"},
      {DatasetFormat::kCsv, "q\n\"\"\n,\n", 2,
       "line 3: the record has 2 fields, the header 1"},
  };
  for (const NotRow& c : cases) {
    EXPECT_EQ(*CountSamplesInText(c.text, c.format, "test"), c.count) << c.text;
    absl::StatusOr<std::vector<Row>> rows = ParseRows(c.text, c.format, "test");
    EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(rows.status().message(), c.error) << c.text;
  }
  // A malformed file is malformed first: the counter's error wins.
  const std::string text = "3\n{\"q\": 1}\n{\"q\": 2,}\n";
  EXPECT_EQ(ParseRows(text, DatasetFormat::kJsonl, "test").status(),
            CountSamplesInText(text, DatasetFormat::kJsonl, "test").status());
}

TEST(RowReaderTest, TrainSplitMessagesNameTheTrainSetting) {
  TempDir dir;
  const std::string path = dir.Write("d.json", "{\"test\": [{\"q\": 1}]}");
  ocx::v1::DatasetConfig d;
  d.set_abbr("d");
  d.set_path(path);
  absl::StatusOr<std::vector<Row>> rows = LoadTrainRows(d);
  EXPECT_EQ(rows.status().message(),
            path +
                ":1: the top-level JSON object has no \"train\" key; expected "
                "an array of samples (or an object with one under "
                "reader_cfg.train_split) (json)");
}

}  // namespace
}  // namespace ocx::datasets
