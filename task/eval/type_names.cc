#include "task/eval/type_names.h"

namespace ocx::task::eval {

const std::vector<std::string>& KnownEvaluators() {
  static const auto* names = new std::vector<std::string>{
      "AccEvaluator", "EMEvaluator", "RougeEvaluator", "BleuEvaluator",
      "Gsm8kEvaluator"};
  return *names;
}

const std::vector<std::string>& KnownPostprocessors() {
  static const auto* names =
      new std::vector<std::string>{"general",
                                   "first-capital",
                                   "first_option",
                                   "first-option",
                                   "first_option_postprocess",
                                   "math-last-number",
                                   "strip"};
  return *names;
}

}  // namespace ocx::task::eval
