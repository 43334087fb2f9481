#include "runners/local/config.h"

#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/field_check.h"
#include "common/status_macros.h"

namespace ocx::runners::local {
namespace {

using ::ocx::field::Bad;
using ::ocx::field::CheckAtLeastZero;
using ::ocx::field::CheckNoNul;
using ::ocx::field::Quote;

constexpr int64_t kMaxGpuId = 1 << 20;

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status ValidateGpus(absl::string_view gpus) {
  if (gpus.empty() || gpus == "none") return absl::OkStatus();
  std::set<int64_t> seen;
  for (absl::string_view item : absl::StrSplit(gpus, ',')) {
    absl::string_view id = absl::StripAsciiWhitespace(item);
    int64_t v = 0;
    if (!AllDigits(id) || !absl::SimpleAtoi(id, &v) || v > kMaxGpuId) {
      return Bad("local.gpus",
                 absl::StrCat(Quote(id),
                              " is not a GPU id (expected \"none\" or "
                              "comma-separated ids such as \"0,1\")"));
    }
    if (!seen.insert(v).second) {
      return Bad("local.gpus", absl::StrCat("duplicate GPU id ", v));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> StageFieldsSet(const ocx::v1::RunnerConfig&) {
  return {};
}

absl::Status ValidateStageRunner(const ocx::v1::RunnerConfig&,
                                 const std::string&) {
  return absl::OkStatus();
}

void ApplyStageDefaults(ocx::v1::RunnerConfig* r) {
  if (r->max_num_workers() == 0) r->set_max_num_workers(kDefaultMaxNumWorkers);
  if (r->max_workers_per_gpu() == 0) {
    r->set_max_workers_per_gpu(kDefaultMaxWorkersPerGpu);
  }
}

absl::Status ValidateSettings(const ocx::v1::LocalRunnerSettings& s) {
  OCX_RETURN_IF_ERROR(ValidateGpus(s.gpus()));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero("local.max_parallel", int64_t{s.max_parallel()}));
  OCX_RETURN_IF_ERROR(CheckNoNul("local.shim_path", s.shim_path()));
  return CheckAtLeastZero("local.kill_grace_s", int64_t{s.kill_grace_s()});
}

RunnerOptions OptionsFromSettings(const ocx::v1::LocalRunnerSettings& s,
                                  std::vector<int> gpus,
                                  const std::string& default_shim) {
  RunnerOptions o;
  o.shim_path = s.shim_path().empty() ? default_shim : s.shim_path();
  o.gpus = std::move(gpus);
  o.max_parallel = s.max_parallel();
  if (s.kill_grace_s() > 0) o.kill_grace_s = s.kill_grace_s();
  return o;
}

}  // namespace ocx::runners::local
