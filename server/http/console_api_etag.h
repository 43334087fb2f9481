// Entity tags (ETag / If-None-Match) for the web console's answers that
// change only when their evaluation gets an event: every change of an
// evaluation's state or of one of its tasks' state appends one
// (server/dispatcher), so an answer read at the evaluation's
// last_event_sequence S stays what it was while the evaluation has no event
// after S. The store answers that from memory (Store::MayHaveEventsAfter),
// so an unchanged page costs its poller no read beyond authorization.
//
// A tag is "ocx.<instance>.<variant>.<S>": `variant` names what the answer
// holds (the same evaluation with or without its spec, one page of its
// tasks, ...) and `instance` is drawn when ocxd starts, so a tag from an
// earlier ocxd, whose store may have been replaced since, never matches.
//
// Thread-safe: immutable after construction; the store's check locks.
#ifndef OCX_SERVER_HTTP_CONSOLE_API_ETAG_H_
#define OCX_SERVER_HTTP_CONSOLE_API_ETAG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "server/store/store.h"

namespace ocx::server {

class EventTags {
 public:
  explicit EventTags(store::Store* store);

  // The tag of an answer of `variant` read at event sequence `seq`.
  std::string Tag(absl::string_view variant, int64_t seq) const;

  // The tag in `if_none_match` (an If-None-Match header: one or more tags,
  // comma-separated, weak or strong) of `variant` for evaluation `eval_id`
  // that is still current: no event of the evaluation after its sequence.
  // nullopt when none is.
  std::optional<std::string> Current(const std::string& eval_id,
                                     absl::string_view variant,
                                     absl::string_view if_none_match) const;

 private:
  store::Store* const store_;
  const std::string instance_;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_CONSOLE_API_ETAG_H_
