// Reads a dataset's rows for ocx-task with the scanner the planner counts
// with (scanner.h), so that a row's index here is the index the
// partitioner's ranges refer to, and a file the planner accepts parses
// here the same way (a malformed file gets the same message from both).
// Beyond the counter's rules, a row must be a row of columns, because
// columns are looked up by name: a JSON sample that is not an object, or a
// CSV record whose field count differs from the header's, is refused here
// with its line. Ranges are applied with spec/test_range.h.
//
// Thread-safe: no shared state.
#ifndef OCX_DATASETS_ROW_READER_H_
#define OCX_DATASETS_ROW_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datasets/format.h"
#include "google/protobuf/struct.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::datasets {

// One row: an object value (CSV cells are strings).
using Row = google::protobuf::Value;

// The rows of `text` in `format`; `json_split` is the key of the array when
// a JSON file holds an object. INVALID_ARGUMENT "line <n>: ..." when
// malformed (the counter's message) or when a sample is not a row.
absl::StatusOr<std::vector<Row>> ParseRows(absl::string_view text,
                                           DatasetFormat format,
                                           absl::string_view json_split);

// The rows of the file at `path`. Errors name the file as ScanFile does:
// "cannot read <path>: ..." (NOT_FOUND when missing) or INVALID_ARGUMENT
// "<path>:<line>: <problem> (<format>)". `split_setting`: the config field
// that names `json_split`, for messages.
absl::StatusOr<std::vector<Row>> ReadRowsFromFile(
    const std::string& path, DatasetFormat format, absl::string_view json_split,
    absl::string_view split_setting = "reader_cfg.test_split");

// The indices (into a sequence of `size` rows) that the range text selects,
// in order. A count or ratio takes the first rows (OpenCompass samples them
// with a seeded shuffle; here the choice is the leading rows, so that the
// parts of a split dataset stay contiguous). INVALID_ARGUMENT for a
// malformed range.
absl::StatusOr<std::vector<int64_t>> SelectIndices(absl::string_view range,
                                                   int64_t size);

// The test rows of `dataset`: its file's rows (JSON: under
// reader_cfg.test_split, default "test", when the file holds an object)
// selected by reader_cfg.test_range. Errors name the dataset's file or field.
absl::StatusOr<std::vector<Row>> LoadTestRows(
    const ocx::v1::DatasetConfig& dataset);

// The rows in-context examples come from (FixKRetriever): the array under
// reader_cfg.train_split (default "train") when the JSON file holds an
// object, else the whole file; selected by reader_cfg.train_range.
absl::StatusOr<std::vector<Row>> LoadTrainRows(
    const ocx::v1::DatasetConfig& dataset);

}  // namespace ocx::datasets

#endif  // OCX_DATASETS_ROW_READER_H_
