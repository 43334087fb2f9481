#include "serving/endpoint_file.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::serving {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;

// The whole number in fields[name], within [lo, hi].
absl::StatusOr<int64_t> WholeNumber(const Struct& s, const std::string& name,
                                    double lo, double hi) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || it->second.kind_case() != Value::kNumberValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" must be a number"));
  }
  const double v = it->second.number_value();
  if (!(v >= lo && v <= hi) || std::floor(v) != v) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" must be a whole number in ", lo, "..", hi,
                     ", got ", v));
  }
  return static_cast<int64_t>(v);
}

absl::StatusOr<Endpoint> Parse(absl::string_view text) {
  Struct s;
  google::protobuf::util::JsonParseOptions options;
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(text),
                                                            &s, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", parsed.message().as_string()));
  }
  Endpoint e;
  auto host = s.fields().find("host");
  if (host == s.fields().end() ||
      host->second.kind_case() != Value::kStringValue ||
      host->second.string_value().empty()) {
    return absl::InvalidArgumentError("\"host\" must be a non-empty string");
  }
  e.host = host->second.string_value();
  absl::StatusOr<int64_t> port = WholeNumber(s, "port", 1, 65535);
  if (!port.ok()) return port.status();
  e.port = static_cast<int>(*port);
  // pids fit in 2^22 on Linux; any whole non-negative double is accepted.
  absl::StatusOr<int64_t> pid = WholeNumber(s, "pid", 0, 9007199254740992.0);
  if (!pid.ok()) return pid.status();
  e.pid = *pid;
  return e;
}

}  // namespace

std::string EndpointFileIn(const std::string& attempt_dir) {
  return JoinPath(attempt_dir, "endpoint.json");
}

absl::Status WriteEndpointFile(const std::string& path, const Endpoint& e) {
  Struct s;
  (*s.mutable_fields())["host"].set_string_value(e.host);
  (*s.mutable_fields())["port"].set_number_value(e.port);
  (*s.mutable_fields())["pid"].set_number_value(static_cast<double>(e.pid));
  std::string json;
  auto printed = google::protobuf::util::MessageToJsonString(s, &json);
  if (!printed.ok()) {
    return absl::InternalError(absl::StrCat(
        path, ": cannot print endpoint: ", printed.message().as_string()));
  }
  json.push_back('\n');
  return WriteFileAtomic(path, json, /*sync=*/true);
}

absl::StatusOr<std::optional<Endpoint>> ReadEndpointFile(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  if (!text.ok()) return text.status();
  absl::StatusOr<Endpoint> e = Parse(*text);
  if (!e.ok()) return Annotate(e.status(), path);
  return std::optional<Endpoint>(*std::move(e));
}

std::string BaseUrl(const Endpoint& e, const std::string& api_path) {
  return absl::StrCat("http://", e.host, ":", e.port, api_path);
}

}  // namespace ocx::serving
