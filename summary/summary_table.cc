#include "summary/summary_table.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/fnv1a.h"
#include "common/work_dir_layout.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ocx::summary {
namespace {

// metric -> value of one results file; empty when missing or malformed.
std::map<std::string, double> ReadMetrics(const std::string& path) {
  std::map<std::string, double> out;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return out;
  google::protobuf::Struct s;
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(*text, &s, options).ok()) {
    return out;
  }
  for (const auto& [key, value] : s.fields()) {
    if (key == "details") continue;
    if (value.kind_case() == google::protobuf::Value::kNumberValue) {
      out.emplace(key, value.number_value());
    }
  }
  return out;
}

}  // namespace

std::string DatasetVersion(const ocx::v1::DatasetConfig& dataset) {
  Fnv1a64 h;
  h.UpdateField("ocx.summary.version.v1");
  h.UpdateField(DeterministicBytes(dataset.infer_cfg()));
  return FingerprintHex(h.value()).substr(0, 6);
}

std::string DatasetMode(const ocx::v1::DatasetConfig& dataset) {
  const std::string& type = dataset.infer_cfg().inferencer().type();
  if (type.empty() || type == "GenInferencer") return "gen";
  if (type == "PPLInferencer") return "ppl";
  if (type == "LLInferencer") return "ll";
  return "-";
}

SummaryTable BuildSummaryTable(const ocx::v1::EvaluationSpec& spec,
                               const std::string& work_dir) {
  SummaryTable table;
  for (const ocx::v1::ModelConfig& m : spec.models()) {
    table.model_abbrs.push_back(m.abbr());
  }
  std::vector<std::string> order;
  if (spec.summarizer().dataset_abbrs_size() > 0) {
    order.assign(spec.summarizer().dataset_abbrs().begin(),
                 spec.summarizer().dataset_abbrs().end());
  } else {
    for (const ocx::v1::DatasetConfig& d : spec.datasets()) {
      order.push_back(d.abbr());
    }
  }
  const size_t num_models = table.model_abbrs.size();
  for (const std::string& abbr : order) {
    const ocx::v1::DatasetConfig* dataset = nullptr;
    for (const ocx::v1::DatasetConfig& d : spec.datasets()) {
      if (d.abbr() == abbr) dataset = &d;
    }
    if (dataset == nullptr) {
      table.rows.push_back(SummaryRow{
          abbr, "-", "-", "-", std::vector<std::optional<double>>(num_models)});
      continue;
    }
    std::vector<std::map<std::string, double>> per_model;
    std::map<std::string, bool> metrics;
    for (const std::string& model : table.model_abbrs) {
      per_model.push_back(ReadMetrics(
          layout::InWorkDir(work_dir, layout::ResultFile(model, abbr))));
      for (const auto& [metric, value] : per_model.back()) {
        metrics[metric] = true;
      }
    }
    const std::string version = DatasetVersion(*dataset);
    const std::string mode = DatasetMode(*dataset);
    if (metrics.empty()) {
      table.rows.push_back(
          SummaryRow{abbr, version, "-", mode,
                     std::vector<std::optional<double>>(num_models)});
      continue;
    }
    for (const auto& [metric, unused] : metrics) {
      SummaryRow row{abbr, version, metric, mode, {}};
      for (const auto& values : per_model) {
        auto it = values.find(metric);
        row.values.push_back(it == values.end()
                                 ? std::nullopt
                                 : std::optional<double>(it->second));
      }
      table.rows.push_back(std::move(row));
    }
  }
  return table;
}

}  // namespace ocx::summary
