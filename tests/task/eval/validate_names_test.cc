// spec/validate.cc checks evaluator and postprocessor types against
// task/eval/type_names.h: every type task/eval knows must pass validation,
// and an unknown one must not.
#include "gtest/gtest.h"
#include "spec/validate.h"
#include "task/eval/evaluators.h"
#include "task/eval/postprocessors.h"

namespace ocx::task::eval {
namespace {

ocx::v1::EvaluationSpec Spec(const std::string& evaluator,
                             const std::string& postprocessor) {
  ocx::v1::EvaluationSpec spec;
  auto* m = spec.add_models();
  m->set_abbr("m");
  m->mutable_pred_postprocessor()->set_type(postprocessor);
  auto* d = spec.add_datasets();
  d->set_abbr("d");
  d->mutable_eval_cfg()->mutable_evaluator()->set_type(evaluator);
  d->mutable_eval_cfg()->mutable_pred_postprocessor()->set_type(postprocessor);
  d->mutable_eval_cfg()->mutable_dataset_postprocessor()->set_type(
      postprocessor);
  return spec;
}

TEST(ValidateNames, EveryImplementedTypeIsAcceptedAtSubmit) {
  for (const std::string& e : KnownEvaluators()) {
    for (const std::string& p : KnownPostprocessors()) {
      absl::Status s = spec::ValidateEvaluationSpec(Spec(e, p));
      EXPECT_TRUE(s.ok()) << e << " " << p << ": " << s;
    }
  }
  EXPECT_FALSE(spec::ValidateEvaluationSpec(Spec("NoEvaluator", "strip")).ok());
  EXPECT_FALSE(
      spec::ValidateEvaluationSpec(Spec("AccEvaluator", "no-such")).ok());
}

}  // namespace
}  // namespace ocx::task::eval
