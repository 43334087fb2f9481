#include "runners/slurm/config.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/field_check.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "runners/call_settings.h"

namespace ocx::runners::slurm {
namespace {

using ::ocx::field::Bad;
using ::ocx::field::CheckAtLeastZero;
using ::ocx::field::CheckNoNul;
using ::ocx::field::Index;
using ::ocx::field::Quote;
using ::ocx::field::Sub;

// Slurm's --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, UNLIMITED.
bool IsSlurmTime(absl::string_view t) {
  if (t == "UNLIMITED" || t == "INFINITE" || t == "infinite") return true;
  auto numbers = [](absl::string_view part, size_t min, size_t max) {
    std::vector<absl::string_view> f = absl::StrSplit(part, ':');
    if (f.size() < min || f.size() > max) return false;
    for (absl::string_view n : f) {
      if (n.empty() || n.size() > 6 ||
          !std::all_of(n.begin(), n.end(), absl::ascii_isdigit)) {
        return false;
      }
    }
    return true;
  };
  size_t dash = t.find('-');
  if (dash == absl::string_view::npos) return numbers(t, 1, 3);
  return numbers(t.substr(0, dash), 1, 1) && numbers(t.substr(dash + 1), 1, 3);
}

// A command given as a bare name is looked up in PATH when run; a path is
// made absolute against the daemon's start directory.
std::string CommandPath(const std::string& configured, const char* fallback,
                        const std::string& base) {
  if (configured.empty()) return fallback;
  return configured.find('/') == std::string::npos
             ? configured
             : ocx::AbsolutePath(configured, base);
}

}  // namespace

std::vector<std::string> StageFieldsSet(const ocx::v1::RunnerConfig& r) {
  const std::pair<const char*, bool> fields[] = {
      {"partition", !r.partition().empty()},
      {"quotatype", !r.quotatype().empty()},
      {"qos", !r.qos().empty()},
      {"extra_command", !r.extra_command().empty()},
      {"cpus_per_task", r.cpus_per_task() != 0},
      {"time_limit", !r.time_limit().empty()},
      {"max_pending", r.max_pending() != 0},
  };
  std::vector<std::string> set;
  for (const auto& [name, is_set] : fields) {
    if (is_set) set.push_back(name);
  }
  return set;
}

// `partition` is optional, as in OpenCompass: without it sbatch uses ocxd's
// slurm.default_partition, else the cluster's default partition.
absl::Status ValidateStageRunner(const ocx::v1::RunnerConfig& r,
                                 const std::string& path) {
  const std::pair<const char*, const std::string*> words[] = {
      {"partition", &r.partition()},
      {"qos", &r.qos()},
      {"quotatype", &r.quotatype()},
  };
  for (const auto& [field, v] : words) {
    if (std::any_of(v->begin(), v->end(), [](char c) {
          return c == '\0' || absl::ascii_isspace(c);
        })) {
      return Bad(
          Sub(path, field),
          absl::StrCat("must not contain spaces or NUL, got ", Quote(*v)));
    }
  }
  for (int i = 0; i < r.extra_command_size(); ++i) {
    const std::string& e = r.extra_command(i);
    if (absl::StripAsciiWhitespace(e).empty()) {
      return Bad(Index(Sub(path, "extra_command"), i), "must not be empty");
    }
    OCX_RETURN_IF_ERROR(CheckNoNul(Index(Sub(path, "extra_command"), i), e));
  }
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "cpus_per_task"), int64_t{r.cpus_per_task()}));
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(Sub(path, "max_pending"), int64_t{r.max_pending()}));
  if (!r.time_limit().empty() && !IsSlurmTime(r.time_limit())) {
    return Bad(Sub(path, "time_limit"),
               absl::StrCat("expected minutes, H:M:S or D-H:M:S, got ",
                            Quote(r.time_limit())));
  }
  return absl::OkStatus();
}

void ApplyStageDefaults(ocx::v1::RunnerConfig* r) {
  if (r->max_num_workers() == 0) r->set_max_num_workers(kDefaultMaxNumWorkers);
}

absl::Status ValidateSettings(const ocx::v1::SlurmRunnerSettings& s) {
  const std::pair<const char*, const std::string*> strings[] = {
      {"slurm.sbatch_path", &s.sbatch_path()},
      {"slurm.squeue_path", &s.squeue_path()},
      {"slurm.sacct_path", &s.sacct_path()},
      {"slurm.scancel_path", &s.scancel_path()},
      {"slurm.default_partition", &s.default_partition()},
  };
  for (const auto& [path, v] : strings) {
    OCX_RETURN_IF_ERROR(CheckNoNul(path, *v));
  }
  for (int i = 0; i < s.sacct_args_size(); ++i) {
    OCX_RETURN_IF_ERROR(
        CheckNoNul(Index("slurm.sacct_args", i), s.sacct_args(i)));
  }
  for (int i = 0; i < s.sbatch_args_size(); ++i) {
    OCX_RETURN_IF_ERROR(
        CheckNoNul(Index("slurm.sbatch_args", i), s.sbatch_args(i)));
  }
  if (s.max_array_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "slurm.max_array_size: must be >= 0 (0: the default 1000; 1: no job "
        "arrays), got ",
        s.max_array_size()));
  }
  return ValidateCallSettings("slurm", s);
}

RunnerOptions OptionsFromSettings(const ocx::v1::SlurmRunnerSettings& s,
                                  const std::string& base_dir) {
  RunnerOptions o;
  o.sbatch = CommandPath(s.sbatch_path(), "sbatch", base_dir);
  o.squeue = CommandPath(s.squeue_path(), "squeue", base_dir);
  o.sacct = CommandPath(s.sacct_path(), "sacct", base_dir);
  o.scancel = CommandPath(s.scancel_path(), "scancel", base_dir);
  o.sacct_args.assign(s.sacct_args().begin(), s.sacct_args().end());
  o.sbatch_args.assign(s.sbatch_args().begin(), s.sbatch_args().end());
  o.default_partition = s.default_partition();
  if (s.max_array_size() > 0) o.max_array_size = s.max_array_size();
  ApplyCallSettings(s, &o);
  return o;
}

}  // namespace ocx::runners::slurm
