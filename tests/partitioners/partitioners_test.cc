// Partitioners against hand-computed plans: part counts, ranges, task
// groupings and packing order for SizePartitioner (both strategies, factors,
// the heavy list, every test_range form) and NumWorkerPartitioner, the way
// OpenCompass's size.py and num_worker.py compute them.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioners/naive_partitioner.h"
#include "partitioners/num_worker_partitioner.h"
#include "partitioners/partitioner.h"
#include "partitioners/size_partitioner.h"
#include "spec/evaluation_spec.h"
#include "spec/validate.h"

namespace ocx::partitioners {
namespace {

using ::ocx::v1::EvaluationSpec;
using ::ocx::v1::Stage;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// A validated spec with defaults applied.
EvaluationSpec Spec(const std::string& yaml) {
  absl::StatusOr<EvaluationSpec> spec = spec::LoadEvaluationSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status() << "\n" << yaml;
  if (!spec.ok()) return EvaluationSpec();
  absl::Status valid = spec::ValidateEvaluationSpec(*spec);
  EXPECT_TRUE(valid.ok()) << valid << "\n" << yaml;
  spec::ApplyDefaults(&*spec);
  return *spec;
}

// "models: [m]\ndatasets: [{abbr: a}, ...]" plus `rest`.
std::string Yaml(const std::vector<std::string>& models,
                 const std::vector<std::string>& datasets,
                 const std::string& rest) {
  std::vector<std::string> m, d;
  for (const auto& x : models) m.push_back(absl::StrCat("{abbr: ", x, "}"));
  for (const auto& x : datasets) {
    d.push_back(x[0] == '{' ? x : absl::StrCat("{abbr: ", x, "}"));
  }
  return absl::StrCat("models: [", absl::StrJoin(m, ", "), "]\ndatasets: [",
                      absl::StrJoin(d, ", "), "]\n", rest);
}

absl::StatusOr<Partitioning> RunStage(const EvaluationSpec& spec, Stage stage,
                                      const std::vector<int64_t>& samples) {
  const auto& cfg = stage == ocx::v1::STAGE_INFER ? spec.infer() : spec.eval();
  auto p = MakePartitioner(cfg.partitioner());
  if (!p.ok()) return p.status();
  PartitionInput input;
  input.spec = &spec;
  input.stage = stage;
  input.config = &cfg.partitioner();
  input.num_samples = &samples;
  return (*p)->Partition(input);
}

// One line per task: "m a_0[0:84] b" (parts with their test_range; a
// range that does not start with a slice follows an "@": "d_0@100[0:50]").
std::vector<std::string> Render(const Partitioning& p) {
  std::vector<std::string> lines;
  for (const PlannedTask& t : p.tasks) {
    std::string line = t.model->abbr();
    for (int32_t k : t.parts) {
      const auto& d = p.parts[k];
      const std::string& range = d.config().reader_cfg().test_range();
      absl::StrAppend(&line, " ", d.config().abbr(),
                      range.empty() || range[0] == '[' ? "" : "@", range);
    }
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> Plan(const std::string& yaml,
                              const std::vector<int64_t>& samples,
                              Stage stage = ocx::v1::STAGE_INFER) {
  // Planned tasks point at the spec's models: keep it alive.
  const EvaluationSpec spec = Spec(yaml);
  absl::StatusOr<Partitioning> p = RunStage(spec, stage, samples);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? Render(*p) : std::vector<std::string>{};
}

// ---- SizePartitioner ----

TEST(SizePartitionerTest, Gsm8kWithDefaultsMakesSevenPartsOf189) {
  // Generation, heavy (gsm8k*): factor 20 x 10 = 200; cost 263800 > 40000;
  // step 40000 // 200 = 200 → ceil(1319 / 200) = 7 parts of
  // ceil(1319 / 7) = 189, the last 185. Each part counts 40000 when
  // packing, so each is a task of its own.
  EvaluationSpec spec = Spec(Yaml(
      {"llama"}, {"gsm8k"}, "infer: {partitioner: {type: SizePartitioner}}"));
  absl::StatusOr<Partitioning> p = RunStage(spec, ocx::v1::STAGE_INFER, {1319});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(Render(*p),
              ElementsAre("llama gsm8k_0[0:189]", "llama gsm8k_1[189:378]",
                          "llama gsm8k_2[378:567]", "llama gsm8k_3[567:756]",
                          "llama gsm8k_4[756:945]", "llama gsm8k_5[945:1134]",
                          "llama gsm8k_6[1134:1323]"));
  ASSERT_EQ(p->parts.size(), 7u);
  int64_t total = 0;
  for (int k = 0; k < 7; ++k) {
    const auto& d = p->parts[k];
    EXPECT_EQ(d.base_abbr(), "gsm8k");
    EXPECT_EQ(d.part(), k);
    EXPECT_EQ(d.num_parts(), 7);
    EXPECT_EQ(d.num_samples(), k < 6 ? 189 : 185);
    EXPECT_EQ(d.cost(), d.num_samples() * 200);
    total += d.num_samples();
  }
  EXPECT_EQ(total, 1319);
}

TEST(SizePartitionerTest, HeuristicPacksLargestFirstNextFit) {
  // max 100, factor 1: costs f 250 (split), d 70, b 50, a 30, c 20, e 10.
  // f: step 100 → 3 parts of ceil(250 / 3) = 84. Chunks by cost: f_0 f_1
  // f_2 (100 each), d 70, b 50, a 30, c 20, e 10. Next fit: [f_0] [f_1]
  // [f_2] [d] (d+b > 100) [b a c] (=100; +e > 100) [e].
  const std::string yaml =
      Yaml({"m0", "m1"}, {"a", "b", "c", "d", "e", "f"},
           "infer: {partitioner: {type: SizePartitioner, max_task_size: 100, "
           "gen_task_coef: 1, heavy_factor: 1}}");
  EXPECT_THAT(
      Plan(yaml, {30, 50, 20, 70, 10, 250}),
      ElementsAre("m0 f_0[0:84]", "m0 f_1[84:168]", "m0 f_2[168:252]", "m0 d",
                  "m0 b a c", "m0 e", "m1 f_0[0:84]", "m1 f_1[84:168]",
                  "m1 f_2[168:252]", "m1 d", "m1 b a c", "m1 e"));
}

TEST(SizePartitionerTest, SplitStrategyGivesOneTaskPerChunk) {
  const std::string yaml =
      Yaml({"m"}, {"a", "b", "c", "d", "e", "f"},
           "infer: {partitioner: {type: SizePartitioner, max_task_size: 100, "
           "gen_task_coef: 1, heavy_factor: 1, strategy: split}}");
  EXPECT_THAT(Plan(yaml, {30, 50, 20, 70, 10, 250}),
              ElementsAre("m f_0[0:84]", "m f_1[84:168]", "m f_2[168:252]",
                          "m d", "m b", "m a", "m c", "m e"));
}

TEST(SizePartitionerTest, EqualCostsKeepConfigOrder) {
  // Python's sorted() is stable, so are both sorts here.
  const std::string yaml =
      Yaml({"m"}, {"x", "y", "z", "w"},
           "infer: {partitioner: {type: SizePartitioner, max_task_size: 100, "
           "gen_task_coef: 1}}");
  EXPECT_THAT(Plan(yaml, {40, 60, 40, 60}), ElementsAre("m y", "m w x", "m z"));
}

TEST(SizePartitionerTest, CostFactors) {
  struct Case {
    std::string dataset;  // YAML of one dataset
    int64_t factor;
  };
  const std::vector<Case> cases = {
      // Generation: gen_task_coef.
      {"{abbr: plain}", 20},
      {"{abbr: s, infer_cfg: {prompt_template: {template: 'Q: {q}'}}}", 20},
      {"{abbr: chat, infer_cfg: {prompt_template: {template: {begin: x, "
       "round: [{role: HUMAN, prompt: '{q}'}], end: y}}}}",
       20},
      // PPL: the number of label keys of the template.
      {"{abbr: ppl, infer_cfg: {prompt_template: {template: {A: a, B: b, C: "
       "c, D: d}}}}",
       4},
      // Keys not all in {begin, round, end}: every key counts.
      {"{abbr: mixed, infer_cfg: {prompt_template: {template: {round: [], "
       "yes: y}}}}",
       2},
      // No prompt_template: the ice_template decides.
      {"{abbr: ice, infer_cfg: {ice_template: {template: {A: a, B: b, C: "
       "c}}}}",
       3},
      // prompt_template wins over ice_template.
      {"{abbr: both, infer_cfg: {prompt_template: {template: 'x'}, "
       "ice_template: {template: {A: a, B: b}}}}",
       20},
      // inferencer.labels when the template says nothing.
      {"{abbr: labels, infer_cfg: {inferencer: {type: PPLInferencer, labels: "
       "[yes, no]}}}",
       2},
      // Heavy datasets: x10 (OpenCompass's patterns).
      {"{abbr: gsm8k}", 200},
      {"{abbr: gsm8k_cot}", 200},
      {"{abbr: math-500}", 200},
      {"{abbr: bbh-navigate}", 200},
      {"{abbr: strategyqa}", 200},
      {"{abbr: agieval-jec-qa-kd}", 200},
      {"{abbr: agieval-math}", 200},
      {"{abbr: agieval-mathx}", 20},
      {"{abbr: agieval-gaokao-mathcloze}", 200},
      {"{abbr: lukaemon_mmlu_professional_law}", 200},
      {"{abbr: mmlu_law}", 20},
      {"{abbr: GSM8K}", 20},  // fnmatch is case-sensitive, as on POSIX
      {"{abbr: bbh-ppl, infer_cfg: {prompt_template: {template: {A: a, B: "
       "b}}}}",
       20},
      // ocx: repeats (n) multiply the work.
      {"{abbr: rep, n: 4}", 80},
      {"{abbr: gsm8k-rep, n: 2}", 400},
  };
  for (const Case& c : cases) {
    EvaluationSpec spec = Spec(Yaml({"m"}, {c.dataset},
                                    "infer: {partitioner: {type: "
                                    "SizePartitioner}}"));
    SizePartitioner p(spec.infer().partitioner());
    absl::StatusOr<int64_t> factor = p.Factor(spec.datasets(0), "datasets[0]");
    ASSERT_TRUE(factor.ok()) << factor.status();
    EXPECT_EQ(*factor, c.factor) << c.dataset;
  }
}

TEST(SizePartitionerTest, HeavyListIsConfigurable) {
  EvaluationSpec spec =
      Spec(Yaml({"m"}, {"gsm8k", "mine_1"},
                "infer: {partitioner: {type: SizePartitioner, heavy_datasets: "
                "['mine_*'], heavy_factor: 3}}"));
  SizePartitioner p(spec.infer().partitioner());
  EXPECT_EQ(*p.Factor(spec.datasets(0), "d"), 20);  // the list was replaced
  EXPECT_EQ(*p.Factor(spec.datasets(1), "d"), 60);
  EvaluationSpec off = Spec(
      Yaml({"m"}, {"gsm8k"},
           "infer: {partitioner: {type: SizePartitioner, heavy_factor: 1}}"));
  EXPECT_EQ(
      *SizePartitioner(off.infer().partitioner()).Factor(off.datasets(0), "d"),
      20);
}

TEST(SizePartitionerTest, PplDatasetsSplitByTheirLabelCount) {
  // 4 labels: cost 4 x 30000 = 120000 > 40000; step 10000 → 3 parts of
  // 10000.
  const std::string yaml = Yaml(
      {"m"},
      {"{abbr: mmlu, infer_cfg: {prompt_template: {template: {A: a, B: b, C: "
       "c, D: d}}}}"},
      "infer: {partitioner: {type: SizePartitioner}}");
  EXPECT_THAT(Plan(yaml, {30000}),
              ElementsAre("m mmlu_0[0:10000]", "m mmlu_1[10000:20000]",
                          "m mmlu_2[20000:30000]"));
}

TEST(SizePartitionerTest, PartRangesChainOntoEveryTestRangeForm) {
  // `selected` is what the range selects (ResolveDatasetSizes applies it
  // once, to the raw size); parts chain their slice after the range, as
  // OpenCompass does. Factor 200 (ds is made heavy).
  struct Case {
    std::string range;
    int64_t selected;
    int64_t max_task_size;
    std::vector<std::string> plan;
  };
  const std::vector<Case> cases = {
      // 1319 rows, [100:] → 1219; step 200 → 7 parts of ceil(1219 / 7) =
      // 175.
      {"'[100:]'",
       1219,
       40000,
       {"m ds_0[100:][0:175]", "m ds_1[100:][175:350]", "m ds_2[100:][350:525]",
        "m ds_3[100:][525:700]", "m ds_4[100:][700:875]",
        "m ds_5[100:][875:1050]", "m ds_6[100:][1050:1225]"}},
      // An integer count (OpenCompass crashed on it, #2430): cost 20000;
      // step 50.
      {"100", 100, 10000, {"m ds_0@100[0:50]", "m ds_1@100[50:100]"}},
      // A float ratio: half of 1319 = 659; cost 131800; step 330.
      {"0.5", 659, 66000, {"m ds_0@0.5[0:330]", "m ds_1@0.5[330:660]"}},
      // Every other row of 1319: 660.
      {"'[::2]'", 660, 66000, {"m ds_0[::2][0:330]", "m ds_1[::2][330:660]"}},
      // Small enough to stay whole.
      {"'[:50]'", 50, 66000, {"m ds[:50]"}},
  };
  for (const Case& c : cases) {
    const std::string yaml = Yaml(
        {"m"},
        {absl::StrCat("{abbr: ds, reader_cfg: {test_range: ", c.range, "}}")},
        absl::StrCat("infer: {partitioner: {type: SizePartitioner, "
                     "max_task_size: ",
                     c.max_task_size, ", heavy_datasets: [ds]}}"));
    EXPECT_THAT(Plan(yaml, {c.selected}), ElementsAreArray(c.plan)) << c.range;
  }
}

TEST(SizePartitionerTest, EvalStageNeverSplits) {
  const std::string yaml =
      Yaml({"m"}, {"a", "b", "c"},
           "eval: {partitioner: {type: SizePartitioner, max_task_size: 100, "
           "gen_task_coef: 1}}");
  EXPECT_THAT(Plan(yaml, {500, 40, 50}, ocx::v1::STAGE_EVAL),
              ElementsAre("m a", "m c b"));
}

TEST(SizePartitionerTest, ATinyBudgetStillMakesProgress) {
  // factor 200 > max_task_size 50: OpenCompass divides by zero; ocx uses
  // parts of one sample.
  EXPECT_THAT(
      Plan(Yaml({"m"}, {"gsm8k"},
                "infer: {partitioner: {type: SizePartitioner, "
                "max_task_size: 50}}"),
           {3}),
      ElementsAre("m gsm8k_0[0:1]", "m gsm8k_1[1:2]", "m gsm8k_2[2:3]"));
}

TEST(SizePartitionerTest, Errors) {
  EvaluationSpec spec = Spec(
      Yaml({"m"}, {"a", "b"}, "infer: {partitioner: {type: SizePartitioner}}"));
  // Unknown size.
  absl::StatusOr<Partitioning> p =
      RunStage(spec, ocx::v1::STAGE_INFER, {10, 0});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(p.status().message(), HasSubstr("datasets[1]: its size"));
  // Too many parts.
  p = RunStage(spec, ocx::v1::STAGE_INFER, {10, int64_t{1} << 40});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(),
              HasSubstr("datasets[1]: 1099511627776 samples at cost factor 20 "
                        "would need 549755814 parts"));
  // Cost overflow.
  EvaluationSpec big = Spec(Yaml(
      {"m"}, {"gsm8k"},
      "infer: {partitioner: {type: SizePartitioner, gen_task_coef: 1000000, "
      "heavy_factor: 1000000}}"));
  p = RunStage(big, ocx::v1::STAGE_INFER, {int64_t{1} << 53});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("does not fit in 64 bits"));
}

// ---- NumWorkerPartitioner ----

TEST(NumWorkerPartitionerTest, HeuristicDealsChunksRoundRobin) {
  // a 10: step max(ceil(10/3), 2) = 4 → [0:4] [4:8] [8:12]; b 1 <= 2:
  // whole; c 6: step 2 → 3 parts. Chunks a_0 a_1 a_2 b c_0 c_1 c_2 dealt
  // into 2 buckets.
  const std::string yaml =
      Yaml({"m"}, {"a", "b", "c"},
           "infer: {partitioner: {type: NumWorkerPartitioner, num_worker: 2, "
           "num_split: 3, min_task_size: 2}}");
  EXPECT_THAT(Plan(yaml, {10, 1, 6}),
              ElementsAre("m a_0[0:4] a_2[8:12] c_0[0:2] c_2[4:6]",
                          "m a_1[4:8] b c_1[2:4]"));
}

// OpenCompass takes `num_split or num_worker`: 0 splits like num_worker.
TEST(NumWorkerPartitionerTest, NumSplitZeroMeansNumWorker) {
  auto yaml = [](int num_split) {
    return Yaml({"m"}, {"a", "b", "c"},
                absl::StrCat("infer: {partitioner: {type: "
                             "NumWorkerPartitioner, num_worker: 3, num_split: ",
                             num_split, ", min_task_size: 2}}"));
  };
  std::vector<std::string> zero = Plan(yaml(0), {10, 1, 6});
  EXPECT_EQ(zero, Plan(yaml(3), {10, 1, 6}));
  EXPECT_THAT(zero, ::testing::Contains(::testing::HasSubstr("a_2[8:12]")));
  // The partitioner applies it too when handed the config without defaults.
  ocx::v1::PartitionerConfig config;
  config.set_type("NumWorkerPartitioner");
  config.set_num_worker(3);
  config.set_num_split(0);
  EXPECT_TRUE(
      NumWorkerPartitioner(config).NeedsDatasetSizes(ocx::v1::STAGE_INFER));
}

TEST(NumWorkerPartitionerTest, SplitGivesOneTaskPerChunk) {
  const std::string yaml =
      Yaml({"m"}, {"a", "b"},
           "infer: {partitioner: {type: NumWorkerPartitioner, num_worker: 2, "
           "num_split: 3, min_task_size: 2, strategy: split}}");
  EXPECT_THAT(Plan(yaml, {10, 1}),
              ElementsAre("m a_0[0:4]", "m a_1[4:8]", "m a_2[8:12]", "m b"));
}

TEST(NumWorkerPartitionerTest, DefaultsAndMinTaskSize) {
  // num_worker 8, num_split 8, min_task_size 16: 100 samples → step
  // max(13, 16) = 16 → 7 parts; 16 and 5 samples stay whole; no sorting
  // (config order). 9 chunks in 8 buckets: the 9th joins the first.
  const std::string yaml =
      Yaml({"m"}, {"big", "small", "tiny"},
           "infer: {partitioner: {type: NumWorkerPartitioner}}");
  EXPECT_THAT(Plan(yaml, {100, 16, 5}),
              ElementsAre("m big_0[0:16] tiny", "m big_1[16:32]",
                          "m big_2[32:48]", "m big_3[48:64]", "m big_4[64:80]",
                          "m big_5[80:96]", "m big_6[96:112]", "m small"));
}

TEST(NumWorkerPartitionerTest, ChainsRangesAndRepeatsPerModel) {
  const std::string yaml =
      Yaml({"m0", "m1"}, {"{abbr: d, reader_cfg: {test_range: 40}}"},
           "infer: {partitioner: {type: NumWorkerPartitioner, num_worker: 2, "
           "num_split: 2, min_task_size: 1}}");
  EXPECT_THAT(Plan(yaml, {40}),
              ElementsAre("m0 d_0@40[0:20]", "m0 d_1@40[20:40]",
                          "m1 d_0@40[0:20]", "m1 d_1@40[20:40]"));
}

TEST(NumWorkerPartitionerTest, NoSplitNeedsNoSizes) {
  EvaluationSpec spec = Spec(
      Yaml({"m"}, {"a", "b", "c"},
           "infer: {partitioner: {type: NumWorkerPartitioner, num_worker: 2, "
           "num_split: 1}}\n"
           "eval: {partitioner: {type: NumWorkerPartitioner, num_worker: 2}}"));
  NumWorkerPartitioner infer(spec.infer().partitioner());
  EXPECT_FALSE(infer.NeedsDatasetSizes(ocx::v1::STAGE_INFER));
  NumWorkerPartitioner eval(spec.eval().partitioner());
  EXPECT_TRUE(eval.NeedsDatasetSizes(ocx::v1::STAGE_INFER));
  EXPECT_FALSE(eval.NeedsDatasetSizes(ocx::v1::STAGE_EVAL));
  absl::StatusOr<Partitioning> p = RunStage(spec, ocx::v1::STAGE_INFER, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(Render(*p), ElementsAre("m a c", "m b"));
  p = RunStage(spec, ocx::v1::STAGE_EVAL, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(Render(*p), ElementsAre("m a c", "m b"));
}

// ---- NaivePartitioner ----

TEST(NaivePartitionerTest, GroupsNPerTaskAndNeedsNoSizes) {
  EvaluationSpec spec =
      Spec(Yaml({"m0", "m1"}, {"a", "b", "c"}, "infer: {partitioner: {n: 2}}"));
  EXPECT_FALSE(NaivePartitioner().NeedsDatasetSizes(ocx::v1::STAGE_INFER));
  absl::StatusOr<Partitioning> p = RunStage(spec, ocx::v1::STAGE_INFER, {});
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(Render(*p), ElementsAre("m0 a b", "m0 c", "m1 a b", "m1 c"));
  EXPECT_EQ(p->parts[0].num_samples(), 0);  // unknown
}

TEST(ChainRangeTest, AppendsASlice) {
  EXPECT_EQ(ChainRange("", 0, 189), "[0:189]");
  EXPECT_EQ(ChainRange(" [100:] ", 0, 5), "[100:][0:5]");
  EXPECT_EQ(ChainRange("100", 50, 100), "100[50:100]");
  EXPECT_EQ(ChainRange("0.5", 0, 1), "0.5[0:1]");
}

}  // namespace
}  // namespace ocx::partitioners
