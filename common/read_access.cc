#include "common/read_access.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace ocx {
namespace {

// The permission bits of `st` that apply to `who`, as the kernel picks
// them (owner, else group, else other), shifted to the `other` position.
mode_t BitsFor(const Identity& who, const struct stat& st) {
  if (st.st_uid == who.uid) return (st.st_mode >> 6) & 7;
  if (st.st_gid == who.gid || who.InGroup(st.st_gid)) {
    return (st.st_mode >> 3) & 7;
  }
  return st.st_mode & 7;
}

// The first component of `path` `who` may not use: a directory it cannot
// search, or the file it cannot read. Empty when none.
std::string FirstDenied(const Identity& who, const std::string& path) {
  std::vector<size_t> ends;  // ends of each directory prefix
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] == '/') ends.push_back(i);
  }
  struct stat st;
  if (stat("/", &st) == 0 && (BitsFor(who, st) & 1) == 0) return "/";
  for (size_t end : ends) {
    const std::string dir = path.substr(0, end);
    if (stat(dir.c_str(), &st) != 0) return "";  // missing: reported later
    if (S_ISDIR(st.st_mode) && (BitsFor(who, st) & 1) == 0) return dir;
  }
  if (stat(path.c_str(), &st) != 0) return "";
  if ((BitsFor(who, st) & 4) == 0) return path;
  return "";
}

}  // namespace

absl::Status CheckCallerMayRead(const Identity& who, const std::string& path,
                                absl::string_view field) {
  if (who.uid == 0) return absl::OkStatus();
  std::string denied = FirstDenied(who, path);
  if (denied.empty()) {
    char resolved[PATH_MAX];
    if (realpath(path.c_str(), resolved) != nullptr && path != resolved) {
      denied = FirstDenied(who, resolved);
    }
  }
  if (denied.empty()) return absl::OkStatus();
  const std::string account = absl::StrCat(
      "user ", who.user.empty() ? "?" : who.user, " (uid ", who.uid, ")");
  return absl::PermissionDeniedError(absl::StrCat(
      field, ": ", path, " is not readable by ", account,
      denied == path ? ""
                     : absl::StrCat(": the directory ", denied,
                                    " is not searchable by it"),
      "; ocxd reads a file for a caller only when the caller could read it "
      "(make it readable, or set size)"));
}

}  // namespace ocx
