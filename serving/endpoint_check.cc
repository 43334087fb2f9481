#include "serving/endpoint_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::serving {
namespace {

// A model list is small; a server answering with more is cut off here and
// its list counts as unread.
constexpr size_t kMaxListBytes = 1 << 20;
// Names a reason quotes at most; the rest are counted.
constexpr size_t kMaxNamesQuoted = 20;

// The "id" of each entry of {"data": [...]}; false when `body` is not such
// a list.
bool ParseModelList(const std::string& body, std::vector<std::string>* out) {
  google::protobuf::Struct list;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(body, &list, options).ok()) {
    return false;
  }
  auto data = list.fields().find("data");
  if (data == list.fields().end() || !data->second.has_list_value()) {
    return false;
  }
  for (const google::protobuf::Value& entry :
       data->second.list_value().values()) {
    if (!entry.has_struct_value()) continue;
    auto id = entry.struct_value().fields().find("id");
    if (id != entry.struct_value().fields().end() &&
        id->second.has_string_value()) {
      out->push_back(id->second.string_value());
    }
  }
  return true;
}

}  // namespace

std::string UserEndpointOf(const ocx::v1::ModelConfig& model) {
  if (model.has_serve()) return "";
  return std::string(absl::StripSuffix(model.openai_api_base(), "/"));
}

std::string RequestedModelOf(const ocx::v1::ModelConfig& model) {
  return model.path().empty() ? model.abbr() : model.path();
}

EndpointCheck CheckEndpoint(HttpProbe& http, const std::string& base_url,
                            int timeout_ms) {
  EndpointCheck check;
  check.base_url = base_url;
  const ProbeAnswer answer =
      http.Get(absl::StrCat(base_url, "/models"), timeout_ms, kMaxListBytes);
  check.latency_ms = answer.latency_ms;
  if (!answer.answered) {
    check.detail = answer.error;
    return check;
  }
  check.reachable = answer.status < 500;
  if (answer.status == 401 || answer.status == 403) {
    check.detail = absl::StrCat("HTTP ", answer.status,
                                " (needs the API key; model list not checked)");
  } else if (answer.status != 200) {
    check.detail = absl::StrCat("HTTP ", answer.status);
  } else if (answer.body.size() >= kMaxListBytes ||
             !ParseModelList(answer.body, &check.models)) {
    check.detail = "GET /models answered without a model list";
  } else {
    check.listed = true;
  }
  return check;
}

std::string ModelMissing(const EndpointCheck& check, const std::string& model) {
  if (!check.listed || std::find(check.models.begin(), check.models.end(),
                                 model) != check.models.end()) {
    return "";
  }
  std::string names;
  if (check.models.empty()) {
    names = "no models";
  } else {
    const size_t shown = std::min(check.models.size(), kMaxNamesQuoted);
    names =
        absl::StrJoin(check.models.begin(), check.models.begin() + shown, ", ");
    if (shown < check.models.size()) {
      absl::StrAppend(&names, " and ", check.models.size() - shown, " more");
    }
  }
  return absl::StrCat("model \"", model, "\" is not served at ", check.base_url,
                      ", which serves: ", names);
}

}  // namespace ocx::serving
