#include "server/dispatcher/summary_step.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace ocx::server {

std::string RunSummaryStep(const SummaryWriter& writer,
                           const ocx::v1::Evaluation& evaluation) {
  if (!writer) return "";
  absl::StatusOr<bool> written = writer(evaluation);
  if (!written.ok()) {
    fprintf(stderr, "ocxd: evaluation %s: summary not written: %s\n",
            evaluation.id().c_str(), written.status().ToString().c_str());
    return absl::StrCat("summary not written: ", written.status().message());
  }
  return *written ? "summary written to summary/summary.{txt,csv,md}" : "";
}

}  // namespace ocx::server
