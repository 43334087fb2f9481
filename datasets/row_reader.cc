#include "datasets/row_reader.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "datasets/scanner.h"
#include "spec/test_range.h"

namespace ocx::datasets {
namespace {

absl::StatusOr<std::vector<Row>> LoadRows(const ocx::v1::DatasetConfig& d,
                                          absl::string_view split,
                                          absl::string_view split_setting,
                                          absl::string_view range,
                                          absl::string_view range_field) {
  if (d.path().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("datasets[", d.abbr(), "].path: required"));
  }
  absl::StatusOr<DatasetFormat> format = ResolveFormat(d);
  if (!format.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset ", d.abbr(), ": format: ", format.status().message()));
  }
  OCX_ASSIGN_OR_RETURN(
      std::vector<Row> rows,
      ReadRowsFromFile(d.path(), *format, split, split_setting));
  absl::StatusOr<std::vector<int64_t>> indices =
      SelectIndices(range, static_cast<int64_t>(rows.size()));
  if (!indices.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", d.abbr(), ": reader_cfg.", range_field, ": ",
                     indices.status().message()));
  }
  std::vector<Row> selected;
  selected.reserve(indices->size());
  for (int64_t i : *indices) selected.push_back(std::move(rows[i]));
  return selected;
}

}  // namespace

absl::StatusOr<std::vector<Row>> ParseRows(absl::string_view text,
                                           DatasetFormat format,
                                           absl::string_view json_split) {
  ScannedRows rows;
  std::unique_ptr<SampleScanner> scanner =
      MakeScanner(format, json_split, &rows);
  OCX_RETURN_IF_ERROR(scanner->Feed(text));
  OCX_RETURN_IF_ERROR(scanner->Finish().status());
  OCX_RETURN_IF_ERROR(rows.not_a_row);
  return std::move(rows.rows);
}

absl::StatusOr<std::vector<Row>> ReadRowsFromFile(
    const std::string& path, DatasetFormat format, absl::string_view json_split,
    absl::string_view split_setting) {
  ScannedRows rows;
  std::unique_ptr<SampleScanner> scanner =
      MakeScanner(format, json_split, &rows, split_setting);
  OCX_RETURN_IF_ERROR(ScanFile(path, format, scanner.get()).status());
  if (!rows.not_a_row.ok()) {
    return NameTheFile(path, format, rows.not_a_row);
  }
  return std::move(rows.rows);
}

absl::StatusOr<std::vector<int64_t>> SelectIndices(absl::string_view range,
                                                   int64_t size) {
  OCX_ASSIGN_OR_RETURN(spec::TestRange r, spec::ParseTestRange(range));
  // A count or ratio selects the leading rows; Count() (without the
  // slices) is the one place that says how many.
  spec::TestRange leading = r;
  leading.slices.clear();
  const int64_t take = leading.Count(size);
  std::vector<int64_t> current;
  current.reserve(take);
  for (int64_t i = 0; i < take; ++i) current.push_back(i);
  // Slices (alone, or after a count or ratio) apply in turn to what the
  // previous step selected.
  for (const spec::PySlice& slice : r.slices) {
    spec::TestRange one;
    one.kind = spec::TestRange::Kind::kSlices;
    one.slices = {slice};
    std::vector<int64_t> picked =
        one.SliceIndices(static_cast<int64_t>(current.size()));
    std::vector<int64_t> next;
    next.reserve(picked.size());
    for (int64_t p : picked) next.push_back(current[p]);
    current = std::move(next);
  }
  if (static_cast<int64_t>(current.size()) != r.Count(size)) {
    return absl::InternalError(
        absl::StrCat("range \"", range, "\" selected ", current.size(),
                     " rows, its count says ", r.Count(size)));
  }
  return current;
}

absl::StatusOr<std::vector<Row>> LoadTestRows(
    const ocx::v1::DatasetConfig& dataset) {
  return LoadRows(dataset, TestSplit(dataset), "reader_cfg.test_split",
                  dataset.reader_cfg().test_range(), "test_range");
}

absl::StatusOr<std::vector<Row>> LoadTrainRows(
    const ocx::v1::DatasetConfig& dataset) {
  return LoadRows(dataset, TrainSplit(dataset), "reader_cfg.train_split",
                  dataset.reader_cfg().train_range(), "train_range");
}

}  // namespace ocx::datasets
