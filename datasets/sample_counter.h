// Counting a dataset's samples (JSON Lines, JSON, CSV) with the rules of
// scanner.h, in constant memory: the planner sizes datasets with it before
// any task runs, and the row reader (row_reader.h) reads the same samples
// with the same scanner.
//
// Thread-safe: no shared state (files are read with plain POSIX calls).
#ifndef OCX_DATASETS_SAMPLE_COUNTER_H_
#define OCX_DATASETS_SAMPLE_COUNTER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "datasets/format.h"
#include "datasets/scanner.h"

namespace ocx::datasets {

// A scanner that only counts. Errors are INVALID_ARGUMENT
// "line <n>: <problem>" (no file name). `json_split`: the key of the array
// in a top-level JSON object.
std::unique_ptr<SampleScanner> MakeSampleCounter(DatasetFormat format,
                                                 absl::string_view json_split);

// Counts the samples in `data` (a whole file's contents).
absl::StatusOr<int64_t> CountSamplesInText(absl::string_view data,
                                           DatasetFormat format,
                                           absl::string_view json_split);

// Counts the samples of the file at `path`, reading it in 1 MiB chunks.
// FAILED_PRECONDITION "cannot read <path>: ..." when it cannot be read;
// INVALID_ARGUMENT "<path>:<line>: <problem> (<format>)" when malformed.
absl::StatusOr<int64_t> CountSamplesInFile(const std::string& path,
                                           DatasetFormat format,
                                           absl::string_view json_split);

}  // namespace ocx::datasets

#endif  // OCX_DATASETS_SAMPLE_COUNTER_H_
