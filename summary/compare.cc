#include "summary/compare.h"

#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ocx::summary {
namespace {

using RowKey = std::tuple<std::string, std::string, std::string, std::string>;

RowKey KeyOf(const SummaryRow& row) {
  return {row.dataset, row.version, row.metric, row.mode};
}

}  // namespace

SummaryTable CompareTables(const std::vector<LabeledTable>& tables) {
  SummaryTable out;
  std::vector<size_t> first_column;  // per table, its first column
  for (const LabeledTable& t : tables) {
    first_column.push_back(out.model_abbrs.size());
    for (const std::string& model : t.table.model_abbrs) {
      out.model_abbrs.push_back(absl::StrCat(model, "@", t.label));
    }
  }
  // Datasets (with version) that have a real metric somewhere: their
  // placeholder rows ("-": no results yet) add nothing.
  std::set<std::pair<std::string, std::string>> measured;
  for (const LabeledTable& t : tables) {
    for (const SummaryRow& row : t.table.rows) {
      if (row.metric != "-") measured.insert({row.dataset, row.version});
    }
  }
  std::map<RowKey, size_t> index;
  for (size_t ti = 0; ti < tables.size(); ++ti) {
    const SummaryTable& table = tables[ti].table;
    for (const SummaryRow& row : table.rows) {
      if (row.metric == "-" && measured.count({row.dataset, row.version})) {
        continue;
      }
      auto [it, added] = index.emplace(KeyOf(row), out.rows.size());
      if (added) {
        SummaryRow merged = row;
        merged.values.assign(out.model_abbrs.size(), std::nullopt);
        out.rows.push_back(std::move(merged));
      }
      SummaryRow& merged = out.rows[it->second];
      for (size_t m = 0; m < row.values.size(); ++m) {
        merged.values[first_column[ti] + m] = row.values[m];
      }
    }
  }
  return out;
}

}  // namespace ocx::summary
