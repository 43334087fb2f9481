// Dataset file formats: which format a dataset's file is in (the config's
// `format`, else the file's extension) and which array of a JSON file holds
// its samples (reader_cfg.test_split / train_split). The counter
// (sample_counter.h) and the row reader (row_reader.h) resolve a dataset
// through these functions only, so that both read the same file the same
// way.
//
// Thread-safe: no shared state.
#ifndef OCX_DATASETS_FORMAT_H_
#define OCX_DATASETS_FORMAT_H_

#include <string>

#include "absl/status/statusor.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::datasets {

enum class DatasetFormat { kJsonl, kJson, kCsv };

// "jsonl", "json", "csv".
const char* FormatName(DatasetFormat format);

// The dataset's `format`, else its path's extension (.jsonl, .json, .csv;
// case-insensitive). INVALID_ARGUMENT (no field path) when neither says.
absl::StatusOr<DatasetFormat> ResolveFormat(const ocx::v1::DatasetConfig& d);

// The key of the array of test samples in a JSON file holding an object:
// reader_cfg.test_split, default "test".
std::string TestSplit(const ocx::v1::DatasetConfig& d);
// The same for in-context examples: reader_cfg.train_split, default "train".
std::string TrainSplit(const ocx::v1::DatasetConfig& d);

// What the test count depends on besides the file: the format and, for
// JSON, the split key — "jsonl", "csv", "json:test". Part of the key of the
// dataset sizes cache.
std::string ReaderKey(const ocx::v1::DatasetConfig& d, DatasetFormat format);

}  // namespace ocx::datasets

#endif  // OCX_DATASETS_FORMAT_H_
