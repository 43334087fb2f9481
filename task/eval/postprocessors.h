// Text postprocessors of `ocx-task eval`: OpenCompass's TEXT_POSTPROCESSORS
// (opencompass/utils/text_postprocessors.py), applied to a prediction or a
// gold answer before an evaluator compares them.
//
// Known types (the `type` of a PostprocessorConfig):
//   general           general_postprocess: cut at the first newline, period
//                     or comma; drop punctuation (anything but word
//                     characters and whitespace); drop the articles a/an/the
//                     (whole words, any case); collapse whitespace; strip.
//   first-capital     first_capital_postprocess: the first uppercase ASCII
//                     letter, or "".
//   first_option      first_option_postprocess(text, options="ABCD"):
//   (first-option,    OpenCompass's ordered answer patterns ("The answer is
//    first_option_    B", "答案是B", "(C) ..."), then the cushion patterns;
//    postprocess)     the first pattern that matches decides, and the
//                     result is the first of A, B, C, D (in that order) that
//                     occurs in the matched text; "" when none matches.
//   math-last-number  the last number in the text, as gsm8k_postprocess
//                     takes it: thousands separators removed ("1,234"),
//                     optional sign and decimals, trailing zeros of the
//                     decimals dropped ("18.50" -> "18.5", "7.0" -> "7");
//                     "" when the text has no number.
//   strip             leading and trailing whitespace removed.
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_EVAL_POSTPROCESSORS_H_
#define OCX_TASK_EVAL_POSTPROCESSORS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "task/eval/type_names.h"  // KnownPostprocessors()

namespace ocx::task::eval {

using Postprocessor = std::function<std::string(absl::string_view)>;

std::string GeneralPostprocess(absl::string_view text);
std::string FirstCapitalPostprocess(absl::string_view text);
std::string FirstOptionPostprocess(absl::string_view text,
                                   absl::string_view options);
std::string MathLastNumberPostprocess(absl::string_view text);
std::string StripPostprocess(absl::string_view text);

// The postprocessor named `type`; INVALID_ARGUMENT naming the known types
// for any other name. An empty type is not a postprocessor (callers skip
// it).
absl::StatusOr<Postprocessor> GetPostprocessor(absl::string_view type);

// OpenCompass's extract_role_pred: the part of `text` after the role's
// `begin` string (when it occurs) and before its `end` string (when it
// occurs after that). An empty begin or end cuts nothing on that side.
std::string ExtractRolePrediction(absl::string_view text,
                                  absl::string_view begin,
                                  absl::string_view end);

}  // namespace ocx::task::eval

#endif  // OCX_TASK_EVAL_POSTPROCESSORS_H_
