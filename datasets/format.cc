#include "datasets/format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ocx::datasets {

const char* FormatName(DatasetFormat format) {
  // Index-aligned with DatasetFormat.
  static constexpr const char* kNames[] = {"jsonl", "json", "csv"};
  return kNames[static_cast<int>(format)];
}

absl::StatusOr<DatasetFormat> ResolveFormat(const ocx::v1::DatasetConfig& d) {
  const std::string& f = d.format();
  if (f == "jsonl") return DatasetFormat::kJsonl;
  if (f == "json") return DatasetFormat::kJson;
  if (f == "csv") return DatasetFormat::kCsv;
  if (!f.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown format \"", f, "\" (known: jsonl, json, csv)"));
  }
  std::string lower = absl::AsciiStrToLower(d.path());
  if (absl::EndsWith(lower, ".jsonl")) return DatasetFormat::kJsonl;
  if (absl::EndsWith(lower, ".json")) return DatasetFormat::kJson;
  if (absl::EndsWith(lower, ".csv")) return DatasetFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot tell the format of \"", d.path(),
      "\" from its name; set format (jsonl, json or csv), or size"));
}

std::string TestSplit(const ocx::v1::DatasetConfig& d) {
  const std::string& split = d.reader_cfg().test_split();
  return split.empty() ? "test" : split;
}

std::string TrainSplit(const ocx::v1::DatasetConfig& d) {
  const std::string& split = d.reader_cfg().train_split();
  return split.empty() ? "train" : split;
}

std::string ReaderKey(const ocx::v1::DatasetConfig& d, DatasetFormat format) {
  if (format != DatasetFormat::kJson) return FormatName(format);
  return absl::StrCat("json:", TestSplit(d));
}

}  // namespace ocx::datasets
