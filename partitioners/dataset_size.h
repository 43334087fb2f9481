// Dataset sizes for planning: how many samples each dataset of a spec has,
// counted from its file by the dataset library (datasets/sample_counter.h)
// or taken from the config's explicit `size`, and how many of them
// `reader_cfg.test_range` selects. The range is applied once, to the raw
// size (OpenCompass applied it a second time to a cached, already-ranged
// length). Counted sizes are cached by the daemon, keyed by the file's
// identity.
//
// Thread-safe: no shared state (files are read with plain POSIX calls).
#ifndef OCX_PARTITIONERS_DATASET_SIZE_H_
#define OCX_PARTITIONERS_DATASET_SIZE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::partitioners {

// The most samples one dataset may have: 2^53 - 1, the largest count a JSON
// number (task.json read by Python or JavaScript) still holds exactly.
inline constexpr int64_t kMaxDatasetSamples = (int64_t{1} << 53) - 1;

// A file's identity for the size cache.
struct FileIdentity {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// stat(2) of a regular file. FAILED_PRECONDITION naming `path` when it
// cannot be read or is not a regular file.
absl::StatusOr<FileIdentity> StatDatasetFile(const std::string& path);

// A counted size, as the cache stores it: keyed by (path, reader), valid
// while the file's size and mtime are unchanged. `reader` is
// datasets::ReaderKey.
struct CountedSize {
  std::string path;
  std::string reader;
  FileIdentity file;
  int64_t num_samples = 0;
};

// Returns the cached sample count of (path, reader) when it was counted for
// a file with this identity; nullopt otherwise.
using SizeCacheLookup = std::function<std::optional<int64_t>(
    const std::string& path, const std::string& reader,
    const FileIdentity& file)>;

struct ResolvedSizes {
  // Index-aligned with spec.datasets(). 0 means unknown (not counted).
  std::vector<int64_t> raw;       // before test_range
  std::vector<int64_t> selected;  // after test_range
  // Files counted now (cache misses), to be stored in the cache.
  std::vector<CountedSize> counted;
};

// The sizes of every dataset of `spec`. Explicit `size`s are always used;
// files are counted (through `lookup` first, when set) only when
// `count_files`. Errors, each naming the field:
//   INVALID_ARGUMENT  datasets[i].size: more than kMaxDatasetSamples
//   INVALID_ARGUMENT  datasets[i].path: required / relative / no samples /
//                     malformed (with file and line)
//   INVALID_ARGUMENT  datasets[i].format: cannot tell the format
//   FAILED_PRECONDITION datasets[i].path: cannot read <path>: ...
//   INVALID_ARGUMENT  datasets[i].reader_cfg.test_range: selects no samples
// A relative path is refused only when the file must be read: the daemon
// cannot know the client's directory.
absl::StatusOr<ResolvedSizes> ResolveDatasetSizes(
    const ocx::v1::EvaluationSpec& spec, bool count_files,
    const SizeCacheLookup& lookup);

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_DATASET_SIZE_H_
