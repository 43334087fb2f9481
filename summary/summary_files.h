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
#include "summary/summary_table.h"

namespace ocx::summary {

absl::Status WriteSummaryFiles(const std::string& work_dir,
                               const SummaryTable& table);

}  // namespace ocx::summary

#endif  // OCX_SUMMARY_SUMMARY_FILES_H_
