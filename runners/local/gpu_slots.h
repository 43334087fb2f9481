// GPU slot accounting for the local runner: which of this machine's GPUs are
// taken by how many running tasks. OpenCompass's LocalRunner gives each GPU
// `max_workers_per_gpu` slots and a task takes one slot on each of
// `num_gpus` GPUs; unlike OpenCompass, a task that can never fit is refused
// at once (it compared against max(id)+1 and could spin forever).
//
// Thread-compatible: the owner (LocalRunner, on the dispatcher thread)
// serializes calls.
#ifndef OCX_RUNNERS_LOCAL_GPU_SLOTS_H_
#define OCX_RUNNERS_LOCAL_GPU_SLOTS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::runners {

class GpuSlots {
 public:
  // `gpu_ids` are device ids as the tasks will see them in
  // CUDA_VISIBLE_DEVICES (e.g. {4, 5}); duplicates are dropped.
  explicit GpuSlots(std::vector<int> gpu_ids);

  // Takes one slot on each of `num_gpus` GPUs whose occupancy is below
  // `max_workers_per_gpu`, preferring the least occupied, then the lowest
  // id. Returns the chosen device ids in ascending order (the ids as listed,
  // not renumbered); empty for num_gpus == 0.
  // RESOURCE_EXHAUSTED: not enough free slots now (ask again after a
  //   Release).
  // FAILED_PRECONDITION: num_gpus exceeds the number of GPUs, e.g. "task
  //   needs 4 GPUs but this machine has 2 (4,5)".
  // INVALID_ARGUMENT: num_gpus < 0 or max_workers_per_gpu < 1.
  absl::StatusOr<std::vector<int>> Acquire(int num_gpus,
                                           int max_workers_per_gpu);

  // Gives back one slot on each of `ids`. Ids not managed here, or without
  // a slot taken, are ignored.
  void Release(const std::vector<int>& ids);

  // Marks one more slot taken on each of `ids`, whatever the limit (after a
  // daemon restart, for tasks that are already running). Ids not managed
  // here are ignored.
  void Reserve(const std::vector<int>& ids);

  // Tasks currently holding a slot on `id`; 0 for unknown ids.
  int occupancy(int id) const;

  // The managed ids, ascending.
  std::vector<int> ids() const;

 private:
  std::map<int, int> occupancy_;  // id -> tasks using it
};

// Parses a GPU list: "4,5" (whitespace around ids allowed), "none" or ""
// (no GPUs). INVALID_ARGUMENT for anything else (negative ids, junk,
// duplicates), naming the bad entry.
absl::StatusOr<std::vector<int>> ParseGpuList(absl::string_view text);

// Parses a CUDA_VISIBLE_DEVICES value with OpenCompass's semantics (regex
// `(?<!-)\d+`): the ids are the listed non-negative numbers; negative
// entries ("-1") are skipped, so "-1" and "" mean no GPUs. Unlike the regex,
// "-12" is skipped whole rather than read as 2. INVALID_ARGUMENT for entries
// that are not numbers (GPU UUIDs such as "GPU-8c2f...", MIG ids): list the
// GPUs in the daemon config instead.
absl::StatusOr<std::vector<int>> ParseCudaVisibleDevices(
    absl::string_view value);

// ParseCudaVisibleDevices() of this process's CUDA_VISIBLE_DEVICES; no GPUs
// when it is unset (no device discovery is attempted).
absl::StatusOr<std::vector<int>> GpusFromEnvironment();

// "4,5"; "none" for an empty list.
std::string FormatGpuList(const std::vector<int>& ids);

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_LOCAL_GPU_SLOTS_H_
