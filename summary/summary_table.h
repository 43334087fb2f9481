// The summary table of an evaluation, as OpenCompass's DefaultSummarizer
// prints it: one row per (dataset, metric), columns
// `dataset | version | metric | mode | <model abbrs...>`.
//
// BuildSummaryTable reads results/<model>/<dataset>.json under the work
// dir; it works while an evaluation runs (missing files give "-").
//
// Thread-safe: no shared state.
#ifndef OCX_SUMMARY_SUMMARY_TABLE_H_
#define OCX_SUMMARY_SUMMARY_TABLE_H_

#include <optional>
#include <string>
#include <vector>

#include "ocx/v1/spec.pb.h"

namespace ocx::summary {

struct SummaryRow {
  std::string dataset;
  // 6 hex digits of the dataset's infer settings; "-" for a dataset the
  // spec does not have.
  std::string version;
  // "-" when no model has results for the dataset yet.
  std::string metric;
  // gen | ppl | ll | "-".
  std::string mode;
  // One per model, in model order; nullopt where the value is missing.
  std::vector<std::optional<double>> values;
};

struct SummaryTable {
  std::vector<std::string> model_abbrs;
  std::vector<SummaryRow> rows;
};

// OpenCompass's dataset "version": a short hash of the dataset's infer
// settings (its infer_cfg, deterministically serialized and hashed with
// common/fnv1a.h's FNV-1a; OpenCompass takes sha256 of the
// config's text). Two datasets prompted alike share a version.
std::string DatasetVersion(const ocx::v1::DatasetConfig& dataset);

// gen for GenInferencer (and an unset inferencer, which ocx-task runs as
// generation), ppl for PPLInferencer, ll for LLInferencer, else "-".
std::string DatasetMode(const ocx::v1::DatasetConfig& dataset);

// The table for `spec` with outputs under `work_dir`. Rows follow
// summarizer.dataset_abbrs when given (an abbr the spec lacks gets one row
// of "-"), else the spec's dataset order. A dataset's metrics are the
// numeric top-level keys of any of its results files (sorted by name,
// "details" and non-numbers skipped); a dataset without any results file
// yet has one row with metric "-". Unreadable or malformed results files
// count as missing.
SummaryTable BuildSummaryTable(const ocx::v1::EvaluationSpec& spec,
                               const std::string& work_dir);

}  // namespace ocx::summary

#endif  // OCX_SUMMARY_SUMMARY_TABLE_H_
