// JSON text pieces for the files `ocx-task eval` writes: quoted strings,
// numbers, parsed values. Output keys keep the writer's order, which
// protobuf's Struct printer does not promise.
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_EVAL_JSON_TEXT_H_
#define OCX_TASK_EVAL_JSON_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace ocx::task::eval {

// `s` as a JSON string literal, quotes included. Bytes that are not valid
// UTF-8 are passed through unchanged.
std::string JsonQuote(absl::string_view s);

// The shortest text that reads back as `v` (Python's repr for finite
// values: 66.66666666666667, 3.0 prints "3.0"); null for NaN and
// infinities, which JSON cannot hold.
std::string JsonNumber(double v);

// A parsed value printed back as compact JSON.
std::string ValueToJson(const google::protobuf::Value& v);

// Parses JSON text into a Value; INVALID_ARGUMENT with the parser's message
// otherwise.
absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text);

// Python's str() of a scalar JSON value as OpenCompass compares golds: a
// string as is, an integral number without ".0" (JSON 3 was a Python int),
// other numbers as repr, true/false as True/False, null as None.
std::string ScalarText(const google::protobuf::Value& v);

}  // namespace ocx::task::eval

#endif  // OCX_TASK_EVAL_JSON_TEXT_H_
