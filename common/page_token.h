// Page tokens are opaque (AIP-158): web-safe base64 of a position in the
// list and a check over it and the request's `scope` (method and filters).
// A token edited by hand, made by another method, or sent with other
// filters than the ones it was made for is INVALID_ARGUMENT naming
// page_token; otherwise ReadPageToken returns the position.
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_PAGE_TOKEN_H_
#define OCX_COMMON_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx {

std::string MakePageToken(absl::string_view scope, absl::string_view position);
absl::StatusOr<std::string> ReadPageToken(absl::string_view token,
                                          absl::string_view scope);

}  // namespace ocx

#endif  // OCX_COMMON_PAGE_TOKEN_H_
