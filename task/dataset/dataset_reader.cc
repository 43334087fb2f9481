#include "task/dataset/dataset_reader.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "spec/test_range.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

using ::google::protobuf::Value;
using partitioners::DatasetFormat;

constexpr absl::string_view kBom = "\xEF\xBB\xBF";

absl::Status LineError(int64_t line, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", problem));
}

absl::StatusOr<std::vector<Row>> ParseJsonl(absl::string_view text) {
  std::vector<Row> rows;
  int64_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<Value> value = ParseJson(line);
    if (!value.ok()) return LineError(line_no, value.status().message());
    if (!value->has_struct_value()) {
      return LineError(line_no, "expected a JSON object (a row of columns)");
    }
    rows.push_back(*std::move(value));
  }
  return rows;
}

absl::StatusOr<std::vector<Row>> ParseJsonDocument(absl::string_view text,
                                                   absl::string_view split) {
  OCX_ASSIGN_OR_RETURN(Value doc, ParseJson(text));
  const Value* array = &doc;
  if (doc.has_struct_value()) {
    array = Member(doc, split);
    if (array == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the file holds an object without the split \"", split, "\""));
    }
  }
  if (!array->has_list_value()) {
    return absl::InvalidArgumentError(
        "expected a JSON array of rows (or an object of splits)");
  }
  std::vector<Row> rows;
  rows.reserve(array->list_value().values_size());
  for (int i = 0; i < array->list_value().values_size(); ++i) {
    const Value& row = array->list_value().values(i);
    if (!row.has_struct_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("element ", i, ": expected a JSON object"));
    }
    rows.push_back(row);
  }
  return rows;
}

// RFC 4180 records: quoted fields may hold commas, "" and newlines.
absl::StatusOr<std::vector<std::vector<std::string>>> ParseCsvRecords(
    absl::string_view text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false;
  bool field_started = false;
  int64_t line = 1;
  int64_t quote_line = 0;
  auto end_record = [&] {
    if (field_started || !record.empty() || !field.empty()) {
      record.push_back(std::move(field));
      records.push_back(std::move(record));
    }
    record.clear();
    field.clear();
    field_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    switch (c) {
      case '"':
        if (!field.empty()) {
          return LineError(line, "a quote inside an unquoted field");
        }
        in_quotes = true;
        field_started = true;
        quote_line = line;
        break;
      case ',':
        record.push_back(std::move(field));
        field.clear();
        field_started = true;
        break;
      case '\r':
        break;
      case '\n':
        end_record();
        ++line;
        break;
      default:
        field.push_back(c);
    }
  }
  if (in_quotes) return LineError(quote_line, "unclosed quoted field");
  end_record();
  return records;
}

absl::StatusOr<std::vector<Row>> ParseCsv(absl::string_view text) {
  OCX_ASSIGN_OR_RETURN(auto records, ParseCsvRecords(text));
  std::vector<Row> rows;
  if (records.empty()) return rows;
  const std::vector<std::string>& header = records[0];
  for (size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("record ", r, " has ", records[r].size(),
                       " fields, the header ", header.size()));
    }
    Row row;
    auto* fields = row.mutable_struct_value()->mutable_fields();
    for (size_t c = 0; c < header.size(); ++c) {
      (*fields)[header[c]].set_string_value(records[r][c]);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

absl::StatusOr<std::vector<Row>> LoadRows(const ocx::v1::DatasetConfig& d,
                                          absl::string_view split,
                                          absl::string_view range,
                                          absl::string_view range_field) {
  if (d.path().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("datasets[", d.abbr(), "].path: required"));
  }
  absl::StatusOr<DatasetFormat> format = partitioners::ResolveFormat(d);
  if (!format.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset ", d.abbr(), ": format: ", format.status().message()));
  }
  absl::StatusOr<std::string> text = ReadFile(d.path());
  if (!text.ok()) {
    return Annotate(text.status(),
                    absl::StrCat("dataset ", d.abbr(), ": cannot read"));
  }
  absl::StatusOr<std::vector<Row>> rows = ParseRows(*text, *format, split);
  if (!rows.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(d.path(), ": ", rows.status().message()));
  }
  absl::StatusOr<std::vector<int64_t>> indices =
      SelectIndices(range, static_cast<int64_t>(rows->size()));
  if (!indices.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", d.abbr(), ": reader_cfg.", range_field, ": ",
                     indices.status().message()));
  }
  std::vector<Row> selected;
  selected.reserve(indices->size());
  for (int64_t i : *indices) selected.push_back((*rows)[i]);
  return selected;
}

}  // namespace

absl::StatusOr<std::vector<Row>> ParseRows(absl::string_view text,
                                           DatasetFormat format,
                                           absl::string_view json_split) {
  absl::ConsumePrefix(&text, kBom);
  switch (format) {
    case DatasetFormat::kJsonl:
      return ParseJsonl(text);
    case DatasetFormat::kJson:
      return ParseJsonDocument(text, json_split);
    case DatasetFormat::kCsv:
      return ParseCsv(text);
  }
  return absl::InternalError("unknown dataset format");
}

absl::StatusOr<std::vector<int64_t>> SelectIndices(absl::string_view range,
                                                   int64_t size) {
  OCX_ASSIGN_OR_RETURN(spec::TestRange r, spec::ParseTestRange(range));
  // A count or ratio selects the leading rows; Count() (without the
  // slices) is the one place that says how many.
  spec::TestRange leading = r;
  leading.slices.clear();
  const int64_t take = leading.Count(size);
  std::vector<int64_t> base;
  base.reserve(take);
  for (int64_t i = 0; i < take; ++i) base.push_back(i);
  // Slices (alone, or after a count or ratio) apply in turn to what the
  // previous step selected.
  std::vector<int64_t> current = std::move(base);
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
  const std::string& split = dataset.reader_cfg().test_split();
  return LoadRows(dataset, split.empty() ? "test" : split,
                  dataset.reader_cfg().test_range(), "test_range");
}

absl::StatusOr<std::vector<Row>> LoadTrainRows(
    const ocx::v1::DatasetConfig& dataset) {
  const std::string& split = dataset.reader_cfg().train_split();
  return LoadRows(dataset, split.empty() ? "train" : split,
                  dataset.reader_cfg().train_range(), "train_range");
}

}  // namespace ocx::task
