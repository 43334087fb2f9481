// Writes `results/<model>/<dataset>.json`: the metrics as numeric top-level
// keys in the evaluator's order (what the summary table reads), then, when
// the task asks for them (TaskConfig.dump_details), "details": one object
// per sample with the raw and processed prediction, the gold as read and
// whether it was right (or its score, for text-overlap metrics).
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_EVAL_RESULTS_WRITER_H_
#define OCX_TASK_EVAL_RESULTS_WRITER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/struct.pb.h"
#include "task/eval/evaluators.h"

namespace ocx::task::eval {

struct SampleDetail {
  std::string prediction;
  std::string processed;
  std::optional<google::protobuf::Value> gold;
  std::optional<bool> correct;
  std::optional<double> score;
};

// The file's text. `details` null: no "details" key.
std::string RenderResults(const Scores& scores,
                          const std::vector<SampleDetail>* details);

// Renders and writes atomically to `path`, creating its directory.
absl::Status WriteResults(const std::string& path, const Scores& scores,
                          const std::vector<SampleDetail>* details);

}  // namespace ocx::task::eval

#endif  // OCX_TASK_EVAL_RESULTS_WRITER_H_
