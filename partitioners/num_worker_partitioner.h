// NumWorkerPartitioner: each model's work spread over a fixed number of
// workers — OpenCompass partitioners/num_worker.py (reference/opencompass.md
// §1), with its sizes taken from PartitionInput::num_samples.
//
//   split   (infer stage) datasets are taken in config order (no sorting).
//           One stays whole when num_split <= 1 or it has at most
//           min_task_size samples; otherwise it is split into parts of
//           step = max(ceil(size / num_split), min_task_size) samples, part
//           k named "<abbr>_k" with "[k*step:(k+1)*step]" chained onto its
//           test_range.
//   heuristic  chunks are dealt round-robin into num_worker buckets, one
//           task per non-empty bucket (so a task may mix parts of several
//           datasets).
//   split   one task per chunk.
// In the eval stage datasets are never split (a result covers a whole
// dataset; OpenCompass's split eval results were never merged: #1039) and
// no sizes are needed.
//
// Example: num_worker 8, num_split 8, min_task_size 16, a dataset of 100
// samples: step max(13, 16) = 16, 7 parts [0:16] ... [96:112] (4).
//
// Thread-safe: const after construction.
#ifndef OCX_PARTITIONERS_NUM_WORKER_PARTITIONER_H_
#define OCX_PARTITIONERS_NUM_WORKER_PARTITIONER_H_

#include <cstdint>

#include "partitioners/partitioner.h"

namespace ocx::partitioners {

class NumWorkerPartitioner : public Partitioner {
 public:
  // Unset settings take the defaults of spec/partitioner_defaults.h.
  explicit NumWorkerPartitioner(const ocx::v1::PartitionerConfig& config);

  std::string name() const override { return "NumWorkerPartitioner"; }
  // Only the infer stage splits, and only when num_split > 1.
  bool NeedsDatasetSizes(ocx::v1::Stage stage) const override;
  absl::StatusOr<Partitioning> Partition(
      const PartitionInput& input) const override;

 private:
  int64_t num_worker_;
  int64_t num_split_;
  int64_t min_task_size_;
  bool split_strategy_;
};

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_NUM_WORKER_PARTITIONER_H_
