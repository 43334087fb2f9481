// Reads the prediction files of one (model, dataset) pair, written by
// `ocx-task infer` (or any program honouring the contract in
// docs/design.md): a JSON object keyed "0", "1", ... whose values hold
// "origin_prompt", "prediction" and optionally "gold".
//
// Unlike OpenCompass's OpenICLEvalTask, which concatenates `_0, _1, ...`
// until the first gap, an incomplete set of parts is refused.
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_EVAL_PREDICTIONS_READER_H_
#define OCX_TASK_EVAL_PREDICTIONS_READER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::task::eval {

struct PredictionRecord {
  google::protobuf::Value origin_prompt;
  // The model's text, or for a PPL sample the winning label.
  std::string prediction;
  // Absent when the dataset has no output column.
  std::optional<google::protobuf::Value> gold;
};

// The prediction parts of dataset `dataset_abbr` (as the spec names it) of
// an eval task: the paths its parts manifest lists for that dataset, in
// part order; the whole-dataset file when it lists none. A task planned
// before the manifest existed (no parts_manifest) falls back to
// PredictionParts over its required_inputs.
std::vector<std::string> PredictionPartsOf(
    const ocx::v1::TaskParams& params, const std::string& dataset_abbr,
    const std::vector<std::string>& all_dataset_abbrs);

// The legacy reading of a task without a parts manifest: the prediction
// parts of dataset `dataset_abbr` among `required_inputs`
// (paths relative to the work dir, as TaskParams lists them for every
// pair of the task): `predictions/<model>/<dataset>.json` or
// `predictions/<model>/<dataset>_<k>.json`, in increasing k. A path that
// names another of `all_dataset_abbrs` exactly belongs to that dataset
// (a dataset "gsm8k_1" beside a split "gsm8k"). When none is listed, the
// whole-dataset file `predictions/<model>/<dataset>.json` is returned.
std::vector<std::string> PredictionParts(
    const std::vector<std::string>& required_inputs,
    const std::string& model_abbr, const std::string& dataset_abbr,
    const std::vector<std::string>& all_dataset_abbrs);

// Reads `parts` (relative to `work_dir`) and concatenates their samples in
// order. FAILED_PRECONDITION naming every missing part when any is
// missing; INVALID_ARGUMENT naming the file and sample for malformed
// content (not an object, keys not exactly "0".."n-1", no "prediction").
absl::StatusOr<std::vector<PredictionRecord>> ReadPredictions(
    const std::string& work_dir, const std::vector<std::string>& parts);

}  // namespace ocx::task::eval

#endif  // OCX_TASK_EVAL_PREDICTIONS_READER_H_
