#include "partitioners/dataset_size.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "datasets/format.h"
#include "datasets/sample_counter.h"
#include "spec/test_range.h"

namespace ocx::partitioners {
namespace {

// Counts each (path, reader) once per spec, through the cache when it has
// the file's current identity.
class FileCounter {
 public:
  FileCounter(const SizeCacheLookup& lookup, ResolvedSizes* out)
      : lookup_(lookup), out_(out) {}

  // The raw size of dataset `d` (no explicit size), read from its file.
  // `field` is "datasets[i]".
  absl::StatusOr<int64_t> Count(const ocx::v1::DatasetConfig& d,
                                const std::string& field);

 private:
  absl::StatusOr<int64_t> CountOnce(const ocx::v1::DatasetConfig& d,
                                    datasets::DatasetFormat format,
                                    const std::string& reader);

  const SizeCacheLookup& lookup_;
  ResolvedSizes* const out_;
  // (path, reader) -> samples, for datasets that share a file.
  std::map<std::pair<std::string, std::string>, int64_t> seen_;
};

absl::StatusOr<int64_t> FileCounter::Count(const ocx::v1::DatasetConfig& d,
                                           const std::string& field) {
  const std::string path_field = absl::StrCat(field, ".path");
  if (d.path().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path_field, ": required to count the dataset's samples (or set size)"));
  }
  if (d.path()[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        path_field, ": \"", d.path(),
        "\" is relative, and ocxd must read the file to count its "
        "samples but cannot know the client's directory; give an "
        "absolute path (ocxctl makes paths of files beside the config "
        "absolute), or set size"));
  }
  absl::StatusOr<datasets::DatasetFormat> format = datasets::ResolveFormat(d);
  if (!format.ok()) {
    return Annotate(format.status(), absl::StrCat(field, ".format"));
  }
  absl::StatusOr<int64_t> raw =
      CountOnce(d, *format, datasets::ReaderKey(d, *format));
  if (!raw.ok()) return Annotate(raw.status(), path_field);
  if (*raw == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_field, ": ", d.path(), " has no samples"));
  }
  if (*raw > kMaxDatasetSamples) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_field, ": ", d.path(), " has ", *raw,
                     " samples, more than ", kMaxDatasetSamples));
  }
  return raw;
}

absl::StatusOr<int64_t> FileCounter::CountOnce(const ocx::v1::DatasetConfig& d,
                                               datasets::DatasetFormat format,
                                               const std::string& reader) {
  auto key = std::make_pair(d.path(), reader);
  if (auto it = seen_.find(key); it != seen_.end()) return it->second;
  OCX_ASSIGN_OR_RETURN(FileIdentity file, StatDatasetFile(d.path()));
  std::optional<int64_t> cached;
  if (lookup_) cached = lookup_(d.path(), reader, file);
  int64_t raw = 0;
  if (cached.has_value()) {
    raw = *cached;
  } else {
    OCX_ASSIGN_OR_RETURN(raw, datasets::CountSamplesInFile(
                                  d.path(), format, datasets::TestSplit(d)));
    out_->counted.push_back({d.path(), reader, file, raw});
  }
  seen_[key] = raw;
  return raw;
}

// How many of `raw` samples the dataset's test_range selects; refuses a
// range that selects none.
absl::StatusOr<int64_t> SelectedSize(const ocx::v1::DatasetConfig& d,
                                     const std::string& field, int64_t raw) {
  absl::StatusOr<spec::TestRange> range =
      spec::ParseTestRange(d.reader_cfg().test_range());
  if (!range.ok()) {
    return Annotate(range.status(),
                    absl::StrCat(field, ".reader_cfg.test_range"));
  }
  const int64_t selected = range->Count(raw);
  if (selected == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".reader_cfg.test_range: \"", d.reader_cfg().test_range(),
        "\" selects no samples of the ", raw, " in ",
        d.size() > 0 ? "the dataset (size)" : d.path()));
  }
  return selected;
}

}  // namespace

absl::StatusOr<FileIdentity> StatDatasetFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot count the samples of ", path,
        ": it is a directory (set size to the number of samples)"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot count the samples of ", path,
                     ": not a regular file (set size)"));
  }
  FileIdentity id;
  id.size = st.st_size;
  id.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  return id;
}

absl::StatusOr<ResolvedSizes> ResolveDatasetSizes(
    const ocx::v1::EvaluationSpec& spec, bool count_files,
    const SizeCacheLookup& lookup) {
  ResolvedSizes out;
  const int n = spec.datasets_size();
  out.raw.assign(n, 0);
  out.selected.assign(n, 0);
  FileCounter files(lookup, &out);
  for (int i = 0; i < n; ++i) {
    const ocx::v1::DatasetConfig& d = spec.datasets(i);
    const std::string field = absl::StrCat("datasets[", i, "]");
    int64_t raw = 0;
    if (d.size() > 0) {
      if (d.size() > kMaxDatasetSamples) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".size: must be at most ", kMaxDatasetSamples,
                         " (2^53 - 1), got ", d.size()));
      }
      raw = d.size();
    } else if (count_files) {
      OCX_ASSIGN_OR_RETURN(raw, files.Count(d, field));
    }
    out.raw[i] = raw;
    if (raw == 0) continue;
    OCX_ASSIGN_OR_RETURN(out.selected[i], SelectedSize(d, field, raw));
  }
  return out;
}

}  // namespace ocx::partitioners
