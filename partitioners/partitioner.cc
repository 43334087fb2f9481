#include "partitioners/partitioner.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/work_dir_layout.h"
#include "partitioners/naive_partitioner.h"
#include "partitioners/num_worker_partitioner.h"
#include "partitioners/size_partitioner.h"
#include "spec/partitioner_defaults.h"

namespace ocx::partitioners {

absl::StatusOr<std::unique_ptr<Partitioner>> MakePartitioner(
    const ocx::v1::PartitionerConfig& config) {
  const std::string& type = config.type();
  if (type.empty() || type == spec::kNaivePartitionerType) {
    return std::make_unique<NaivePartitioner>();
  }
  if (type == spec::kSizePartitionerType) {
    return std::make_unique<SizePartitioner>(config);
  }
  if (type == spec::kNumWorkerPartitionerType) {
    return std::make_unique<NumWorkerPartitioner>(config);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "partitioner.type: unknown partitioner \"", type,
      "\" (known: ", spec::kNaivePartitionerType, ", ",
      spec::kSizePartitionerType, ", ", spec::kNumWorkerPartitionerType, ")"));
}

ocx::v1::TaskDataset WholeDataset(const ocx::v1::DatasetConfig& dataset,
                                  int64_t num_samples) {
  ocx::v1::TaskDataset d;
  *d.mutable_config() = dataset;
  d.set_base_abbr(dataset.abbr());
  d.set_part(0);
  d.set_num_parts(1);
  d.set_num_samples(num_samples);
  return d;
}

std::string ChainRange(const std::string& test_range, int64_t start,
                       int64_t stop) {
  return absl::StrCat(absl::StripAsciiWhitespace(test_range), "[", start, ":",
                      stop, "]");
}

std::vector<ocx::v1::TaskDataset> SplitDataset(
    const ocx::v1::DatasetConfig& dataset, int64_t num_samples, int64_t step) {
  std::vector<ocx::v1::TaskDataset> parts;
  if (step < 1) step = 1;
  const int64_t count = (num_samples + step - 1) / step;
  parts.reserve(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) {
    const int64_t start = k * step;
    ocx::v1::TaskDataset& d = parts.emplace_back();
    ocx::v1::DatasetConfig* config = d.mutable_config();
    *config = dataset;
    config->set_abbr(layout::PartAbbr(dataset.abbr(), k));
    config->mutable_reader_cfg()->set_test_range(
        ChainRange(dataset.reader_cfg().test_range(), start, start + step));
    d.set_base_abbr(dataset.abbr());
    d.set_part(static_cast<int32_t>(k));
    d.set_num_parts(static_cast<int32_t>(count));
    d.set_num_samples(std::min(step, num_samples - start));
  }
  return parts;
}

absl::StatusOr<int64_t> KnownSamples(const PartitionInput& input, int i) {
  if (input.num_samples == nullptr ||
      i >= static_cast<int>(input.num_samples->size()) ||
      (*input.num_samples)[i] <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("datasets[", i,
                     "]: its size is unknown (set size, or "
                     "let ocxd count the dataset file)"));
  }
  return (*input.num_samples)[i];
}

void AddTaskPerModel(const PartitionInput& input,
                     const std::vector<std::vector<int32_t>>& groups,
                     Partitioning* out) {
  out->tasks.reserve(out->tasks.size() +
                     groups.size() * input.spec->models_size());
  for (const ocx::v1::ModelConfig& model : input.spec->models()) {
    for (const std::vector<int32_t>& g : groups) {
      out->tasks.push_back(PlannedTask{&model, g});
    }
  }
}

}  // namespace ocx::partitioners
