#include "partitioners/num_worker_partitioner.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "spec/partitioner_defaults.h"

namespace ocx::partitioners {

NumWorkerPartitioner::NumWorkerPartitioner(
    const ocx::v1::PartitionerConfig& config)
    : num_worker_(config.has_num_worker() ? config.num_worker()
                                          : spec::kDefaultNumWorker),
      // Unset or 0: num_worker (OpenCompass: `num_split or num_worker`).
      num_split_(config.has_num_split() && config.num_split() != 0
                     ? config.num_split()
                     : num_worker_),
      min_task_size_(config.has_min_task_size() ? config.min_task_size()
                                                : spec::kDefaultMinTaskSize),
      split_strategy_(config.strategy() == spec::kStrategySplit) {
  num_worker_ = std::max<int64_t>(1, num_worker_);
  min_task_size_ = std::max<int64_t>(1, min_task_size_);
}

bool NumWorkerPartitioner::NeedsDatasetSizes(ocx::v1::Stage stage) const {
  return stage == ocx::v1::STAGE_INFER && num_split_ > 1;
}

absl::StatusOr<Partitioning> NumWorkerPartitioner::Partition(
    const PartitionInput& input) const {
  const auto& datasets = input.spec->datasets();
  const bool split = NeedsDatasetSizes(input.stage);
  Partitioning out;
  for (int i = 0; i < datasets.size(); ++i) {
    const ocx::v1::DatasetConfig& d = datasets[i];
    int64_t samples = 0;
    if (split) {
      OCX_ASSIGN_OR_RETURN(samples, KnownSamples(input, i));
    } else if (input.num_samples != nullptr &&
               i < static_cast<int>(input.num_samples->size())) {
      samples = (*input.num_samples)[i];
    }
    if (!split || samples <= min_task_size_) {
      out.parts.push_back(WholeDataset(d, samples));
      continue;
    }
    const int64_t step =
        std::max((samples + num_split_ - 1) / num_split_, min_task_size_);
    for (ocx::v1::TaskDataset& part : SplitDataset(d, samples, step)) {
      out.parts.push_back(std::move(part));
    }
  }
  // Chunks are the parts in order; the grouping is the same for every model.
  const int32_t num_chunks = static_cast<int32_t>(out.parts.size());
  std::vector<std::vector<int32_t>> groups;
  if (split_strategy_) {
    for (int32_t c = 0; c < num_chunks; ++c) groups.push_back({c});
  } else {
    const int64_t buckets = std::min<int64_t>(num_worker_, num_chunks);
    groups.resize(static_cast<size_t>(buckets));
    for (int32_t c = 0; c < num_chunks; ++c) {
      groups[static_cast<size_t>(c % num_worker_)].push_back(c);
    }
  }
  AddTaskPerModel(input, groups, &out);
  return out;
}

}  // namespace ocx::partitioners
