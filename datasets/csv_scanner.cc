#include "datasets/csv_scanner.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ocx::datasets {
namespace {

using ::google::protobuf::Value;

// RFC 4180 records; the first non-blank one is the header. With `rows`,
// each later record becomes a row keyed by the header.
class CsvScanner : public SampleScanner {
 public:
  explicit CsvScanner(ScannedRows* rows) : rows_(rows) {}

  absl::Status Feed(absl::string_view chunk) override {
    for (char c : chunk) {
      if (bom_.Next(c) == BomSkipper::Result::kSkip) continue;
      ++column_;
      Step(c);
      if (c == '\n') column_ = 0;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Finish() override {
    if (in_quotes_ && !quote_pending_) {
      return PositionError(quote_line_, quote_column_,
                           "a quoted field opened here is never closed");
    }
    if (has_content_) EndRecord();
    return records_ > 0 ? records_ - 1 : 0;
  }

 private:
  void Step(char c) {
    if (in_quotes_) {
      if (quote_pending_) {
        quote_pending_ = false;
        if (c == '"') {  // "" inside quotes: a literal quote
          Keep(c);
          return;
        }
        in_quotes_ = false;  // the closing quote; `c` follows the field
      } else {
        if (c == '"') {
          quote_pending_ = true;
          return;
        }
        if (c == '\n') ++line_;
        Keep(c);
        return;
      }
    }
    switch (c) {
      case '\n':
        ++line_;
        if (has_content_) EndRecord();
        has_content_ = false;
        field_start_ = true;
        return;
      case '\r':
        return;
      case '"':
        StartContent();
        if (field_start_) {
          in_quotes_ = true;
          quote_line_ = line_;
          quote_column_ = column_;
        } else {
          Keep(c);  // a stray quote is part of the field, as in Python
        }
        field_start_ = false;
        return;
      case ',':
        StartContent();
        if (rows_ != nullptr) record_.push_back(std::move(field_));
        field_.clear();
        field_start_ = true;
        return;
      default:
        StartContent();
        Keep(c);
        field_start_ = false;
        return;
    }
  }

  void StartContent() {
    if (!has_content_) record_line_ = line_;
    has_content_ = true;
  }

  void Keep(char c) {
    if (rows_ != nullptr) field_.push_back(c);
  }

  void EndRecord() {
    ++records_;
    if (rows_ == nullptr) return;
    record_.push_back(std::move(field_));
    field_.clear();
    if (records_ == 1) {
      header_ = std::move(record_);
    } else {
      AddRow();
    }
    record_.clear();
  }

  void AddRow() {
    if (record_.size() != header_.size() && rows_->not_a_row.ok()) {
      rows_->not_a_row = LineError(
          record_line_, absl::StrCat("the record has ", record_.size(),
                                     " fields, the header ", header_.size()));
    }
    Value& row = rows_->rows.emplace_back();
    auto* fields = row.mutable_struct_value()->mutable_fields();
    for (size_t i = 0; i < header_.size() && i < record_.size(); ++i) {
      (*fields)[header_[i]].set_string_value(std::move(record_[i]));
    }
  }

  ScannedRows* const rows_;  // nullptr: count only
  BomSkipper bom_;
  int64_t line_ = 1;
  int64_t records_ = 0;
  bool has_content_ = false;
  bool field_start_ = true;
  bool in_quotes_ = false;
  bool quote_pending_ = false;
  int64_t quote_line_ = 1;
  int64_t column_ = 0;  // byte column of the byte being stepped
  int64_t quote_column_ = 0;
  // Building rows (only with rows_).
  int64_t record_line_ = 1;
  std::string field_;
  std::vector<std::string> record_;
  std::vector<std::string> header_;
};

}  // namespace

std::unique_ptr<SampleScanner> MakeCsvScanner(ScannedRows* rows) {
  return std::make_unique<CsvScanner>(rows);
}

}  // namespace ocx::datasets
