// NaivePartitioner: for each model, its datasets grouped `n` per task
// (default 1), in config order — OpenCompass partitioners/naive.py.
#ifndef OCX_PARTITIONERS_NAIVE_PARTITIONER_H_
#define OCX_PARTITIONERS_NAIVE_PARTITIONER_H_

#include "partitioners/partitioner.h"

namespace ocx::partitioners {

class NaivePartitioner : public Partitioner {
 public:
  std::string name() const override { return "NaivePartitioner"; }
  absl::StatusOr<std::vector<PlannedTask>> Partition(
      const PartitionInput& input) const override;
};

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_NAIVE_PARTITIONER_H_
