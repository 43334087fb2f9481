#include "summary/results_proto.h"

namespace ocx::summary {

ocx::v1::EvaluationResults ToProto(const SummaryTable& table) {
  ocx::v1::EvaluationResults out;
  for (const std::string& m : table.model_abbrs) out.add_model_abbrs(m);
  for (const SummaryRow& r : table.rows) {
    ocx::v1::ResultRow* row = out.add_rows();
    row->set_dataset(r.dataset);
    row->set_version(r.version);
    row->set_metric(r.metric);
    row->set_mode(r.mode);
    for (const std::optional<double>& v : r.values) {
      ocx::v1::ResultCell* cell = row->add_values();
      cell->set_present(v.has_value());
      if (v.has_value()) cell->set_value(*v);
    }
  }
  return out;
}

SummaryTable FromProto(const ocx::v1::EvaluationResults& results) {
  SummaryTable out;
  out.model_abbrs.assign(results.model_abbrs().begin(),
                         results.model_abbrs().end());
  for (const ocx::v1::ResultRow& r : results.rows()) {
    SummaryRow row{r.dataset(), r.version(), r.metric(), r.mode(), {}};
    for (const ocx::v1::ResultCell& c : r.values()) {
      row.values.push_back(c.present() ? std::optional<double>(c.value())
                                       : std::nullopt);
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace ocx::summary
