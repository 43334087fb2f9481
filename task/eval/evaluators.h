// Evaluators of `ocx-task eval`: OpenCompass's ICL_EVALUATORS
// (opencompass/openicl/icl_evaluator/), computed in C++.
//
//   AccEvaluator    {"accuracy": %}: a sample is right when its prediction
//                   equals str(gold) (OpenCompass maps both through str()
//                   before comparing; a JSON number gold 3 reads "3"). A list
//                   gold is refused.
//   EMEvaluator     {"score": %}: general_postprocess(prediction) is one of
//                   the gold answers, raw or general_postprocess'ed. A list
//                   gold is the list of accepted answers; a scalar gold is
//                   one answer (OpenCompass would iterate its characters).
//   RougeEvaluator  {"rouge1", "rouge2", "rougeL": %}: the mean over samples
//                   of the F-measure of rouge_score (tokens: lowercased runs
//                   of [a-z0-9], no stemming), the best over a list gold's
//                   answers. OpenCompass reports HuggingFace's bootstrap
//                   median of the mean instead, which differs from the mean
//                   in the last digits only.
//   BleuEvaluator   {"score": corpus BLEU-4, %} as sacrebleu's defaults:
//                   13a tokenization, no lowercasing, no smoothing beyond
//                   sacrebleu's "exp" (zero when a precision is zero),
//                   brevity penalty over the corpus; one reference per
//                   sample (a list gold's first answer).
//   Gsm8kEvaluator  {"accuracy": %}: OpenCompass's Gsm8kEvaluator; the
//                   prediction equals the gold as numbers (|p - g| < 1e-6)
//                   when both parse as numbers, else as strings. Pair it
//                   with the math-last-number postprocessor on both sides.
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_EVAL_EVALUATORS_H_
#define OCX_TASK_EVAL_EVALUATORS_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "task/eval/type_names.h"  // KnownEvaluators()

namespace ocx::task::eval {

// One sample as an evaluator sees it: both sides already postprocessed.
struct EvalSample {
  std::string prediction;
  // The gold answer(s); one element for a scalar gold.
  std::vector<std::string> golds;
  bool gold_is_list = false;
};

struct Scores {
  // Metric name -> value, in the order the evaluator defines.
  std::vector<std::pair<std::string, double>> metrics;
  // Per sample: whether it was right (binary evaluators) ...
  std::vector<bool> correct;
  // ... or its score in % (text-overlap evaluators); one of the two is
  // filled.
  std::vector<double> sample_scores;
};

using Evaluator =
    std::function<absl::StatusOr<Scores>(const std::vector<EvalSample>&)>;

// The evaluator named `type`; INVALID_ARGUMENT naming the known ones
// otherwise. Evaluators refuse an empty sample list (FAILED_PRECONDITION):
// OpenCompass would divide by zero.
absl::StatusOr<Evaluator> GetEvaluator(absl::string_view type);

absl::StatusOr<Scores> AccuracyScores(const std::vector<EvalSample>& samples);
absl::StatusOr<Scores> ExactMatchScores(const std::vector<EvalSample>& samples);
absl::StatusOr<Scores> Gsm8kScores(const std::vector<EvalSample>& samples);
absl::StatusOr<Scores> RougeScores(const std::vector<EvalSample>& samples);
absl::StatusOr<Scores> BleuScores(const std::vector<EvalSample>& samples);

// rouge_score's tokenizer: lowercase, runs of [a-z0-9].
std::vector<std::string> RougeTokens(absl::string_view text);
// sacrebleu's 13a tokenizer (mteval-v13a): separates punctuation, keeps
// periods and commas inside numbers.
std::vector<std::string> Bleu13aTokens(absl::string_view text);

}  // namespace ocx::task::eval

#endif  // OCX_TASK_EVAL_EVALUATORS_H_
