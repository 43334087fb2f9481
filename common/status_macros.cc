#include "common/status_macros.h"

#include "absl/strings/str_cat.h"

namespace ocx {

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(),
                   absl::StrCat(context, ": ", status.message()));
  // Payloads carry machine-readable detail (task/model's TaskError kind):
  // context must not lose it.
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) {
        out.SetPayload(url, payload);
      });
  return out;
}

}  // namespace ocx
