#include "runners/dlc/config.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/field_check.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "runners/call_settings.h"

namespace ocx::runners::dlc {
namespace {

using ::ocx::field::Bad;
using ::ocx::field::CheckAtLeastZero;
using ::ocx::field::CheckNoNul;
using ::ocx::field::Index;
using ::ocx::field::IsEnvVarName;
using ::ocx::field::Key;
using ::ocx::field::Quote;
using ::ocx::field::Sub;
using ::ocx::v1::AliyunConfig;

// dlc calls at once: each is a process; more only hammers DLC's API.
constexpr int kMaxDlcCalls = 64;

// A DLC id, image or path: no NUL, no whitespace or control characters.
absl::Status CheckWord(const std::string& path, const std::string& v) {
  OCX_RETURN_IF_ERROR(CheckNoNul(path, v));
  for (char ch : v) {
    if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) {
      return Bad(path, absl::StrCat("must not contain whitespace or control "
                                    "characters, got ",
                                    Quote(v)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAbsolute(const std::string& path, const std::string& v) {
  OCX_RETURN_IF_ERROR(CheckNoNul(path, v));
  if (!v.empty() && v[0] != '/') {
    return Bad(path, absl::StrCat("must be an absolute path, got ", Quote(v)));
  }
  return absl::OkStatus();
}

// How the job's shell finds Python, and the required ids, in declaration
// order.
absl::Status ValidateEnvironmentAndIds(const AliyunConfig& c,
                                       const std::string& cfg_path) {
  auto field = [&](absl::string_view name) { return Sub(cfg_path, name); };
  OCX_RETURN_IF_ERROR(CheckAbsolute(field("bashrc_path"), c.bashrc_path()));
  OCX_RETURN_IF_ERROR(CheckNoNul(field("conda_env_name"), c.conda_env_name()));
  if (!c.bashrc_path().empty() && c.conda_env_name().empty()) {
    return Bad(field("conda_env_name"), "required with bashrc_path");
  }
  if (c.bashrc_path().empty() && !c.conda_env_name().empty()) {
    return Bad(field("bashrc_path"),
               "required with conda_env_name (the file that sets up conda)");
  }
  OCX_RETURN_IF_ERROR(
      CheckAbsolute(field("python_env_path"), c.python_env_path()));
  if (!c.python_env_path().empty() && !c.bashrc_path().empty()) {
    return Bad(field("python_env_path"),
               "set either bashrc_path + conda_env_name or python_env_path, "
               "not both");
  }
  if (c.dlc_config_path().empty()) {
    return Bad(field("dlc_config_path"), "required for DLCRunner");
  }
  OCX_RETURN_IF_ERROR(
      CheckAbsolute(field("dlc_config_path"), c.dlc_config_path()));
  if (c.workspace_id().empty()) {
    return Bad(field("workspace_id"), "required for DLCRunner");
  }
  OCX_RETURN_IF_ERROR(CheckWord(field("workspace_id"), c.workspace_id()));
  if (c.worker_image().empty()) {
    return Bad(field("worker_image"), "required for DLCRunner");
  }
  OCX_RETURN_IF_ERROR(CheckWord(field("worker_image"), c.worker_image()));
  return CheckWord(field("resource_id"), c.resource_id());
}

// Data sources, priority, extra envs and the worker's size.
absl::Status ValidateJobShape(const AliyunConfig& c,
                              const std::string& cfg_path) {
  auto field = [&](absl::string_view name) { return Sub(cfg_path, name); };
  for (int i = 0; i < c.data_sources_size(); ++i) {
    const std::string p = Index(field("data_sources"), i);
    const std::string& d = c.data_sources(i);
    if (d.empty()) return Bad(p, "must not be empty");
    OCX_RETURN_IF_ERROR(CheckWord(p, d));
    if (d.find(',') != std::string::npos) {
      return Bad(p, absl::StrCat("must not contain ',' (one data source id "
                                 "per entry), got ",
                                 Quote(d)));
    }
  }
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(field("priority"), int64_t{c.priority()}));
  std::vector<std::string> keys;
  for (const auto& [key, value] : c.extra_envs()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    if (!IsEnvVarName(key)) {
      return Bad(Key(field("extra_envs"), key),
                 "not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    OCX_RETURN_IF_ERROR(
        CheckNoNul(Key(field("extra_envs"), key), c.extra_envs().at(key)));
  }
  OCX_RETURN_IF_ERROR(
      CheckAtLeastZero(field("worker_cpu"), int64_t{c.worker_cpu()}));
  OCX_RETURN_IF_ERROR(CheckAtLeastZero(field("worker_memory_gi"),
                                       int64_t{c.worker_memory_gi()}));
  const std::string hf = absl::AsciiStrToLower(c.hf_offline());
  if (!hf.empty() && hf != "true" && hf != "false" && hf != "1" && hf != "0") {
    return Bad(field("hf_offline"), absl::StrCat("expected true or false, got ",
                                                 Quote(c.hf_offline())));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> StageFieldsSet(const ocx::v1::RunnerConfig& r) {
  std::vector<std::string> set;
  if (r.has_aliyun_cfg()) set.push_back("aliyun_cfg");
  if (r.preemptible()) set.push_back("preemptible");
  if (!r.eval_with_gpu().empty()) set.push_back("eval_with_gpu");
  return set;
}

absl::Status ValidateStageRunner(const ocx::v1::RunnerConfig& r,
                                 const std::string& path) {
  const std::string cfg_path = Sub(path, "aliyun_cfg");
  if (!r.has_aliyun_cfg()) {
    return Bad(cfg_path,
               "required for DLCRunner (workspace_id, worker_image, "
               "dlc_config_path, ...)");
  }
  OCX_RETURN_IF_ERROR(ValidateEnvironmentAndIds(r.aliyun_cfg(), cfg_path));
  OCX_RETURN_IF_ERROR(ValidateJobShape(r.aliyun_cfg(), cfg_path));
  for (int i = 0; i < r.eval_with_gpu_size(); ++i) {
    if (r.eval_with_gpu(i).empty()) {
      return Bad(Index(Sub(path, "eval_with_gpu"), i), "must not be empty");
    }
  }
  return absl::OkStatus();
}

void ApplyStageDefaults(ocx::v1::RunnerConfig* r) {
  if (r->max_num_workers() == 0) r->set_max_num_workers(kDefaultMaxNumWorkers);
}

absl::Status ValidateSettings(const ocx::v1::DlcRunnerSettings& s) {
  OCX_RETURN_IF_ERROR(CheckNoNul("dlc.dlc_path", s.dlc_path()));
  OCX_RETURN_IF_ERROR(ValidateCallSettings("dlc", s));
  const std::pair<const char*, int64_t> non_negative[] = {
      {"dlc.max_concurrent_calls", s.max_concurrent_calls()},
      {"dlc.submit_tries", s.submit_tries()},
      {"dlc.log_interval_ms", s.log_interval_ms()},
  };
  for (const auto& [path, v] : non_negative) {
    OCX_RETURN_IF_ERROR(CheckAtLeastZero(path, v));
  }
  if (s.max_concurrent_calls() > kMaxDlcCalls) {
    return Bad("dlc.max_concurrent_calls",
               absl::StrCat("must be at most ", kMaxDlcCalls, ", got ",
                            s.max_concurrent_calls()));
  }
  return absl::OkStatus();
}

RunnerOptions OptionsFromSettings(const ocx::v1::DlcRunnerSettings& s,
                                  const std::string& base_dir) {
  RunnerOptions o;
  if (!s.dlc_path().empty()) {
    o.dlc_path = s.dlc_path().find('/') == std::string::npos
                     ? s.dlc_path()
                     : ocx::AbsolutePath(s.dlc_path(), base_dir);
  }
  ApplyCallSettings(s, &o);
  if (s.max_concurrent_calls() > 0) {
    o.max_concurrent_calls = s.max_concurrent_calls();
  }
  if (s.submit_tries() > 0) o.submit_tries = s.submit_tries();
  if (s.has_log_interval_ms()) o.log_interval_ms = s.log_interval_ms();
  return o;
}

}  // namespace ocx::runners::dlc
