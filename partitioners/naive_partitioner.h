// NaivePartitioner: for each model, its datasets grouped `n` per task
// (default 1), in config order — OpenCompass partitioners/naive.py. It
// never splits a dataset and needs no sizes (dataset files are not read);
// sizes it is given (explicit `size`s) are copied into the tasks.
#ifndef OCX_PARTITIONERS_NAIVE_PARTITIONER_H_
#define OCX_PARTITIONERS_NAIVE_PARTITIONER_H_

#include "partitioners/partitioner.h"

namespace ocx::partitioners {

class NaivePartitioner : public Partitioner {
 public:
  std::string name() const override { return "NaivePartitioner"; }
  bool NeedsDatasetSizes(ocx::v1::Stage) const override { return false; }
  absl::StatusOr<Partitioning> Partition(
      const PartitionInput& input) const override;
};

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_NAIVE_PARTITIONER_H_
