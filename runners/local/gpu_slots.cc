#include "runners/local/gpu_slots.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ocx::runners {

GpuSlots::GpuSlots(std::vector<int> gpu_ids) {
  for (int id : gpu_ids) occupancy_.emplace(id, 0);
}

absl::StatusOr<std::vector<int>> GpuSlots::Acquire(int num_gpus,
                                                   int max_workers_per_gpu) {
  if (num_gpus < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_gpus must be >= 0, got ", num_gpus));
  }
  if (max_workers_per_gpu < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_workers_per_gpu must be >= 1, got ", max_workers_per_gpu));
  }
  if (num_gpus == 0) return std::vector<int>();
  if (num_gpus > static_cast<int>(occupancy_.size())) {
    return absl::FailedPreconditionError(
        absl::StrCat("task needs ", num_gpus, num_gpus == 1 ? " GPU" : " GPUs",
                     " but this machine has ", occupancy_.size(), " (",
                     FormatGpuList(ids()), ")"));
  }
  // (occupancy, id) of each GPU with a free slot; the map iterates ids in
  // ascending order, so a stable sort on occupancy breaks ties by id.
  std::vector<std::pair<int, int>> free;
  for (const auto& [id, used] : occupancy_) {
    if (used < max_workers_per_gpu) free.emplace_back(used, id);
  }
  if (static_cast<int>(free.size()) < num_gpus) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "task needs ", num_gpus, num_gpus == 1 ? " GPU" : " GPUs", " with ",
        "fewer than ", max_workers_per_gpu, " tasks on it; ", free.size(),
        " of ", occupancy_.size(), " free now"));
  }
  std::stable_sort(free.begin(), free.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  std::vector<int> chosen;
  for (int i = 0; i < num_gpus; ++i) chosen.push_back(free[i].second);
  std::sort(chosen.begin(), chosen.end());
  for (int id : chosen) ++occupancy_[id];
  return chosen;
}

void GpuSlots::Release(const std::vector<int>& ids) {
  for (int id : ids) {
    auto it = occupancy_.find(id);
    if (it != occupancy_.end() && it->second > 0) --it->second;
  }
}

void GpuSlots::Reserve(const std::vector<int>& ids) {
  for (int id : ids) {
    auto it = occupancy_.find(id);
    if (it != occupancy_.end()) ++it->second;
  }
}

int GpuSlots::occupancy(int id) const {
  auto it = occupancy_.find(id);
  return it == occupancy_.end() ? 0 : it->second;
}

std::vector<int> GpuSlots::ids() const {
  std::vector<int> out;
  for (const auto& [id, used] : occupancy_) out.push_back(id);
  return out;
}

absl::StatusOr<std::vector<int>> ParseGpuList(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  std::vector<int> ids;
  if (text.empty() || text == "none") return ids;
  std::set<int> seen;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    int id = -1;
    if (part.empty() || !absl::ascii_isdigit(part[0]) ||
        !absl::SimpleAtoi(part, &id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("GPU list \"", text, "\": \"", part,
                       "\" is not a GPU id (want e.g. \"0,1\" or \"none\")"));
    }
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("GPU list \"", text, "\": GPU ", id, " listed twice"));
    }
    ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::vector<int>> ParseCudaVisibleDevices(
    absl::string_view value) {
  std::vector<int> ids;
  std::set<int> seen;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) continue;
    if (part[0] == '-') continue;  // "-1": no device
    int id = -1;
    if (!absl::ascii_isdigit(part[0]) || !absl::SimpleAtoi(part, &id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CUDA_VISIBLE_DEVICES=\"", value, "\": \"", part,
          "\" is not a device number (UUIDs are not supported; list the "
          "GPUs in the daemon config instead)"));
    }
    if (seen.insert(id).second) ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::vector<int>> GpusFromEnvironment() {
  const char* value = std::getenv("CUDA_VISIBLE_DEVICES");
  if (value == nullptr) return std::vector<int>();
  return ParseCudaVisibleDevices(value);
}

std::string FormatGpuList(const std::vector<int>& ids) {
  if (ids.empty()) return "none";
  return absl::StrJoin(ids, ",");
}

}  // namespace ocx::runners
