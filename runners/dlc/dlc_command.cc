#include "runners/dlc/dlc_command.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/utf8_cut.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "runners/cli/shell_quote.h"

namespace ocx::runners::dlc {
namespace {

using ocx::v1::AliyunConfig;

bool IsEnvName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool ContainsIgnoreCase(absl::string_view haystack, absl::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(haystack),
                           absl::AsciiStrToLower(needle));
}

absl::Status CheckNoNul(absl::string_view what, absl::string_view s) {
  if (s.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": must not contain NUL"));
  }
  return absl::OkStatus();
}

absl::Status AppendExport(absl::string_view what, absl::string_view name,
                          absl::string_view value, std::string* out) {
  if (!IsEnvName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", absl::CHexEscape(name),
                     "\" is not an environment variable name"));
  }
  if (absl::Status s = CheckNoNul(absl::StrCat(what, "[", name, "]"), value);
      !s.ok()) {
    return s;
  }
  absl::StrAppend(out, "export ", name, "=", ShellQuote(value), "; ");
  return absl::OkStatus();
}

// The text after any leading lines that do not start with `open`.
absl::string_view JsonPart(absl::string_view output, char open) {
  size_t pos = 0;
  while (pos < output.size()) {
    size_t end = output.find('\n', pos);
    if (end == absl::string_view::npos) end = output.size();
    absl::string_view line =
        absl::StripLeadingAsciiWhitespace(output.substr(pos, end - pos));
    if (!line.empty() && line[0] == open) {
      return absl::StripAsciiWhitespace(output.substr(pos));
    }
    pos = end + 1;
  }
  return absl::string_view();
}

absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text) {
  // Struct/ListValue need an object/array at the top: wrap it in one.
  google::protobuf::Struct wrapper;
  std::string json = absl::StrCat("{\"v\":", text, "}");
  auto status = google::protobuf::util::JsonStringToMessage(json, &wrapper);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON: ", status.ToString()));
  }
  return wrapper.fields().at("v");
}

std::string StringField(const google::protobuf::Struct& s,
                        const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end()) return "";
  if (it->second.has_string_value()) return it->second.string_value();
  if (it->second.has_number_value()) {
    return absl::StrCat(it->second.number_value());
  }
  return "";
}

absl::StatusOr<JobInfo> ToJobInfo(const google::protobuf::Value& v) {
  if (!v.has_struct_value()) {
    return absl::InvalidArgumentError("a job is not a JSON object");
  }
  const google::protobuf::Struct& s = v.struct_value();
  JobInfo info;
  info.job_id = StringField(s, "JobId");
  info.display_name = StringField(s, "DisplayName");
  info.status = StringField(s, "Status");
  info.reason_code = StringField(s, "ReasonCode");
  info.reason_message = StringField(s, "ReasonMessage");
  info.create_time = StringField(s, "GmtCreateTime");
  info.running_time = StringField(s, "GmtRunningTime");
  if (info.status.empty()) {
    return absl::InvalidArgumentError("the job has no Status");
  }
  return info;
}

std::string Shorten(absl::string_view s) {
  constexpr size_t kMax = 200;
  return Abbreviate(s, kMax);
}

void AppendConfig(const AliyunConfig& cfg, std::vector<std::string>* argv) {
  if (!cfg.dlc_config_path().empty()) {
    argv->push_back("--config");
    argv->push_back(cfg.dlc_config_path());
  }
}

// `dlc <verb> job <job_id>`, with --config when `cfg` names a dlc config.
std::vector<std::string> JobArgv(const std::string& dlc, const char* verb,
                                 const AliyunConfig& cfg,
                                 const std::string& job_id) {
  std::vector<std::string> argv = {dlc, verb, "job", job_id};
  AppendConfig(cfg, &argv);
  return argv;
}

}  // namespace

absl::StatusOr<std::string> BuildRemoteShell(const AliyunConfig& cfg,
                                             const RemoteTask& task) {
  if (task.argv.empty() || task.argv[0].empty()) {
    return absl::InvalidArgumentError("the task has no program (empty argv)");
  }
  if (task.work_dir.empty()) {
    return absl::InvalidArgumentError("the task has no work_dir");
  }
  const std::pair<const char*, const std::string*> strings[] = {
      {"aliyun_cfg.bashrc_path", &cfg.bashrc_path()},
      {"aliyun_cfg.conda_env_name", &cfg.conda_env_name()},
      {"aliyun_cfg.python_env_path", &cfg.python_env_path()},
      {"work_dir", &task.work_dir},
  };
  for (const auto& [what, s] : strings) {
    if (absl::Status st = CheckNoNul(what, *s); !st.ok()) return st;
  }
  for (size_t i = 0; i < task.argv.size(); ++i) {
    if (absl::Status st =
            CheckNoNul(absl::StrCat("argv[", i, "]"), task.argv[i]);
        !st.ok()) {
      return st;
    }
  }
  std::string hf = absl::AsciiStrToLower(cfg.hf_offline());
  if (!hf.empty() && hf != "true" && hf != "false" && hf != "1" && hf != "0") {
    return absl::InvalidArgumentError(
        absl::StrCat("aliyun_cfg.hf_offline: expected true or false, got \"",
                     absl::CHexEscape(cfg.hf_offline()), "\""));
  }
  const bool hf_offline = hf.empty() || hf == "true" || hf == "1";

  const std::string wd = ShellQuote(task.work_dir);
  std::string shell;
  if (!cfg.bashrc_path().empty()) {
    // The user's conda env.
    absl::StrAppend(&shell, "source ", ShellQuote(cfg.bashrc_path()),
                    "; conda activate ", ShellQuote(cfg.conda_env_name()),
                    "; export PYTHONPATH=", wd, ":$PYTHONPATH; ");
  } else if (!cfg.python_env_path().empty()) {
    absl::StrAppend(&shell, "export PATH=", ShellQuote(cfg.python_env_path()),
                    "/bin:$PATH; export PYTHONPATH=", wd, ":$PYTHONPATH; ");
  }
  if (hf_offline) {
    absl::StrAppend(
        &shell,
        "export HF_DATASETS_OFFLINE=1; export TRANSFORMERS_OFFLINE=1; "
        "export HF_EVALUATE_OFFLINE=1; export HF_HUB_OFFLINE=1; ");
  }
  // Maps are sorted by key: the shell is the same for the same inputs.
  std::map<std::string, std::string> extra(cfg.extra_envs().begin(),
                                           cfg.extra_envs().end());
  for (const auto& [k, v] : extra) {
    if (absl::Status s = AppendExport("aliyun_cfg.extra_envs", k, v, &shell);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [k, v] : task.env) {
    if (absl::Status s = AppendExport("task env", k, v, &shell); !s.ok()) {
      return s;
    }
  }
  absl::StrAppend(&shell, "cd ", wd, "; umask 0000; ");
  std::vector<std::string> words;
  words.reserve(task.argv.size());
  for (const std::string& a : task.argv) words.push_back(ShellQuote(a));
  absl::StrAppend(&shell, absl::StrJoin(words, " "));
  return shell;
}

Resources ComputeResources(int num_gpus, const AliyunConfig& cfg) {
  Resources r;
  r.gpus = std::max(0, num_gpus);
  r.cpu = std::max(8 * r.gpus, cfg.worker_cpu() > 0 ? cfg.worker_cpu() : 12);
  r.memory_gi = std::max(
      128 * r.gpus, cfg.worker_memory_gi() > 0 ? cfg.worker_memory_gi() : 192);
  return r;
}

absl::Status CheckAliyunConfig(const AliyunConfig& cfg) {
  auto required = [](const char* field) {
    return absl::InvalidArgumentError(
        absl::StrCat("aliyun_cfg.", field, ": required for DLCRunner"));
  };
  if (cfg.workspace_id().empty()) return required("workspace_id");
  if (cfg.worker_image().empty()) return required("worker_image");
  if (cfg.dlc_config_path().empty()) return required("dlc_config_path");
  if (!cfg.bashrc_path().empty() && cfg.conda_env_name().empty()) {
    return absl::InvalidArgumentError(
        "aliyun_cfg.conda_env_name: required with bashrc_path");
  }
  if (!cfg.conda_env_name().empty() && cfg.bashrc_path().empty()) {
    return absl::InvalidArgumentError(
        "aliyun_cfg.bashrc_path: required with conda_env_name (the file that "
        "sets up conda)");
  }
  if (!cfg.bashrc_path().empty() && !cfg.python_env_path().empty()) {
    return absl::InvalidArgumentError(
        "aliyun_cfg.python_env_path: set either bashrc_path + conda_env_name "
        "or python_env_path, not both");
  }
  return absl::OkStatus();
}

std::vector<std::string> CreateJobArgv(
    const std::string& dlc, const AliyunConfig& cfg, bool preemptible,
    const std::string& name, const std::string& shell, const Resources& res) {
  std::vector<std::string> argv = {
      dlc,      "create",     "job",
      "--kind", "PyTorchJob", "--command",
      shell,    "--name",     std::string(Utf8Prefix(name, 512))};
  AppendConfig(cfg, &argv);
  argv.push_back("--workspace_id");
  argv.push_back(cfg.workspace_id());
  if (!cfg.resource_id().empty()) {
    argv.push_back(absl::StrCat("--resource_id=", cfg.resource_id()));
  }
  argv.push_back("--priority");
  argv.push_back(absl::StrCat(cfg.priority() > 0 ? cfg.priority() : 1));
  argv.push_back("--worker_count");
  argv.push_back("1");
  argv.push_back("--worker_cpu");
  argv.push_back(absl::StrCat(res.cpu));
  argv.push_back("--worker_gpu");
  argv.push_back(absl::StrCat(res.gpus));
  argv.push_back("--worker_memory");
  argv.push_back(absl::StrCat(res.memory_gi, "Gi"));
  argv.push_back("--worker_image");
  argv.push_back(cfg.worker_image());
  if (!cfg.data_sources().empty()) {
    argv.push_back(absl::StrCat("--data_sources=",
                                absl::StrJoin(cfg.data_sources(), ",")));
  }
  argv.push_back(absl::StrCat("--enable_priority_preemption=",
                              preemptible ? "True" : "False"));
  return argv;
}

std::vector<std::string> GetJobArgv(const std::string& dlc,
                                    const AliyunConfig& cfg,
                                    const std::string& job_id) {
  return JobArgv(dlc, "get", cfg, job_id);
}

std::vector<std::string> ListJobsArgv(const std::string& dlc,
                                      const AliyunConfig& cfg,
                                      const std::string& name) {
  std::vector<std::string> argv = {dlc,
                                   "list",
                                   "job",
                                   "--display_name",
                                   name,
                                   "--workspace_id",
                                   cfg.workspace_id()};
  AppendConfig(cfg, &argv);
  return argv;
}

std::vector<std::string> LogsArgv(const std::string& dlc,
                                  const AliyunConfig& cfg,
                                  const std::string& job_id, int64_t start_s,
                                  int64_t end_s) {
  std::vector<std::string> argv = {dlc, "logs", job_id,
                                   absl::StrCat(job_id, "-master-0")};
  AppendConfig(cfg, &argv);
  argv.push_back("--start_time");
  argv.push_back(FormatUtc(start_s));
  if (end_s > 0) {
    argv.push_back("--end_time");
    argv.push_back(FormatUtc(end_s));
  }
  return argv;
}

std::vector<std::string> StopJobArgv(const std::string& dlc,
                                     const AliyunConfig& cfg,
                                     const std::string& job_id) {
  std::vector<std::string> argv = JobArgv(dlc, "stop", cfg, job_id);
  argv.push_back("-f");
  return argv;
}

bool IsJobId(absl::string_view s) {
  if (s.size() <= 3 || !absl::StartsWith(s, "dlc")) return false;
  return std::all_of(s.begin() + 3, s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
           (c >= 'a' && c <= 'z');
  });
}

absl::StatusOr<std::string> ParseJobId(absl::string_view output) {
  static const std::regex* const kJobId =
      new std::regex(R"(\|\s+(dlc[0-9a-z]+)\s+\|)");
  std::match_results<absl::string_view::const_iterator> m;
  if (std::regex_search(output.begin(), output.end(), m, *kJobId)) {
    return m[1].str();
  }
  return absl::NotFoundError(absl::StrCat("no job id in dlc's output: \"",
                                          absl::CHexEscape(Shorten(output)),
                                          "\""));
}

absl::StatusOr<JobInfo> ParseJobInfo(absl::string_view output) {
  absl::string_view json = JsonPart(output, '{');
  if (json.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no JSON object in dlc's output: \"",
                     absl::CHexEscape(Shorten(output)), "\""));
  }
  absl::StatusOr<google::protobuf::Value> v = ParseJson(json);
  if (!v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(v.status().message(), " in \"",
                     absl::CHexEscape(Shorten(output)), "\""));
  }
  return ToJobInfo(*v);
}

absl::StatusOr<std::vector<JobInfo>> ParseJobList(absl::string_view output) {
  absl::string_view obj = JsonPart(output, '{');
  absl::string_view arr = JsonPart(output, '[');
  // Whichever starts first.
  absl::string_view json =
      obj.empty() ? arr : (arr.empty() || obj.size() >= arr.size() ? obj : arr);
  if (json.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no JSON in dlc's output: \"",
                     absl::CHexEscape(Shorten(output)), "\""));
  }
  absl::StatusOr<google::protobuf::Value> v = ParseJson(json);
  if (!v.ok()) return v.status();
  const google::protobuf::ListValue* list = nullptr;
  if (v->has_list_value()) {
    list = &v->list_value();
  } else if (v->has_struct_value()) {
    auto it = v->struct_value().fields().find("Jobs");
    if (it == v->struct_value().fields().end()) {
      return std::vector<JobInfo>();  // no matches
    }
    if (!it->second.has_list_value()) {
      return absl::InvalidArgumentError("\"Jobs\" is not a list");
    }
    list = &it->second.list_value();
  } else {
    return absl::InvalidArgumentError("a job list is neither object nor array");
  }
  std::vector<JobInfo> jobs;
  for (const google::protobuf::Value& item : list->values()) {
    absl::StatusOr<JobInfo> info = ToJobInfo(item);
    if (!info.ok()) return info.status();
    jobs.push_back(std::move(*info));
  }
  return jobs;
}

int IncarnationOf(absl::string_view base, absl::string_view name) {
  if (name == base) return 0;
  if (!absl::ConsumePrefix(&name, base) || !absl::ConsumePrefix(&name, "-p") ||
      name.empty() || name.size() > 6 || name[0] == '0') {
    return -1;
  }
  int k = 0;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return -1;
    k = k * 10 + (c - '0');
  }
  return k;
}

bool SaysNotFound(absl::string_view output) {
  return ContainsIgnoreCase(output, "notfound") ||
         ContainsIgnoreCase(output, "not found") ||
         ContainsIgnoreCase(output, "EntityNotExist");
}

std::string FormatUtc(int64_t epoch_s) {
  time_t t = static_cast<time_t>(epoch_s);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t ParseUtc(absl::string_view text) {
  std::string s(text);
  struct tm tm = {};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

bool IsFinalStatus(absl::string_view status) {
  return status == "Succeeded" || status == "Failed" || status == "Stopped" ||
         status == "SucceededReserving" || status == "FailedReserving" ||
         status == "Preempted";
}

bool IsSuccessStatus(absl::string_view status) {
  return status == "Succeeded" || status == "SucceededReserving";
}

bool IsPreempted(const JobInfo& info) {
  if (info.status == "Preempted") return true;
  if (!IsFinalStatus(info.status) || IsSuccessStatus(info.status)) {
    return false;
  }
  return ContainsIgnoreCase(info.reason_code, "preempt") ||
         ContainsIgnoreCase(info.reason_message, "preempt");
}

}  // namespace ocx::runners::dlc
