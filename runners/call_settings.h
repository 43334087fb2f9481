// The daemon options every command-line backend shares, with one name per
// idea (docs/runners.md): poll_interval_ms, call_timeout_ms,
// call_initial_backoff_ms, call_max_backoff_ms, max_resubmits and
// max_parallel. A backend's config module (runners/<backend>/config.cc)
// checks and converts them here, so that each idea is checked and defaulted
// the same way in every `<section>:` of the daemon config.
//
// Header only (templates over the section's proto message and the runner's
// options struct); needs nothing but common/ and abseil.
#ifndef OCX_RUNNERS_CALL_SETTINGS_H_
#define OCX_RUNNERS_CALL_SETTINGS_H_

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/field_check.h"

namespace ocx::runners {

// "<section>.<field>: must be >= 0, got -1" for the shared numbers, then
// "<section>.call_max_backoff_ms: must be >= call_initial_backoff_ms (...)"
// when both are set.
template <typename Settings>
absl::Status ValidateCallSettings(const std::string& section,
                                  const Settings& s) {
  const std::pair<const char*, int64_t> non_negative[] = {
      {"poll_interval_ms", s.poll_interval_ms()},
      {"call_timeout_ms", s.call_timeout_ms()},
      {"call_initial_backoff_ms", s.call_initial_backoff_ms()},
      {"call_max_backoff_ms", s.call_max_backoff_ms()},
      {"max_resubmits", s.max_resubmits()},
      {"max_parallel", s.max_parallel()},
  };
  for (const auto& [name, v] : non_negative) {
    absl::Status st = field::CheckAtLeastZero(field::Sub(section, name), v);
    if (!st.ok()) return st;
  }
  if (s.call_initial_backoff_ms() > 0 && s.call_max_backoff_ms() > 0 &&
      s.call_max_backoff_ms() < s.call_initial_backoff_ms()) {
    return field::Bad(field::Sub(section, "call_max_backoff_ms"),
                      absl::StrCat("must be >= call_initial_backoff_ms (",
                                   s.call_initial_backoff_ms(), "), got ",
                                   s.call_max_backoff_ms()));
  }
  return absl::OkStatus();
}

// Copies the shared settings that are set into `o`; unset ones (0, or
// max_resubmits absent) keep o's defaults. call_max_backoff_ms is raised to
// call_initial_backoff_ms when lower.
template <typename Settings, typename Options>
void ApplyCallSettings(const Settings& s, Options* o) {
  if (s.poll_interval_ms() > 0) o->poll_interval_ms = s.poll_interval_ms();
  if (s.call_timeout_ms() > 0) o->call_timeout_ms = s.call_timeout_ms();
  if (s.call_initial_backoff_ms() > 0) {
    o->call_initial_backoff_ms = s.call_initial_backoff_ms();
  }
  if (s.call_max_backoff_ms() > 0) {
    o->call_max_backoff_ms = s.call_max_backoff_ms();
  }
  o->call_max_backoff_ms =
      std::max(o->call_max_backoff_ms, o->call_initial_backoff_ms);
  if (s.has_max_resubmits()) o->max_resubmits = s.max_resubmits();
  o->max_parallel = s.max_parallel();
}

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_CALL_SETTINGS_H_
