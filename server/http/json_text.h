// JSON text for the web console's API: protobuf's JSON printer with the
// console's options, and the few plain values around messages. Everything
// it prints is safe to hand to a page: invalid UTF-8 becomes U+FFFD, and
// <, > and & appear only as \u003c, \u003e and \u0026.
//
// Thread-safe: pure functions.
#ifndef OCX_SERVER_HTTP_JSON_TEXT_H_
#define OCX_SERVER_HTTP_JSON_TEXT_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace ocx::server {

// `message` as compact JSON with proto field names, enums by name and zero
// values printed (the pages read fields without defaults of their own).
std::string MessageJson(const google::protobuf::Message& message);

// `text` as a JSON string literal.
std::string JsonString(absl::string_view text);

// An object of already encoded members: {"k1":v1,"k2":v2}.
std::string JsonObject(
    std::initializer_list<std::pair<absl::string_view, std::string>> members);

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_JSON_TEXT_H_
