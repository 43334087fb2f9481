// The one parser of dataset files. A scanner takes a file's bytes in any
// chunking and checks them against the format's rules, counting samples:
//   jsonl  one sample per non-blank line; each line must be one JSON value.
//   json   the elements of the top-level array, or of the array under the
//          split key of a top-level object.
//   csv    records after the header (RFC 4180: quoted fields may hold
//          commas, doubled quotes and newlines; a quote inside an unquoted
//          field is kept, as Python's csv module does); blank lines are
//          skipped.
// A UTF-8 byte-order mark at the start is ignored. A malformed file is
// INVALID_ARGUMENT "line <n>: <problem>".
//
// Given a ScannedRows, a scanner also keeps each sample as a row (the row
// reader); without one it keeps nothing but a few counters and at most
// 1 KiB of the current token (the counter: constant memory, any file size).
// Counting and reading run the same code, so they agree on what a sample is
// and on which files are malformed, with the same messages.
//
// Thread-compatible: one scanner per file.
#ifndef OCX_DATASETS_SCANNER_H_
#define OCX_DATASETS_SCANNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datasets/format.h"
#include "google/protobuf/struct.pb.h"

namespace ocx::datasets {

// Incremental scanning: Feed() the bytes in any chunking, then Finish(),
// which returns the number of samples.
class SampleScanner {
 public:
  virtual ~SampleScanner() = default;
  virtual absl::Status Feed(absl::string_view chunk) = 0;
  virtual absl::StatusOr<int64_t> Finish() = 0;
};

// The samples kept by a scanner, as rows of columns: JSON values as they
// are, CSV records as objects of strings keyed by the header.
struct ScannedRows {
  std::vector<google::protobuf::Value> rows;
  // The first sample that is well-formed but not a row of columns (a JSON
  // value that is not an object; a CSV record with more or fewer fields
  // than the header): INVALID_ARGUMENT "line <n>: ...". Such a sample is
  // still a sample (it is counted); only a reader that looks columns up by
  // name refuses it.
  absl::Status not_a_row;
};

// `json_split`: the key of the array in a top-level JSON object, and
// `split_setting` the config field that names it (for messages). `rows`:
// where to keep the samples, or nullptr to only count.
std::unique_ptr<SampleScanner> MakeScanner(
    DatasetFormat format, absl::string_view json_split, ScannedRows* rows,
    absl::string_view split_setting = "reader_cfg.test_split");

// Scans the file at `path` in 1 MiB reads. Errors name the file:
//   "cannot read <path>: <strerror>" with the code errno suggests
//   (NOT_FOUND for a missing file);
//   INVALID_ARGUMENT "<path>:<line>[:<column>]: <problem> (<format>)" when
//   malformed, never quoting the file's content.
absl::StatusOr<int64_t> ScanFile(const std::string& path, DatasetFormat format,
                                 SampleScanner* scanner);

// Implementation details shared by the scanners.

// "line <n>: <problem>" as INVALID_ARGUMENT.
absl::Status LineError(int64_t line, absl::string_view problem);

// "line <n>:<column>: <problem>" as INVALID_ARGUMENT; column counts bytes
// from 1.
absl::Status PositionError(int64_t line, int64_t column,
                           absl::string_view problem);

// A scanner's INVALID_ARGUMENT "line <n>[:<column>]: <problem>" as ScanFile
// words it: "<path>:<n>[:<column>]: <problem> (<format>)". Problems never
// quote the file's content (only JSON punctuation, and names the spec
// gave): the daemon reads files for callers who may not read them.
absl::Status NameTheFile(const std::string& path, DatasetFormat format,
                         const absl::Status& status);

// Skips a UTF-8 byte-order mark at the start of a file.
class BomSkipper {
 public:
  enum class Result { kSkip, kByte, kBrokenBom };
  // kSkip: `c` belongs to the mark; kByte: `c` is content; kBrokenBom: the
  // file starts with part of a mark and then `c` (content).
  Result Next(char c);

 private:
  bool at_start_ = true;
  size_t seen_ = 0;
};

}  // namespace ocx::datasets

#endif  // OCX_DATASETS_SCANNER_H_
