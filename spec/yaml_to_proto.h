// YAML (and so JSON) text → protobuf message, by walking the message's
// Descriptor with reflection, so that every error names the exact field path
// (DESIGN.md decisions 1 and 10).
//
// Mapping rules:
//   - Mapping keys are the exact proto field names (snake_case, as in
//     OpenCompass); json_name spellings are not accepted. An unknown key is an
//     error that lists the known ones; a repeated key is an error.
//   - Integer fields take integer scalars in range of the field's type; float
//     fields take numbers (and .inf/.nan); bool fields take true/false; enum
//     fields take value names; string and bytes fields take any scalar as its
//     text (`test_range: 100` becomes "100").
//   - Null (`~`, `null`, an empty value) leaves a field unset. `optional`
//     fields are marked present when given. `field: {}` marks a message field
//     present.
//   - Repeated fields need sequences; map fields need mappings.
//   - google.protobuf.Struct / Value / ListValue take arbitrary YAML. Quoted
//     scalars become strings; plain scalars become null, bools (true/false),
//     numbers (when they read as one), or else strings.
//   - The document must be one mapping.
//
// Errors are INVALID_ARGUMENT `<path>: <problem>`, e.g.
//   models[0].run_cfgg: unknown field (known: num_gpus, num_procs)
//   models[1].max_out_len: expected an integer, got "abc"
//   datasets[0].infer_cfg.prompt_template.template.round[1]: ...
//   infer.runner.task.env["PATH"]: expected a string, got a mapping
// Problems with the document as a whole use the path `config`; YAML syntax
// errors give the line and column (1-based).
//
// Thread-safe: no shared state. No exceptions escape.
#ifndef OCX_SPEC_YAML_TO_PROTO_H_
#define OCX_SPEC_YAML_TO_PROTO_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace ocx::spec {

struct YamlParseOptions {
  // Accept a document that is empty or only comments (or `~`), leaving the
  // message empty. Default false: "config: expected a mapping at the top
  // level".
  bool allow_empty_document = false;
};

// Parses `text` into `*msg`. On success `*msg` holds exactly what the text
// says (its previous contents are replaced); on error `*msg` is unchanged and
// the status is INVALID_ARGUMENT with the field path. `msg` must not be null.
absl::Status ParseYamlToMessage(absl::string_view text,
                                google::protobuf::Message* msg);
absl::Status ParseYamlToMessage(absl::string_view text,
                                google::protobuf::Message* msg,
                                const YamlParseOptions& options);

}  // namespace ocx::spec

#endif  // OCX_SPEC_YAML_TO_PROTO_H_
