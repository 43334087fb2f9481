#include "spec/serve_check.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/field_check.h"
#include "common/status_macros.h"
#include "runners/local/config.h"
#include "runners/slurm/config.h"
#include "serving/serve_config.h"

namespace ocx::spec {

using ::ocx::field::Bad;
using ::ocx::field::Index;
using ::ocx::field::Sub;

absl::Status ValidateServeModels(const ocx::v1::EvaluationSpec& spec) {
  const std::string& type = spec.infer().runner().type();
  const bool runner_ok = type.empty() || type == runners::local::kRunnerType ||
                         type == runners::slurm::kRunnerType;
  for (int i = 0; i < spec.models_size(); ++i) {
    const ocx::v1::ModelConfig& m = spec.models(i);
    if (!m.has_serve()) continue;
    const std::string path = Index("models", i);
    OCX_RETURN_IF_ERROR(
        serving::CheckServeConfig(m.serve(), Sub(path, "serve")));
    if (!m.openai_api_base().empty()) {
      return Bad(Sub(path, "openai_api_base"),
                 "set by ocx when serve is given; remove it");
    }
    if (!runner_ok) {
      return Bad(
          "infer.runner.type",
          absl::StrCat("serve (", Sub(path, "serve"),
                       ") runs on LocalRunner or SlurmRunner, not ", type));
    }
  }
  return absl::OkStatus();
}

void ApplyServeDefaults(ocx::v1::EvaluationSpec* spec) {
  for (ocx::v1::ModelConfig& m : *spec->mutable_models()) {
    if (m.has_serve()) *m.mutable_serve() = serving::WithDefaults(m.serve());
  }
}

}  // namespace ocx::spec
