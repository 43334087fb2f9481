// Partitioner: splits one stage of an evaluation into tasks, as OpenCompass's
// partitioners do (reference/opencompass.md §1). A partitioner decides only
// which (model, dataset parts) go together; ids, dependencies, outputs and
// fingerprints are added by the planner (plan.h).
//
// Thread-safe: Partition() is const and keeps no state between calls.
#ifndef OCX_PARTITIONERS_PARTITIONER_H_
#define OCX_PARTITIONERS_PARTITIONER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::partitioners {

// One task as a partitioner plans it: exactly one model (OpenCompass's
// partitioners never emit more) and the dataset parts it covers.
struct PlannedTask {
  const ocx::v1::ModelConfig* model = nullptr;  // points into the spec
  // Indices into Partitioning::parts, in the task's order.
  std::vector<int32_t> parts;
};

// A stage's tasks. Parts are shared: every model's tasks refer to the same
// dataset parts, so each is built once.
struct Partitioning {
  std::vector<ocx::v1::TaskDataset> parts;
  std::vector<PlannedTask> tasks;
};

struct PartitionInput {
  // Validated, with defaults applied.
  const ocx::v1::EvaluationSpec* spec = nullptr;
  ocx::v1::Stage stage = ocx::v1::STAGE_UNSPECIFIED;
  const ocx::v1::PartitionerConfig* config = nullptr;
  // Samples each dataset of the spec selects (test_range applied), index-
  // aligned with spec->datasets(); 0 means unknown. May be null when
  // NeedsDatasetSizes() is false.
  const std::vector<int64_t>* num_samples = nullptr;
};

class Partitioner {
 public:
  virtual ~Partitioner() = default;
  // The config's `type`, e.g. "NaivePartitioner".
  virtual std::string name() const = 0;
  // Whether Partition() needs every dataset's size for `stage` (then the
  // caller counts dataset files). NaivePartitioner never does.
  virtual bool NeedsDatasetSizes(ocx::v1::Stage stage) const = 0;
  // Tasks in a stable order (same input → same tasks, same order).
  // INVALID_ARGUMENT naming the field for settings or sizes it cannot
  // honour; FAILED_PRECONDITION when a needed size is unknown.
  virtual absl::StatusOr<Partitioning> Partition(
      const PartitionInput& input) const = 0;
};

// The partitioner named by config.type. INVALID_ARGUMENT for unknown types.
absl::StatusOr<std::unique_ptr<Partitioner>> MakePartitioner(
    const ocx::v1::PartitionerConfig& config);

// A whole dataset as part 0 of 1 covering `num_samples` (0: unknown).
ocx::v1::TaskDataset WholeDataset(const ocx::v1::DatasetConfig& dataset,
                                  int64_t num_samples = 0);

// `test_range` with the slice [start:stop] chained after it, as OpenCompass
// writes part ranges: "" → "[0:189]", "[100:]" → "[100:][0:189]",
// "100" → "100[0:50]". Surrounding whitespace of `test_range` is dropped.
std::string ChainRange(const std::string& test_range, int64_t start,
                       int64_t stop);

// Splits a dataset that selects `num_samples` samples into parts of `step`
// samples (the last may be smaller): part k is named "<abbr>_k" and covers
// [k*step : (k+1)*step] of the selected samples. `step` >= 1. Each part's
// cost is left 0.
std::vector<ocx::v1::TaskDataset> SplitDataset(
    const ocx::v1::DatasetConfig& dataset, int64_t num_samples, int64_t step);

// One task per model for each group of parts (indices into out->parts), in
// model order, then group order.
void AddTaskPerModel(const PartitionInput& input,
                     const std::vector<std::vector<int32_t>>& groups,
                     Partitioning* out);

// The samples of spec dataset `i`, or FAILED_PRECONDITION naming
// datasets[i] when the input does not know it.
absl::StatusOr<int64_t> KnownSamples(const PartitionInput& input, int i);

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_PARTITIONER_H_
