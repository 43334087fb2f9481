// TokenFile: the bearer tokens ocxd accepts on TCP, stored hashed. Each
// line of the file is "<user> <sha256 hex of the token>"; blank lines and
// lines starting with '#' are ignored. A client sends the token itself as
// `authorization: Bearer <token>`; UserOf hashes it and compares the hash
// with every entry in constant time, so neither the file nor the timing of
// a refusal gives a token away.
//
// Load refuses a file that group or others may write (anyone who can add a
// line can act as any user), naming the path and the chmod that fixes it.
// The file is read once, at start; restart ocxd after changing it.
//
// Thread-safe after Load: UserOf is const.
#ifndef OCX_SERVER_DAEMON_TOKEN_FILE_H_
#define OCX_SERVER_DAEMON_TOKEN_FILE_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::daemon {

// Lowercase hex SHA-256 of `data`, as the token file stores it
// (`printf %s TOKEN | sha256sum` gives the same).
std::string Sha256Hex(absl::string_view data);

class TokenFile {
 public:
  // INVALID_ARGUMENT with path:line for a malformed line;
  // FAILED_PRECONDITION for a group/world-writable file; the read error
  // otherwise.
  static absl::StatusOr<TokenFile> Load(const std::string& path);
  // The same from text (no mode check); `path` only names it in errors.
  static absl::StatusOr<TokenFile> Parse(absl::string_view text,
                                         const std::string& path);

  // The user `token` belongs to; UNAUTHENTICATED when no entry matches.
  absl::StatusOr<std::string> UserOf(absl::string_view token) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string user;
    std::array<unsigned char, 32> hash;
  };
  std::vector<Entry> entries_;
};

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_TOKEN_FILE_H_
