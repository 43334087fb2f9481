// Whether files on disk are the outputs the store recorded for them: what
// reuse at submit (server/submission.cc) and re-scoring (server/rescore.h)
// both ask before they trust a file instead of making it again. An output
// matches when it exists as a regular file, a record of it exists, and
// both the fingerprint and the file's size and mtime are the recorded ones
// (a file rewritten since, by anything, does not match).
//
// Thread-compatible; the store is only read.
#ifndef OCX_SERVER_OUTPUT_CHECK_H_
#define OCX_SERVER_OUTPUT_CHECK_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "server/store/store.h"

namespace ocx::server {

enum class OutputVerdict {
  kMatches,
  // No regular file at the path.
  kMissing,
  // A file, but no task of this daemon recorded it.
  kNoRecord,
  // Recorded, but rewritten since (size or mtime differ).
  kChanged,
  // Recorded with another fingerprint: made from another config.
  kOtherFingerprint,
};

// Words for a message: "is missing", "was changed since it was made", ...
const char* DescribeVerdict(OutputVerdict verdict);

class OutputCheck {
 public:
  // Stats each absolute path and reads the records of those that exist, in
  // one read of the store. Errors: the store's.
  static absl::StatusOr<OutputCheck> Load(const std::vector<std::string>& paths,
                                          store::Store* store);

  // The verdict on `path` (one of those loaded) for `fingerprint`.
  OutputVerdict Check(const std::string& path,
                      const std::string& fingerprint) const;

 private:
  struct Found {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    std::optional<store::OutputRecord> record;
  };
  absl::flat_hash_map<std::string, Found> found_;  // path -> file and record
};

}  // namespace ocx::server

#endif  // OCX_SERVER_OUTPUT_CHECK_H_
