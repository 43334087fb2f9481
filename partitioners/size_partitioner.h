// SizePartitioner: tasks of about equal cost — OpenCompass
// partitioners/size.py (reference/opencompass.md §1), with its sizes taken
// from PartitionInput::num_samples (counted once, test_range applied once).
//
//   factor  gen_task_coef for a generation dataset; for a perplexity (PPL)
//           dataset the number of labels: the keys of
//           infer_cfg.prompt_template.template (ice_template's when there is
//           no prompt_template) when it is a map whose keys are not all in
//           {begin, round, end}, else the length of
//           infer_cfg.inferencer.labels when set. Multiplied by heavy_factor
//           (10) when the abbr matches an fnmatch pattern of heavy_datasets
//           (OpenCompass's list: bbh*, gsm8k*, math*, ...), and — an ocx
//           addition — by the dataset's repeat count `n` when > 1.
//   cost    factor x samples.
//   split   (infer stage only) a dataset whose cost exceeds max_task_size
//           is split into parts of step = max_task_size // factor samples
//           (at least 1), evened out as ceil(size / ceil(size / step)); part
//           k is "<abbr>_k" with "[k*step:(k+1)*step]" chained onto its
//           test_range, and counts as cost max_task_size when packing.
//   order   datasets sorted by cost, largest first (stable).
//   heuristic  chunks sorted by packing cost, largest first (stable), then
//           packed next-fit: a task is closed when the next chunk would take
//           it over max_task_size. Big datasets are split, small ones merged.
//   split   one task per chunk.
// Every model gets the same grouping. In the eval stage datasets are never
// split (a result covers a whole dataset); they are packed the same way.
//
// Example: gsm8k (generation, heavy: factor 20 x 10 = 200) with 1319
// samples costs 263800 > 40000: step = 40000 // 200 = 200, 7 parts, step
// ceil(1319 / 7) = 189: gsm8k_0 [0:189] ... gsm8k_6 [1134:1323] (185).
//
// Thread-safe: const after construction.
#ifndef OCX_PARTITIONERS_SIZE_PARTITIONER_H_
#define OCX_PARTITIONERS_SIZE_PARTITIONER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "partitioners/partitioner.h"

namespace ocx::partitioners {

// At most this many parts per dataset; more is INVALID_ARGUMENT (raise
// max_task_size, or set a test_range).
inline constexpr int64_t kMaxPartsPerDataset = 100000;

class SizePartitioner : public Partitioner {
 public:
  // Unset settings take the defaults of spec/partitioner_defaults.h.
  explicit SizePartitioner(const ocx::v1::PartitionerConfig& config);

  std::string name() const override { return "SizePartitioner"; }
  bool NeedsDatasetSizes(ocx::v1::Stage) const override { return true; }
  absl::StatusOr<Partitioning> Partition(
      const PartitionInput& input) const override;

  // The dataset's cost factor (see above). INVALID_ARGUMENT naming
  // `field` when it does not fit in int64.
  absl::StatusOr<int64_t> Factor(const ocx::v1::DatasetConfig& dataset,
                                 absl::string_view field) const;
  // Whether `abbr` matches one of the heavy_datasets patterns.
  bool IsHeavy(const std::string& abbr) const;

  // The number of labels of a PPL template (a map whose keys are not all
  // in {begin, round, end}), or 0 for a generation template.
  static int64_t PplLabels(const google::protobuf::Value& template_value);

  int64_t max_task_size() const { return max_task_size_; }

 private:
  int64_t max_task_size_;
  int64_t gen_task_coef_;
  int64_t heavy_factor_;
  std::vector<std::string> heavy_datasets_;
  bool split_strategy_;
};

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_SIZE_PARTITIONER_H_
