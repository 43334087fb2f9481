// Files and directories a root daemon makes for another account (an
// evaluation's owner, docs/security.md "Run as owner and confinement"):
// created with explicit modes (never left to the umask), handed to the
// owner with fchown, and reached without following a symbolic link in any
// component, so that an owner who swaps a directory of their work dir for
// a link to /etc cannot make the daemon write there.
//
// With `FileOwner::kKeep` the owner is left as created and links are
// followed as usual (a daemon that runs as the only user has nothing to
// defend against).
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_OWNED_FILES_H_
#define OCX_COMMON_OWNED_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx {

// Modes of what ocx creates: directories 0750, files 0640 (group: the
// owner's primary group), secrets 0600.
inline constexpr mode_t kDirMode = 0750;
inline constexpr mode_t kFileMode = 0640;
inline constexpr mode_t kSecretMode = 0600;

// Who new files and directories belong to.
struct FileOwner {
  static constexpr int64_t kKeep = -1;
  int64_t uid = kKeep;
  int64_t gid = kKeep;

  bool keep() const { return uid == kKeep; }
};

// mkdir -p `path` (absolute). Directories made here get `mode` and
// `owner`; existing ones are left alone. Unless owner.keep(), every
// component is opened with O_NOFOLLOW: a symbolic link anywhere in `path`
// is FAILED_PRECONDITION naming it.
absl::Status MakeDirsFor(const std::string& path, const FileOwner& owner,
                         mode_t mode = kDirMode);

// open(path, flags | O_CLOEXEC | O_NOFOLLOW, mode) with every directory of
// `path` reached without following links (unless owner.keep()); a file it
// creates gets `mode` exactly and `owner`. Returns the descriptor.
absl::StatusOr<int> OpenFor(const std::string& path, int flags, mode_t mode,
                            const FileOwner& owner);

// WriteFileAtomic (temporary + rename) through OpenFor: the file ends up
// with `mode` and `owner`.
absl::Status WriteFileAtomicFor(const std::string& path, absl::string_view data,
                                mode_t mode, const FileOwner& owner);

}  // namespace ocx

#endif  // OCX_COMMON_OWNED_FILES_H_
