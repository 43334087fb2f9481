// The summary files of an evaluation: summary/summary.{txt,csv,md} under
// its work dir, each written atomically, so a reader sees a whole table
// and writing them again (after a restart) is harmless.
//
// Thread-safe: no shared state; concurrent writers of the same work dir
// each leave a whole file.
#ifndef OCX_SUMMARY_SUMMARY_FILES_H_
#define OCX_SUMMARY_SUMMARY_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/owned_files.h"
#include "ocx/v1/resources.pb.h"
#include "summary/summary_table.h"

namespace ocx::summary {

// The three files (0640), made for `owner` (common/owned_files.h: under a
// root daemon, the evaluation's owner, reached without following links).
absl::Status WriteSummaryFiles(const std::string& work_dir,
                               const SummaryTable& table,
                               const FileOwner& owner = {});

// The summary of an evaluation that ended: builds its table from the
// results files and writes the files, but only when some results file
// exists (an evaluation of `command` tasks that write none gets no empty
// table). True when written. Reading the results costs one small read
// per (model, dataset). The daemon's server::SummaryWriter.
absl::StatusOr<bool> WriteEvaluationSummary(
    const ocx::v1::Evaluation& evaluation);

}  // namespace ocx::summary

#endif  // OCX_SUMMARY_SUMMARY_FILES_H_
