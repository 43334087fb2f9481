#include "server/confinement.h"

#include <limits.h>
#include <stdlib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/file_util.h"
#include "common/identity.h"

namespace ocx::server {
namespace {

// Directories no evaluation may write into (and their insides).
constexpr const char* kSystemDirs[] = {"/etc",  "/usr",  "/bin",  "/sbin",
                                       "/boot", "/dev",  "/proc", "/sys",
                                       "/run",  "/root", "/var"};

bool Under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || absl::StartsWith(path, absl::StrCat(dir, "/"));
}

}  // namespace

std::string ResolvePath(const std::string& path) {
  std::string lexical = AbsolutePath(path, "/");
  std::string rest;
  std::string existing = lexical;
  while (true) {
    char buf[PATH_MAX];
    if (realpath(existing.c_str(), buf) != nullptr) {
      return rest.empty() ? std::string(buf) : JoinPath(buf, rest);
    }
    if (existing == "/") return lexical;
    const size_t slash = existing.rfind('/');
    const std::string last = existing.substr(slash + 1);
    rest = rest.empty() ? last : JoinPath(last, rest);
    existing = slash == 0 ? "/" : existing.substr(0, slash);
  }
}

bool IsSystemPath(const std::string& resolved,
                  const std::vector<std::string>& allowed_roots) {
  if (resolved == "/") return true;
  if (absl::StartsWith(resolved, "/lib")) {
    const size_t end = resolved.find('/', 1);
    // /lib, /lib64, /lib32, /libx32 and their insides.
    if (end == std::string::npos || end > 1) return true;
  }
  for (const char* dir : kSystemDirs) {
    if (!Under(resolved, dir)) continue;
    if (std::string(dir) != "/var" || resolved == "/var") return true;
    // Under /var: only inside a root the config allows (a default root
    // such as /var/lib/ocx/work/<user>).
    for (const std::string& root : allowed_roots) {
      if (root != "/var" && Under(resolved, root) && Under(root, "/var")) {
        return false;
      }
    }
    return true;
  }
  return false;
}

std::vector<std::string> RootsFor(const std::vector<std::string>& roots,
                                  const ocx::v1::Owner& owner) {
  std::vector<std::string> out;
  const std::string home = HomeDirOf(static_cast<uid_t>(owner.uid()));
  for (const std::string& root : roots) {
    if (absl::StrContains(root, "{home}") && home.empty()) continue;
    std::string expanded =
        absl::StrReplaceAll(root, {{"{user}", owner.user()}, {"{home}", home}});
    if (expanded.empty() || expanded[0] != '/') continue;
    std::string resolved = ResolvePath(expanded);
    // "/" or "/etc" as a root would open the system: never a root.
    if (resolved == "/" || resolved == "/var" ||
        (IsSystemPath(resolved) && !Under(resolved, "/var"))) {
      continue;
    }
    out.push_back(std::move(resolved));
  }
  return out;
}

absl::StatusOr<std::string> ConfineWorkDir(
    const std::string& work_dir, const std::vector<std::string>& roots) {
  const std::string resolved = ResolvePath(work_dir);
  const std::string allowed =
      roots.empty()
          ? "none are configured (confinement.work_dir_roots)"
          : absl::StrCat("allowed roots: ", absl::StrJoin(roots, ", "));
  const std::string shown =
      resolved == AbsolutePath(work_dir, "/")
          ? absl::StrCat("\"", work_dir, "\"")
          : absl::StrCat("\"", work_dir, "\" (resolves to ", resolved, ")");
  if (IsSystemPath(resolved, roots)) {
    return absl::PermissionDeniedError(
        absl::StrCat("work_dir: ", shown, " is a system directory; ", allowed));
  }
  for (const std::string& root : roots) {
    if (Under(resolved, root)) return resolved;
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "work_dir: ", shown,
      " is not under a directory this ocxd may write for you; ", allowed));
}

}  // namespace ocx::server
