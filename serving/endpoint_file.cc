// TEMP: a minimal endpoint file for the prober branch until the serving
// branch (which owns this file) lands; dropped at merge.
#include "serving/endpoint_file.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::serving {

std::string EndpointFileIn(const std::string& attempt_dir) {
  return JoinPath(attempt_dir, "endpoint.json");
}

absl::Status WriteEndpointFile(const std::string& path, const Endpoint& e) {
  google::protobuf::Struct s;
  (*s.mutable_fields())["host"].set_string_value(e.host);
  (*s.mutable_fields())["port"].set_number_value(e.port);
  (*s.mutable_fields())["pid"].set_number_value(static_cast<double>(e.pid));
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(s, &json).ok()) {
    return absl::InternalError("endpoint file: cannot encode JSON");
  }
  return WriteFileAtomic(path, json);
}

absl::StatusOr<std::optional<Endpoint>> ReadEndpointFile(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return std::optional<Endpoint>();
  if (!text.ok()) return text.status();
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(*text, &s).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a JSON object {\"host\", \"port\", \"pid\"}"));
  }
  const auto& f = s.fields();
  auto host = f.find("host");
  auto port = f.find("port");
  if (host == f.end() || port == f.end() ||
      host->second.string_value().empty() || port->second.number_value() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": needs \"host\" and a positive \"port\""));
  }
  Endpoint e;
  e.host = host->second.string_value();
  e.port = static_cast<int>(port->second.number_value());
  auto pid = f.find("pid");
  if (pid != f.end()) e.pid = static_cast<int64_t>(pid->second.number_value());
  return std::optional<Endpoint>(e);
}

std::string BaseUrl(const Endpoint& e, const std::string& api_path) {
  return absl::StrCat("http://", e.host, ":", e.port, api_path);
}

}  // namespace ocx::serving
