#include "partitioners/partitioner.h"

#include "absl/strings/str_cat.h"
#include "partitioners/naive_partitioner.h"

namespace ocx::partitioners {

absl::StatusOr<std::unique_ptr<Partitioner>> MakePartitioner(
    const ocx::v1::PartitionerConfig& config) {
  if (config.type().empty() || config.type() == "NaivePartitioner") {
    return std::make_unique<NaivePartitioner>();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("partitioner.type: ", config.type(),
                   " is not available in this version (available: "
                   "NaivePartitioner)"));
}

ocx::v1::TaskDataset WholeDataset(const ocx::v1::DatasetConfig& dataset) {
  ocx::v1::TaskDataset d;
  *d.mutable_config() = dataset;
  d.set_base_abbr(dataset.abbr());
  d.set_part(0);
  d.set_num_parts(1);
  return d;
}

}  // namespace ocx::partitioners
