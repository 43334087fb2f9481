#include "summary/summary_files.h"

#include "common/file_util.h"
#include "common/status_macros.h"
#include "summary/render.h"

namespace ocx::summary {

absl::Status WriteSummaryFiles(const std::string& work_dir,
                               const SummaryTable& table) {
  const std::string dir = JoinPath(work_dir, "summary");
  OCX_RETURN_IF_ERROR(MakeDirs(dir));
  OCX_RETURN_IF_ERROR(
      WriteFileAtomic(JoinPath(dir, "summary.txt"), RenderText(table)));
  OCX_RETURN_IF_ERROR(
      WriteFileAtomic(JoinPath(dir, "summary.csv"), RenderCsv(table)));
  return WriteFileAtomic(JoinPath(dir, "summary.md"), RenderMarkdown(table));
}

}  // namespace ocx::summary
