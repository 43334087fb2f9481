#include "partitioners/naive_partitioner.h"

#include <algorithm>

namespace ocx::partitioners {

absl::StatusOr<std::vector<PlannedTask>> NaivePartitioner::Partition(
    const PartitionInput& input) const {
  const int n = std::max(1, input.config->n());
  const auto& datasets = input.spec->datasets();
  std::vector<PlannedTask> tasks;
  for (const ocx::v1::ModelConfig& model : input.spec->models()) {
    for (int start = 0; start < datasets.size(); start += n) {
      PlannedTask task;
      task.model = model;
      int end = std::min(datasets.size(), start + n);
      for (int i = start; i < end; ++i) {
        task.datasets.push_back(WholeDataset(datasets[i]));
      }
      tasks.push_back(std::move(task));
    }
  }
  return tasks;
}

}  // namespace ocx::partitioners
