#include "spec/evaluation_spec.h"

#include "common/file_util.h"
#include "common/status_macros.h"
#include "spec/yaml_to_proto.h"

namespace ocx::spec {

absl::StatusOr<ocx::v1::EvaluationSpec> LoadEvaluationSpec(
    absl::string_view text) {
  ocx::v1::EvaluationSpec spec;
  OCX_RETURN_IF_ERROR(ParseYamlToMessage(text, &spec));
  return spec;
}

absl::StatusOr<ocx::v1::EvaluationSpec> LoadEvaluationSpecFile(
    const std::string& path) {
  return ParseFile(path, &LoadEvaluationSpec);
}

}  // namespace ocx::spec
