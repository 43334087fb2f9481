#include "server/submission.h"

#include <unistd.h>

#include <optional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/fnv1a.h"
#include "common/read_access.h"
#include "common/status_macros.h"
#include "common/work_dir_layout.h"
#include "partitioners/dataset_size.h"
#include "partitioners/plan.h"
#include "server/confinement.h"
#include "server/output_check.h"
#include "serving/serve_config.h"
#include "spec/limits.h"
#include "spec/validate.h"

namespace ocx::server {
namespace {

absl::Status CheckGpus(const ocx::v1::EvaluationSpec& spec,
                       const std::vector<int>& gpus) {
  auto too_many = [&](const std::string& field, int needed) {
    return absl::FailedPreconditionError(absl::StrCat(
        field, ": a task needs ", needed, " GPU(s) but this ocxd has ",
        gpus.size(),
        gpus.empty() ? " (no GPUs configured: set local.gpus in the daemon "
                       "config or CUDA_VISIBLE_DEVICES)"
                     : absl::StrCat(" (", absl::StrJoin(gpus, ","), ")")));
  };
  // Only LocalRunner hands out this machine's GPUs; Slurm and DLC jobs ask
  // their own cluster.
  const bool local_infer = spec.infer().runner().type() == "LocalRunner";
  const bool local_eval = spec.eval().runner().type() == "LocalRunner";
  for (int i = 0; local_infer && i < spec.models_size(); ++i) {
    int n = spec.models(i).run_cfg().num_gpus();
    if (n > static_cast<int>(gpus.size())) {
      return too_many(absl::StrCat("models[", i, "].run_cfg.num_gpus"), n);
    }
  }
  for (int i = 0; local_eval && i < spec.datasets_size(); ++i) {
    int n = spec.datasets(i).eval_cfg().num_gpus();
    if (n > static_cast<int>(gpus.size())) {
      return too_many(absl::StrCat("datasets[", i, "].eval_cfg.num_gpus"), n);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTaskProgram(const ocx::v1::EvaluationSpec& spec,
                              const std::string& task_program) {
  const std::pair<const char*, const ocx::v1::StageConfig*> stages[] = {
      {"infer", &spec.infer()}, {"eval", &spec.eval()}};
  for (const auto& [name, stage] : stages) {
    const std::string& type = stage->runner().task().type();
    if (type == "command") continue;
    if (task_program.empty() || access(task_program.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          name, ".runner.task.type: ", type,
          " runs the ocx-task program, which this ocxd does not have",
          task_program.empty() ? "" : absl::StrCat(" (", task_program, ")"),
          "; set task_program in the daemon config, or use type: command "
          "with argv"));
    }
  }
  return absl::OkStatus();
}

// Managed model servers: what only this daemon can check (GPUs, ports, the
// server program, ocx-task serve) before anything starts.
absl::Status CheckServe(const ocx::v1::EvaluationSpec& spec,
                        const SubmissionPolicy& policy) {
  serving::Preflight preflight;
  preflight.runner_type = spec.infer().runner().type();
  preflight.local_gpus = static_cast<int>(policy.gpus.size());
  preflight.port_first = policy.serve_port_first;
  preflight.port_last = policy.serve_port_last;
  preflight.check_program = preflight.runner_type == "LocalRunner";
  for (int i = 0; i < spec.models_size(); ++i) {
    if (!spec.models(i).has_serve()) continue;
    const std::string field = absl::StrCat("models[", i, "].serve");
    OCX_RETURN_IF_ERROR(serving::CheckServeRunnable(
        serving::WithDefaults(spec.models(i).serve()), field, preflight));
    if (policy.task_program.empty() ||
        access(policy.task_program.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          field,
          ": model servers run under `ocx-task serve`, which this ocxd "
          "does not have; set task_program in the daemon config"));
    }
  }
  return absl::OkStatus();
}

// Planning counts the files of datasets without a size: each must be one
// the caller could read itself.
absl::Status CheckDatasetsReadable(const ocx::v1::EvaluationSpec& spec,
                                   const Identity& caller) {
  for (int i = 0; i < spec.datasets_size(); ++i) {
    const ocx::v1::DatasetConfig& d = spec.datasets(i);
    if (d.size() > 0 || d.path().empty() || d.path()[0] != '/') continue;
    OCX_RETURN_IF_ERROR(CheckCallerMayRead(
        caller, d.path(), absl::StrCat("datasets[", i, "].path")));
  }
  return absl::OkStatus();
}

// Keyed reuse: an output matches when it is the one the store recorded
// for it with the same fingerprint (server/output_check.h).
absl::Status MarkReused(const std::string& work_dir, store::Store* store,
                        TaskRows* tasks) {
  if (!PathExists(work_dir)) return absl::OkStatus();  // a fresh work dir
  std::vector<std::string> paths;
  for (const ocx::v1::Task& t : *tasks) {
    for (const std::string& rel : t.params().expected_outputs()) {
      paths.push_back(layout::InWorkDir(work_dir, rel));
    }
  }
  OCX_ASSIGN_OR_RETURN(OutputCheck check, OutputCheck::Load(paths, store));
  partitioners::MarkReusedTasks(
      tasks, [&](const std::string& rel, const std::string& fingerprint) {
        return check.Check(layout::InWorkDir(work_dir, rel), fingerprint) ==
               OutputVerdict::kMatches;
      });
  return absl::OkStatus();
}

}  // namespace

std::string NewEvaluationId() {
  static constexpr char kChars[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  absl::BitGen gen;
  std::string id = "e";
  for (int i = 0; i < 8; ++i) {
    id += kChars[absl::Uniform<int>(gen, 0, 36)];
  }
  return id;
}

namespace {

// What identifies a Create request besides its request_id: the spec as
// sent and the name.
std::string RequestHash(const ocx::v1::EvaluationSpec& spec,
                        const std::string& name) {
  Fnv1a64 h;
  h.UpdateField("ocx create request v1");
  h.UpdateField(DeterministicBytes(spec));
  h.UpdateField(name);
  return FingerprintHex(h.value());
}

// The work dir of an evaluation for `owner`: its work_dir, or the default
// under work_root, confined to the policy's roots and resolved.
absl::StatusOr<std::string> WorkDirFor(const ocx::v1::EvaluationSpec& spec,
                                       const std::string& eval_id,
                                       const SubmissionPolicy& policy,
                                       const ocx::v1::Owner& owner,
                                       std::string* owner_root) {
  if (policy.refuse_root_owner && owner.uid() == 0) {
    return absl::PermissionDeniedError(
        "this ocxd runs as root and runs each task as its evaluation's "
        "owner; an evaluation owned by root would run its tasks as root, "
        "which the daemon config does not allow (confinement."
        "allow_root_tasks): submit as an ordinary user");
  }
  std::string work_dir;
  if (spec.work_dir().empty()) {
    if (policy.per_user_work_root && !owner.user().empty()) {
      *owner_root = JoinPath(policy.work_root, owner.user());
      work_dir = JoinPath(*owner_root, eval_id);
    } else {
      work_dir = JoinPath(policy.work_root, eval_id);
    }
  } else if (spec.work_dir()[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "work_dir: \"", spec.work_dir(),
        "\" must be an absolute path (ocxd cannot know the client's current "
        "directory; ocxctl makes relative paths absolute)"));
  } else {
    work_dir = AbsolutePath(spec.work_dir(), "/");
  }
  if (policy.work_dir_roots.empty()) return work_dir;
  return ConfineWorkDir(work_dir, RootsFor(policy.work_dir_roots, owner));
}

// The dataset size cache, read through the store; none without one.
partitioners::SizeCacheLookup SizeLookup(store::Store* store) {
  if (store == nullptr) return {};
  return [store](
             const std::string& path, const std::string& reader,
             const partitioners::FileIdentity& file) -> std::optional<int64_t> {
    auto cached =
        store->LookupDatasetSize(path, reader, file.size, file.mtime_ns);
    // A cache that cannot be read is a miss: the file is counted.
    return cached.ok() ? *cached : std::nullopt;
  };
}

}  // namespace

absl::StatusOr<PreparedSubmission> PrepareToPlan(
    const ocx::v1::EvaluationSpec& input, const std::string& name,
    const std::string& request_id, const std::string& eval_id,
    const SubmissionPolicy& policy, bool create_dirs,
    const ocx::v1::Owner& owner) {
  if (name.size() > 256) {
    return absl::InvalidArgumentError("name: at most 256 characters");
  }
  if (request_id.size() > 128) {
    return absl::InvalidArgumentError("request_id: at most 128 characters");
  }
  const ocx::v1::LimitSettings limits = spec::EffectiveLimits(policy.limits);
  OCX_RETURN_IF_ERROR(
      spec::CheckSpecSize("spec", static_cast<int64_t>(input.ByteSizeLong()),
                          limits.max_spec_bytes()));
  OCX_RETURN_IF_ERROR(spec::ValidateEvaluationSpec(input));
  ocx::v1::EvaluationSpec spec = input;
  spec::ApplyDefaults(&spec);
  std::string owner_root;
  OCX_ASSIGN_OR_RETURN(std::string work_dir,
                       WorkDirFor(spec, eval_id, policy, owner, &owner_root));
  OCX_RETURN_IF_ERROR(CheckGpus(spec, policy.gpus));
  OCX_RETURN_IF_ERROR(CheckTaskProgram(spec, policy.task_program));
  OCX_RETURN_IF_ERROR(CheckServe(spec, policy));
  const bool count_files = partitioners::NeedsDatasetSizes(spec);
  if (count_files && policy.caller != nullptr) {
    OCX_RETURN_IF_ERROR(CheckDatasetsReadable(spec, *policy.caller));
  }
  OCX_ASSIGN_OR_RETURN(partitioners::ResolvedSizes sizes,
                       partitioners::ResolveDatasetSizes(
                           spec, count_files, SizeLookup(policy.store)));
  PreparedSubmission prepared;
  prepared.plan_options.num_samples = std::move(sizes.selected);
  prepared.plan_options.max_tasks = limits.max_tasks_per_evaluation();
  // Outputs can be reused only from a work dir that exists.
  if (policy.store != nullptr && PathExists(work_dir)) {
    prepared.reuse_store = policy.store;
  }
  Submission& sub = prepared.submission;
  // The dispatcher makes the dir, after its request_id check.
  sub.create_work_dir = create_dirs;
  sub.owner_root = std::move(owner_root);
  if (!request_id.empty()) sub.request_hash = RequestHash(input, name);
  ocx::v1::Evaluation& e = sub.evaluation;
  e.set_id(eval_id);
  e.set_name(name.empty() ? eval_id : name);
  e.set_request_id(request_id);
  *e.mutable_spec() = std::move(spec);
  e.set_work_dir(work_dir);
  for (partitioners::CountedSize& c : sizes.counted) {
    store::DatasetSizeRecord& r = sub.dataset_sizes.emplace_back();
    r.path = std::move(c.path);
    r.reader = std::move(c.reader);
    r.file_size = c.file.size;
    r.mtime_ns = c.file.mtime_ns;
    r.num_samples = c.num_samples;
  }
  return prepared;
}

absl::Status CheckPlanCount(int64_t count) {
  if (count > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "the evaluation has no tasks: check models and datasets");
}

absl::StatusOr<Submission> PlanAll(PreparedSubmission prepared) {
  Submission& sub = prepared.submission;
  const ocx::v1::Evaluation& e = sub.evaluation;
  partitioners::PlanOptions& options = prepared.plan_options;
  options.on_count = [&sub](int64_t count) {
    sub.evaluation.set_task_count(static_cast<int32_t>(count));
    return CheckPlanCount(count);
  };
  TaskRows tasks;
  OCX_RETURN_IF_ERROR(partitioners::PlanTasksTo(
      e.spec(), e.id(), options, [&tasks](ocx::v1::Task t) { tasks.Add(t); }));
  if (prepared.reuse_store != nullptr) {
    OCX_RETURN_IF_ERROR(MarkReused(e.work_dir(), prepared.reuse_store, &tasks));
  }
  sub.task_rows = std::move(tasks);
  return std::move(sub);
}

absl::StatusOr<Submission> PrepareSubmission(
    const ocx::v1::EvaluationSpec& input, const std::string& name,
    const std::string& request_id, const std::string& eval_id,
    const SubmissionPolicy& policy, bool create_dirs,
    const ocx::v1::Owner& owner) {
  OCX_ASSIGN_OR_RETURN(PreparedSubmission prepared,
                       PrepareToPlan(input, name, request_id, eval_id, policy,
                                     create_dirs, owner));
  return PlanAll(std::move(prepared));
}

}  // namespace ocx::server
