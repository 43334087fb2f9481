#include <stdlib.h>

#include <filesystem>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "summary/render.h"
#include "summary/results_proto.h"
#include "summary/summary_files.h"
#include "summary/summary_table.h"

namespace ocx::summary {
namespace {

class SummaryTest : public ::testing::Test {
 protected:
  SummaryTest() {
    std::string tmpl = "/tmp/ocx-summary-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
    dir_ = tmpl;
    spec_.add_models()->set_abbr("m1");
    spec_.add_models()->set_abbr("m2");
    auto* qa = spec_.add_datasets();
    qa->set_abbr("qa");
    qa->mutable_infer_cfg()->mutable_inferencer()->set_type("PPLInferencer");
    auto* story = spec_.add_datasets();
    story->set_abbr("story");
    story->mutable_infer_cfg()->mutable_inferencer()->set_type("GenInferencer");
    auto* later = spec_.add_datasets();
    later->set_abbr("later");
  }
  ~SummaryTest() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Result(const std::string& model, const std::string& ds,
              const std::string& json) {
    const std::string d = dir_ + "/results/" + model;
    ASSERT_TRUE(MakeDirs(d).ok());
    ASSERT_TRUE(WriteFileAtomic(d + "/" + ds + ".json", json).ok());
  }

  // Results of two models; m2 has no story result yet, and "later" has
  // none at all.
  SummaryTable Table() {
    Result("m1", "qa", R"({"accuracy": 66.66666666666667, "details": [1]})");
    Result("m2", "qa", R"({"accuracy": 100.0})");
    Result("m1", "story",
           R"({"rougeL": 41.5, "rouge1": 12.345, "error": "x"})");
    return BuildSummaryTable(spec_, dir_);
  }

  std::string dir_;
  ocx::v1::EvaluationSpec spec_;
};

TEST_F(SummaryTest, RowsPerDatasetAndMetricWithMissingValues) {
  SummaryTable t = Table();
  EXPECT_THAT(t.model_abbrs, ::testing::ElementsAre("m1", "m2"));
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.rows[0].dataset, "qa");
  EXPECT_EQ(t.rows[0].metric, "accuracy");
  EXPECT_EQ(t.rows[0].mode, "ppl");
  EXPECT_EQ(t.rows[0].values[1], 100.0);
  EXPECT_EQ(t.rows[1].metric, "rouge1");  // by name: rouge1 < rougeL
  EXPECT_EQ(t.rows[2].metric, "rougeL");
  EXPECT_FALSE(t.rows[2].values[1].has_value());
  EXPECT_EQ(t.rows[3].dataset, "later");
  EXPECT_EQ(t.rows[3].metric, "-");
}

TEST_F(SummaryTest, VersionIsAShortStableHashOfInferSettings) {
  const std::string v = DatasetVersion(spec_.datasets(0));
  EXPECT_EQ(v.size(), 6u);
  EXPECT_EQ(v, DatasetVersion(spec_.datasets(0)));
  ocx::v1::DatasetConfig renamed = spec_.datasets(0);
  renamed.set_abbr("other");
  renamed.set_path("/elsewhere.jsonl");
  EXPECT_EQ(DatasetVersion(renamed), v);  // only infer settings count
  EXPECT_NE(DatasetVersion(spec_.datasets(1)), v);
}

TEST_F(SummaryTest, GoldenFormats) {
  SummaryTable t = Table();
  const std::string qa = DatasetVersion(spec_.datasets(0));
  const std::string st = DatasetVersion(spec_.datasets(1));
  const std::string la = DatasetVersion(spec_.datasets(2));
  EXPECT_EQ(RenderText(t),
            "dataset  version  metric    mode     m1      m2\n"
            "-------  -------  --------  ----  -----  ------\n"
            "qa       " +
                qa +
                "   accuracy  ppl   66.67  100.00\n"
                "story    " +
                st +
                "   rouge1    gen   12.35       -\n"
                "story    " +
                st +
                "   rougeL    gen   41.50       -\n"
                "later    " +
                la + "   -         gen       -       -\n");
  EXPECT_EQ(RenderCsv(t),
            "dataset,version,metric,mode,m1,m2\n"
            "qa," +
                qa +
                ",accuracy,ppl,66.67,100.00\n"
                "story," +
                st +
                ",rouge1,gen,12.35,-\n"
                "story," +
                st +
                ",rougeL,gen,41.50,-\n"
                "later," +
                la + ",-,gen,-,-\n");
  EXPECT_EQ(RenderMarkdown(t),
            "| dataset | version | metric   | mode |    m1 |     m2 |\n"
            "|---------|---------|----------|------|------:|-------:|\n"
            "| qa      | " +
                qa +
                "  | accuracy | ppl  | 66.67 | 100.00 |\n"
                "| story   | " +
                st +
                "  | rouge1   | gen  | 12.35 |      - |\n"
                "| story   | " +
                st +
                "  | rougeL   | gen  | 41.50 |      - |\n"
                "| later   | " +
                la + "  | -        | gen  |     - |      - |\n");
  EXPECT_EQ(RenderJson(t),
            "{\n  \"models\": [\"m1\", \"m2\"],\n  \"rows\": [\n"
            "    {\"dataset\": \"qa\", \"version\": \"" +
                qa +
                "\", \"metric\": \"accuracy\", \"mode\": \"ppl\", \"values\": "
                "{\"m1\": 66.66666666666667, \"m2\": 100}},\n"
                "    {\"dataset\": \"story\", \"version\": \"" +
                st +
                "\", \"metric\": \"rouge1\", \"mode\": \"gen\", \"values\": "
                "{\"m1\": 12.345, \"m2\": null}},\n"
                "    {\"dataset\": \"story\", \"version\": \"" +
                st +
                "\", \"metric\": \"rougeL\", \"mode\": \"gen\", \"values\": "
                "{\"m1\": 41.5, \"m2\": null}},\n"
                "    {\"dataset\": \"later\", \"version\": \"" +
                la +
                "\", \"metric\": \"-\", \"mode\": \"gen\", \"values\": "
                "{\"m1\": null, \"m2\": null}}\n  ]\n}\n");
  EXPECT_EQ(*Render(t, "table"), RenderText(t));
  EXPECT_FALSE(Render(t, "xml").ok());
}

TEST_F(SummaryTest, DatasetAbbrsOrderAndUnknownAbbrs) {
  spec_.mutable_summarizer()->add_dataset_abbrs("story");
  spec_.mutable_summarizer()->add_dataset_abbrs("nope");
  SummaryTable t = Table();
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0].dataset, "story");
  EXPECT_EQ(t.rows[2].dataset, "nope");
  EXPECT_EQ(t.rows[2].version, "-");
}

TEST_F(SummaryTest, MalformedResultsCountAsMissing) {
  Result("m1", "qa", "{oops");
  SummaryTable t = BuildSummaryTable(spec_, dir_);
  EXPECT_EQ(t.rows[0].metric, "-");
}

TEST_F(SummaryTest, WritesTheThreeFiles) {
  SummaryTable t = Table();
  ASSERT_TRUE(WriteSummaryFiles(dir_, t).ok());
  EXPECT_EQ(*ReadFile(dir_ + "/summary/summary.txt"), RenderText(t));
  EXPECT_EQ(*ReadFile(dir_ + "/summary/summary.csv"), RenderCsv(t));
  EXPECT_EQ(*ReadFile(dir_ + "/summary/summary.md"), RenderMarkdown(t));
}

TEST_F(SummaryTest, AnEvaluationSummaryIsWrittenOnlyWhenSomeResultExists) {
  ocx::v1::Evaluation e;
  e.set_id("ev");
  e.set_work_dir(dir_);
  *e.mutable_spec() = spec_;
  absl::StatusOr<bool> written = WriteEvaluationSummary(e);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_FALSE(*written);
  EXPECT_FALSE(PathExists(dir_ + "/summary"));
  Table();  // writes results files
  written = WriteEvaluationSummary(e);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(*written);
  auto csv = ReadFile(dir_ + "/summary/summary.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(*csv, RenderCsv(Table()));
  EXPECT_TRUE(PathExists(dir_ + "/summary/summary.txt"));
  EXPECT_TRUE(PathExists(dir_ + "/summary/summary.md"));
}

TEST_F(SummaryTest, ProtoRoundTripKeepsMissingApartFromZero) {
  Result("m2", "story", R"({"rouge1": 0, "rougeL": 0})");
  SummaryTable t = Table();
  ocx::v1::EvaluationResults p = ToProto(t);
  EXPECT_TRUE(p.rows(1).values(1).present());
  EXPECT_EQ(p.rows(1).values(1).value(), 0);
  EXPECT_FALSE(p.rows(3).values(1).present());
  EXPECT_EQ(RenderText(FromProto(p)), RenderText(t));
  EXPECT_EQ(RenderJson(FromProto(p)), RenderJson(t));
}

}  // namespace
}  // namespace ocx::summary
