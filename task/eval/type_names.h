// The evaluator and postprocessor types ocx-task eval implements, by name:
// the one list that submit-time validation (spec/validate.cc) and the task
// itself (GetEvaluator, GetPostprocessor and their messages) share, so that
// a spec that validates is a spec whose types run. A library of its own so
// that spec/ does not link the eval code.
//
// Thread safety: the lists are immutable after first use.
#ifndef OCX_TASK_EVAL_TYPE_NAMES_H_
#define OCX_TASK_EVAL_TYPE_NAMES_H_

#include <string>
#include <vector>

namespace ocx::task::eval {

// The names GetEvaluator accepts (task/eval/evaluators.h).
const std::vector<std::string>& KnownEvaluators();

// The names GetPostprocessor accepts (task/eval/postprocessors.h).
const std::vector<std::string>& KnownPostprocessors();

}  // namespace ocx::task::eval

#endif  // OCX_TASK_EVAL_TYPE_NAMES_H_
