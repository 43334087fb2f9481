// Reading an EvaluationSpec (eval.yaml / eval.json) into its proto. Parsing
// only: call ValidateEvaluationSpec (spec/validate.h) before acting on it.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_EVALUATION_SPEC_H_
#define OCX_SPEC_EVALUATION_SPEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::spec {

// Parses YAML or JSON text (rules in spec/yaml_to_proto.h). Errors are
// INVALID_ARGUMENT `<field path>: <problem>`.
absl::StatusOr<ocx::v1::EvaluationSpec> LoadEvaluationSpec(
    absl::string_view text);

// Reads and parses the file at `path`. A file that cannot be read gives the
// errno-derived code (NOT_FOUND, PERMISSION_DENIED, ...) with a message that
// names the file; parse errors are INVALID_ARGUMENT prefixed with `path`,
// e.g. `eval.yaml: models[0].abbr: expected a string, got a mapping`.
absl::StatusOr<ocx::v1::EvaluationSpec> LoadEvaluationSpecFile(
    const std::string& path);

}  // namespace ocx::spec

#endif  // OCX_SPEC_EVALUATION_SPEC_H_
