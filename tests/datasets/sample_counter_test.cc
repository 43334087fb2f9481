// Counting samples: JSONL, JSON and CSV (including malformed files, with the
// line in the message), in any chunking, and format resolution.
#include "datasets/sample_counter.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/datasets/temp_dir.h"

namespace ocx::datasets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using TempDir = ::ocx::testing::DatasetDir;

absl::StatusOr<int64_t> Count(const std::string& text, DatasetFormat f,
                              const std::string& split = "test") {
  return CountSamplesInText(text, f, split);
}

// The same text fed one byte at a time must give the same answer.
absl::StatusOr<int64_t> CountBytewise(const std::string& text, DatasetFormat f,
                                      const std::string& split = "test") {
  auto counter = MakeSampleCounter(f, split);
  for (char c : text) {
    absl::Status s = counter->Feed(std::string(1, c));
    if (!s.ok()) return s;
  }
  return counter->Finish();
}

struct Good {
  std::string text;
  int64_t count;
};

struct Bad {
  std::string text;
  std::string error;  // exact message
};

TEST(CountSamplesTest, JsonLines) {
  const std::vector<Good> cases = {
      {"", 0},
      {"{\"q\": 1}\n", 1},
      {"{\"q\": 1}", 1},  // no final newline
      {"{\"q\": 1}\n\n   \n{\"q\": 2}\n", 2},
      {"{\"q\": \"a\\\"b\\\\ \\u00e9 [}\"}\r\n[1, 2]\r\n\"s\"\r\n3\r\n", 4},
      {"\xEF\xBB\xBF{\"q\": 1}\n{\"q\": 2}\n", 2},
      {"{\"nested\": {\"a\": [1, {\"b\": [true, false, null]}]}}\n", 1},
      {"-1.5e3\nNaN\n-Infinity\n0\n", 4},
  };
  for (const Good& c : cases) {
    EXPECT_EQ(*Count(c.text, DatasetFormat::kJsonl), c.count) << c.text;
    EXPECT_EQ(*CountBytewise(c.text, DatasetFormat::kJsonl), c.count) << c.text;
  }
}

TEST(CountSamplesTest, MalformedJsonLinesNameTheLine) {
  const std::vector<Bad> cases = {
      {"{\"q\": 1}\n{\"q\": 2}\n{\"q\": 3\n",
       "line 3:8: the JSON value is not complete at the end of the line (each "
       "line of a JSON Lines file holds one whole value)"},
      {"{} {}\n",
       "line 1:4: unexpected '{' after the line's JSON value (one "
       "value per line)"},
      {"{}\n{\"a\": tru}\n",
       "line 2:7: invalid JSON literal (not a number, true, false or null)"},
      {"[1,]\n", "line 1:4: expected a JSON value, got ']'"},
      {"{\"a\" 1}\n", "line 1:6: expected ':', got a letter or digit"},
      {"{\"a\": 1,}\n", "line 1:9: expected a string key, got '}'"},
      {"{\"a\": \"x\n",
       "line 1:9: unterminated string (a line ends inside it)"},
      {"[1}\n", "line 1:3: '}' does not close '['"},
      {"{\"a\": 01}\n",
       "line 1:7: invalid JSON literal (not a number, true, false or null)"},
      {"{\"a\": \"\\x\"}\n",
       "line 1:9: invalid escape in a string (known: \\\" \\\\ \\/ \\b \\f \\n "
       "\\r \\t \\uXXXX)"},
      {"{\"a\": \"\\u12g4\"}\n", "line 1:12: invalid \\u escape in a string"},
      {"{\"a\": \"\t\"}\n",
       "line 1:8: a control character inside a string (escape it)"},
      {"{\"q\": 1}\n{'q': 2}\n",
       "line 2:2: expected a string key, got a punctuation character"},
  };
  for (const Bad& c : cases) {
    absl::StatusOr<int64_t> n = Count(c.text, DatasetFormat::kJsonl);
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(n.status().message(), c.error) << c.text;
    EXPECT_EQ(CountBytewise(c.text, DatasetFormat::kJsonl).status(),
              n.status());
  }
}

TEST(CountSamplesTest, JsonArrayOrSplitOfAnObject) {
  const std::vector<Good> cases = {
      {"[]", 0},
      {"[{\"q\": [1, 2, {\"b\": \"]\"}]}, 2, \"x,y\", null]", 4},
      {"\n[\n  {\"q\": 1},\n  {\"q\": 2}\n]\n", 2},
      {"{\"train\": [1, 2, 3], \"test\": [{\"q\": \"[a,b]\"}, {\"q\": [2]}]}",
       2},
      {"{\"meta\": {\"test\": [1, 2, 3]}, \"test\": [[1, 2], [3]]}", 2},
  };
  for (const Good& c : cases) {
    EXPECT_EQ(*Count(c.text, DatasetFormat::kJson), c.count) << c.text;
    EXPECT_EQ(*CountBytewise(c.text, DatasetFormat::kJson), c.count) << c.text;
  }
  EXPECT_EQ(*Count("{\"validation\": [1, 2, 3], \"test\": []}",
                   DatasetFormat::kJson, "validation"),
            3);
}

TEST(CountSamplesTest, MalformedJsonNamesTheLine) {
  const std::vector<Bad> cases = {
      {"[\n1,\n2\n}", "line 4:1: '}' does not close '['"},
      {"[\n1,\n}", "line 3:1: expected a JSON value, got '}'"},
      {"[1, 2", "line 1: unexpected end of the file: '[' is never closed"},
      {"[1] [2]", "line 1:5: unexpected '[' after the JSON value"},
      {"", "line 1: the file holds no JSON value"},
      {"42",
       "line 1: expected an array of samples at the top level (or an "
       "object with one under reader_cfg.test_split)"},
      {"{\"train\": [1]}",
       "line 1: the top-level JSON object has no \"test\" key; expected an "
       "array of samples (or an object with one under "
       "reader_cfg.test_split)"},
      {"{\n\"test\": {\"a\": 1}}",
       "line 2: the value of \"test\" is not an array of samples"},
      {"[\"a\nb\"]", "line 1:4: unterminated string (a line ends inside it)"},
  };
  for (const Bad& c : cases) {
    absl::StatusOr<int64_t> n = Count(c.text, DatasetFormat::kJson);
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(n.status().message(), c.error) << c.text;
  }
}

TEST(CountSamplesTest, Csv) {
  const std::vector<Good> cases = {
      {"", 0},
      {"question,answer\n", 0},
      {"question,answer", 0},
      {"q,a\n1,2\n3,4\n", 2},
      {"q,a\n1,2\n3,4", 2},
      {"q,a\r\n1,2\r\n3,4\r\n", 2},
      {"q,a\n\n1,2\n\n\n3,4\n\n", 2},  // blank lines are skipped
      {"q,a\n\"multi\nline\",x\n\"he said \"\"hi\"\"\",3\n\"a,b\",c\n", 3},
      {"\xEF\xBB\xBFq,a\n1,2\n", 1},
      {"q\n\"\"\n,\n", 2},    // an empty quoted field and an empty row of two
      {"q,a\nab\"c,1\n", 1},  // a stray quote inside a field, as Python
  };
  for (const Good& c : cases) {
    EXPECT_EQ(*Count(c.text, DatasetFormat::kCsv), c.count) << c.text;
    EXPECT_EQ(*CountBytewise(c.text, DatasetFormat::kCsv), c.count) << c.text;
  }
  absl::StatusOr<int64_t> bad =
      Count("q,a\n1,2\n\"never\nclosed,3\n4,5\n", DatasetFormat::kCsv);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "line 3:1: a quoted field opened here is never closed");
}

TEST(CountSamplesTest, FilesAreReadInChunksAndErrorsNameTheFile) {
  TempDir dir;
  // Larger than one 1 MiB read.
  std::string big;
  for (int i = 0; i < 40000; ++i) {
    absl::StrAppend(&big, "{\"question\": \"what is ", i,
                    " + 1? [padding to cross chunk boundaries]\"}\n");
  }
  ASSERT_GT(big.size(), 2u << 20);
  std::string path = dir.Write("big.jsonl", big);
  EXPECT_EQ(*CountSamplesInFile(path, DatasetFormat::kJsonl, "test"), 40000);

  path = dir.Write("bad.jsonl", "{\"q\": 1}\n{\"q\": 2}\n{\"q\": 3,}\n");
  absl::StatusOr<int64_t> n =
      CountSamplesInFile(path, DatasetFormat::kJsonl, "test");
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(n.status().message(),
            path + ":3:9: expected a string key, got '}' (jsonl)");

  n = CountSamplesInFile(dir.path() + "/missing.csv", DatasetFormat::kCsv,
                         "test");
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(n.status().message(), "cannot read " + dir.path() +
                                      "/missing.csv: No such file or "
                                      "directory");
}

TEST(ResolveFormatTest, FormatFieldThenExtension) {
  ocx::v1::DatasetConfig d;
  d.set_path("/d/x.JSONL");
  EXPECT_EQ(*ResolveFormat(d), DatasetFormat::kJsonl);
  d.set_path("/d/x.json");
  EXPECT_EQ(*ResolveFormat(d), DatasetFormat::kJson);
  d.set_path("/d/x.csv");
  EXPECT_EQ(*ResolveFormat(d), DatasetFormat::kCsv);
  d.set_format("jsonl");
  EXPECT_EQ(*ResolveFormat(d), DatasetFormat::kJsonl);
  d.clear_format();
  d.set_path("/d/x.txt");
  EXPECT_EQ(ResolveFormat(d).status().message(),
            "cannot tell the format of \"/d/x.txt\" from its name; set format "
            "(jsonl, json or csv), or size");
  EXPECT_EQ(ReaderKey(d, DatasetFormat::kJson), "json:test");
  d.mutable_reader_cfg()->set_test_split("validation");
  EXPECT_EQ(ReaderKey(d, DatasetFormat::kJson), "json:validation");
  EXPECT_EQ(ReaderKey(d, DatasetFormat::kCsv), "csv");
}

// A file the daemon reads for a caller may hold anything (the issue: a dry
// run naming /etc/shadow echoed its first line). Errors give the path, line
// and column, and never the content.
TEST(CountSamplesTest, ErrorsNeverQuoteTheFilesContent) {
  TempDir dir;
  const std::string secret = "s3cr3tHash";
  const std::vector<std::string> files = {
      absl::StrCat("root:$6$", secret, ":19000:0:99999:7:::\n"),
      absl::StrCat("{\"q\": 1}\nroot", secret, ":x\n"),
      absl::StrCat("{\"q\": 1}\n{\"q\": ", secret, "}\n"),
      absl::StrCat("{\"q\": \"a\\", secret, "\"}\n"),
      absl::StrCat("[{\"q\": 1}, ", secret, "]"),
  };
  const std::vector<std::string> positions = {
      ":1:1: ", ":2:1: ", ":2:7: ", ":1:10: ", ":1:12: "};
  for (size_t i = 0; i < files.size(); ++i) {
    const bool array = i == 4;
    const std::string path =
        dir.Write(absl::StrCat("f", i, array ? ".json" : ".jsonl"), files[i]);
    absl::StatusOr<int64_t> n = CountSamplesInFile(
        path, array ? DatasetFormat::kJson : DatasetFormat::kJsonl, "test");
    ASSERT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument)
        << files[i];
    const std::string message(n.status().message());
    EXPECT_THAT(message, HasSubstr(path + positions[i])) << files[i];
    for (const std::string& leak :
         {secret, std::string("root"), std::string("s3"), std::string("'r'"),
          std::string("'s'")}) {
      EXPECT_THAT(message, Not(HasSubstr(leak))) << message;
    }
  }
}

}  // namespace
}  // namespace ocx::datasets
