#include "datasets/json_scanner.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ocx::datasets {
namespace {

using ::google::protobuf::Value;

// The longest number or literal, and the most of a key, that a scanner
// keeps: bounded so that counting needs constant memory.
constexpr size_t kMaxLiteral = 1024;
constexpr size_t kMaxKey = 1024;

// A character as an error names it: JSON punctuation by itself, anything
// else by its kind only. Messages never quote the file's content beyond
// that (it may be a file the caller could not read, docs/security.md).
std::string Describe(char c) {
  if (c == '\n') return "end of line";
  if (absl::StrContains("{}[],:\"", c)) {
    return absl::StrCat("'", std::string(1, c), "'");
  }
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
    return "a control character";
  }
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
    return "a letter or digit";
  }
  return static_cast<unsigned char>(c) >= 0x80 ? "a non-ASCII byte"
                                               : "a punctuation character";
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool IsLiteralChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '+' || c == '.';
}

// RFC 8259 number, or the literals Python's json module accepts.
bool IsValidLiteral(absl::string_view t) {
  if (t == "true" || t == "false" || t == "null" || t == "NaN" ||
      t == "Infinity" || t == "-Infinity") {
    return true;
  }
  size_t i = 0;
  auto digit = [&](size_t k) {
    return k < t.size() && t[k] >= '0' && t[k] <= '9';
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (!digit(i)) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == t.size();
}

// A valid literal's value.
void SetLiteral(const std::string& t, Value* v) {
  if (t == "true" || t == "false") {
    v->set_bool_value(t == "true");
  } else if (t == "null") {
    v->set_null_value(google::protobuf::NULL_VALUE);
  } else if (t == "NaN") {
    v->set_number_value(std::numeric_limits<double>::quiet_NaN());
  } else if (t == "Infinity" || t == "-Infinity") {
    const double inf = std::numeric_limits<double>::infinity();
    v->set_number_value(t[0] == '-' ? -inf : inf);
  } else {
    v->set_number_value(std::strtod(t.c_str(), nullptr));
  }
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char Unescape(char c) {
  switch (c) {
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return c;  // " \ /
  }
}

// A string's decoded text, \u escapes included: a surrogate pair becomes
// one character, a lone surrogate U+FFFD (as a UTF-8 string cannot hold it).
class StringText {
 public:
  void Clear() {
    text_.clear();
    high_ = 0;
  }
  void Append(char c) {
    Flush();
    text_.push_back(c);
  }
  void AppendCodeUnit(uint32_t u) {
    const bool is_high = u >= 0xD800 && u <= 0xDBFF;
    const bool is_low = u >= 0xDC00 && u <= 0xDFFF;
    if (high_ != 0 && is_low) {
      AppendUtf8(0x10000 + ((high_ - 0xD800) << 10) + (u - 0xDC00), &text_);
      high_ = 0;
      return;
    }
    Flush();
    if (is_high) {
      high_ = u;
    } else {
      AppendUtf8(is_low ? 0xFFFD : u, &text_);
    }
  }
  std::string Take() {
    Flush();
    return std::move(text_);
  }

 private:
  void Flush() {
    if (high_ != 0) AppendUtf8(0xFFFD, &text_);
    high_ = 0;
  }
  std::string text_;
  uint32_t high_ = 0;
};

// A validating JSON scanner, one byte at a time. In lines mode every
// non-blank line must hold exactly one value, and each is a sample; in
// document mode the file holds one value and the elements of its top-level
// array (or of the array under `split` in a top-level object) are the
// samples. With `rows`, each sample's value is built as it is read.
class JsonScanner : public SampleScanner {
 public:
  JsonScanner(bool lines, absl::string_view split,
              absl::string_view split_setting, ScannedRows* rows)
      : lines_(lines),
        split_(split),
        split_setting_(split_setting),
        rows_(rows) {}

  // INVALID_ARGUMENT at the byte being stepped.
  absl::Status Here(absl::string_view problem) const {
    return PositionError(line_, column_, problem);
  }

  absl::Status Feed(absl::string_view chunk) override {
    for (char c : chunk) {
      switch (bom_.Next(c)) {
        case BomSkipper::Result::kSkip:
          continue;
        case BomSkipper::Result::kBrokenBom:
          return Here("invalid byte at the start of the file");
        case BomSkipper::Result::kByte:
          break;
      }
      ++column_;
      OCX_RETURN_IF_ERROR(Step(c));
      if (c == '\n') {
        ++line_;
        column_ = 0;
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Finish() override {
    if (in_literal_) OCX_RETURN_IF_ERROR(EndLiteral());
    if (in_string_) {
      return LineError(line_, "unterminated string at the end of the file");
    }
    if (lines_) {
      OCX_RETURN_IF_ERROR(EndLine());
      return count_;
    }
    if (!stack_.empty()) {
      return LineError(line_, absl::StrCat("unexpected end of the file: '",
                                           std::string(1, stack_.back()),
                                           "' is never closed"));
    }
    if (!top_done_) return LineError(line_, "the file holds no JSON value");
    if (top_kind_ == '{') {
      if (!split_found_) {
        return LineError(
            1, absl::StrCat("the top-level JSON object has no \"", split_,
                            "\" key; expected an array of samples (or an "
                            "object with one under ",
                            split_setting_, ")"));
      }
      if (!split_is_array_) {
        return LineError(split_line_,
                         absl::StrCat("the value of \"", split_,
                                      "\" is not an array of samples"));
      }
    } else if (top_kind_ != '[') {
      return LineError(1, absl::StrCat("expected an array of samples at the "
                                       "top level (or an object with one "
                                       "under ",
                                       split_setting_, ")"));
    }
    return count_;
  }

 private:
  enum class Expect {
    kValue,
    kValueOrClose,
    kAfterValue,
    kKeyOrClose,
    kKey,
    kColon
  };

  absl::Status Step(char c) {
    if (in_string_) return StringChar(c);
    if (in_literal_) {
      if (IsLiteralChar(c)) {
        if (literal_.size() < kMaxLiteral) {
          literal_ += c;
        } else {
          literal_too_long_ = true;
        }
        return absl::OkStatus();
      }
      OCX_RETURN_IF_ERROR(EndLiteral());
    }
    if (c == '\n' && lines_) return EndLine();
    if (IsJsonSpace(c)) return absl::OkStatus();
    switch (expect_) {
      case Expect::kValue:
      case Expect::kValueOrClose:
        if (c == ']' && expect_ == Expect::kValueOrClose) return Close(c);
        return StartValue(c);
      case Expect::kAfterValue:
        return AfterValue(c);
      case Expect::kKeyOrClose:
      case Expect::kKey:
        if (c == '}' && expect_ == Expect::kKeyOrClose) return Close(c);
        if (c != '"') {
          return Here(absl::StrCat("expected a string key, got ", Describe(c)));
        }
        in_string_ = true;
        string_is_key_ = true;
        key_.clear();
        text_.Clear();
        return absl::OkStatus();
      case Expect::kColon:
        if (c != ':') {
          return Here(absl::StrCat("expected ':', got ", Describe(c)));
        }
        expect_ = Expect::kValue;
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  absl::Status AfterValue(char c) {
    if (stack_.empty()) {
      return Here(lines_ ? absl::StrCat("unexpected ", Describe(c),
                                        " after the line's JSON "
                                        "value (one value per line)")
                         : absl::StrCat("unexpected ", Describe(c),
                                        " after the JSON value"));
    }
    if (c == ',') {
      expect_ = stack_.back() == '[' ? Expect::kValue : Expect::kKey;
      return absl::OkStatus();
    }
    if (c == ']' || c == '}') return Close(c);
    return Here(absl::StrCat("expected ',' or '",
                             stack_.back() == '[' ? "]" : "}", "', got ",
                             Describe(c)));
  }

  // Whether a value starting at depth stack_.size() is a sample; keeps the
  // document's bookkeeping (the top-level kind, the split array).
  absl::StatusOr<bool> NoteValueStart(char c) {
    const size_t depth = stack_.size();
    if (depth == 0) {
      if (lines_) {
        line_has_value_ = true;
        return true;
      }
      if (top_done_) {
        return Here(
            absl::StrCat("unexpected ", Describe(c), " after the JSON value"));
      }
      top_kind_ = c;
      return false;
    }
    if (lines_) return false;
    if (depth == 1 && stack_[0] == '[') return true;
    if (depth == 1 && stack_[0] == '{' && key_is_split_) {
      split_found_ = true;
      split_is_array_ = c == '[';
      split_line_ = line_;
      in_split_ = c == '[';
      return false;
    }
    return depth == 2 && in_split_;
  }

  // A value begins with `c` at depth stack_.size().
  absl::Status StartValue(char c) {
    OCX_ASSIGN_OR_RETURN(bool is_sample, NoteValueStart(c));
    if (is_sample && !lines_) ++count_;
    if (is_sample && rows_ != nullptr) {
      in_sample_ = true;
      sample_depth_ = stack_.size();
      sample_line_ = line_;
      open_.clear();
      sample_.Clear();
    }
    Value* v = in_sample_ ? Place() : nullptr;
    if (c == '[' || c == '{') {
      stack_.push_back(c);
      expect_ = c == '[' ? Expect::kValueOrClose : Expect::kKeyOrClose;
      if (v != nullptr) {
        if (c == '[') {
          v->mutable_list_value();
        } else {
          v->mutable_struct_value();
        }
        open_.push_back(v);
      }
      return absl::OkStatus();
    }
    target_ = v;
    if (c == '"') {
      in_string_ = true;
      string_is_key_ = false;
      text_.Clear();
      return absl::OkStatus();
    }
    if (IsLiteralChar(c)) {
      in_literal_ = true;
      literal_column_ = column_;
      literal_too_long_ = false;
      literal_.assign(1, c);
      return absl::OkStatus();
    }
    return Here(absl::StrCat("expected a JSON value, got ", Describe(c)));
  }

  // Where the sample's next value goes: the sample itself, the next element
  // of the open array or the member of the open object.
  Value* Place() {
    if (open_.empty()) return &sample_;
    Value* top = open_.back();
    if (top->has_list_value()) return top->mutable_list_value()->add_values();
    // A repeated key: the last value wins, as in Python's json module.
    Value* member =
        &(*top->mutable_struct_value()->mutable_fields())[member_key_];
    member->Clear();
    return member;
  }

  absl::Status Close(char c) {
    char open = stack_.back();
    if ((open == '[') != (c == ']')) {
      return Here(absl::StrCat("'", std::string(1, c), "' does not close '",
                               std::string(1, open), "'"));
    }
    stack_.pop_back();
    if (in_sample_) open_.pop_back();
    if (in_split_ && stack_.size() == 1) in_split_ = false;
    return ValueDone();
  }

  absl::Status ValueDone() {
    expect_ = Expect::kAfterValue;
    if (stack_.empty() && !lines_) top_done_ = true;
    if (in_sample_ && stack_.size() == sample_depth_) EndSample();
    return absl::OkStatus();
  }

  void EndSample() {
    in_sample_ = false;
    if (!sample_.has_struct_value() && rows_->not_a_row.ok()) {
      rows_->not_a_row =
          LineError(sample_line_, "expected a JSON object (a row of columns)");
    }
    rows_->rows.push_back(std::move(sample_));
    sample_.Clear();
  }

  absl::Status EndLiteral() {
    in_literal_ = false;
    if (literal_too_long_) {
      return PositionError(line_, literal_column_,
                           absl::StrCat("a JSON literal longer than ",
                                        kMaxLiteral, " characters"));
    }
    if (!IsValidLiteral(literal_)) {
      return PositionError(line_, literal_column_,
                           "invalid JSON literal (not a number, true, false "
                           "or null)");
    }
    if (target_ != nullptr) SetLiteral(literal_, target_);
    return ValueDone();
  }

  absl::Status StringChar(char c) {
    if (hex_left_ > 0) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
        return Here("invalid \\u escape in a string");
      }
      --hex_left_;
      const char lower = absl::ascii_tolower(static_cast<unsigned char>(c));
      hex_value_ =
          hex_value_ * 16 + (lower <= '9' ? lower - '0' : lower - 'a' + 10);
      if (hex_left_ == 0 && in_sample_) text_.AppendCodeUnit(hex_value_);
      return absl::OkStatus();
    }
    if (escape_) {
      escape_ = false;
      if (c == 'u') {
        hex_left_ = 4;
        hex_value_ = 0;
      } else if (!absl::StrContains("\"\\/bfnrt", c)) {
        return Here(
            "invalid escape in a string (known: \\\" \\\\ \\/ \\b \\f "
            "\\n \\r \\t \\uXXXX)");
      } else if (in_sample_) {
        text_.Append(Unescape(c));
      }
      AppendKey(c);
      return absl::OkStatus();
    }
    if (c == '"') return EndString();
    if (c == '\n') {
      return Here("unterminated string (a line ends inside it)");
    }
    if (static_cast<unsigned char>(c) < 0x20) {
      return Here("a control character inside a string (escape it)");
    }
    if (c == '\\') {
      escape_ = true;
    } else if (in_sample_) {
      text_.Append(c);
    }
    AppendKey(c);
    return absl::OkStatus();
  }

  // The raw text of a key, enough to compare with the split's name.
  void AppendKey(char c) {
    if (string_is_key_ && key_.size() < kMaxKey) key_ += c;
  }

  absl::Status EndString() {
    in_string_ = false;
    if (string_is_key_) {
      key_is_split_ = stack_.size() == 1 && stack_[0] == '{' && key_ == split_;
      if (in_sample_) member_key_ = text_.Take();
      expect_ = Expect::kColon;
      return absl::OkStatus();
    }
    if (target_ != nullptr) target_->set_string_value(text_.Take());
    return ValueDone();
  }

  // Lines mode: the end of a line (or of the file).
  absl::Status EndLine() {
    if (!stack_.empty()) {
      return Here(
          "the JSON value is not complete at the end of the line "
          "(each line of a JSON Lines file holds one whole "
          "value)");
    }
    if (line_has_value_) ++count_;
    line_has_value_ = false;
    expect_ = Expect::kValue;
    return absl::OkStatus();
  }

  const bool lines_;
  const std::string split_;
  const std::string split_setting_;
  ScannedRows* const rows_;  // nullptr: count only
  int64_t line_ = 1;
  // Byte column (1-based) of the byte being stepped, and of the literal
  // being read.
  int64_t column_ = 0;
  int64_t literal_column_ = 0;
  int64_t count_ = 0;
  BomSkipper bom_;
  Expect expect_ = Expect::kValue;
  std::vector<char> stack_;
  bool in_string_ = false;
  bool string_is_key_ = false;
  bool escape_ = false;
  int hex_left_ = 0;
  uint32_t hex_value_ = 0;
  bool in_literal_ = false;
  bool literal_too_long_ = false;
  std::string literal_;
  std::string key_;
  bool key_is_split_ = false;
  // Lines mode.
  bool line_has_value_ = false;
  // Document mode.
  bool top_done_ = false;
  char top_kind_ = 0;
  bool split_found_ = false;
  bool split_is_array_ = false;
  bool in_split_ = false;
  int64_t split_line_ = 1;
  // Building the current sample (only with rows_).
  bool in_sample_ = false;
  size_t sample_depth_ = 0;
  int64_t sample_line_ = 1;
  Value sample_;
  std::vector<Value*> open_;  // the sample's open arrays and objects
  Value* target_ = nullptr;   // the string or literal being read
  StringText text_;
  std::string member_key_;
};

}  // namespace

std::unique_ptr<SampleScanner> MakeJsonScanner(bool lines,
                                               absl::string_view split,
                                               absl::string_view split_setting,
                                               ScannedRows* rows) {
  return std::make_unique<JsonScanner>(lines, split, split_setting, rows);
}

}  // namespace ocx::datasets
