// Dataset sizes: how many samples a dataset has, counted from the dataset
// file itself (JSON Lines, JSON, CSV) or taken from the config's explicit
// `size`, and how many of them `reader_cfg.test_range` selects. The range is
// applied once, to the raw size (OpenCompass applied it a second time to a
// cached, already-ranged length).
//
// Counting rules, by format (the `format` field, else the file extension
// .jsonl / .json / .csv):
//   jsonl  one sample per non-blank line; each line must be one JSON value.
//   json   the length of the top-level array, or of the array under the
//          split key (reader_cfg.test_split, default "test") of a top-level
//          object.
//   csv    records after the header (RFC 4180: quoted fields may hold
//          commas, doubled quotes and newlines); blank lines are skipped.
// A UTF-8 byte-order mark at the start is ignored.
//
// Thread-safe: no shared state (files are read with plain POSIX calls).
#ifndef OCX_PARTITIONERS_DATASET_SIZE_H_
#define OCX_PARTITIONERS_DATASET_SIZE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::partitioners {

// The most samples one dataset may have: 2^53 - 1, the largest count a JSON
// number (task.json read by Python or JavaScript) still holds exactly.
inline constexpr int64_t kMaxDatasetSamples = (int64_t{1} << 53) - 1;

enum class DatasetFormat { kJsonl, kJson, kCsv };

// "jsonl", "json", "csv".
const char* FormatName(DatasetFormat format);

// The dataset's `format`, else its path's extension (.jsonl, .json, .csv;
// case-insensitive). INVALID_ARGUMENT (no field path) when neither says.
absl::StatusOr<DatasetFormat> ResolveFormat(const ocx::v1::DatasetConfig& d);

// What the count depends on besides the file: the format and, for JSON,
// the split key — "jsonl", "csv", "json:test". Part of the cache key.
std::string ReaderKey(const ocx::v1::DatasetConfig& d, DatasetFormat format);

// Incremental counters: Feed() the bytes in any chunking, then Finish().
// Errors are INVALID_ARGUMENT "line <n>: <problem>" (no file name).
class SampleCounter {
 public:
  virtual ~SampleCounter() = default;
  virtual absl::Status Feed(absl::string_view chunk) = 0;
  virtual absl::StatusOr<int64_t> Finish() = 0;
};
// `json_split`: the key of the array in a top-level JSON object.
std::unique_ptr<SampleCounter> MakeSampleCounter(DatasetFormat format,
                                                 absl::string_view json_split);

// Counts the samples in `data` (a whole file's contents).
absl::StatusOr<int64_t> CountSamplesInText(absl::string_view data,
                                           DatasetFormat format,
                                           absl::string_view json_split);

// A file's identity for the size cache.
struct FileIdentity {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// stat(2) of a regular file. FAILED_PRECONDITION naming `path` when it
// cannot be read or is not a regular file.
absl::StatusOr<FileIdentity> StatDatasetFile(const std::string& path);

// Counts the samples of the file at `path`, reading it in 1 MiB chunks.
// FAILED_PRECONDITION "cannot read <path>: ..." when it cannot be read;
// INVALID_ARGUMENT "<path>:<line>: <problem>" when it is malformed.
absl::StatusOr<int64_t> CountSamplesInFile(const std::string& path,
                                           DatasetFormat format,
                                           absl::string_view json_split);

// A counted size, as the cache stores it: keyed by (path, reader), valid
// while the file's size and mtime are unchanged.
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
