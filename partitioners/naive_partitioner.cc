#include "partitioners/naive_partitioner.h"

#include <algorithm>

namespace ocx::partitioners {

absl::StatusOr<Partitioning> NaivePartitioner::Partition(
    const PartitionInput& input) const {
  const int n = std::max(1, input.config->n());
  const auto& datasets = input.spec->datasets();
  Partitioning out;
  out.parts.reserve(datasets.size());
  for (int i = 0; i < datasets.size(); ++i) {
    int64_t samples = 0;
    if (input.num_samples != nullptr &&
        i < static_cast<int>(input.num_samples->size())) {
      samples = (*input.num_samples)[i];
    }
    out.parts.push_back(WholeDataset(datasets[i], samples));
  }
  for (const ocx::v1::ModelConfig& model : input.spec->models()) {
    for (int start = 0; start < datasets.size(); start += n) {
      PlannedTask& task = out.tasks.emplace_back();
      task.model = &model;
      int end = std::min(datasets.size(), start + n);
      for (int i = start; i < end; ++i) task.parts.push_back(i);
    }
  }
  return out;
}

}  // namespace ocx::partitioners
