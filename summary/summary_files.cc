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

}  // namespace ocx::summary
