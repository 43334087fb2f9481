// Reads a dataset file's rows for ocx-task: JSON Lines, a JSON array (or
// the array under a split key of a top-level object) or CSV with a header,
// the same formats and rules partitioners/dataset_size.h counts, so a row's
// index here is the index the partitioner's ranges refer to. Ranges are
// applied with spec/test_range.h.
//
// Thread-safe: no shared state.
#ifndef OCX_TASK_DATASET_DATASET_READER_H_
#define OCX_TASK_DATASET_DATASET_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "ocx/v1/spec.pb.h"
#include "partitioners/dataset_size.h"

namespace ocx::task {

// One row: an object value (CSV cells are strings).
using Row = google::protobuf::Value;

// The rows of `text` in `format`; `json_split` is the key of the array when
// a JSON file holds an object. INVALID_ARGUMENT "line <n>: ..." (JSONL,
// CSV) or naming the split when malformed. Rows that are not objects are
// refused: columns are looked up by name.
absl::StatusOr<std::vector<Row>> ParseRows(absl::string_view text,
                                           partitioners::DatasetFormat format,
                                           absl::string_view json_split);

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

}  // namespace ocx::task

#endif  // OCX_TASK_DATASET_DATASET_READER_H_
