// Checks an EvaluationSpec before anything is written (DESIGN.md decision 10)
// and fills in the defaults the daemon acts on.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_VALIDATE_H_
#define OCX_SPEC_VALIDATE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::spec {

// OK, or INVALID_ARGUMENT `<field path>: <problem>` for the first problem
// found, in a stable order: models, datasets, work_dir, infer, eval, the
// models' serve sections (spec/serve_check.h), summarizer (within each, fields
// in declaration order). For example
//   datasets[3].abbr: duplicate "gsm8k" (also datasets[1])
//   infer.partitioner.num_worker: must be >= 1, got 0
//   infer.runner.task.argv[2]: unknown placeholder {foo} (known: ...)
// Fields this version does not act on are still checked; settings that only
// belong to a partitioner or runner type other than the one chosen are
// errors. Call it on the spec as the user wrote it, before ApplyDefaults.
absl::Status ValidateEvaluationSpec(const ocx::v1::EvaluationSpec& spec);

// Fills unset settings with their defaults, for both the infer and the eval
// stage: partitioner.type NaivePartitioner and n 1 (SizePartitioner:
// max_task_size 40000, gen_task_coef 20, strategy heuristic, OpenCompass's
// heavy_datasets and heavy_factor 10; NumWorkerPartitioner: num_worker 8,
// num_split = num_worker, min_task_size 16, strategy heuristic — see
// spec/partitioner_defaults.h); runner.type LocalRunner,
// max_num_workers 16 (LocalRunner) or 32 (SlurmRunner, DLCRunner),
// max_workers_per_gpu 1 (LocalRunner), retry 2; task.type OpenICLInferTask /
// OpenICLEvalTask. Each model's run_cfg.num_procs becomes 1 when 0, and
// its serve section, when set, gets serving::WithDefaults.
// Idempotent; a spec that validated still validates afterwards.
void ApplyDefaults(ocx::v1::EvaluationSpec* spec);

}  // namespace ocx::spec

#endif  // OCX_SPEC_VALIDATE_H_
