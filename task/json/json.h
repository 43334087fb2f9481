// JSON for ocx-task: parsing into and printing from google.protobuf.Value
// (protobuf's JSON support, so no extra JSON library), plus the few helpers
// the task needs to read server responses and write OpenCompass's files.
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_JSON_JSON_H_
#define OCX_TASK_JSON_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace ocx::task {

// Parses any JSON text (object, array, string, number, literal).
// INVALID_ARGUMENT with protobuf's description of the problem.
absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text);

// Compact JSON. Integral numbers print without a fraction ("3", not "3.0").
std::string ToJson(const google::protobuf::Value& value);

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view s);

// The member `key` of an object value; nullptr when `value` is not an
// object or has no such member.
const google::protobuf::Value* Member(const google::protobuf::Value& value,
                                      absl::string_view key);

// How a dataset cell appears in a prompt: a string as itself, anything else
// as its JSON text ("3", "2.5", "true", "null").
std::string CellText(const google::protobuf::Value& value);

// The shortest text that reads back as `v`, as Python's repr writes a float
// (66.66666666666667; 3.0 prints "3.0"); null for NaN and infinities, which
// JSON cannot hold. For metrics, which OpenCompass writes as floats.
std::string JsonNumber(double v);

// Python's str() of a scalar JSON value, as OpenCompass compares golds: a
// string as is, an integral number without ".0" (JSON 3 was a Python int),
// other numbers as repr, true/false as True/False, null as None; objects
// and arrays as compact JSON.
std::string ScalarText(const google::protobuf::Value& v);

// At most the first `n` bytes of `s` for an error message, cut on a UTF-8
// character boundary, with "..." when cut.
std::string Excerpt(absl::string_view s, size_t n = 200);

}  // namespace ocx::task

#endif  // OCX_TASK_JSON_JSON_H_
