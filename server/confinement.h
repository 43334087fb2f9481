// Confinement of an evaluation's work_dir (docs/security.md, "Run as owner
// and confinement"): where a daemon, possibly root, may be told to write.
// A work_dir must resolve — symbolic links followed — to a directory under
// one of the configured roots, and never into a system directory, whatever
// the roots say.
//
// Thread-safe: no shared state (reads the file system and the account
// database).
#ifndef OCX_SERVER_CONFINEMENT_H_
#define OCX_SERVER_CONFINEMENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::server {

// `path` (absolute) with every symbolic link of its existing part resolved
// (realpath of the deepest existing ancestor, then the rest, which cannot
// hold a link yet). "." and ".." are removed.
std::string ResolvePath(const std::string& path);

// Whether `resolved` is, or lies under, a system directory: /, /etc, /usr,
// /bin, /sbin, /lib*, /boot, /dev, /proc, /sys, /run, /var, /root. Under
// /var only /var itself and what no root allows count: pass the roots
// (resolved) that are allowed.
bool IsSystemPath(const std::string& resolved,
                  const std::vector<std::string>& allowed_roots = {});

// The roots for `owner`: "{user}" and "{home}" replaced by the owner's
// name and home directory, resolved; roots that are system directories
// themselves (such as "/") are dropped.
std::vector<std::string> RootsFor(const std::vector<std::string>& roots,
                                  const ocx::v1::Owner& owner);

// The resolved work_dir when `work_dir` (absolute) resolves under one of
// `roots` (from RootsFor); PERMISSION_DENIED naming work_dir and the
// allowed roots otherwise (a system directory, a path that leaves its root
// through a symbolic link, a path outside every root).
absl::StatusOr<std::string> ConfineWorkDir(
    const std::string& work_dir, const std::vector<std::string>& roots);

}  // namespace ocx::server

#endif  // OCX_SERVER_CONFINEMENT_H_
