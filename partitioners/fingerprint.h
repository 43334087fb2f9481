// Fingerprints: a stable hash of what determines a task's outputs, so that
// an output is reused only when it was made with the same settings
// (DESIGN.md decision 7).
//
// The hash is FNV-1a 64 (common/fnv1a.h) over a deterministic protobuf
// serialization (map entries sorted by key) of the inputs, each length-prefixed
// and tagged with the scheme version, written as 16 lowercase hex digits. It is
// the same on every machine and every run (std::hash is not), and proto3 leaves
// unset fields out of the bytes, so a field added to a message later does not
// change existing fingerprints until it is set. Not cryptographic: it guards
// against mistakes, not attackers.
//
// What goes in:
//   infer output  the stage; the model config without its run settings
//                 (run_cfg, key_env, query_per_second, max_concurrency,
//                 timeout_s, retry); the dataset part's config (abbr, path,
//                 format, reader_cfg with the part's chained test_range,
//                 infer_cfg, n, k) without eval_cfg and the explicit size;
//                 the task type.
//   eval output   the stage; the same model config; the whole dataset's
//                 config (with eval_cfg, without size); the task type and
//                 dump_details; and the fingerprints of every prediction
//                 part of the pair, in part order.
// Ids, work_dir, runner settings and the task's argv/env do not go in.
//
// Thread-safe: no shared state.
#ifndef OCX_PARTITIONERS_FINGERPRINT_H_
#define OCX_PARTITIONERS_FINGERPRINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/fnv1a.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/spec.pb.h"

namespace ocx::partitioners {

// The model config as it enters fingerprints (run settings cleared),
// serialized deterministically.
std::string ModelFingerprintBytes(const ocx::v1::ModelConfig& model);

// The hash state after the scheme tag, the stage and the model bytes; the
// outputs of one (stage, model) continue from a copy of it.
Fnv1a64 OutputHashPrefix(ocx::v1::Stage stage, absl::string_view model_bytes);

// The fingerprint of the prediction of one dataset part.
std::string InferOutputFingerprint(const Fnv1a64& prefix,
                                   const ocx::v1::DatasetConfig& part,
                                   const ocx::v1::TaskConfig& task);
// The same, from the part's bytes (InferPartBytes) computed once for every
// model.
std::string InferOutputFingerprintFromBytes(const Fnv1a64& prefix,
                                            absl::string_view part_bytes,
                                            const ocx::v1::TaskConfig& task);
std::string InferPartBytes(const ocx::v1::DatasetConfig& part);

// The fingerprint of the result of one (model, dataset) pair.
std::string EvalOutputFingerprint(
    const Fnv1a64& prefix, const ocx::v1::DatasetConfig& dataset,
    const ocx::v1::TaskConfig& task,
    const std::vector<std::string>& part_fingerprints);
// The same, from the dataset's bytes (EvalDatasetBytes) computed once for
// every model.
std::string EvalOutputFingerprintFromBytes(
    const Fnv1a64& prefix, absl::string_view dataset_bytes,
    const ocx::v1::TaskConfig& task,
    const std::vector<std::string>& part_fingerprints);
std::string EvalDatasetBytes(const ocx::v1::DatasetConfig& dataset);

// A task's fingerprint: its stage and its outputs' fingerprints in order.
std::string TaskFingerprint(ocx::v1::Stage stage,
                            const std::vector<std::string>& outputs);

}  // namespace ocx::partitioners

#endif  // OCX_PARTITIONERS_FINGERPRINT_H_
