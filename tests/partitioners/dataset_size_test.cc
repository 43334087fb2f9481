// Dataset sizes: ResolveDatasetSizes — explicit sizes, counted files, the
// cache, test_range applied once, and the errors that name the field.
// (Counting itself is tested in tests/datasets.)
#include "partitioners/dataset_size.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/evaluation_spec.h"
#include "tests/datasets/temp_dir.h"

namespace ocx::partitioners {
namespace {

using ::testing::HasSubstr;

using TempDir = ::ocx::testing::DatasetDir;

TEST(StatDatasetFileTest, ADirectoryIsRefused) {
  TempDir dir;
  absl::StatusOr<FileIdentity> id = StatDatasetFile(dir.path());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(id.status().message(), HasSubstr("it is a directory"));
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
                    ":4:1: ']' does not close '{' (json)")},
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
