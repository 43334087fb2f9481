// The default unix socket of ocxd — one rule for the daemon (where to
// listen) and the client (where to connect), so they always meet.
#ifndef OCX_COMMON_SOCKET_PATH_H_
#define OCX_COMMON_SOCKET_PATH_H_

#include <sys/types.h>

#include <string>

#include "absl/strings/string_view.h"

namespace ocx {

// $XDG_RUNTIME_DIR/ocx/ocxd.sock  when `xdg_runtime_dir` is absolute (an
//                                 empty or relative value is ignored, as the
//                                 XDG base directory spec says);
// /run/ocx/ocxd.sock              else for root (euid 0);
// /tmp/ocx-<euid>/ocxd.sock       otherwise.
std::string DefaultSocketPathFor(absl::string_view xdg_runtime_dir, uid_t euid);

// DefaultSocketPathFor() of this process's XDG_RUNTIME_DIR and euid.
std::string DefaultSocketPath();

}  // namespace ocx

#endif  // OCX_COMMON_SOCKET_PATH_H_
