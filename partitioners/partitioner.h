// Partitioner: splits one stage of an evaluation into tasks, as OpenCompass's
// partitioners do (reference/opencompass.md §1). A partitioner decides only
// which (model, dataset parts) go together; ids, dependencies and outputs are
// added by the planner (plan.h).
//
// Thread-safe: Partition() is const and keeps no state between calls.
#ifndef OCX_PARTITIONERS_PARTITIONER_H_
#define OCX_PARTITIONERS_PARTITIONER_H_

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
  ocx::v1::ModelConfig model;
  std::vector<ocx::v1::TaskDataset> datasets;
};

struct PartitionInput {
  // Validated, with defaults applied.
  const ocx::v1::EvaluationSpec* spec = nullptr;
  ocx::v1::Stage stage = ocx::v1::STAGE_UNSPECIFIED;
  const ocx::v1::PartitionerConfig* config = nullptr;
};

class Partitioner {
 public:
  virtual ~Partitioner() = default;
  // The config's `type`, e.g. "NaivePartitioner".
  virtual std::string name() const = 0;
  // Tasks in a stable order (same input → same tasks, same order).
  // INVALID_ARGUMENT naming the field for settings it cannot honour.
  virtual absl::StatusOr<std::vector<PlannedTask>> Partition(
      const PartitionInput& input) const = 0;
};

// The partitioner named by config.type. INVALID_ARGUMENT for unknown types.
absl::StatusOr<std::unique_ptr<Partitioner>> MakePartitioner(
    const ocx::v1::PartitionerConfig& config);

// A whole dataset as part 0 of 1.
ocx::v1::TaskDataset WholeDataset(const ocx::v1::DatasetConfig& dataset);

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_PARTITIONER_H_
