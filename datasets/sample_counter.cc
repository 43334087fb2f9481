#include "datasets/sample_counter.h"

#include "common/status_macros.h"

namespace ocx::datasets {

std::unique_ptr<SampleScanner> MakeSampleCounter(DatasetFormat format,
                                                 absl::string_view json_split) {
  return MakeScanner(format, json_split, /*rows=*/nullptr);
}

absl::StatusOr<int64_t> CountSamplesInText(absl::string_view data,
                                           DatasetFormat format,
                                           absl::string_view json_split) {
  std::unique_ptr<SampleScanner> counter =
      MakeSampleCounter(format, json_split);
  OCX_RETURN_IF_ERROR(counter->Feed(data));
  return counter->Finish();
}

absl::StatusOr<int64_t> CountSamplesInFile(const std::string& path,
                                           DatasetFormat format,
                                           absl::string_view json_split) {
  std::unique_ptr<SampleScanner> counter =
      MakeSampleCounter(format, json_split);
  absl::StatusOr<int64_t> count = ScanFile(path, format, counter.get());
  // The planner's contract: a file it cannot read must be fixed (or the
  // dataset given a size) before the evaluation can be planned.
  if (!count.ok() && !absl::IsInvalidArgument(count.status())) {
    return absl::FailedPreconditionError(count.status().message());
  }
  return count;
}

}  // namespace ocx::datasets
