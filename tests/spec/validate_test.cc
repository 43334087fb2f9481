#include "spec/validate.h"

#include <string>
#include <vector>

#include "common/field_check.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "spec/evaluation_spec.h"

namespace ocx::spec {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::ocx::field::IsEnvVarName;
using ::ocx::v1::EvaluationSpec;

// A full OpenCompass-style experiment: the shapes of
// configs/models/hf_internlm/*.py, configs/datasets/gsm8k/gsm8k_gen_1d7fe4.py
// and an eval_*.py with infer/eval/summarizer, written as YAML.
constexpr char kFullConfig[] = R"(
models:
  - type: OpenAISDK
    abbr: internlm2_5-7b-chat-vllm
    path: internlm/internlm2_5-7b-chat
    openai_api_base: http://127.0.0.1:8000/v1
    key_env: OPENAI_API_KEY
    max_out_len: 1024
    max_seq_len: 8192
    batch_size: 16
    query_per_second: 2.5
    max_concurrency: 8
    timeout_s: 600
    retry: 0
    temperature: 0
    generation_kwargs: {top_p: 0.9, stop: ["<|im_end|>"], do_sample: false}
    meta_template:
      round:
        - {role: HUMAN, begin: "<|im_start|>user\n", end: "<|im_end|>\n"}
        - {role: BOT, begin: "<|im_start|>assistant\n", end: "<|im_end|>\n",
           generate: true}
    pred_postprocessor: {type: strip}
    run_cfg: {num_gpus: 1, num_procs: 1}
  - abbr: qwen2.5-0.5b
    type: HuggingFaceCausalLM
    path: Qwen/Qwen2.5-0.5B
    tokenizer_path: Qwen/Qwen2.5-0.5B
    run_cfg: {num_gpus: 0}
datasets:
  - abbr: gsm8k
    type: GSM8KDataset
    path: opencompass/gsm8k
    reader_cfg:
      input_columns: [question]
      output_column: answer
      test_range: "[0:100]"
    infer_cfg:
      prompt_template:
        type: PromptTemplate
        template:
          round:
            - role: HUMAN
              prompt: "{question}\nPlease reason step by step."
      retriever: {type: ZeroRetriever}
      inferencer: {type: GenInferencer, max_out_len: 512}
    eval_cfg:
      evaluator: {type: AccEvaluator}
      pred_postprocessor: {type: math-last-number}
      dataset_postprocessor: {type: math-last-number}
      pred_role: BOT
    n: 4
    k: 2
  - abbr: mmlu_college_physics
    type: MMLUDataset
    path: data/mmlu/college_physics.jsonl
    format: jsonl
    size: 102
    reader_cfg:
      input_columns: [input, A, B, C, D]
      output_column: target
      test_range: 0.5
      train_split: dev
    infer_cfg:
      ice_template:
        type: PromptTemplate
        template: {A: "{input}\nA", B: "{input}\nB"}
        ice_token: "</E>"
      retriever: {type: FixKRetriever, fix_id_list: [0, 1, 2, 3, 4]}
      inferencer: {type: PPLInferencer, labels: [A, B, C, D]}
    eval_cfg:
      evaluator: {type: AccEvaluator}
work_dir: outputs/default
infer:
  partitioner: {type: NaivePartitioner, n: 2}
  runner:
    type: LocalRunner
    max_num_workers: 8
    max_workers_per_gpu: 2
    retry: 3
    debug: false
    task:
      type: command
      argv: [python, run.py, --task, "{task_json}", --id, "{task_id}",
             "--out={work_dir}/{stage}/{attempt}", "--eval={evaluation_id}",
             "--literal={{x}}"]
      env: {HF_ENDPOINT: "https://hf-mirror.com", _X1: ""}
      timeout_s: 3600
eval:
  partitioner: {type: NaivePartitioner}
  runner:
    type: LocalRunner
    max_num_workers: 4
    task: {type: OpenICLEvalTask, dump_details: true}
summarizer:
  type: DefaultSummarizer
  dataset_abbrs: [gsm8k, mmlu_college_physics]
)";

constexpr char kBase[] = "models: [{abbr: m}]\ndatasets: [{abbr: d}]\n";

std::string WithBase(absl::string_view rest) {
  return std::string(kBase) + std::string(rest);
}

EvaluationSpec Load(const std::string& yaml) {
  absl::StatusOr<EvaluationSpec> spec = LoadEvaluationSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status() << "\nfor:\n" << yaml;
  return spec.ok() ? *spec : EvaluationSpec();
}

TEST(ValidateTest, FullOpenCompassStyleConfigPasses) {
  EvaluationSpec spec = Load(kFullConfig);
  ASSERT_EQ(spec.models_size(), 2);
  ASSERT_EQ(spec.datasets_size(), 2);
  EXPECT_EQ(spec.datasets(1).reader_cfg().test_range(), "0.5");
  absl::Status s = ValidateEvaluationSpec(spec);
  EXPECT_TRUE(s.ok()) << s;
}

TEST(ValidateTest, MinimalConfigPasses) {
  absl::Status s = ValidateEvaluationSpec(Load(kBase));
  EXPECT_TRUE(s.ok()) << s;
}

TEST(ValidateTest, GoodEdgeValuesPass) {
  const std::vector<std::string> good = {
      "models: [{abbr: a.b_c-D9, run_cfg: {num_gpus: 64, num_procs: 64}, "
      "temperature: 2, retry: 100}]\ndatasets: [{abbr: d}]\n",
      "models: [{abbr: m, temperature: 0, retry: 0, key_env: _K}]\n"
      "datasets: [{abbr: d, n: 3, k: 3, size: 0, format: csv}]\n",
      std::string(kBase) +
          "infer: {partitioner: {n: 10000}, runner: "
          "{max_num_workers: 4096, max_workers_per_gpu: 64, "
          "retry: 0}}\n",
      std::string(kBase) +
          "infer: {partitioner: {type: SizePartitioner, max_task_size: 1, "
          "gen_task_coef: 1, strategy: split, heavy_datasets: ['gsm8k*'], "
          "heavy_factor: 1}}\n"
          "eval: {partitioner: {type: SizePartitioner}}\n",
      std::string(kBase) +
          "infer: {partitioner: {type: NumWorkerPartitioner, num_worker: 1, "
          "num_split: 100000, min_task_size: 1, strategy: heuristic}}\n"
          "eval: {partitioner: {type: NumWorkerPartitioner}}\n",
      "models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
      "'100[0:50]'}}, {abbr: e, reader_cfg: {test_range: '0.5[::2]'}}]\n",
      std::string(kBase) +
          "eval: {runner: {task: {type: command, argv: "
          "[\"/bin/echo\", \"{{}}\", \"}}{{\"]}}}\n",
      "models: [{abbr: m}]\ndatasets: [{abbr: d, n: 0, k: 5}]\n",
      // Every evaluator and postprocessor ocx-task eval implements.
      "models: [{abbr: m, pred_postprocessor: {type: general}}]\n"
      "datasets: [{abbr: a, eval_cfg: {evaluator: {type: AccEvaluator}, "
      "pred_postprocessor: {type: first-capital}, dataset_postprocessor: "
      "{type: strip}}}, {abbr: b, eval_cfg: {evaluator: {type: EMEvaluator},"
      " pred_postprocessor: {type: first_option_postprocess}}}, {abbr: c, "
      "eval_cfg: {evaluator: {type: RougeEvaluator}, pred_postprocessor: "
      "{type: math-last-number}}}, {abbr: e, eval_cfg: {evaluator: {type: "
      "BleuEvaluator}, pred_postprocessor: {type: first-option}}}, {abbr: f,"
      " eval_cfg: {pred_postprocessor: {type: first_option}}}]\n",
      // Other eval task programs bring their own evaluators.
      "models: [{abbr: m}]\ndatasets: [{abbr: d, eval_cfg: {evaluator: "
      "{type: MathEvaluator}}}]\neval: {runner: {task: {type: command, "
      "argv: [/bin/true]}}}\n",
      // DLCRunner as OpenCompass's DLC configs write it.
      std::string(kBase) +
          "infer: {runner: {type: DLCRunner, max_num_workers: 32, retry: 2, "
          "preemptible: true, aliyun_cfg: {bashrc_path: /home/u/.bashrc, "
          "conda_env_name: opencompass, dlc_config_path: /home/u/.dlc/config, "
          "workspace_id: ws-123, worker_image: 'pai/pytorch:2.1-gpu', "
          "resource_id: quota-1, data_sources: [d-1, d-2], priority: 3, "
          "extra_envs: {HF_HUB_CACHE: /nas/hf, http_proxy: "
          "'http://p:3128'}, worker_cpu: 16, worker_memory_gi: 256, "
          "hf_offline: false}}}\n"
          "eval: {runner: {type: DLCRunner, eval_with_gpu: [plugin_eval], "
          "aliyun_cfg: {python_env_path: /nas/envs/oc, dlc_config_path: /c, "
          "workspace_id: w, worker_image: i}}}\n",
      "models: [{abbr: m}]\ndatasets: [{abbr: a, reader_cfg: "
      "{test_range: \" [ -10 : ] \"}}, {abbr: b, reader_cfg: "
      "{test_range: '[::-1]'}}, {abbr: c, reader_cfg: {test_range: 0}}, "
      "{abbr: e, reader_cfg: {test_range: 1.0}}, {abbr: f, reader_cfg: "
      "{test_range: 250.0}}, {abbr: g, reader_cfg: {test_range: "
      "'[0:100][10: 20]'}}]\n",
      std::string(kBase) + "work_dir: " + std::string(4096, 'w') + "\n",
      // Infer-side settings ocx-task runs, and other model types when the
      // infer stage runs a command instead.
      "models: [{abbr: m, type: OpenAISDK, api: completions, "
      "openai_api_base: 'https://api.example.com/v1', key_env: KEY}]\n"
      "datasets: [{abbr: d, infer_cfg: {prompt_template: {template: "
      "{A: '{q} A', B: '{q} B'}}, retriever: {type: FixKRetriever, "
      "fix_id_list: [0]}, inferencer: {type: PPLInferencer}}}]\n"
      "infer: {runner: {task: {type: OpenICLInferTask}}}\n",
      "models: [{abbr: m, type: VLLM, api: chat}]\ndatasets: [{abbr: d, "
      "infer_cfg: {retriever: {type: ZeroRetriever}, inferencer: {type: "
      "GenInferencer}}}]\n"
      "infer: {runner: {task: {type: command, argv: [x]}}}\n",
      // Per-stage stall thresholds: the edges, off for the eval stage, and
      // on for an eval `command` (which may report progress).
      WithBase("infer: {stall_after_s: 604800}\neval: {stall_after_s: 0}\n"),
      WithBase("infer: {stall_after_s: 0}\neval: {stall_after_s: 30, runner: "
               "{task: {type: command, argv: [x]}}}\n"),
  };
  for (const std::string& yaml : good) {
    absl::Status s = ValidateEvaluationSpec(Load(yaml));
    EXPECT_TRUE(s.ok()) << s << "\nfor:\n" << yaml;
  }
}

struct BadCase {
  std::string yaml;
  std::string error;  // the exact message
};

std::vector<BadCase> BadCases() {
  const std::string placeholders =
      "(known: {task_json}, {task_id}, {evaluation_id}, {work_dir}, "
      "{attempt}, {stage})";
  const std::string range_forms =
      "must be a count (100), a ratio in (0, 1] (0.5) or a slice such as "
      "[0:100], [:50], [100:] or [::2]";
  return {
      // Models and datasets present.
      {"datasets: [{abbr: d}]", "models: must list at least one model"},
      {"models: []\ndatasets: [{abbr: d}]",
       "models: must list at least one model"},
      {"models: [{abbr: m}]", "datasets: must list at least one dataset"},
      // Abbrs.
      {"models: [{type: OpenAISDK}]\ndatasets: [{abbr: d}]",
       "models[0].abbr: required; must match [A-Za-z0-9._-]+"},
      {"models: [{abbr: a/b}]\ndatasets: [{abbr: d}]",
       "models[0].abbr: must match [A-Za-z0-9._-]+, got \"a/b\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d}, {abbr: x}, {abbr: y}, "
       "{abbr: 'gsm 8k'}]",
       "datasets[3].abbr: must match [A-Za-z0-9._-]+, got \"gsm 8k\""},
      {"models: [{abbr: '..'}]\ndatasets: [{abbr: d}]",
       "models[0].abbr: must match [A-Za-z0-9._-]+ and not be \".\" or "
       "\"..\", got \"..\""},
      {"models: [{abbr: " + std::string(129, 'a') + "}]\ndatasets: [{abbr: d}]",
       "models[0].abbr: must match [A-Za-z0-9._-]+ and be at most 128 "
       "bytes, got 129 bytes"},
      {"models: [{abbr: m}, {abbr: x}, {abbr: m}]\ndatasets: [{abbr: d}]",
       "models[2].abbr: duplicate \"m\" (also models[0])"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: a}, {abbr: gsm8k}, {abbr: b}, "
       "{abbr: gsm8k}]",
       "datasets[3].abbr: duplicate \"gsm8k\" (also datasets[1])"},
      // A model and a dataset may share an abbr; datasets may not.
      {"models: [{abbr: x}]\ndatasets: [{abbr: x}, {abbr: d}, {abbr: 'd'}]",
       "datasets[2].abbr: duplicate \"d\" (also datasets[1])"},
      // Model numbers.
      {"models: [{abbr: m, max_out_len: -1}]\ndatasets: [{abbr: d}]",
       "models[0].max_out_len: must be >= 0, got -1"},
      {"models: [{abbr: m}, {abbr: n, batch_size: -2}]\n"
       "datasets: [{abbr: d}]",
       "models[1].batch_size: must be >= 0, got -2"},
      {"models: [{abbr: m, max_seq_len: -1}]\ndatasets: [{abbr: d}]",
       "models[0].max_seq_len: must be >= 0, got -1"},
      {"models: [{abbr: m, run_cfg: {num_gpus: 65}}]\ndatasets: [{abbr: d}]",
       "models[0].run_cfg.num_gpus: must be in 0..64, got 65"},
      {"models: [{abbr: m, run_cfg: {num_gpus: -1}}]\ndatasets: [{abbr: d}]",
       "models[0].run_cfg.num_gpus: must be in 0..64, got -1"},
      {"models: [{abbr: m, run_cfg: {num_procs: 65}}]\n"
       "datasets: [{abbr: d}]",
       "models[0].run_cfg.num_procs: must be in 0..64, got 65"},
      {"models: [{abbr: m, key_env: sk-123abc}]\ndatasets: [{abbr: d}]",
       "models[0].key_env: must be the name of an environment variable "
       "([A-Za-z_][A-Za-z0-9_]*) that holds the key, not the key"},
      {"models: [{abbr: m, key_env: 1KEY}]\ndatasets: [{abbr: d}]",
       "models[0].key_env: must be the name of an environment variable "
       "([A-Za-z_][A-Za-z0-9_]*) that holds the key, not the key"},
      {"models: [{abbr: m, temperature: 2.5}]\ndatasets: [{abbr: d}]",
       "models[0].temperature: must be in [0, 2], got 2.5"},
      {"models: [{abbr: m, temperature: -0.1}]\ndatasets: [{abbr: d}]",
       "models[0].temperature: must be in [0, 2], got -0.1"},
      {"models: [{abbr: m, temperature: .nan}]\ndatasets: [{abbr: d}]",
       "models[0].temperature: must be in [0, 2], got nan"},
      {"models: [{abbr: m, query_per_second: -1}]\ndatasets: [{abbr: d}]",
       "models[0].query_per_second: must be >= 0, got -1"},
      {"models: [{abbr: m, max_concurrency: -1}]\ndatasets: [{abbr: d}]",
       "models[0].max_concurrency: must be >= 0, got -1"},
      {"models: [{abbr: m, timeout_s: -5}]\ndatasets: [{abbr: d}]",
       "models[0].timeout_s: must be >= 0, got -5"},
      {"models: [{abbr: m, retry: 101}]\ndatasets: [{abbr: d}]",
       "models[0].retry: must be in 0..100, got 101"},
      {"models: [{abbr: m, retry: -1}]\ndatasets: [{abbr: d}]",
       "models[0].retry: must be in 0..100, got -1"},
      // Dataset numbers and format.
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, n: -1}]",
       "datasets[0].n: must be >= 0, got -1"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, k: -1}]",
       "datasets[0].k: must be >= 0, got -1"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, n: 2, k: 3}]",
       "datasets[0].k: must be <= n (2), got 3"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, size: -1}]",
       "datasets[0].size: must be >= 0, got -1"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, format: xml}]",
       "datasets[0].format: unknown format \"xml\" (known: jsonl, json, "
       "csv)"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, format: JSONL}]",
       "datasets[0].format: unknown format \"JSONL\" (known: jsonl, json, "
       "csv)"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, eval_cfg: {num_gpus: 65}}]",
       "datasets[0].eval_cfg.num_gpus: must be in 0..64, got 65"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, infer_cfg: {inferencer: "
       "{max_out_len: -1}}}]",
       "datasets[0].infer_cfg.inferencer.max_out_len: must be >= 0, got -1"},
      // test_range.
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
       "abc}}]",
       "datasets[0].reader_cfg.test_range: " + range_forms + ", got \"abc\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
       "'[::0]'}}]",
       "datasets[0].reader_cfg.test_range: slice step must not be 0, got "
       "\"[::0]\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
       "-5}}]",
       "datasets[0].reader_cfg.test_range: a count must be >= 0, got \"-5\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
       "0.0}}]",
       "datasets[0].reader_cfg.test_range: a ratio must be in (0, 1] and a "
       "count >= 0, got \"0.0\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
       "'[1:2'}}]",
       "datasets[0].reader_cfg.test_range: " + range_forms + ", got \"[1:2\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
       "'[a:b]'}}]",
       "datasets[0].reader_cfg.test_range: " + range_forms + ", got \"[a:b]\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {test_range: "
       "'[5]'}}]",
       "datasets[0].reader_cfg.test_range: " + range_forms + ", got \"[5]\""},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, reader_cfg: {train_range: "
       "'[1:2:3:4]'}}]",
       "datasets[0].reader_cfg.train_range: " + range_forms +
           ", got \"[1:2:3:4]\""},
      // priority.
      {WithBase("priority: 1001"),
       "priority: must be between -1000 and 1000, got 1001"},
      {WithBase("priority: -1001"),
       "priority: must be between -1000 and 1000, got -1001"},
      // work_dir.
      {WithBase("work_dir: " + std::string(4097, 'w')),
       "work_dir: must be at most 4096 bytes, got 4097"},
      {WithBase("work_dir: \"/tmp/a\\0b\""), "work_dir: must not contain NUL"},
      // Partitioner.
      {WithBase("infer: {partitioner: {type: SizePartitioner, "
                "max_task_size: 0}}"),
       "infer.partitioner.max_task_size: must be >= 1, got 0"},
      {WithBase("infer: {partitioner: {type: SizePartitioner, "
                "max_task_size: -5}}"),
       "infer.partitioner.max_task_size: must be >= 1, got -5"},
      {WithBase("infer: {partitioner: {type: SizePartitioner, "
                "gen_task_coef: 0}}"),
       "infer.partitioner.gen_task_coef: must be >= 1, got 0"},
      {WithBase("infer: {partitioner: {type: SizePartitioner, "
                "strategy: greedy}}"),
       "infer.partitioner.strategy: unknown strategy \"greedy\" (known: "
       "heuristic, split)"},
      {WithBase("infer: {partitioner: {type: SizePartitioner, "
                "heavy_datasets: [gsm8k*, '']}}"),
       "infer.partitioner.heavy_datasets[1]: must not be empty (an fnmatch "
       "pattern of abbrs)"},
      {WithBase("infer: {partitioner: {type: SizePartitioner, "
                "heavy_factor: 0}}"),
       "infer.partitioner.heavy_factor: must be >= 1, got 0"},
      {WithBase("infer: {partitioner: {type: SizePartitioner, "
                "num_worker: 8}}"),
       "infer.partitioner.num_worker: only for NumWorkerPartitioner"},
      {WithBase("infer: {partitioner: {type: SizePartitioner, n: 2}}"),
       "infer.partitioner.n: only for NaivePartitioner"},
      {WithBase("infer: {partitioner: {type: NumWorkerPartitioner, "
                "num_worker: 0}}"),
       "infer.partitioner.num_worker: must be >= 1, got 0"},
      {WithBase("infer: {partitioner: {type: NumWorkerPartitioner, "
                "num_split: -1}}"),
       "infer.partitioner.num_split: must be >= 1, got -1"},
      {WithBase("infer: {partitioner: {type: NumWorkerPartitioner, "
                "num_split: 100001}}"),
       "infer.partitioner.num_split: must be at most 100000, got 100001"},
      {WithBase("infer: {partitioner: {type: NumWorkerPartitioner, "
                "min_task_size: 0}}"),
       "infer.partitioner.min_task_size: must be >= 1, got 0"},
      {WithBase("eval: {partitioner: {type: NumWorkerPartitioner, "
                "strategy: Split}}"),
       "eval.partitioner.strategy: unknown strategy \"Split\" (known: "
       "heuristic, split)"},
      {WithBase("infer: {partitioner: {type: NumWorkerPartitioner, "
                "max_task_size: 100}}"),
       "infer.partitioner.max_task_size: only for SizePartitioner"},
      {WithBase("infer: {partitioner: {type: NumWorkerPartitioner, "
                "heavy_factor: 10}}"),
       "infer.partitioner.heavy_factor: only for SizePartitioner"},
      {WithBase("infer: {partitioner: {num_worker: 0}}"),
       "infer.partitioner.num_worker: only for NumWorkerPartitioner"},
      {WithBase("infer: {partitioner: {type: naive}}"),
       "infer.partitioner.type: unknown partitioner \"naive\" (known: "
       "NaivePartitioner, SizePartitioner, NumWorkerPartitioner)"},
      {WithBase("infer: {partitioner: {type: NaivePartitioner, "
                "max_task_size: 2000}}"),
       "infer.partitioner.max_task_size: only for SizePartitioner"},
      {WithBase("infer: {partitioner: {gen_task_coef: 20}}"),
       "infer.partitioner.gen_task_coef: only for SizePartitioner"},
      {WithBase("eval: {partitioner: {strategy: split}}"),
       "eval.partitioner.strategy: only for SizePartitioner and "
       "NumWorkerPartitioner"},
      {WithBase("infer: {partitioner: {num_worker: 8}}"),
       "infer.partitioner.num_worker: only for NumWorkerPartitioner"},
      {WithBase("infer: {partitioner: {min_task_size: 16}}"),
       "infer.partitioner.min_task_size: only for NumWorkerPartitioner"},
      {WithBase("infer: {partitioner: {heavy_datasets: [gsm8k]}}"),
       "infer.partitioner.heavy_datasets: only for SizePartitioner"},
      {WithBase("infer: {partitioner: {n: 10001}}"),
       "infer.partitioner.n: must be in 0..10000, got 10001"},
      {WithBase("infer: {partitioner: {n: -1}}"),
       "infer.partitioner.n: must be in 0..10000, got -1"},
      // Runner.
      {WithBase("infer: {runner: {type: SlurmRunner, time_limit: 1h}}"),
       "infer.runner.time_limit: expected minutes, H:M:S or D-H:M:S, got "
       "\"1h\""},
      // DLCRunner: aliyun_cfg (docs/dlc.md).
      {WithBase("eval: {runner: {type: DLCRunner}}"),
       "eval.runner.aliyun_cfg: required for DLCRunner (workspace_id, "
       "worker_image, dlc_config_path, ...)"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{workspace_id: w, worker_image: i}}}"),
       "infer.runner.aliyun_cfg.dlc_config_path: required for DLCRunner"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: /c, worker_image: i}}}"),
       "infer.runner.aliyun_cfg.workspace_id: required for DLCRunner"},
      {WithBase("eval: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: /c, workspace_id: w}}}"),
       "eval.runner.aliyun_cfg.worker_image: required for DLCRunner"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: .dlc/config, workspace_id: w, "
                "worker_image: i}}}"),
       "infer.runner.aliyun_cfg.dlc_config_path: must be an absolute path, "
       "got \".dlc/config\""},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{bashrc_path: /rc, dlc_config_path: /c, workspace_id: w, "
                "worker_image: i}}}"),
       "infer.runner.aliyun_cfg.conda_env_name: required with bashrc_path"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{conda_env_name: oc, dlc_config_path: /c, workspace_id: w, "
                "worker_image: i}}}"),
       "infer.runner.aliyun_cfg.bashrc_path: required with conda_env_name "
       "(the file that sets up conda)"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{bashrc_path: /rc, conda_env_name: oc, python_env_path: /py, "
                "dlc_config_path: /c, workspace_id: w, worker_image: i}}}"),
       "infer.runner.aliyun_cfg.python_env_path: set either bashrc_path + "
       "conda_env_name or python_env_path, not both"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{python_env_path: py, dlc_config_path: /c, workspace_id: w, "
                "worker_image: i}}}"),
       "infer.runner.aliyun_cfg.python_env_path: must be an absolute path, "
       "got \"py\""},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: /c, workspace_id: 'w 1', worker_image: "
                "i}}}"),
       "infer.runner.aliyun_cfg.workspace_id: must not contain whitespace or "
       "control characters, got \"w 1\""},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: /c, workspace_id: w, worker_image: i, "
                "data_sources: [d1, 'd2,d3']}}}"),
       "infer.runner.aliyun_cfg.data_sources[1]: must not contain ',' (one "
       "data source id per entry), got \"d2,d3\""},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: /c, workspace_id: w, worker_image: i, "
                "extra_envs: {'HF HOME': /x}}}}"),
       "infer.runner.aliyun_cfg.extra_envs[\"HF HOME\"]: not an environment "
       "variable name ([A-Za-z_][A-Za-z0-9_]*)"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: /c, workspace_id: w, worker_image: i, "
                "worker_cpu: -1}}}"),
       "infer.runner.aliyun_cfg.worker_cpu: must be >= 0, got -1"},
      {WithBase("infer: {runner: {type: DLCRunner, aliyun_cfg: "
                "{dlc_config_path: /c, workspace_id: w, worker_image: i, "
                "hf_offline: sometimes}}}"),
       "infer.runner.aliyun_cfg.hf_offline: expected true or false, got "
       "\"sometimes\""},
      {WithBase("infer: {runner: {type: DLCRunner, partition: llm, "
                "aliyun_cfg: {}}}"),
       "infer.runner.partition: only for SlurmRunner"},
      {WithBase("infer: {runner: {type: K8sRunner}}"),
       "infer.runner.type: unknown runner \"K8sRunner\" (known: LocalRunner, "
       "SlurmRunner, DLCRunner)"},
      {WithBase("infer: {runner: {max_num_workers: 4097}}"),
       "infer.runner.max_num_workers: must be in 0..4096, got 4097"},
      {WithBase("infer: {runner: {max_workers_per_gpu: 65}}"),
       "infer.runner.max_workers_per_gpu: must be in 0..64, got 65"},
      {WithBase("infer: {runner: {retry: 101}}"),
       "infer.runner.retry: must be in 0..100, got 101"},
      {WithBase("eval: {runner: {retry: -1}}"),
       "eval.runner.retry: must be in 0..100, got -1"},
      {WithBase("infer: {runner: {type: LocalRunner, partition: llm}}"),
       "infer.runner.partition: only for SlurmRunner"},
      {WithBase("infer: {runner: {quotatype: auto}}"),
       "infer.runner.quotatype: only for SlurmRunner"},
      {WithBase("infer: {runner: {extra_command: [--exclusive]}}"),
       "infer.runner.extra_command: only for SlurmRunner"},
      {WithBase("infer: {runner: {aliyun_cfg: {}}}"),
       "infer.runner.aliyun_cfg: only for DLCRunner"},
      {WithBase("eval: {runner: {eval_with_gpu: [gsm8k]}}"),
       "eval.runner.eval_with_gpu: only for DLCRunner"},
      // Task.
      {WithBase("infer: {runner: {task: {type: OpenICLEvalTask}}}"),
       "infer.runner.task.type: OpenICLEvalTask is for the eval stage (known "
       "here: OpenICLInferTask, command)"},
      {WithBase("eval: {runner: {task: {type: OpenICLInferTask}}}"),
       "eval.runner.task.type: OpenICLInferTask is for the infer stage (known "
       "here: OpenICLEvalTask, command)"},
      {WithBase("infer: {runner: {task: {type: Command}}}"),
       "infer.runner.task.type: unknown task type \"Command\" (known: "
       "OpenICLInferTask, command)"},
      {WithBase("infer: {runner: {task: {type: command}}}"),
       "infer.runner.task.argv: required for type command"},
      {WithBase("infer: {runner: {task: {type: command, argv: ['', x]}}}"),
       "infer.runner.task.argv[0]: must not be empty (the program)"},
      {WithBase("infer: {runner: {task: {type: command, argv: [python, "
                "run.py, '{foo}']}}}"),
       "infer.runner.task.argv[2]: unknown placeholder {foo} " + placeholders},
      {WithBase("infer: {runner: {task: {type: command, argv: [python, "
                "'--x={TASK_JSON}']}}}"),
       "infer.runner.task.argv[1]: unknown placeholder {TASK_JSON} " +
           placeholders},
      {WithBase("eval: {runner: {task: {type: command, argv: [python, "
                "'a}b']}}}"),
       "eval.runner.task.argv[1]: unpaired \"}\" at offset 1 (write }} for "
       "a literal brace)"},
      {WithBase("eval: {runner: {task: {type: command, argv: [python, "
                "'{task_json']}}}"),
       "eval.runner.task.argv[1]: unclosed \"{\" at offset 0 (write {{ for "
       "a literal brace)"},
      {WithBase("infer: {runner: {task: {argv: [python, run.py]}}}"),
       "infer.runner.task.argv: only for type command"},
      {WithBase("infer: {runner: {task: {type: OpenICLInferTask, argv: [x]}}}"),
       "infer.runner.task.argv: only for type command"},
      {WithBase("infer: {runner: {task: {env: {GOOD: 1, 1BAD: 2}}}}"),
       "infer.runner.task.env[\"1BAD\"]: not an environment variable name "
       "([A-Za-z_][A-Za-z0-9_]*)"},
      {WithBase("infer: {runner: {task: {env: {\"A-B\": 1, \"Z=\": 2}}}}"),
       "infer.runner.task.env[\"A-B\"]: not an environment variable name "
       "([A-Za-z_][A-Za-z0-9_]*)"},
      {WithBase("infer: {runner: {task: {timeout_s: -1}}}"),
       "infer.runner.task.timeout_s: must be >= 0, got -1"},
      // Infer-side settings that ocx-task (OpenICLInferTask) relies on.
      {"models: [{abbr: m, type: HuggingFaceCausalLM}]\n"
       "datasets: [{abbr: d}]\n",
       "models[0].type: unknown model type \"HuggingFaceCausalLM\" for "
       "OpenICLInferTask (known: OpenAISDK, OpenAI; run other models with "
       "task type command)"},
      {"models: [{abbr: m, type: OpenAISDK, openai_api_base: "
       "'127.0.0.1:8000/v1'}]\ndatasets: [{abbr: d}]\n",
       "models[0].openai_api_base: must start with http:// or https://, got "
       "\"127.0.0.1:8000/v1\""},
      {"models: [{abbr: m, type: OpenAI, api: responses}]\n"
       "datasets: [{abbr: d}]\n",
       "models[0].api: unknown api \"responses\" (known: chat, completions)"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, "
       "infer_cfg: {inferencer: {type: "
       "CLPInferencer}}}]\n",
       "datasets[0].infer_cfg.inferencer.type: unknown inferencer "
       "\"CLPInferencer\" (known: GenInferencer, PPLInferencer)"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, infer_cfg: {retriever: "
       "{type: TopkRetriever}}}]\n",
       "datasets[0].infer_cfg.retriever.type: unknown retriever "
       "\"TopkRetriever\" (known: ZeroRetriever, FixKRetriever)"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, infer_cfg: "
       "{prompt_template: {template: '{q}'}, inferencer: {type: "
       "PPLInferencer}}}]\n",
       "datasets[0].infer_cfg.prompt_template.template: must map each label "
       "to its template for PPLInferencer"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, infer_cfg: "
       "{prompt_template: {template: {}}, inferencer: {type: "
       "PPLInferencer}}}]\n",
       "datasets[0].infer_cfg.prompt_template.template: must map at least one "
       "label to its template"},
      // Eval side (OpenICLEvalTask, the default eval task).
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, eval_cfg: {evaluator: "
       "{type: MathEvaluator}}}]\n",
       "datasets[0].eval_cfg.evaluator.type: unknown evaluator "
       "\"MathEvaluator\" (known: AccEvaluator, EMEvaluator, RougeEvaluator, "
       "BleuEvaluator, Gsm8kEvaluator)"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, eval_cfg: "
       "{pred_postprocessor: {type: gsm8k}}}]\n",
       "datasets[0].eval_cfg.pred_postprocessor.type: unknown postprocessor "
       "\"gsm8k\" (known: general, first-capital, first_option, "
       "first-option, first_option_postprocess, math-last-number, strip)"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, eval_cfg: "
       "{dataset_postprocessor: {type: x}}}]\n",
       "datasets[0].eval_cfg.dataset_postprocessor.type: unknown "
       "postprocessor \"x\" (known: general, first-capital, first_option, "
       "first-option, first_option_postprocess, math-last-number, strip)"},
      {"models: [{abbr: m, pred_postprocessor: {type: Upper}}]\n"
       "datasets: [{abbr: d}]\n",
       "models[0].pred_postprocessor.type: unknown postprocessor \"Upper\" "
       "(known: general, first-capital, first_option, first-option, "
       "first_option_postprocess, math-last-number, strip)"},
      // Summarizer.
      {"models: [{abbr: m}]\ndatasets: [{abbr: gsm8k}, {abbr: d}]\n"
       "summarizer: {dataset_abbrs: [gsm8k, mmlu]}",
       "summarizer.dataset_abbrs[1]: unknown dataset \"mmlu\" (known: gsm8k, "
       "d)"},
      // The first problem in the stable order wins.
      {"models: [{abbr: m, max_out_len: -1}]\ndatasets: [{abbr: 'a b'}]\n"
       "infer: {runner: {type: SlurmRunner}}",
       "models[0].max_out_len: must be >= 0, got -1"},
      {"models: [{abbr: m}]\ndatasets: [{abbr: d, n: -1}]\n"
       "work_dir: \"\\0\"\ninfer: {runner: {type: SlurmRunner}}",
       "datasets[0].n: must be >= 0, got -1"},
      {WithBase("eval: {runner: {type: X}}\ninfer: {runner: {type: Y}}\n"
                "work_dir: \"\\0\""),
       "work_dir: must not contain NUL"},
      {WithBase("eval: {runner: {type: X}}\ninfer: {runner: {type: Y}}"),
       "infer.runner.type: unknown runner \"Y\" (known: LocalRunner, "
       "SlurmRunner, DLCRunner)"},
      {WithBase("infer: {runner: {type: SlurmRunner}, partitioner: "
                "{type: SizePartitioner, gen_task_coef: -1}}"),
       "infer.partitioner.gen_task_coef: must be >= 1, got -1"},
      {WithBase("summarizer: {dataset_abbrs: [x]}\n"
                "eval: {runner: {task: {timeout_s: -1}}}"),
       "eval.runner.task.timeout_s: must be >= 0, got -1"},
      // Per-stage stall thresholds.
      {WithBase("infer: {stall_after_s: -1}"),
       "infer.stall_after_s: must be in 0..604800, got -1"},
      {WithBase("eval: {stall_after_s: 604801}"),
       "eval.stall_after_s: must be in 0..604800, got 604801"},
      {WithBase("eval: {stall_after_s: 600}"),
       "eval.stall_after_s: OpenICLEvalTask reports no progress, so a stall "
       "cannot be seen; set it on infer, or on an eval `command` task that "
       "writes progress.json (docs/metrics.md)"},
  };
}

TEST(ValidateTest, BadConfigsGiveTheExpectedMessage) {
  std::vector<BadCase> cases = BadCases();
  ASSERT_GE(cases.size(), 30u);
  for (const BadCase& c : cases) {
    absl::StatusOr<EvaluationSpec> spec = LoadEvaluationSpec(c.yaml);
    ASSERT_TRUE(spec.ok()) << spec.status() << "\nfor:\n" << c.yaml;
    absl::Status s = ValidateEvaluationSpec(*spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "for:\n"
                                                            << c.yaml;
    EXPECT_EQ(s.message(), c.error) << "for:\n" << c.yaml;
  }
}

TEST(ValidateTest, KeyEnvErrorDoesNotEchoTheValue) {
  EvaluationSpec spec = Load(
      "models: [{abbr: m, key_env: sk-SECRET-VALUE}]\ndatasets: [{abbr: d}]");
  absl::Status s = ValidateEvaluationSpec(spec);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              ::testing::Not(::testing::HasSubstr("SECRET")));
}

TEST(ValidateTest, ValidationWorksOnProtosBuiltInCode) {
  EvaluationSpec spec;
  spec.add_models()->set_abbr("m");
  spec.add_datasets()->set_abbr("d");
  EXPECT_TRUE(ValidateEvaluationSpec(spec).ok());
  spec.mutable_infer()->mutable_runner()->mutable_task()->set_type("command");
  spec.mutable_infer()->mutable_runner()->mutable_task()->add_argv(
      std::string("a\0b", 3));
  EXPECT_EQ(ValidateEvaluationSpec(spec).message(),
            "infer.runner.task.argv[0]: must not contain NUL");
  spec.mutable_infer()->mutable_runner()->mutable_task()->clear_argv();
  spec.mutable_infer()->mutable_runner()->mutable_task()->add_argv("x");
  (*spec.mutable_infer()
        ->mutable_runner()
        ->mutable_task()
        ->mutable_env())["K"] = std::string("v\0", 2);
  EXPECT_EQ(ValidateEvaluationSpec(spec).message(),
            "infer.runner.task.env[\"K\"]: must not contain NUL");
}

TEST(ApplyDefaultsTest, FillsUnsetSettings) {
  EvaluationSpec spec = Load(kBase);
  ASSERT_TRUE(ValidateEvaluationSpec(spec).ok());
  ApplyDefaults(&spec);
  EXPECT_EQ(spec.models(0).run_cfg().num_procs(), 1);
  EXPECT_EQ(spec.models(0).run_cfg().num_gpus(), 0);
  for (const auto* stage : {&spec.infer(), &spec.eval()}) {
    EXPECT_EQ(stage->partitioner().type(), "NaivePartitioner");
    EXPECT_EQ(stage->partitioner().n(), 1);
    EXPECT_EQ(stage->runner().type(), "LocalRunner");
    EXPECT_EQ(stage->runner().max_num_workers(), 16);
    EXPECT_EQ(stage->runner().max_workers_per_gpu(), 1);
    EXPECT_TRUE(stage->runner().has_retry());
    EXPECT_EQ(stage->runner().retry(), 2);
  }
  EXPECT_EQ(spec.infer().runner().task().type(), "OpenICLInferTask");
  EXPECT_EQ(spec.eval().runner().task().type(), "OpenICLEvalTask");
  // Defaults do not make a valid spec invalid.
  absl::Status s = ValidateEvaluationSpec(spec);
  EXPECT_TRUE(s.ok()) << s;
}

TEST(ApplyDefaultsTest, NumSplitZeroBecomesNumWorker) {
  absl::StatusOr<ocx::v1::EvaluationSpec> spec = LoadEvaluationSpec(
      "models: [{abbr: m, type: OpenAISDK, path: p}]\n"
      "datasets: [{abbr: d, path: d.jsonl}]\n"
      "infer: {partitioner: {type: NumWorkerPartitioner, num_worker: 5, "
      "num_split: 0}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::Status valid = ValidateEvaluationSpec(*spec);
  ASSERT_TRUE(valid.ok()) << valid;
  ApplyDefaults(&*spec);
  EXPECT_EQ(spec->infer().partitioner().num_split(), 5);
}

TEST(ApplyDefaultsTest, KeepsWhatTheUserWrote) {
  EvaluationSpec spec = Load(
      "models: [{abbr: m, run_cfg: {num_procs: 4}}]\n"
      "datasets: [{abbr: d}]\n"
      "infer: {partitioner: {n: 5}, runner: {max_num_workers: 3, "
      "max_workers_per_gpu: 2, retry: 0, task: {type: command, argv: [x]}}}\n");
  ApplyDefaults(&spec);
  EXPECT_EQ(spec.models(0).run_cfg().num_procs(), 4);
  EXPECT_EQ(spec.infer().partitioner().n(), 5);
  EXPECT_EQ(spec.infer().runner().max_num_workers(), 3);
  EXPECT_EQ(spec.infer().runner().max_workers_per_gpu(), 2);
  EXPECT_EQ(spec.infer().runner().retry(), 0);  // optional: 0 is a value
  EXPECT_EQ(spec.infer().runner().task().type(), "command");
  EXPECT_EQ(spec.eval().runner().retry(), 2);
}

TEST(ApplyDefaultsTest, PartitionerDefaultsAreOpenCompasss) {
  EvaluationSpec spec = Load(WithBase(
      "infer: {partitioner: {type: SizePartitioner}}\n"
      "eval: {partitioner: {type: NumWorkerPartitioner, num_worker: 4}}\n"));
  ASSERT_TRUE(ValidateEvaluationSpec(spec).ok());
  ApplyDefaults(&spec);
  const auto& size = spec.infer().partitioner();
  EXPECT_EQ(size.max_task_size(), 40000);
  EXPECT_EQ(size.gen_task_coef(), 20);
  EXPECT_EQ(size.strategy(), "heuristic");
  EXPECT_EQ(size.heavy_factor(), 10);
  EXPECT_THAT(size.heavy_datasets(),
              ::testing::ElementsAre("bbh*", "gsm8k*", "math*", "strategyqa*",
                                     "agieval-jec*", "agieval-gaokao-mathcloze",
                                     "agieval-math", "*professional_law"));
  EXPECT_FALSE(size.has_num_worker());
  EXPECT_EQ(size.n(), 0);
  const auto& workers = spec.eval().partitioner();
  EXPECT_EQ(workers.num_worker(), 4);
  EXPECT_EQ(workers.num_split(), 4);  // num_split defaults to num_worker
  EXPECT_EQ(workers.min_task_size(), 16);
  EXPECT_EQ(workers.strategy(), "heuristic");
  EXPECT_FALSE(workers.has_max_task_size());
  absl::Status s = ValidateEvaluationSpec(spec);
  EXPECT_TRUE(s.ok()) << s;
}

TEST(ApplyDefaultsTest, ClusterRunnersGetMoreWorkers) {
  EvaluationSpec spec = Load(kBase);
  spec.mutable_infer()->mutable_runner()->set_type("SlurmRunner");
  spec.mutable_eval()->mutable_runner()->set_type("DLCRunner");
  ApplyDefaults(&spec);
  EXPECT_EQ(spec.infer().runner().max_num_workers(), 32);
  EXPECT_EQ(spec.eval().runner().max_num_workers(), 32);
  EXPECT_EQ(spec.infer().runner().max_workers_per_gpu(), 0);
}

TEST(ApplyDefaultsTest, IsIdempotent) {
  EvaluationSpec spec = Load(kFullConfig);
  ApplyDefaults(&spec);
  EvaluationSpec again = spec;
  ApplyDefaults(&again);
  EXPECT_TRUE(MessageDifferencer::Equals(spec, again));
  absl::Status s = ValidateEvaluationSpec(spec);
  EXPECT_TRUE(s.ok()) << s;
}

TEST(IsEnvVarNameTest, Cases) {
  EXPECT_TRUE(IsEnvVarName("PATH"));
  EXPECT_TRUE(IsEnvVarName("_x9"));
  EXPECT_FALSE(IsEnvVarName(""));
  EXPECT_FALSE(IsEnvVarName("9A"));
  EXPECT_FALSE(IsEnvVarName("A-B"));
  EXPECT_FALSE(IsEnvVarName("A=B"));
}

}  // namespace
}  // namespace ocx::spec
