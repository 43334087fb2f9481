// One table across evaluations, as OpenCompass's summarizer prints runs
// side by side: a column per (evaluation, model), a row per (dataset,
// version, metric, mode). Rows are matched on the dataset's version too,
// so scores of a dataset prompted differently in two runs land on separate
// rows instead of being compared as if alike.
//
// Thread-safe: no shared state.
#ifndef OCX_SUMMARY_COMPARE_H_
#define OCX_SUMMARY_COMPARE_H_

#include <string>
#include <vector>

#include "summary/summary_table.h"

namespace ocx::summary {

struct LabeledTable {
  // Names the table's columns: "<model>@<label>" (the evaluation id).
  std::string label;
  SummaryTable table;
};

// The tables side by side. Rows come in first-seen order (the first
// table's order, then rows only later tables have); a row a table lacks is
// missing ("-") in its columns. Rows with metric "-" (no results yet) are
// dropped when another table has real metrics for that dataset and version.
SummaryTable CompareTables(const std::vector<LabeledTable>& tables);

}  // namespace ocx::summary

#endif  // OCX_SUMMARY_COMPARE_H_
