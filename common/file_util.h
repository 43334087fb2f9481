// Small POSIX file helpers with errno turned into absl::Status in one place.
// Thread-safe: no shared state.
#ifndef OCX_COMMON_FILE_UTIL_H_
#define OCX_COMMON_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace ocx {

// A Status for a failed system call: `<context>: <strerror(err)>`, with a
// code chosen by errno (NOT_FOUND for ENOENT, PERMISSION_DENIED for EACCES,
// ...).
absl::Status PosixError(absl::string_view context, int err);

// Reads a whole file. NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Reads `fd` to its end (not closed); `path` names it in errors.
absl::StatusOr<std::string> ReadFd(int fd, const std::string& path);

// What `parse` makes of the text of the file at `path`: ReadFile's errors,
// or `parse`'s prefixed with `path` ("<path>: <parse error>").
template <typename T>
absl::StatusOr<T> ParseFile(const std::string& path,
                            absl::StatusOr<T> (*parse)(absl::string_view)) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<T> parsed = parse(*text);
  if (!parsed.ok()) return Annotate(parsed.status(), path);
  return parsed;
}

// Writes `data` to `path` so that readers see the old file or the whole new
// one: write to a temporary beside it (mode 0640 less the umask), fsync if
// `sync`, rename.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data,
                             bool sync = false);

// mkdir -p with mode 0755. OK when the directory exists.
absl::Status MakeDirs(const std::string& path);

bool PathExists(const std::string& path);

// `path` made absolute against `base` (itself absolute); "." and ".."
// segments are removed lexically.
std::string AbsolutePath(absl::string_view path, absl::string_view base);

// Joins path segments with single slashes.
std::string JoinPath(absl::string_view a, absl::string_view b);

// The directory part of `path`: "a/b" → "a", "/a" → "/", "a" → ".".
std::string Dirname(absl::string_view path);

// The last `max_lines` lines of the file at `path`, read from its last
// `max_bytes` bytes (a cut first line is dropped), without a trailing
// newline; "" when the file is missing or empty. For failure reasons that
// quote a log.
std::string LastLines(const std::string& path, int max_lines,
                      int64_t max_bytes = 4096);

}  // namespace ocx

#endif  // OCX_COMMON_FILE_UTIL_H_
