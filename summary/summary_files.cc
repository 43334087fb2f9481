#include "summary/summary_files.h"

#include <unistd.h>

#include "common/file_util.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "common/work_dir_layout.h"
#include "summary/render.h"

namespace ocx::summary {

namespace {

// A root daemon writes the summary into a work dir its owner controls:
// as the owner's files, never through a link (docs/security.md).
FileOwner SummaryOwner(const ocx::v1::Owner& owner) {
  if (geteuid() != 0 || owner.user().empty() || owner.uid() == 0) return {};
  return FileOwner{owner.uid(), owner.gid()};
}

}  // namespace

absl::Status WriteSummaryFiles(const std::string& work_dir,
                               const SummaryTable& table,
                               const FileOwner& owner) {
  OCX_RETURN_IF_ERROR(MakeDirsFor(layout::SummaryDir(work_dir), owner));
  const std::vector<std::string> files = layout::SummaryFiles(work_dir);
  OCX_RETURN_IF_ERROR(
      WriteFileAtomicFor(files[0], RenderText(table), kFileMode, owner));
  OCX_RETURN_IF_ERROR(
      WriteFileAtomicFor(files[1], RenderCsv(table), kFileMode, owner));
  return WriteFileAtomicFor(files[2], RenderMarkdown(table), kFileMode, owner);
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
  OCX_RETURN_IF_ERROR(WriteSummaryFiles(evaluation.work_dir(), table,
                                        SummaryOwner(evaluation.owner())));
  return true;
}

}  // namespace ocx::summary
