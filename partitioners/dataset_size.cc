#include "partitioners/dataset_size.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "spec/test_range.h"

namespace ocx::partitioners {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr absl::string_view kBom = "\xEF\xBB\xBF";

absl::Status LineError(int64_t line, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", problem));
}

std::string Describe(char c) {
  if (c == '\n') return "end of line";
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
    return absl::StrCat("byte 0x", absl::Hex(static_cast<unsigned char>(c)));
  }
  return absl::StrCat("'", std::string(1, c), "'");
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

// A validating JSON scanner, one byte at a time so that chunk boundaries do
// not matter. In lines mode every non-blank line must hold exactly one
// value, and each counts as a sample; in document mode the file holds one
// value and the elements of its top-level array (or of the array under
// `split` in a top-level object) are counted.
class JsonCounter : public SampleCounter {
 public:
  JsonCounter(bool lines, absl::string_view split)
      : lines_(lines), split_(split) {}

  absl::Status Feed(absl::string_view chunk) override {
    for (char c : chunk) {
      if (at_start_) {
        // Skip a UTF-8 byte-order mark.
        if (bom_seen_ < kBom.size() && c == kBom[bom_seen_]) {
          ++bom_seen_;
          continue;
        }
        at_start_ = false;
        if (bom_seen_ != 0 && bom_seen_ != kBom.size()) {
          return LineError(line_, "invalid byte at the start of the file");
        }
      }
      OCX_RETURN_IF_ERROR(Step(c));
      if (c == '\n') ++line_;
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
                            "object with one under reader_cfg.test_split)"));
      }
      if (!split_is_array_) {
        return LineError(split_line_,
                         absl::StrCat("the value of \"", split_,
                                      "\" is not an array of samples"));
      }
    } else if (top_kind_ != '[') {
      return LineError(1,
                       "expected an array of samples at the top level (or an "
                       "object with one under reader_cfg.test_split)");
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
        if (literal_.size() < 64) literal_ += c;
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
        if (stack_.empty()) {
          return LineError(line_,
                           lines_ ? absl::StrCat("unexpected ", Describe(c),
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
        return LineError(line_, absl::StrCat("expected ',' or '",
                                             stack_.back() == '[' ? "]" : "}",
                                             "', got ", Describe(c)));
      case Expect::kKeyOrClose:
      case Expect::kKey:
        if (c == '}' && expect_ == Expect::kKeyOrClose) return Close(c);
        if (c != '"') {
          return LineError(
              line_, absl::StrCat("expected a string key, got ", Describe(c)));
        }
        in_string_ = true;
        string_is_key_ = true;
        key_.clear();
        return absl::OkStatus();
      case Expect::kColon:
        if (c != ':') {
          return LineError(line_,
                           absl::StrCat("expected ':', got ", Describe(c)));
        }
        expect_ = Expect::kValue;
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  // A value begins with `c` at depth stack_.size().
  absl::Status StartValue(char c) {
    const size_t depth = stack_.size();
    if (depth == 0) {
      if (lines_) {
        line_has_value_ = true;
      } else {
        if (top_done_) {
          return LineError(line_, absl::StrCat("unexpected ", Describe(c),
                                               " after the JSON value"));
        }
        top_kind_ = c;
      }
    } else if (!lines_) {
      if (depth == 1 && stack_[0] == '[') ++count_;
      if (depth == 1 && stack_[0] == '{' && key_is_split_) {
        split_found_ = true;
        split_is_array_ = c == '[';
        split_line_ = line_;
        in_split_ = c == '[';
      } else if (depth == 2 && in_split_) {
        ++count_;
      }
    }
    if (c == '[' || c == '{') {
      stack_.push_back(c);
      expect_ = c == '[' ? Expect::kValueOrClose : Expect::kKeyOrClose;
      return absl::OkStatus();
    }
    if (c == '"') {
      in_string_ = true;
      string_is_key_ = false;
      return absl::OkStatus();
    }
    if (IsLiteralChar(c)) {
      in_literal_ = true;
      literal_.assign(1, c);
      return absl::OkStatus();
    }
    return LineError(line_,
                     absl::StrCat("expected a JSON value, got ", Describe(c)));
  }

  absl::Status Close(char c) {
    char open = stack_.back();
    if ((open == '[') != (c == ']')) {
      return LineError(
          line_, absl::StrCat("'", std::string(1, c), "' does not close '",
                              std::string(1, open), "'"));
    }
    stack_.pop_back();
    if (in_split_ && stack_.size() == 1) in_split_ = false;
    return ValueDone();
  }

  absl::Status ValueDone() {
    expect_ = Expect::kAfterValue;
    if (stack_.empty() && !lines_) top_done_ = true;
    return absl::OkStatus();
  }

  absl::Status EndLiteral() {
    in_literal_ = false;
    if (!IsValidLiteral(literal_)) {
      return LineError(line_,
                       absl::StrCat("invalid JSON literal \"", literal_, "\""));
    }
    return ValueDone();
  }

  absl::Status StringChar(char c) {
    if (hex_left_ > 0) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
        return LineError(line_, "invalid \\u escape in a string");
      }
      --hex_left_;
      return absl::OkStatus();
    }
    if (escape_) {
      escape_ = false;
      if (c == 'u') {
        hex_left_ = 4;
      } else if (!absl::StrContains("\"\\/bfnrt", c)) {
        return LineError(line_,
                         absl::StrCat("invalid escape \\", std::string(1, c),
                                      " in a string"));
      }
      if (string_is_key_ && key_.size() < 1024) key_ += c;
      return absl::OkStatus();
    }
    if (c == '"') {
      in_string_ = false;
      if (string_is_key_) {
        key_is_split_ =
            stack_.size() == 1 && stack_[0] == '{' && key_ == split_;
        expect_ = Expect::kColon;
        return absl::OkStatus();
      }
      return ValueDone();
    }
    if (c == '\n') {
      return LineError(line_, "unterminated string (a line ends inside it)");
    }
    if (static_cast<unsigned char>(c) < 0x20) {
      return LineError(line_, absl::StrCat("control character ", Describe(c),
                                           " inside a string"));
    }
    if (c == '\\') {
      escape_ = true;
      if (string_is_key_ && key_.size() < 1024) key_ += c;
      return absl::OkStatus();
    }
    if (string_is_key_ && key_.size() < 1024) key_ += c;
    return absl::OkStatus();
  }

  // Lines mode: the end of a line (or of the file).
  absl::Status EndLine() {
    if (!stack_.empty()) {
      return LineError(line_,
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
  int64_t line_ = 1;
  int64_t count_ = 0;
  bool at_start_ = true;
  size_t bom_seen_ = 0;
  Expect expect_ = Expect::kValue;
  std::vector<char> stack_;
  bool in_string_ = false;
  bool string_is_key_ = false;
  bool escape_ = false;
  int hex_left_ = 0;
  bool in_literal_ = false;
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
};

// RFC 4180 records; the first non-blank one is the header.
class CsvCounter : public SampleCounter {
 public:
  absl::Status Feed(absl::string_view chunk) override {
    for (char c : chunk) {
      if (at_start_) {
        if (bom_seen_ < kBom.size() && c == kBom[bom_seen_]) {
          ++bom_seen_;
          continue;
        }
        at_start_ = false;
      }
      Step(c);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Finish() override {
    if (in_quotes_ && !quote_pending_) {
      return LineError(quote_line_,
                       "a quoted field opened here is never closed");
    }
    if (has_content_) ++records_;
    return records_ > 0 ? records_ - 1 : 0;
  }

 private:
  void Step(char c) {
    if (in_quotes_) {
      if (quote_pending_) {
        quote_pending_ = false;
        if (c == '"') return;  // "" inside quotes: a literal quote
        in_quotes_ = false;    // the closing quote; `c` follows the field
      } else {
        if (c == '"') {
          quote_pending_ = true;
        } else if (c == '\n') {
          ++line_;
        }
        return;
      }
    }
    switch (c) {
      case '\n':
        ++line_;
        if (has_content_) ++records_;
        has_content_ = false;
        field_start_ = true;
        return;
      case '\r':
        return;
      case '"':
        has_content_ = true;
        if (field_start_) {
          in_quotes_ = true;
          quote_line_ = line_;
        }
        field_start_ = false;
        return;
      case ',':
        has_content_ = true;
        field_start_ = true;
        return;
      default:
        has_content_ = true;
        field_start_ = false;
        return;
    }
  }

  bool at_start_ = true;
  size_t bom_seen_ = 0;
  int64_t line_ = 1;
  int64_t records_ = 0;
  bool has_content_ = false;
  bool field_start_ = true;
  bool in_quotes_ = false;
  bool quote_pending_ = false;
  int64_t quote_line_ = 1;
};

absl::Status FieldError(absl::string_view field, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(field, ": ", s.message()));
}

}  // namespace

const char* FormatName(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kJsonl:
      return "jsonl";
    case DatasetFormat::kJson:
      return "json";
    case DatasetFormat::kCsv:
      return "csv";
  }
  return "?";
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

std::string ReaderKey(const ocx::v1::DatasetConfig& d, DatasetFormat format) {
  if (format != DatasetFormat::kJson) return FormatName(format);
  const std::string& split = d.reader_cfg().test_split();
  return absl::StrCat("json:", split.empty() ? "test" : split);
}

std::unique_ptr<SampleCounter> MakeSampleCounter(DatasetFormat format,
                                                 absl::string_view json_split) {
  switch (format) {
    case DatasetFormat::kJsonl:
      return std::make_unique<JsonCounter>(/*lines=*/true, json_split);
    case DatasetFormat::kJson:
      return std::make_unique<JsonCounter>(/*lines=*/false, json_split);
    case DatasetFormat::kCsv:
      return std::make_unique<CsvCounter>();
  }
  return nullptr;
}

absl::StatusOr<int64_t> CountSamplesInText(absl::string_view data,
                                           DatasetFormat format,
                                           absl::string_view json_split) {
  std::unique_ptr<SampleCounter> counter =
      MakeSampleCounter(format, json_split);
  OCX_RETURN_IF_ERROR(counter->Feed(data));
  return counter->Finish();
}

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

absl::StatusOr<int64_t> CountSamplesInFile(const std::string& path,
                                           DatasetFormat format,
                                           absl::string_view json_split) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  }
  std::unique_ptr<SampleCounter> counter =
      MakeSampleCounter(format, json_split);
  std::string buf(kChunkBytes, '\0');
  absl::Status status;
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = absl::FailedPreconditionError(
          absl::StrCat("cannot read ", path, ": ", strerror(errno)));
      break;
    }
    if (n == 0) break;
    status = counter->Feed(absl::string_view(buf.data(), n));
    if (!status.ok()) break;
  }
  close(fd);
  absl::StatusOr<int64_t> count =
      status.ok() ? counter->Finish() : absl::StatusOr<int64_t>(status);
  if (!count.ok() && absl::IsInvalidArgument(count.status())) {
    // "line 3: ..." becomes "<path>:3: ...".
    absl::string_view message = count.status().message();
    if (absl::ConsumePrefix(&message, "line ")) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", message, " (", FormatName(format), ")"));
    }
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
  }
  return count;
}

absl::StatusOr<ResolvedSizes> ResolveDatasetSizes(
    const ocx::v1::EvaluationSpec& spec, bool count_files,
    const SizeCacheLookup& lookup) {
  ResolvedSizes out;
  const int n = spec.datasets_size();
  out.raw.assign(n, 0);
  out.selected.assign(n, 0);
  // (path, reader) -> samples, for datasets that share a file.
  std::map<std::pair<std::string, std::string>, int64_t> seen;
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
      const std::string path_field = absl::StrCat(field, ".path");
      if (d.path().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path_field,
            ": required to count the dataset's samples (or set size)"));
      }
      if (d.path()[0] != '/') {
        return absl::InvalidArgumentError(absl::StrCat(
            path_field, ": \"", d.path(),
            "\" is relative, and ocxd must read the file to count its "
            "samples but cannot know the client's directory; give an "
            "absolute path (ocxctl makes paths of files beside the config "
            "absolute), or set size"));
      }
      absl::StatusOr<DatasetFormat> format = ResolveFormat(d);
      if (!format.ok()) {
        return FieldError(absl::StrCat(field, ".format"), format.status());
      }
      const std::string reader = ReaderKey(d, *format);
      auto key = std::make_pair(d.path(), reader);
      if (auto it = seen.find(key); it != seen.end()) {
        raw = it->second;
      } else {
        absl::StatusOr<FileIdentity> file = StatDatasetFile(d.path());
        if (!file.ok()) return FieldError(path_field, file.status());
        std::optional<int64_t> cached;
        if (lookup) cached = lookup(d.path(), reader, *file);
        if (cached.has_value()) {
          raw = *cached;
        } else {
          const std::string& split = d.reader_cfg().test_split();
          absl::StatusOr<int64_t> counted = CountSamplesInFile(
              d.path(), *format, split.empty() ? "test" : split);
          if (!counted.ok()) return FieldError(path_field, counted.status());
          raw = *counted;
          out.counted.push_back({d.path(), reader, *file, raw});
        }
        seen[key] = raw;
      }
      if (raw == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_field, ": ", d.path(), " has no samples"));
      }
      if (raw > kMaxDatasetSamples) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_field, ": ", d.path(), " has ", raw,
                         " samples, more than ", kMaxDatasetSamples));
      }
    }
    out.raw[i] = raw;
    if (raw == 0) continue;
    absl::StatusOr<spec::TestRange> range =
        spec::ParseTestRange(d.reader_cfg().test_range());
    if (!range.ok()) {
      return FieldError(absl::StrCat(field, ".reader_cfg.test_range"),
                        range.status());
    }
    out.selected[i] = range->Count(raw);
    if (out.selected[i] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".reader_cfg.test_range: \"", d.reader_cfg().test_range(),
          "\" selects no samples of the ", raw, " in ",
          d.size() > 0 ? "the dataset (size)" : d.path()));
    }
  }
  return out;
}

}  // namespace ocx::partitioners
