#include "server/output_check.h"

#include <sys/stat.h>

#include <utility>

#include "common/status_macros.h"

namespace ocx::server {

const char* DescribeVerdict(OutputVerdict verdict) {
  switch (verdict) {
    case OutputVerdict::kMatches:
      return "is the one recorded";
    case OutputVerdict::kMissing:
      return "is missing";
    case OutputVerdict::kNoRecord:
      return "was not made by a task of this ocxd (no record of it)";
    case OutputVerdict::kChanged:
      return "was changed since its task made it (size or time differ)";
    case OutputVerdict::kOtherFingerprint:
      return "was made from another config (its fingerprint differs)";
  }
  return "is unknown";
}

absl::StatusOr<OutputCheck> OutputCheck::Load(
    const std::vector<std::string>& paths, store::Store* store) {
  OutputCheck check;
  std::vector<std::string> existing;
  for (const std::string& path : paths) {
    struct stat st;
    if (check.found_.contains(path) || stat(path.c_str(), &st) != 0 ||
        !S_ISREG(st.st_mode)) {
      continue;
    }
    Found& f = check.found_[path];
    f.size = st.st_size;
    f.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    existing.push_back(path);
  }
  if (existing.empty()) return check;
  OCX_ASSIGN_OR_RETURN(auto records, store->GetOutputs(existing));
  for (size_t i = 0; i < existing.size(); ++i) {
    check.found_[existing[i]].record = std::move(records[i]);
  }
  return check;
}

OutputVerdict OutputCheck::Check(const std::string& path,
                                 const std::string& fingerprint) const {
  auto it = found_.find(path);
  if (it == found_.end()) return OutputVerdict::kMissing;
  const Found& f = it->second;
  if (!f.record.has_value()) return OutputVerdict::kNoRecord;
  if (f.record->size != f.size || f.record->mtime_ns != f.mtime_ns) {
    return OutputVerdict::kChanged;
  }
  if (f.record->fingerprint != fingerprint) {
    return OutputVerdict::kOtherFingerprint;
  }
  return OutputVerdict::kMatches;
}

}  // namespace ocx::server
