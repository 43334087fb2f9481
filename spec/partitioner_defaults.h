// The defaults of the partitioner settings, shared by validation (which
// fills them in, spec/validate.h ApplyDefaults) and by the partitioners
// (which fall back to them for a config that skipped ApplyDefaults). They
// are OpenCompass's (reference/opencompass.md §1).
#ifndef OCX_SPEC_PARTITIONER_DEFAULTS_H_
#define OCX_SPEC_PARTITIONER_DEFAULTS_H_

#include <cstdint>

namespace ocx::spec {

inline constexpr char kNaivePartitionerType[] = "NaivePartitioner";
inline constexpr char kSizePartitionerType[] = "SizePartitioner";
inline constexpr char kNumWorkerPartitionerType[] = "NumWorkerPartitioner";

inline constexpr char kStrategyHeuristic[] = "heuristic";
inline constexpr char kStrategySplit[] = "split";

// SizePartitioner.
inline constexpr int64_t kDefaultMaxTaskSize = 40000;
inline constexpr int32_t kDefaultGenTaskCoef = 20;
inline constexpr int32_t kDefaultHeavyFactor = 10;
// OpenCompass's SizePartitioner.get_factor: fnmatch patterns of dataset
// abbrs whose cost is multiplied by the heavy factor (long generations).
inline constexpr const char* kDefaultHeavyDatasets[] = {
    "bbh*",         "gsm8k*",
    "math*",        "strategyqa*",
    "agieval-jec*", "agieval-gaokao-mathcloze",
    "agieval-math", "*professional_law",
};

// NumWorkerPartitioner (num_split defaults to num_worker).
inline constexpr int32_t kDefaultNumWorker = 8;
inline constexpr int32_t kDefaultMinTaskSize = 16;

}  // namespace ocx::spec

#endif  // OCX_SPEC_PARTITIONER_DEFAULTS_H_
