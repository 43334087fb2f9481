// The planner: the task graph over split datasets (eval waits for every
// part), the parts manifest (required_inputs), fingerprints (stable, and
// sensitive to exactly what determines outputs) and keyed reuse.
#include "partitioners/plan.h"

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "partitioners/fingerprint.h"
#include "spec/evaluation_spec.h"
#include "spec/validate.h"

namespace ocx::partitioners {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::ocx::v1::EvaluationSpec;
using ::ocx::v1::Task;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

EvaluationSpec Spec(const std::string& yaml) {
  absl::StatusOr<EvaluationSpec> spec = spec::LoadEvaluationSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status() << "\n" << yaml;
  if (!spec.ok()) return EvaluationSpec();
  absl::Status valid = spec::ValidateEvaluationSpec(*spec);
  EXPECT_TRUE(valid.ok()) << valid << "\n" << yaml;
  spec::ApplyDefaults(&*spec);
  return *spec;
}

// Fingerprints of kSplitSpec's outputs, computed once and pinned.
constexpr char kGoldenGsm8kPart0[] = "4ab31654d3079fae";
constexpr char kGoldenGsm8kResult[] = "9224c57d1ed2c0cd";

// gsm8k (1319 samples: 7 parts) and mmlu (100, PPL with 4 labels: whole)
// for two models.
constexpr char kSplitSpec[] = R"(
models:
  - {abbr: m0, path: llama, run_cfg: {num_gpus: 1}}
  - {abbr: m1, path: qwen}
datasets:
  - abbr: gsm8k
    path: /data/gsm8k.jsonl
    infer_cfg: {prompt_template: {template: "Q: {question}"}}
    eval_cfg: {evaluator: {type: Gsm8kEvaluator}, num_gpus: 0}
  - abbr: mmlu
    path: /data/mmlu.jsonl
    infer_cfg: {prompt_template: {template: {A: a, B: b, C: c, D: d}}}
infer:
  partitioner: {type: SizePartitioner}
  runner: {max_num_workers: 8}
eval:
  runner: {retry: 0}
)";

std::vector<Task> PlanOrDie(const EvaluationSpec& spec,
                            const std::vector<int64_t>& samples,
                            const std::string& id = "e1") {
  PlanOptions options;
  options.num_samples = samples;
  absl::StatusOr<std::vector<Task>> tasks = PlanTasks(spec, id, options);
  EXPECT_TRUE(tasks.ok()) << tasks.status();
  return tasks.ok() ? *tasks : std::vector<Task>{};
}

const Task* Find(const std::vector<Task>& tasks, const std::string& id) {
  for (const Task& t : tasks) {
    if (t.id() == id) return &t;
  }
  return nullptr;
}

TEST(PlanTest, EvalOfASplitDatasetWaitsForEveryPart) {
  EvaluationSpec spec = Spec(kSplitSpec);
  EXPECT_TRUE(NeedsDatasetSizes(spec));
  std::vector<Task> tasks = PlanOrDie(spec, {1319, 100});
  // Per model: 7 gsm8k parts (40000 each when packing) and mmlu (cost
  // 400) in its own task after them; then 2 eval tasks per model.
  ASSERT_EQ(tasks.size(), 2u * 8 + 2u * 2);
  const Task& first = tasks[0];
  EXPECT_EQ(first.id(), "e1-infer-0");
  EXPECT_EQ(first.name(), "OpenICLInfer[m0/gsm8k_0]");
  EXPECT_EQ(first.state(), Task::READY);
  EXPECT_EQ(first.num_gpus(), 1);
  EXPECT_EQ(first.max_attempts(), 3);
  EXPECT_THAT(first.params().expected_outputs(),
              ElementsAre("predictions/m0/gsm8k_0.json"));
  ASSERT_EQ(first.params().datasets_size(), 1);
  const auto& part = first.params().datasets(0);
  EXPECT_EQ(part.config().abbr(), "gsm8k_0");
  EXPECT_EQ(part.config().reader_cfg().test_range(), "[0:189]");
  EXPECT_EQ(part.base_abbr(), "gsm8k");
  EXPECT_EQ(part.num_parts(), 7);
  EXPECT_EQ(part.num_samples(), 189);
  EXPECT_EQ(part.cost(), 189 * 200);
  EXPECT_EQ(tasks[7].name(), "OpenICLInfer[m0/mmlu]");
  EXPECT_EQ(tasks[7].params().datasets(0).cost(), 400);

  const Task* eval = Find(tasks, "e1-eval-0");
  ASSERT_NE(eval, nullptr);
  EXPECT_EQ(eval->name(), "OpenICLEval[m0/gsm8k]");
  EXPECT_EQ(eval->state(), Task::PENDING);
  EXPECT_EQ(eval->max_attempts(), 1);
  EXPECT_EQ(eval->num_gpus(), 0);
  EXPECT_THAT(
      eval->depends_on(),
      ElementsAre("e1-infer-0", "e1-infer-1", "e1-infer-2", "e1-infer-3",
                  "e1-infer-4", "e1-infer-5", "e1-infer-6"));
  EXPECT_THAT(
      eval->params().required_inputs(),
      ElementsAre("predictions/m0/gsm8k_0.json", "predictions/m0/gsm8k_1.json",
                  "predictions/m0/gsm8k_2.json", "predictions/m0/gsm8k_3.json",
                  "predictions/m0/gsm8k_4.json", "predictions/m0/gsm8k_5.json",
                  "predictions/m0/gsm8k_6.json"));
  EXPECT_THAT(eval->params().expected_outputs(),
              ElementsAre("results/m0/gsm8k.json"));
  EXPECT_EQ(eval->params().datasets(0).config().abbr(), "gsm8k");
  EXPECT_EQ(eval->params().datasets(0).num_samples(), 1319);
  const Task* eval_m1_mmlu = Find(tasks, "e1-eval-3");
  ASSERT_NE(eval_m1_mmlu, nullptr);
  EXPECT_EQ(eval_m1_mmlu->name(), "OpenICLEval[m1/mmlu]");
  EXPECT_THAT(eval_m1_mmlu->depends_on(), ElementsAre("e1-infer-15"));
  EXPECT_THAT(eval_m1_mmlu->params().required_inputs(),
              ElementsAre("predictions/m1/mmlu.json"));
  // Every output carries a fingerprint; the task one too.
  for (const Task& t : tasks) {
    EXPECT_EQ(t.params().output_fingerprints_size(),
              t.params().expected_outputs_size());
    EXPECT_EQ(t.params().fingerprint().size(), 16u);
  }
}

// Two datasets of two parts each, all packed into one infer task; one eval
// task for both datasets.
constexpr char kPackedSpec[] = R"(
models: [{abbr: m}]
datasets: [{abbr: a}, {abbr: b}]
infer: {partitioner: {type: NumWorkerPartitioner, num_worker: 1, num_split: 2,
                      min_task_size: 1}}
eval: {partitioner: {n: 2}}
)";

TEST(PlanTest, APackedTaskFeedsSeveralEvals) {
  // NumWorker, 1 worker: both datasets' parts in one infer task; each eval
  // depends on it once.
  EvaluationSpec spec = Spec(kPackedSpec);
  std::vector<Task> tasks = PlanOrDie(spec, {4, 2});
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_THAT(tasks[0].dataset_abbrs(),
              ElementsAre("a_0", "a_1", "b_0", "b_1"));
  EXPECT_THAT(tasks[1].depends_on(), ElementsAre("e1-infer-0"));
  EXPECT_THAT(tasks[1].params().required_inputs(),
              ElementsAre("predictions/m/a_0.json", "predictions/m/a_1.json",
                          "predictions/m/b_0.json", "predictions/m/b_1.json"));
  EXPECT_THAT(tasks[1].params().expected_outputs(),
              ElementsAre("results/m/a.json", "results/m/b.json"));
}

TEST(PlanTest, TheEvalTaskCarriesAStructuredPartsManifest) {
  EvaluationSpec spec = Spec(kPackedSpec);
  std::vector<Task> tasks = PlanOrDie(spec, {4, 2});
  ASSERT_EQ(tasks.size(), 2u);
  const ocx::v1::TaskParams& infer = tasks[0].params();
  const ocx::v1::PartsManifest& manifest = tasks[1].params().parts_manifest();
  ASSERT_EQ(manifest.parts_size(), 4);
  const char* want[][2] = {{"a", "predictions/m/a_0.json"},
                           {"a", "predictions/m/a_1.json"},
                           {"b", "predictions/m/b_0.json"},
                           {"b", "predictions/m/b_1.json"}};
  for (int i = 0; i < 4; ++i) {
    const ocx::v1::PartsManifest::Part& part = manifest.parts(i);
    EXPECT_EQ(part.dataset_abbr(), want[i][0]);
    EXPECT_EQ(part.index(), i % 2);
    EXPECT_EQ(part.count(), 2);
    EXPECT_EQ(part.path(), want[i][1]);
    // The prediction its infer task writes.
    EXPECT_EQ(infer.expected_outputs(i), part.path());
  }
  EXPECT_FALSE(infer.has_parts_manifest());
}

TEST(PlanTest, APartNamedLikeADatasetIsRefused) {
  EvaluationSpec spec = Spec(R"(
models: [{abbr: m}]
datasets: [{abbr: gsm8k}, {abbr: gsm8k_1}]
infer: {partitioner: {type: SizePartitioner}}
)");
  PlanOptions options;
  options.num_samples = {1319, 10};
  auto tasks = PlanTasks(spec, "e1", options);
  EXPECT_EQ(tasks.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tasks.status().message(),
            "infer.partitioner: part 1 of dataset \"gsm8k\" and dataset "
            "\"gsm8k_1\" would both be named \"gsm8k_1\" (and write the same "
            "output); rename a dataset");
}

TEST(PlanTest, MissingSizesAreAPrecondition) {
  auto tasks = PlanTasks(Spec(kSplitSpec), "e1", {});
  EXPECT_EQ(tasks.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(tasks.status().message(), HasSubstr("datasets[0]: its size"));
}

TEST(PlanTest, NaiveNeedsNoSizes) {
  EvaluationSpec spec = Spec("models: [{abbr: m}]\ndatasets: [{abbr: d}]");
  EXPECT_FALSE(NeedsDatasetSizes(spec));
  std::vector<Task> tasks = PlanOrDie(spec, {});
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].params().datasets(0).num_samples(), 0);
  EXPECT_THAT(tasks[1].params().required_inputs(),
              ElementsAre("predictions/m/d.json"));
}

// ---- Fingerprints ----

TEST(FingerprintTest, Fnv1a64KnownVectors) {
  auto hash = [](absl::string_view s) {
    Fnv1a64 h;
    h.Update(s);
    return FingerprintHex(h.value());
  };
  EXPECT_EQ(hash(""), "cbf29ce484222325");
  EXPECT_EQ(hash("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(hash("foobar"), "85944171f73967e8");
}

// The fingerprint of every output, keyed by output path.
std::map<std::string, std::string> Outputs(const std::vector<Task>& tasks) {
  std::map<std::string, std::string> out;
  for (const Task& t : tasks) {
    for (int i = 0; i < t.params().expected_outputs_size(); ++i) {
      out[t.params().expected_outputs(i)] = t.params().output_fingerprints(i);
    }
  }
  return out;
}

TEST(FingerprintTest, StableAcrossRunsIdsWorkDirsAndRunnerSettings) {
  EvaluationSpec spec = Spec(kSplitSpec);
  auto a = Outputs(PlanOrDie(spec, {1319, 100}, "e1"));
  // Another evaluation id, work dir, runner and run settings.
  EvaluationSpec other = spec;
  other.mutable_infer()->mutable_runner()->set_max_num_workers(2);
  other.mutable_infer()->mutable_runner()->set_retry(7);
  other.mutable_infer()->mutable_runner()->mutable_task()->set_timeout_s(60);
  other.mutable_models(0)->mutable_run_cfg()->set_num_gpus(4);
  other.mutable_models(0)->set_max_concurrency(32);
  other.mutable_models(1)->set_key_env("OTHER_KEY");
  other.set_work_dir("/elsewhere");
  auto b = Outputs(PlanOrDie(other, {1319, 100}, "e2"));
  EXPECT_EQ(a, b);
  // A managed server's scheduling settings do not count; its command does.
  EvaluationSpec served = spec;
  served.mutable_models(0)->mutable_serve()->add_command("vllm");
  EvaluationSpec rescheduled = served;
  auto* serve = rescheduled.mutable_models(0)->mutable_serve();
  serve->set_replicas("4");
  serve->set_idle_stop_s(5);
  serve->set_max_attempts(1);
  serve->mutable_ready()->set_timeout_s(60);
  auto c = Outputs(PlanOrDie(served, {1319, 100}, "e3"));
  EXPECT_EQ(c, Outputs(PlanOrDie(rescheduled, {1319, 100}, "e4")));
  EXPECT_NE(c.at("predictions/m0/gsm8k_0.json"), kGoldenGsm8kPart0);
  // Golden values: a change here invalidates every recorded output, so it
  // must come with a new scheme tag (partitioners/fingerprint.cc).
  EXPECT_EQ(a.at("predictions/m0/gsm8k_0.json"), kGoldenGsm8kPart0);
  EXPECT_EQ(a.at("results/m0/gsm8k.json"), kGoldenGsm8kResult);
}

TEST(FingerprintTest, ChangesWithWhatDeterminesOutputs) {
  EvaluationSpec base = Spec(kSplitSpec);
  const auto before = Outputs(PlanOrDie(base, {1319, 100}));
  const std::string part = "predictions/m0/gsm8k_0.json";
  const std::string mmlu = "predictions/m0/mmlu.json";
  const std::string result = "results/m0/gsm8k.json";
  struct Change {
    std::string what;
    std::function<void(EvaluationSpec*)> apply;
    bool part_changes;    // gsm8k_0's prediction
    bool result_changes;  // gsm8k's result
    bool mmlu_changes;    // mmlu's prediction (same model)
  };
  const std::vector<Change> changes = {
      {"prompt",
       [](EvaluationSpec* s) {
         s->mutable_datasets(0)
             ->mutable_infer_cfg()
             ->mutable_prompt_template()
             ->mutable_template_()
             ->set_string_value("Question: {question}");
       },
       true, true, false},
      {"model path",
       [](EvaluationSpec* s) { s->mutable_models(0)->set_path("llama-2"); },
       true, true, true},
      {"max_out_len",
       [](EvaluationSpec* s) { s->mutable_models(0)->set_max_out_len(64); },
       true, true, true},
      {"dataset file",
       [](EvaluationSpec* s) {
         s->mutable_datasets(0)->set_path("/data/gsm8k-v2.jsonl");
       },
       true, true, false},
      {"test_range",
       [](EvaluationSpec* s) {
         s->mutable_datasets(0)->mutable_reader_cfg()->set_test_range(
             "[0:1319]");
       },
       true, true, false},
      {"evaluator",
       [](EvaluationSpec* s) {
         s->mutable_datasets(0)
             ->mutable_eval_cfg()
             ->mutable_evaluator()
             ->set_type("AccEvaluator");
       },
       false, true, false},
      {"eval task dump_details",
       [](EvaluationSpec* s) {
         s->mutable_eval()->mutable_runner()->mutable_task()->set_dump_details(
             true);
       },
       false, true, false},
      {"explicit size (same sample count)",
       [](EvaluationSpec* s) { s->mutable_datasets(0)->set_size(1319); }, false,
       false, false},
      {"another dataset's prompt",
       [](EvaluationSpec* s) {
         s->mutable_datasets(1)
             ->mutable_infer_cfg()
             ->mutable_prompt_template()
             ->mutable_template_()
             ->set_string_value("x");
       },
       false, false, true},
  };
  for (const Change& c : changes) {
    EvaluationSpec changed = base;
    c.apply(&changed);
    const auto after = Outputs(PlanOrDie(changed, {1319, 100}));
    ASSERT_TRUE(after.count(part)) << c.what;
    EXPECT_EQ(after.at(part) != before.at(part), c.part_changes) << c.what;
    EXPECT_EQ(after.at(result) != before.at(result), c.result_changes)
        << c.what;
    EXPECT_EQ(after.at(mmlu) != before.at(mmlu), c.mmlu_changes) << c.what;
  }
}

// ---- Keyed reuse ----

// Outputs recorded by a previous run: path -> fingerprint.
OutputMatcher Recorded(const std::map<std::string, std::string>& recorded) {
  return [recorded](const std::string& path, const std::string& fp) {
    auto it = recorded.find(path);
    return it != recorded.end() && it->second == fp;
  };
}

TEST(ReuseTest, ResubmittingTheSameSettingsReusesEverything) {
  EvaluationSpec spec = Spec(kSplitSpec);
  std::vector<Task> first = PlanOrDie(spec, {1319, 100});
  std::vector<Task> again = PlanOrDie(spec, {1319, 100}, "e2");
  EXPECT_EQ(MarkReusedTasks(&again, Recorded(Outputs(first))),
            static_cast<int>(again.size()));
  for (const Task& t : again) {
    EXPECT_EQ(t.state(), Task::SUCCEEDED) << t.id();
    EXPECT_EQ(t.reason(), kReusedReason);
  }
}

TEST(ReuseTest, SerializedRowsAreMarkedLikeParsedTasks) {
  // What PrepareSubmission does: the plan streamed into TaskRows, then
  // marked; the same tasks and states as the parsed plan, in order.
  EvaluationSpec spec = Spec(kSplitSpec);
  const auto recorded = Outputs(PlanOrDie(spec, {1319, 100}));
  EvaluationSpec changed = spec;
  changed.mutable_infer()->mutable_partitioner()->set_max_task_size(20000);
  std::vector<Task> tasks = PlanOrDie(changed, {1319, 100}, "e2");
  PlanOptions options;
  options.num_samples = {1319, 100};
  TaskRows rows;
  ASSERT_TRUE(PlanTasksTo(changed, "e2", options, [&rows](Task t) {
                rows.Add(t);
              }).ok());
  ASSERT_EQ(rows.size(), tasks.size());
  EXPECT_EQ(MarkReusedTasks(&rows, Recorded(recorded)),
            MarkReusedTasks(&tasks, Recorded(recorded)));
  ASSERT_EQ(rows.size(), tasks.size());
  size_t i = 0;
  for (const Task& t : rows) {
    EXPECT_EQ(t.SerializeAsString(), tasks[i].SerializeAsString()) << t.id();
    ++i;
  }
  EXPECT_EQ(i, tasks.size());
  EXPECT_EQ(rows.Get(tasks.size() - 1).id(), tasks.back().id());
}

// A streamed plan's producer learns the count before the first task (the
// evaluation row is stored with it), can refuse the plan then, and can
// stop it between tasks.
TEST(PlanStreamTest, TheCountComesBeforeTheFirstTaskAndPlanningCanStop) {
  EvaluationSpec spec = Spec(kSplitSpec);
  const size_t total = PlanOrDie(spec, {1319, 100}).size();
  PlanOptions options;
  options.num_samples = {1319, 100};
  std::vector<int64_t> counts;
  size_t seen = 0;
  options.on_count = [&](int64_t count) {
    EXPECT_EQ(seen, 0u) << "the count comes before any task";
    counts.push_back(count);
    return absl::OkStatus();
  };
  ASSERT_TRUE(PlanTasksTo(spec, "e1", options, [&](Task) { ++seen; }).ok());
  EXPECT_EQ(counts, std::vector<int64_t>{static_cast<int64_t>(total)});
  EXPECT_EQ(seen, total);

  seen = 0;
  options.on_count = [](int64_t) {
    return absl::InvalidArgumentError("no room for them");
  };
  absl::Status refused =
      PlanTasksTo(spec, "e1", options, [&](Task) { ++seen; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(seen, 0u);

  options.on_count = nullptr;
  std::atomic<bool> cancel{false};
  options.cancel = &cancel;
  seen = 0;
  absl::Status stopped = PlanTasksTo(spec, "e1", options, [&](Task) {
    if (++seen == 2) cancel = true;
  });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(seen, 2u);
  ASSERT_GT(total, 2u);
}

TEST(TaskRowsTest, RowsLargerThanABufferAndManyBuffersRoundTrip) {
  TaskRows rows;
  Task big;
  big.set_id("big");
  big.set_reason(std::string(3 << 20, 'x'));  // larger than a 1 MiB buffer
  for (int i = 0; i < 5000; ++i) {
    Task t;
    t.set_id(absl::StrCat("t", i));
    t.set_name(std::string(400, 'n'));
    rows.Add(t);
    if (i == 2500) rows.Add(big);
  }
  ASSERT_EQ(rows.size(), 5001u);
  EXPECT_GT(rows.bytes(), size_t{5000000});  // 3 MiB + 5000 x ~410
  EXPECT_EQ(rows.Get(0).id(), "t0");
  EXPECT_EQ(rows.Get(2501).reason(), big.reason());
  EXPECT_EQ(rows.Get(2502).id(), "t2501");
  EXPECT_EQ(rows.Get(5000).id(), "t4999");
  EXPECT_EQ(rows.Get(5000).name(), std::string(400, 'n'));
}

TEST(TaskRowsTest, EveryStoredFieldRoundTripsAndTheViewHoldsTheColumns) {
  Task t;
  t.set_id("e1-eval-7");
  t.set_evaluation_id("e1");
  t.set_stage(ocx::v1::STAGE_EVAL);
  t.set_index(7);
  t.set_name("OpenICLEval[m/a,m/b]");
  t.set_state(Task::SUCCEEDED);
  t.set_model_abbr("m");
  t.add_dataset_abbrs("a");
  t.add_dataset_abbrs("b");
  t.add_depends_on("e1-infer-3");
  t.add_depends_on("e1-infer-300");
  t.set_num_gpus(2);
  t.set_max_attempts(300);  // more than one varint byte
  t.set_reason(kReusedReason);
  t.mutable_params()->set_task_id(t.id());
  t.mutable_params()->add_expected_outputs("results/m/a.json");
  Task bare;
  bare.set_id("e1-infer-0");
  TaskRows rows;
  rows.Add(t);
  rows.Add(bare);
  EXPECT_TRUE(MessageDifferencer::Equals(rows.Get(0), t))
      << rows.Get(0).DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(rows.Get(1), bare))
      << rows.Get(1).DebugString();
  const ocx::TaskRowView v = rows.View(0);
  EXPECT_EQ(v.id, "e1-eval-7");
  EXPECT_EQ(v.evaluation_id, "e1");
  EXPECT_EQ(v.dataset_abbrs, "a,b");
  EXPECT_EQ(v.depends_on, "e1-infer-3,e1-infer-300");
  EXPECT_EQ(v.stage, ocx::v1::STAGE_EVAL);
  EXPECT_EQ(v.index, 7);
  EXPECT_EQ(v.state, Task::SUCCEEDED);
  EXPECT_EQ(v.num_gpus, 2);
  EXPECT_EQ(v.max_attempts, 300);
  EXPECT_EQ(v.params, t.params().SerializeAsString());
  EXPECT_TRUE(rows.View(1).params.empty());
  EXPECT_TRUE(rows.View(1).dataset_abbrs.empty());
}

TEST(ReuseTest, AChangedPartitionSettingInvalidatesTheParts) {
  // max_task_size 40000 → 7 parts of 189; 20000 → 14 parts of 95: other
  // names and ranges, so nothing of gsm8k is reused (OpenCompass picked up
  // the stale _k parts: PR #63); mmlu is untouched and is reused.
  EvaluationSpec spec = Spec(kSplitSpec);
  const auto recorded = Outputs(PlanOrDie(spec, {1319, 100}));
  EvaluationSpec changed = spec;
  changed.mutable_infer()->mutable_partitioner()->set_max_task_size(20000);
  std::vector<Task> tasks = PlanOrDie(changed, {1319, 100}, "e2");
  int reused = MarkReusedTasks(&tasks, Recorded(recorded));
  std::vector<std::string> reused_names;
  for (const Task& t : tasks) {
    if (t.state() == Task::SUCCEEDED) reused_names.push_back(t.name());
  }
  EXPECT_THAT(reused_names,
              ElementsAre("OpenICLInfer[m0/mmlu]", "OpenICLInfer[m1/mmlu]",
                          "OpenICLEval[m0/mmlu]", "OpenICLEval[m1/mmlu]"));
  EXPECT_EQ(reused, 4);
  const Task* part = Find(tasks, "e2-infer-0");
  ASSERT_NE(part, nullptr);
  EXPECT_EQ(part->params().datasets(0).config().reader_cfg().test_range(),
            "[0:95]");
  EXPECT_EQ(part->state(), Task::READY);
  const Task* eval = Find(tasks, "e2-eval-0");
  ASSERT_NE(eval, nullptr);
  EXPECT_EQ(eval->name(), "OpenICLEval[m0/gsm8k]");
  EXPECT_EQ(eval->state(), Task::PENDING);
  EXPECT_EQ(eval->params().required_inputs_size(), 14);
  // gsm8k's result depends on its predictions' fingerprints: not reused
  // even though a result file with that name was recorded.
  EXPECT_NE(eval->params().output_fingerprints(0),
            recorded.at("results/m0/gsm8k.json"));
}

TEST(ReuseTest, ASettingThatKeepsThePartsKeepsThemReusable) {
  // max_task_size 39000: step 195 → still 7 parts of 189, the same ranges
  // and fingerprints, so everything is reused.
  EvaluationSpec spec = Spec(kSplitSpec);
  const auto recorded = Outputs(PlanOrDie(spec, {1319, 100}));
  EvaluationSpec changed = spec;
  changed.mutable_infer()->mutable_partitioner()->set_max_task_size(39000);
  std::vector<Task> tasks = PlanOrDie(changed, {1319, 100}, "e2");
  EXPECT_EQ(MarkReusedTasks(&tasks, Recorded(recorded)),
            static_cast<int>(tasks.size()));
}

TEST(ReuseTest, DependentsOfReusedTasksStartReady) {
  // Only the predictions exist: infer tasks are reused, eval tasks run at
  // once; a missing part keeps its eval PENDING and not reused, even when
  // its result was recorded.
  EvaluationSpec spec = Spec(kSplitSpec);
  std::map<std::string, std::string> recorded;
  for (const auto& [path, fp] : Outputs(PlanOrDie(spec, {1319, 100}))) {
    if (path.rfind("predictions/", 0) == 0 || path == "results/m0/gsm8k.json")
      recorded[path] = fp;
  }
  recorded.erase("predictions/m0/gsm8k_3.json");
  std::vector<Task> tasks = PlanOrDie(spec, {1319, 100}, "e2");
  EXPECT_EQ(MarkReusedTasks(&tasks, Recorded(recorded)), 15);
  EXPECT_EQ(Find(tasks, "e2-infer-3")->state(), Task::READY);
  EXPECT_EQ(Find(tasks, "e2-eval-0")->state(), Task::PENDING);  // m0/gsm8k
  EXPECT_EQ(Find(tasks, "e2-eval-1")->state(), Task::READY);    // m0/mmlu
  EXPECT_EQ(Find(tasks, "e2-eval-2")->state(), Task::READY);    // m1/gsm8k
}

TEST(ReuseTest, AnOutputWithAnotherFingerprintIsNotReused) {
  EvaluationSpec spec = Spec("models: [{abbr: m}]\ndatasets: [{abbr: d}]");
  std::vector<Task> tasks = PlanOrDie(spec, {});
  auto recorded = Outputs(tasks);
  recorded["predictions/m/d.json"] = "0000000000000000";
  EXPECT_EQ(MarkReusedTasks(&tasks, Recorded(recorded)), 0);
  EXPECT_EQ(tasks[0].state(), Task::READY);
  EXPECT_EQ(tasks[1].state(), Task::PENDING);
}

}  // namespace
}  // namespace ocx::partitioners
