// The layout of an evaluation's work dir (DESIGN.md decision 9), as
// LevelDB's filename.h is the layout of a database directory: the only
// place that knows how a path is built from (work dir, model abbr, dataset
// abbr, part, task, attempt). Everything that reads or writes the work dir
// — planner, dispatcher, ocx-task, summary, API — asks here.
//
//   <work_dir>/
//     configs/                                  reserved for the config copy
//     predictions/<model>/<dataset>[_<k>].json  infer output, one per part
//     results/<model>/<dataset>.json            eval output
//     summary/summary.{txt,csv,md}              the summary table
//     logs/{infer,eval}/<model>/<task>.<attempt>.out   one log per attempt
//     .ocx/tasks/<task>/task.json               params, written once
//     .ocx/tasks/<task>/<attempt>/              supervisor state of an attempt
//     .ocx/tasks/<task>/<attempt>/error.json    how ocx-task failed (TaskError)
//     .ocx/tasks/<task>/progress.json           infer progress (all attempts)
//     .ocx/tasks/<task>/journal/<part>.jsonl    infer journal of one part
//
// Output paths recorded in TaskParams (expected_outputs, required_inputs,
// the parts manifest) are relative to the work dir: the *File functions
// without a work dir return those; InWorkDir makes them absolute. A
// rescored evaluation (RescoreEvaluation) records its predictions as
// absolute paths in the work dir of the evaluation that made them; InWorkDir
// returns those as they are. Every other function returns an absolute path
// under `work_dir`.
//
// Pure functions: thread-safe. Names are not validated here (callers
// validate abbrs and ids with IsSafeName before they become paths).
#ifndef OCX_COMMON_WORK_DIR_LAYOUT_H_
#define OCX_COMMON_WORK_DIR_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::layout {

// "infer" or "eval": the stage's word in log paths and task commands.
std::string StageName(ocx::v1::Stage stage);

// The name of part `part` of a dataset split into parts: "<dataset>_<part>".
std::string PartAbbr(absl::string_view dataset_abbr, int64_t part);

// ---- Relative to the work dir (as TaskParams records them) ----

// predictions/<model>/<part_abbr>.json; `part_abbr` is the dataset's abbr
// when it is not split, else PartAbbr().
std::string PredictionFile(absl::string_view model_abbr,
                           absl::string_view part_abbr);
// results/<model>/<dataset>.json
std::string ResultFile(absl::string_view model_abbr,
                       absl::string_view dataset_abbr);

// `relative` (one of the above) under `work_dir`; an absolute path as is.
std::string InWorkDir(absl::string_view work_dir, absl::string_view relative);

// ---- Absolute ----

std::string ConfigsDir(absl::string_view work_dir);
std::string SummaryDir(absl::string_view work_dir);
// summary/summary.txt, .csv, .md, in that order.
std::vector<std::string> SummaryFiles(absl::string_view work_dir);

// logs/<stage>/<model>/<task_id>.<attempt>.out
std::string AttemptLogFile(absl::string_view work_dir, ocx::v1::Stage stage,
                           absl::string_view model_abbr,
                           absl::string_view task_id, int attempt);

// .ocx/tasks/<task_id>
std::string TaskDir(absl::string_view work_dir, absl::string_view task_id);
// .ocx/tasks/<task_id>/task.json
std::string TaskJsonFile(absl::string_view work_dir, absl::string_view task_id);
// .ocx/tasks/<task_id>/<attempt>
std::string AttemptDir(absl::string_view work_dir, absl::string_view task_id,
                       int attempt);

// <attempt_dir>/error.json: the TaskError record a failing ocx-task writes
// into the attempt dir it is given (OCX_ATTEMPT_DIR).
std::string ErrorRecordFileIn(absl::string_view attempt_dir);

// Inside a task dir (the directory of a task.json, wherever it lies: an
// ocx-task run by hand keeps its state next to its task file).
std::string ProgressFileIn(absl::string_view task_dir);
std::string JournalDirIn(absl::string_view task_dir);
std::string JournalFileIn(absl::string_view task_dir,
                          absl::string_view part_abbr);

// ---- The serving dir (ServingSettings.dir): managed-server replicas ----
//   <serving_dir>/<replica id>/attempt-<n>/      its start's state (claim,
//                                                exit, endpoint.json)
//   <serving_dir>/<replica id>/attempt-<n>.log   its start's log
std::string ReplicaDir(absl::string_view serving_dir,
                       absl::string_view replica_id);
std::string ReplicaAttemptDir(absl::string_view serving_dir,
                              absl::string_view replica_id, int attempt);
std::string ReplicaLogFile(absl::string_view serving_dir,
                           absl::string_view replica_id, int attempt);

}  // namespace ocx::layout

#endif  // OCX_COMMON_WORK_DIR_LAYOUT_H_
