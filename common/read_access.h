// Whether a caller could read a file itself: ocxd may run as root on behalf
// of another user, and must not read (or count, or quote) a file for a
// caller who could not (docs/security.md, "Input limits").
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_READ_ACCESS_H_
#define OCX_COMMON_READ_ACCESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/identity.h"

namespace ocx {

// OK when `who` may read the file at `path` (absolute) by the permission
// bits: every directory on the way (as written, and after resolving
// symbolic links) searchable, and the file readable, by who's uid, primary
// and supplementary groups (owner, then group, then other bits, as the
// kernel checks them; root may read everything; ACLs are not consulted, so
// an ACL that grants more is not honoured). The file is never opened.
// PERMISSION_DENIED "<field>: <path> is not readable by user <name> (uid
// N)..." when it may not; a path that does not exist, or a component the
// caller may search but that is missing, is OK here (the reader reports it).
absl::Status CheckCallerMayRead(const Identity& who, const std::string& path,
                                absl::string_view field);

}  // namespace ocx

#endif  // OCX_COMMON_READ_ACCESS_H_
