// Dataset sizes: counting JSONL, JSON and CSV (including malformed files,
// with the line in the message), and ResolveDatasetSizes — explicit sizes,
// the cache, test_range applied once, and the errors that name the field.
#include "partitioners/dataset_size.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/evaluation_spec.h"

namespace ocx::partitioners {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        absl::StrCat(getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp",
                     "/ocx-size-XXXXXX");
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string path = absl::StrCat(path_, "/", name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
       "line 3: the JSON value is not complete at the end of the line (each "
       "line of a JSON Lines file holds one whole value)"},
      {"{} {}\n",
       "line 1: unexpected '{' after the line's JSON value (one "
       "value per line)"},
      {"{}\n{\"a\": tru}\n", "line 2: invalid JSON literal \"tru\""},
      {"[1,]\n", "line 1: expected a JSON value, got ']'"},
      {"{\"a\" 1}\n", "line 1: expected ':', got '1'"},
      {"{\"a\": 1,}\n", "line 1: expected a string key, got '}'"},
      {"{\"a\": \"x\n", "line 1: unterminated string (a line ends inside it)"},
      {"[1}\n", "line 1: '}' does not close '['"},
      {"{\"a\": 01}\n", "line 1: invalid JSON literal \"01\""},
      {"{\"a\": \"\\x\"}\n", "line 1: invalid escape \\x in a string"},
      {"{\"a\": \"\\u12g4\"}\n", "line 1: invalid \\u escape in a string"},
      {"{\"a\": \"\t\"}\n",
       "line 1: control character byte 0x9 inside a string"},
      {"{\"q\": 1}\n{'q': 2}\n", "line 2: expected a string key, got '''"},
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
      {"[\n1,\n2\n}", "line 4: '}' does not close '['"},
      {"[\n1,\n}", "line 3: expected a JSON value, got '}'"},
      {"[1, 2", "line 1: unexpected end of the file: '[' is never closed"},
      {"[1] [2]", "line 1: unexpected '[' after the JSON value"},
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
      {"[\"a\nb\"]", "line 1: unterminated string (a line ends inside it)"},
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
            "line 3: a quoted field opened here is never closed");
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
            path + ":3: expected a string key, got '}' (jsonl)");

  n = CountSamplesInFile(dir.path() + "/missing.csv", DatasetFormat::kCsv,
                         "test");
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(n.status().message(), "cannot read " + dir.path() +
                                      "/missing.csv: No such file or "
                                      "directory");
  absl::StatusOr<FileIdentity> id = StatDatasetFile(dir.path());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(id.status().message(), HasSubstr("it is a directory"));
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

class ResolveSizesTest : public ::testing::Test {
 protected:
  ocx::v1::EvaluationSpec Spec(const std::string& datasets_yaml) {
    auto spec = spec::LoadEvaluationSpec(
        absl::StrCat("models: [{abbr: m}]\ndatasets: ", datasets_yaml));
    EXPECT_TRUE(spec.ok()) << spec.status();
    return spec.ok() ? *spec : ocx::v1::EvaluationSpec();
  }
  std::string Jsonl(const std::string& name, int rows) {
    std::string text;
    for (int i = 0; i < rows; ++i) absl::StrAppend(&text, "{\"i\": ", i, "}\n");
    return dir_.Write(name, text);
  }
  TempDir dir_;
};

TEST_F(ResolveSizesTest, ExplicitCountedAndRangedOnce) {
  std::string a = Jsonl("a.jsonl", 1319);
  std::string b = dir_.Write("b.csv", "q,a\n1,2\n3,4\n5,6\n");
  auto spec = Spec(
      absl::StrCat("[{abbr: x, size: 500, reader_cfg: {test_range: '[::2]'}}, "
                   "{abbr: a, path: '",
                   a,
                   "', reader_cfg: {test_range: 100}}, "
                   "{abbr: a2, path: '",
                   a,
                   "', reader_cfg: {test_range: '[100:]'}}, "
                   "{abbr: b, path: '",
                   b, "', reader_cfg: {test_range: 0.5}}]"));
  auto sizes = ResolveDatasetSizes(spec, true, nullptr);
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_THAT(sizes->raw, ::testing::ElementsAre(500, 1319, 1319, 3));
  EXPECT_THAT(sizes->selected, ::testing::ElementsAre(250, 100, 1219, 1));
  // a.jsonl is counted once for both datasets that read it.
  ASSERT_EQ(sizes->counted.size(), 2u);
  EXPECT_EQ(sizes->counted[0].path, a);
  EXPECT_EQ(sizes->counted[0].reader, "jsonl");
  EXPECT_EQ(sizes->counted[0].num_samples, 1319);
  EXPECT_GT(sizes->counted[0].file.size, 0);
  EXPECT_EQ(sizes->counted[1].reader, "csv");
}

TEST_F(ResolveSizesTest, TheCacheAnswersForAnUnchangedFile) {
  std::string a = Jsonl("a.jsonl", 10);
  auto spec = Spec(absl::StrCat("[{abbr: a, path: '", a, "'}]"));
  FileIdentity seen;
  auto sizes = ResolveDatasetSizes(
      spec, true,
      [&](const std::string& path, const std::string& reader,
          const FileIdentity& file) -> std::optional<int64_t> {
        EXPECT_EQ(path, a);
        EXPECT_EQ(reader, "jsonl");
        seen = file;
        return 77;  // not what the file holds: proves it was not counted
      });
  ASSERT_TRUE(sizes.ok());
  EXPECT_EQ(sizes->raw[0], 77);
  EXPECT_TRUE(sizes->counted.empty());
  struct stat st;
  ASSERT_EQ(stat(a.c_str(), &st), 0);
  EXPECT_EQ(seen.size, st.st_size);
  EXPECT_EQ(seen.mtime_ns,
            int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec);
}

TEST_F(ResolveSizesTest, WithoutCountingOnlyExplicitSizesAreKnown) {
  auto spec = Spec(
      "[{abbr: a, path: data/missing.jsonl}, {abbr: b, size: 9}, {abbr: c}]");
  auto sizes = ResolveDatasetSizes(spec, false, nullptr);
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_THAT(sizes->selected, ::testing::ElementsAre(0, 9, 0));
}

TEST_F(ResolveSizesTest, ErrorsNameTheField) {
  std::string a = Jsonl("a.jsonl", 5);
  std::string bad = dir_.Write("bad.json", "[\n{\"q\": 1},\n{\"q\": 2\n]\n");
  std::string empty = dir_.Write("empty.jsonl", "\n\n");
  struct Case {
    std::string datasets;
    absl::StatusCode code;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"[{abbr: a}]", absl::StatusCode::kInvalidArgument,
       "datasets[0].path: required to count the dataset's samples (or set "
       "size)"},
      {"[{abbr: a, size: 3}, {abbr: b, path: data/b.jsonl}]",
       absl::StatusCode::kInvalidArgument,
       "datasets[1].path: \"data/b.jsonl\" is relative, and ocxd must read "
       "the file to count its samples but cannot know the client's "
       "directory; give an absolute path (ocxctl makes paths of files "
       "beside the config absolute), or set size"},
      {absl::StrCat("[{abbr: a, path: '", dir_.path(), "/nope.jsonl'}]"),
       absl::StatusCode::kFailedPrecondition,
       absl::StrCat("datasets[0].path: cannot read ", dir_.path(),
                    "/nope.jsonl: No such file or directory")},
      {absl::StrCat("[{abbr: a, path: '", dir_.path(), "/x.parquet'}]"),
       absl::StatusCode::kInvalidArgument,
       absl::StrCat("datasets[0].format: cannot tell the format of \"",
                    dir_.path(),
                    "/x.parquet\" from its name; set format (jsonl, json or "
                    "csv), or size")},
      {absl::StrCat("[{abbr: a, path: '", bad, "'}]"),
       absl::StatusCode::kInvalidArgument,
       absl::StrCat("datasets[0].path: ", bad,
                    ":4: ']' does not close '{' (json)")},
      {absl::StrCat("[{abbr: a, path: '", empty, "'}]"),
       absl::StatusCode::kInvalidArgument,
       absl::StrCat("datasets[0].path: ", empty, " has no samples")},
      {absl::StrCat("[{abbr: a, path: '", a,
                    "', reader_cfg: {test_range: '[5:]'}}]"),
       absl::StatusCode::kInvalidArgument,
       absl::StrCat("datasets[0].reader_cfg.test_range: \"[5:]\" selects no "
                    "samples of the 5 in ",
                    a)},
      {"[{abbr: a, size: 10, reader_cfg: {test_range: 0.01}}]",
       absl::StatusCode::kInvalidArgument,
       "datasets[0].reader_cfg.test_range: \"0.01\" selects no samples of "
       "the 10 in the dataset (size)"},
      {"[{abbr: a, size: 9007199254740992}]",
       absl::StatusCode::kInvalidArgument,
       "datasets[0].size: must be at most 9007199254740991 (2^53 - 1), got "
       "9007199254740992"},
  };
  for (const Case& c : cases) {
    auto sizes = ResolveDatasetSizes(Spec(c.datasets), true, nullptr);
    EXPECT_EQ(sizes.status().code(), c.code) << c.datasets;
    EXPECT_EQ(sizes.status().message(), c.error) << c.datasets;
  }
}

}  // namespace
}  // namespace ocx::partitioners
