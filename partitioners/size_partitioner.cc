#include "partitioners/size_partitioner.h"

#include <fnmatch.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spec/partitioner_defaults.h"

namespace ocx::partitioners {
namespace {

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}

// A dataset, or a part of one, on its way into a task.
struct Chunk {
  int64_t pack_cost;  // what packing counts: max_task_size for a part
  int32_t part;       // index into Partitioning::parts
};

}  // namespace

SizePartitioner::SizePartitioner(const ocx::v1::PartitionerConfig& config)
    : max_task_size_(config.has_max_task_size() ? config.max_task_size()
                                                : spec::kDefaultMaxTaskSize),
      gen_task_coef_(config.has_gen_task_coef() ? config.gen_task_coef()
                                                : spec::kDefaultGenTaskCoef),
      heavy_factor_(config.has_heavy_factor() ? config.heavy_factor()
                                              : spec::kDefaultHeavyFactor),
      split_strategy_(config.strategy() == spec::kStrategySplit) {
  if (config.heavy_datasets().empty()) {
    for (const char* p : spec::kDefaultHeavyDatasets) {
      heavy_datasets_.push_back(p);
    }
  } else {
    heavy_datasets_.assign(config.heavy_datasets().begin(),
                           config.heavy_datasets().end());
  }
  max_task_size_ = std::max<int64_t>(1, max_task_size_);
  gen_task_coef_ = std::max<int64_t>(1, gen_task_coef_);
  heavy_factor_ = std::max<int64_t>(1, heavy_factor_);
}

int64_t SizePartitioner::PplLabels(
    const google::protobuf::Value& template_value) {
  if (!template_value.has_struct_value()) return 0;
  const auto& fields = template_value.struct_value().fields();
  if (fields.empty()) return 0;
  for (const auto& [key, value] : fields) {
    if (key != "begin" && key != "round" && key != "end") {
      return static_cast<int64_t>(fields.size());
    }
  }
  return 0;
}

bool SizePartitioner::IsHeavy(const std::string& abbr) const {
  for (const std::string& pattern : heavy_datasets_) {
    if (fnmatch(pattern.c_str(), abbr.c_str(), 0) == 0) return true;
  }
  return false;
}

absl::StatusOr<int64_t> SizePartitioner::Factor(
    const ocx::v1::DatasetConfig& dataset, absl::string_view field) const {
  const ocx::v1::InferConfig& infer = dataset.infer_cfg();
  const google::protobuf::Value& tmpl =
      infer.has_prompt_template() ? infer.prompt_template().template_()
                                  : infer.ice_template().template_();
  int64_t factor = PplLabels(tmpl);
  if (factor == 0 && infer.inferencer().labels_size() > 0) {
    factor = infer.inferencer().labels_size();
  }
  if (factor == 0) factor = gen_task_coef_;
  bool ok = true;
  if (IsHeavy(dataset.abbr())) {
    ok = !__builtin_mul_overflow(factor, heavy_factor_, &factor);
  }
  if (ok && dataset.n() > 1) {
    ok = !__builtin_mul_overflow(factor, int64_t{dataset.n()}, &factor);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": its cost factor does not fit in 64 bits"));
  }
  return factor;
}

namespace {

struct CostedDataset {
  int index;
  int64_t samples;
  int64_t factor;
  int64_t cost;
};

// Every dataset with its samples, factor and cost, largest cost first; ties
// keep config order (Python's sorted is stable).
absl::StatusOr<std::vector<CostedDataset>> CostDatasets(
    const SizePartitioner& partitioner, const PartitionInput& input) {
  const auto& datasets = input.spec->datasets();
  std::vector<CostedDataset> entries;
  entries.reserve(datasets.size());
  for (int i = 0; i < datasets.size(); ++i) {
    const std::string field = absl::StrCat("datasets[", i, "]");
    OCX_ASSIGN_OR_RETURN(int64_t samples, KnownSamples(input, i));
    OCX_ASSIGN_OR_RETURN(int64_t factor,
                         partitioner.Factor(datasets[i], field));
    int64_t cost = 0;
    if (__builtin_mul_overflow(factor, samples, &cost)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", samples, " samples x cost factor ", factor,
                       " does not fit in 64 bits"));
    }
    entries.push_back({i, samples, factor, cost});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const CostedDataset& a, const CostedDataset& b) {
                     return a.cost > b.cost;
                   });
  return entries;
}

// Chunks packed greedily, largest first, into groups of at most
// `max_task_size` (a chunk larger than that is a group of its own).
std::vector<std::vector<int32_t>> PackChunks(std::vector<Chunk> chunks,
                                             int64_t max_task_size) {
  std::stable_sort(
      chunks.begin(), chunks.end(),
      [](const Chunk& a, const Chunk& b) { return a.pack_cost > b.pack_cost; });
  std::vector<std::vector<int32_t>> groups;
  int64_t current = 0;
  std::vector<int32_t> group;
  for (size_t i = 0; i < chunks.size(); ++i) {
    current = SaturatingAdd(current, chunks[i].pack_cost);
    group.push_back(chunks[i].part);
    if (i + 1 == chunks.size() ||
        SaturatingAdd(current, chunks[i + 1].pack_cost) > max_task_size) {
      groups.push_back(std::move(group));
      group.clear();
      current = 0;
    }
  }
  return groups;
}

}  // namespace

absl::StatusOr<Partitioning> SizePartitioner::Partition(
    const PartitionInput& input) const {
  const auto& datasets = input.spec->datasets();
  const bool infer = input.stage == ocx::v1::STAGE_INFER;
  OCX_ASSIGN_OR_RETURN(std::vector<CostedDataset> entries,
                       CostDatasets(*this, input));
  Partitioning out;
  std::vector<Chunk> chunks;
  for (const CostedDataset& e : entries) {
    const ocx::v1::DatasetConfig& d = datasets[e.index];
    if (!infer || e.cost <= max_task_size_) {
      chunks.push_back({e.cost, static_cast<int32_t>(out.parts.size())});
      ocx::v1::TaskDataset& whole =
          out.parts.emplace_back(WholeDataset(d, e.samples));
      whole.set_cost(e.cost);
      continue;
    }
    const int64_t step0 = std::max<int64_t>(1, max_task_size_ / e.factor);
    const int64_t num_parts = (e.samples + step0 - 1) / step0;
    if (num_parts > kMaxPartsPerDataset) {
      return absl::InvalidArgumentError(absl::StrCat(
          "datasets[", e.index, "]: ", e.samples, " samples at cost factor ",
          e.factor, " would need ", num_parts, " parts of at most ",
          max_task_size_, " cost (the limit is ", kMaxPartsPerDataset,
          " per dataset); raise infer.partitioner.max_task_size or narrow "
          "reader_cfg.test_range"));
    }
    const int64_t step = (e.samples + num_parts - 1) / num_parts;
    for (ocx::v1::TaskDataset& part : SplitDataset(d, e.samples, step)) {
      part.set_cost(part.num_samples() * e.factor);
      chunks.push_back(
          {max_task_size_, static_cast<int32_t>(out.parts.size())});
      out.parts.push_back(std::move(part));
    }
  }
  // Groups of chunks, the same for every model.
  std::vector<std::vector<int32_t>> groups;
  if (split_strategy_) {
    for (const Chunk& c : chunks) groups.push_back({c.part});
  } else {
    groups = PackChunks(std::move(chunks), max_task_size_);
  }
  AddTaskPerModel(input, groups, &out);
  return out;
}

}  // namespace ocx::partitioners
