#include "common/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fnv1a.h"

namespace ocx {
namespace {

std::string PageTokenCheck(absl::string_view scope,
                           absl::string_view position) {
  Fnv1a64 h;
  h.UpdateField("ocx page token v1");
  h.UpdateField(scope);
  h.UpdateField(position);
  return FingerprintHex(h.value());
}

}  // namespace

std::string MakePageToken(absl::string_view scope, absl::string_view position) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(position, "/", PageTokenCheck(scope, position)));
}

absl::StatusOr<std::string> ReadPageToken(absl::string_view token,
                                          absl::string_view scope) {
  std::string raw;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    size_t slash = raw.rfind('/');
    if (slash != std::string::npos) {
      std::string position = raw.substr(0, slash);
      if (raw.substr(slash + 1) == PageTokenCheck(scope, position)) {
        return position;
      }
    }
  }
  return absl::InvalidArgumentError(
      "page_token: not a token this method returned for these filters (was "
      "it edited, or a filter changed since?); list again without "
      "page_token");
}

}  // namespace ocx
