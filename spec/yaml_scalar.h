// YAML scalars as protobuf field values, by the rules of yaml_to_proto.h:
// integers in range of the field's type, numbers (YAML 1.2 core schema,
// with .inf/.nan), true/false, enum value names, any text for strings.
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_YAML_SCALAR_H_
#define OCX_SPEC_YAML_SCALAR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace ocx::spec {

// `text` quoted and C-escaped for a message, cut after 80 bytes.
std::string QuoteScalar(absl::string_view text);

// true/True/TRUE and false/False/FALSE.
bool IsTrue(absl::string_view s);
bool IsFalse(absl::string_view s);

// [-+]?[0-9]+
bool LooksLikeInteger(absl::string_view s);

// YAML 1.2 core schema float, finite forms:
// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool LooksLikeDecimal(absl::string_view s);

// .inf, -.inf, .nan and their capitalised forms.
bool ParseSpecialFloat(absl::string_view s, double* out);

// What a field wants, for "expected ..." in messages: "an integer",
// "one of (A, B)", ...
std::string Expected(const google::protobuf::FieldDescriptor* f);

// Sets the scalar field `f` of `msg` (adds to it when repeated) from the
// scalar `text`. INVALID_ARGUMENT without a field path when the text does
// not fit: "expected an integer, got \"abc\"", "300 is out of range for
// uint8"... INTERNAL for a message field.
absl::Status SetScalarField(absl::string_view text,
                            google::protobuf::Message* msg,
                            const google::protobuf::FieldDescriptor* f);

}  // namespace ocx::spec

#endif  // OCX_SPEC_YAML_SCALAR_H_
