#include "summary/summary_files.h"

#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/work_dir_layout.h"
#include "summary/render.h"

namespace ocx::summary {

absl::Status WriteSummaryFiles(const std::string& work_dir,
                               const SummaryTable& table) {
  OCX_RETURN_IF_ERROR(MakeDirs(layout::SummaryDir(work_dir)));
  const std::vector<std::string> files = layout::SummaryFiles(work_dir);
  OCX_RETURN_IF_ERROR(WriteFileAtomic(files[0], RenderText(table)));
  OCX_RETURN_IF_ERROR(WriteFileAtomic(files[1], RenderCsv(table)));
  return WriteFileAtomic(files[2], RenderMarkdown(table));
}

absl::StatusOr<bool> WriteEvaluationSummary(
    const ocx::v1::Evaluation& evaluation) {
  const SummaryTable table =
      BuildSummaryTable(evaluation.spec(), evaluation.work_dir());
  bool any = false;
  for (const SummaryRow& row : table.rows) {
    for (const auto& v : row.values) any = any || v.has_value();
  }
  if (!any) return false;
  OCX_RETURN_IF_ERROR(WriteSummaryFiles(evaluation.work_dir(), table));
  return true;
}

}  // namespace ocx::summary
