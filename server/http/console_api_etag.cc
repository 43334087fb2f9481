#include "server/http/console_api_etag.h"

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ocx::server {
namespace {

std::string Instance() {
  std::random_device random;
  return absl::StrCat(absl::Hex(random()), absl::Hex(random()));
}

}  // namespace

EventTags::EventTags(store::Store* store)
    : store_(store), instance_(Instance()) {}

std::string EventTags::Tag(absl::string_view variant, int64_t seq) const {
  return absl::StrCat("\"ocx.", instance_, ".", variant, ".", seq, "\"");
}

std::optional<std::string> EventTags::Current(
    const std::string& eval_id, absl::string_view variant,
    absl::string_view if_none_match) const {
  const std::string prefix =
      absl::StrCat("\"ocx.", instance_, ".", variant, ".");
  for (absl::string_view tag : absl::StrSplit(if_none_match, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    absl::ConsumePrefix(&tag, "W/");
    absl::string_view seq_text = tag;
    if (!absl::ConsumePrefix(&seq_text, prefix) ||
        !absl::ConsumeSuffix(&seq_text, "\"")) {
      continue;
    }
    int64_t seq = 0;
    if (!absl::SimpleAtoi(seq_text, &seq) || seq < 0) continue;
    if (!store_->MayHaveEventsAfter(eval_id, seq)) return std::string(tag);
  }
  return std::nullopt;
}

}  // namespace ocx::server
