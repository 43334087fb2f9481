#include "partitioners/fingerprint.h"

namespace ocx::partitioners {
namespace {

// Bump to invalidate every recorded fingerprint when the scheme changes.
constexpr absl::string_view kScheme = "ocx-fingerprint-v1";

}  // namespace

std::string ModelFingerprintBytes(const ocx::v1::ModelConfig& model) {
  ocx::v1::ModelConfig m = model;
  m.clear_run_cfg();
  m.clear_key_env();
  m.clear_query_per_second();
  m.clear_max_concurrency();
  m.clear_timeout_s();
  m.clear_retry();
  // A managed server's scheduling settings do not change what it answers;
  // its command, GPUs, env and API path may.
  if (m.has_serve()) {
    ocx::v1::ServeConfig* serve = m.mutable_serve();
    serve->clear_replicas();
    serve->clear_ready();
    serve->clear_idle_stop_s();
    serve->clear_max_attempts();
  }
  return DeterministicBytes(m);
}

Fnv1a64 OutputHashPrefix(ocx::v1::Stage stage, absl::string_view model_bytes) {
  Fnv1a64 h;
  h.UpdateField(kScheme);
  h.UpdateInt(static_cast<int64_t>(stage));
  h.UpdateField(model_bytes);
  return h;
}

std::string InferPartBytes(const ocx::v1::DatasetConfig& part) {
  ocx::v1::DatasetConfig d = part;
  d.clear_eval_cfg();
  d.clear_size();
  return DeterministicBytes(d);
}

std::string InferOutputFingerprintFromBytes(const Fnv1a64& prefix,
                                            absl::string_view part_bytes,
                                            const ocx::v1::TaskConfig& task) {
  Fnv1a64 h = prefix;
  h.UpdateField(part_bytes);
  h.UpdateField(task.type());
  return FingerprintHex(h.value());
}

std::string InferOutputFingerprint(const Fnv1a64& prefix,
                                   const ocx::v1::DatasetConfig& part,
                                   const ocx::v1::TaskConfig& task) {
  return InferOutputFingerprintFromBytes(prefix, InferPartBytes(part), task);
}

std::string EvalDatasetBytes(const ocx::v1::DatasetConfig& dataset) {
  ocx::v1::DatasetConfig d = dataset;
  d.clear_size();
  return DeterministicBytes(d);
}

std::string EvalOutputFingerprint(
    const Fnv1a64& prefix, const ocx::v1::DatasetConfig& dataset,
    const ocx::v1::TaskConfig& task,
    const std::vector<std::string>& part_fingerprints) {
  return EvalOutputFingerprintFromBytes(prefix, EvalDatasetBytes(dataset), task,
                                        part_fingerprints);
}

std::string EvalOutputFingerprintFromBytes(
    const Fnv1a64& prefix, absl::string_view dataset_bytes,
    const ocx::v1::TaskConfig& task,
    const std::vector<std::string>& part_fingerprints) {
  Fnv1a64 h = prefix;
  h.UpdateField(dataset_bytes);
  h.UpdateField(task.type());
  h.UpdateInt(task.dump_details() ? 1 : 0);
  h.UpdateInt(static_cast<int64_t>(part_fingerprints.size()));
  for (const std::string& fp : part_fingerprints) h.UpdateField(fp);
  return FingerprintHex(h.value());
}

std::string TaskFingerprint(ocx::v1::Stage stage,
                            const std::vector<std::string>& outputs) {
  Fnv1a64 h;
  h.UpdateField(kScheme);
  h.UpdateInt(static_cast<int64_t>(stage));
  h.UpdateInt(static_cast<int64_t>(outputs.size()));
  for (const std::string& fp : outputs) h.UpdateField(fp);
  return FingerprintHex(h.value());
}

}  // namespace ocx::partitioners
