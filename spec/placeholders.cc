#include "spec/placeholders.h"

namespace ocx::spec {

absl::Status CheckPlaceholders(absl::string_view arg) {
  return ::ocx::CheckPlaceholders(arg, kTaskPlaceholders);
}

}  // namespace ocx::spec
