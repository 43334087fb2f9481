#include "server/preflight.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/read_access.h"
#include "common/status_macros.h"
#include "partitioners/dataset_size.h"
#include "serving/endpoint_check.h"
#include "spec/validate.h"

namespace ocx::server {
namespace {

using ocx::v1::PreflightCheck;

PreflightCheck Check(const std::string& kind, const std::string& target,
                     const std::string& used_by) {
  PreflightCheck c;
  c.set_kind(kind);
  c.set_target(target);
  c.set_used_by(used_by);
  return c;
}

// One model's endpoint, from the (shared) check of its base URL.
void JudgeEndpoint(const serving::EndpointCheck& ec, const std::string& model,
                   PreflightCheck* c) {
  c->set_latency_ms(ec.latency_ms);
  if (!ec.reachable) {
    c->set_detail(ec.detail);
    return;
  }
  if (std::string missing = serving::ModelMissing(ec, model);
      !missing.empty()) {
    c->set_detail(missing);
    return;
  }
  c->set_ok(true);
  c->set_detail(ec.listed ? absl::StrCat("model ", model, " listed")
                          : absl::StrCat("answers; ", ec.detail));
}

void AddEndpoints(const ocx::v1::EvaluationSpec& spec, int timeout_ms,
                  std::vector<PreflightCheck>* out) {
  serving::HttpProbe http;
  std::map<std::string, serving::EndpointCheck> checked;
  // Only ocx-task's OpenICLInferTask is known to talk to the endpoints.
  const std::string& type = spec.infer().runner().task().type();
  if (!type.empty() && type != "OpenICLInferTask") return;
  for (const ocx::v1::ModelConfig& m : spec.models()) {
    if (m.has_serve()) {
      PreflightCheck c = Check("endpoint", "managed server", m.abbr());
      c.set_ok(true);
      c.set_detail("ocxd starts it when tasks need it (docs/serving.md)");
      out->push_back(std::move(c));
      continue;
    }
    const std::string base = serving::UserEndpointOf(m);
    if (base.empty()) continue;  // not a model behind an API
    auto it = checked.find(base);
    if (it == checked.end()) {
      it = checked.emplace(base, serving::CheckEndpoint(http, base, timeout_ms))
               .first;
    }
    PreflightCheck c = Check("endpoint", base, m.abbr());
    JudgeEndpoint(it->second, serving::RequestedModelOf(m), &c);
    out->push_back(std::move(c));
  }
}

// One dataset: readable by the caller, then counted as planning counts it.
PreflightCheck DatasetCheck(const ocx::v1::EvaluationSpec& spec, int i,
                            const Identity& caller) {
  const ocx::v1::DatasetConfig& d = spec.datasets(i);
  PreflightCheck c = Check("dataset", d.path(), d.abbr());
  if (d.path().empty()) {
    c.set_ok(d.size() > 0);
    c.set_detail(d.size() > 0 ? absl::StrCat("no file; size ", d.size())
                              : "no path");
    return c;
  }
  if (d.path()[0] != '/') {
    c.set_detail(
        "relative path: not found beside the config, and ocxd cannot read "
        "a path relative to the client's directory");
    return c;
  }
  absl::Status may =
      CheckCallerMayRead(caller, d.path(), absl::StrCat("datasets[", i, "]"));
  if (may.ok() && access(d.path().c_str(), F_OK) != 0) {
    may = absl::NotFoundError("no such file");
  }
  if (may.ok()) {
    ocx::v1::EvaluationSpec one;
    *one.add_datasets() = d;
    one.mutable_datasets(0)->set_size(0);  // count the file itself
    absl::StatusOr<partitioners::ResolvedSizes> sizes =
        partitioners::ResolveDatasetSizes(one, /*count_files=*/true, {});
    if (sizes.ok()) {
      c.set_ok(true);
      c.set_detail(absl::StrCat(sizes->raw[0], " rows"));
      return c;
    }
    may = sizes.status();
  }
  c.set_detail(std::string(may.message()));
  return c;
}

// `program` as exec would find it: a path, or a name in the PATH.
std::string FindProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return access(program.c_str(), X_OK) == 0 ? program : "";
  }
  const char* path = getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path == nullptr ? "" : path, ':')) {
    const std::string candidate =
        absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

PreflightCheck RunnerCheck(const std::string& type, const std::string& stages,
                           const PreflightSettings& s) {
  PreflightCheck c = Check("runner", type, stages);
  auto command = [&](const std::string& configured, const std::string& name,
                     const std::string& field) {
    const std::string program = configured.empty() ? name : configured;
    const std::string found = FindProgram(program);
    c.set_ok(!found.empty());
    c.set_detail(
        found.empty()
            ? absl::StrCat(program, " not found on the ocxd host (", field, ")")
            : absl::StrCat(name, " at ", found));
  };
  if (type == "LocalRunner") {
    c.set_ok(true);
    c.set_detail(s.gpus.empty()
                     ? "ok; no GPUs"
                     : absl::StrCat("ok; GPUs ", absl::StrJoin(s.gpus, ",")));
  } else if (type == "SlurmRunner") {
    command(s.sbatch_path, "sbatch", "slurm.sbatch_path");
  } else if (type == "DLCRunner") {
    command(s.dlc_path, "dlc", "dlc.dlc_path");
  } else {
    c.set_detail(absl::StrCat(type, " is not available in this ocxd"));
  }
  return c;
}

}  // namespace

absl::StatusOr<std::vector<PreflightCheck>> Preflight(
    const ocx::v1::EvaluationSpec& input, const Identity& caller,
    const PreflightSettings& settings) {
  OCX_RETURN_IF_ERROR(spec::ValidateEvaluationSpec(input));
  ocx::v1::EvaluationSpec spec = input;
  spec::ApplyDefaults(&spec);
  std::vector<PreflightCheck> out;
  AddEndpoints(spec, settings.probe_timeout_ms, &out);
  for (int i = 0; i < spec.datasets_size(); ++i) {
    out.push_back(DatasetCheck(spec, i, caller));
  }
  const std::string infer = spec.infer().runner().type();
  const std::string eval = spec.eval().runner().type();
  if (infer == eval) {
    out.push_back(RunnerCheck(infer, "infer, eval", settings));
  } else {
    out.push_back(RunnerCheck(infer, "infer", settings));
    out.push_back(RunnerCheck(eval, "eval", settings));
  }
  return out;
}

}  // namespace ocx::server
