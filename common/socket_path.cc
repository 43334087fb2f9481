#include "common/socket_path.h"

#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ocx {

std::string DefaultSocketPathFor(absl::string_view xdg_runtime_dir,
                                 uid_t euid) {
  if (!xdg_runtime_dir.empty() && xdg_runtime_dir[0] == '/') {
    std::string dir(xdg_runtime_dir);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return JoinPath(JoinPath(dir, "ocx"), "ocxd.sock");
  }
  if (euid == 0) return "/run/ocx/ocxd.sock";
  return absl::StrCat("/tmp/ocx-", euid, "/ocxd.sock");
}

std::string DefaultSocketPath() {
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  return DefaultSocketPathFor(xdg == nullptr ? "" : xdg, geteuid());
}

}  // namespace ocx
