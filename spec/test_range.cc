#include "spec/test_range.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ocx::spec {
namespace {

constexpr char kForms[] =
    "must be a count (100), a ratio in (0, 1] (0.5) or a slice such as "
    "[0:100], [:50], [100:] or [::2]";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads optional whitespace, [-+]?[0-9]+, optional whitespace at *pos and
// moves *pos past them. Resets *out when there is no integer there (and then
// leaves *pos at the first non-space). False on overflow.
bool ReadInt(absl::string_view s, size_t* pos, std::optional<int64_t>* out) {
  size_t i = *pos;
  while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i])))
    ++i;
  size_t start = i;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits_start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == digits_start) {
    // No digits: no integer (a lone sign is left for the caller to reject).
    out->reset();
    *pos = start;
    return true;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(s.substr(start, i - start), &v)) return false;
  *out = v;
  while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i])))
    ++i;
  *pos = i;
  return true;
}

absl::Status FormError(absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat(kForms, ", got \"", text, "\""));
}

bool LooksLikeDecimal(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// Slices at the start of `text`; errors quote `full`, the whole range.
absl::StatusOr<std::vector<PySlice>> ParseSlices(absl::string_view text,
                                                 absl::string_view full) {
  std::vector<PySlice> slices;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '[') return FormError(full);
    ++i;
    PySlice slice;
    if (!ReadInt(text, &i, &slice.start)) return FormError(full);
    if (i >= text.size() || text[i] != ':') return FormError(full);
    ++i;
    if (!ReadInt(text, &i, &slice.stop)) return FormError(full);
    if (i < text.size() && text[i] == ':') {
      ++i;
      if (!ReadInt(text, &i, &slice.step)) return FormError(full);
      if (slice.step.has_value() && *slice.step == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("slice step must not be 0, got \"", full, "\""));
      }
    }
    if (i >= text.size() || text[i] != ']') return FormError(full);
    ++i;
    while (i < text.size() &&
           absl::ascii_isspace(static_cast<unsigned char>(text[i])))
      ++i;
    slices.push_back(slice);
  }
  return slices;
}

}  // namespace

absl::StatusOr<TestRange> ParseTestRange(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  TestRange range;
  if (text.empty()) return range;
  if (text[0] == '[') {
    auto slices = ParseSlices(text, text);
    if (!slices.ok()) return slices.status();
    range.kind = TestRange::Kind::kSlices;
    range.slices = *std::move(slices);
    return range;
  }
  // A count or ratio, optionally followed by slices ("100[0:50]").
  if (size_t bracket = text.find('['); bracket != absl::string_view::npos) {
    absl::string_view head =
        absl::StripTrailingAsciiWhitespace(text.substr(0, bracket));
    auto slices = ParseSlices(text.substr(bracket), text);
    if (!slices.ok()) return slices.status();
    absl::StatusOr<TestRange> prefix = ParseTestRange(head);
    if (!prefix.ok()) return FormError(text);
    if (prefix->kind != TestRange::Kind::kCount &&
        prefix->kind != TestRange::Kind::kRatio) {
      return FormError(text);
    }
    range = *std::move(prefix);
    range.slices = *std::move(slices);
    return range;
  }
  bool has_sign = text[0] == '-' || text[0] == '+';
  bool all_digits = text.size() > (has_sign ? 1u : 0u);
  for (size_t i = has_sign ? 1 : 0; i < text.size(); ++i) {
    if (!IsDigit(text[i])) all_digits = false;
  }
  if (all_digits) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(text, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("count is out of range, got \"", text, "\""));
    }
    if (v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("a count must be >= 0, got \"", text, "\""));
    }
    range.kind = TestRange::Kind::kCount;
    range.count = v;
    return range;
  }
  double v = 0;
  if (!LooksLikeDecimal(text)) return FormError(text);
  if (!absl::SimpleAtod(text, &v) || !std::isfinite(v) || v > 9.2e18) {
    return absl::InvalidArgumentError(
        absl::StrCat("count is out of range, got \"", text, "\""));
  }
  if (!(v > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ratio must be in (0, 1] and a count >= 0, got \"", text, "\""));
  }
  if (v <= 1) {
    range.kind = TestRange::Kind::kRatio;
    range.ratio = v;
  } else {
    range.kind = TestRange::Kind::kCount;
    range.count = static_cast<int64_t>(std::floor(v));
  }
  return range;
}

namespace {

// A slice's start and stop clamped to a sequence of `len` items, as
// CPython's PySlice_AdjustIndices does.
struct AdjustedSlice {
  int64_t start;
  int64_t stop;
  int64_t step;
};

AdjustedSlice Adjust(const PySlice& s, int64_t len) {
  const int64_t step = s.step.value_or(1);
  const int64_t lower = step > 0 ? 0 : -1;
  const int64_t upper = step > 0 ? len : len - 1;
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v.has_value()) return dflt;
    int64_t x = *v;
    if (x < 0) {
      // x >= INT64_MIN and len >= 0: no overflow.
      x += len;
      return x < lower ? lower : x;
    }
    return x > upper ? upper : x;
  };
  return {adjust(s.start, step > 0 ? lower : upper),
          adjust(s.stop, step > 0 ? upper : lower), step};
}

}  // namespace

int64_t SliceLength(const PySlice& s, int64_t len) {
  if (len <= 0) return 0;
  // PySlice_AdjustIndices, then its length.
  const auto [start, stop, step] = Adjust(s, len);
  // start and stop are in [-1, len]: their difference cannot overflow.
  if (step > 0) {
    if (start >= stop) return 0;
    return (stop - start - 1) / step + 1;
  }
  if (stop >= start) return 0;
  // |step| may be 2^63: compare before negating.
  const uint64_t span = static_cast<uint64_t>(start - stop - 1);
  const uint64_t magnitude = static_cast<uint64_t>(-(step + 1)) + 1;
  return static_cast<int64_t>(span / magnitude + 1);
}

int64_t TestRange::Count(int64_t size) const {
  if (size <= 0) return 0;
  int64_t n = size;
  switch (kind) {
    case Kind::kAll:
    case Kind::kSlices:
      break;
    case Kind::kCount:
      if (count > 0 && count < size) n = count;
      break;
    case Kind::kRatio:
      // floor(ratio * size) in long double: exact for sizes below 2^63.
      n = static_cast<int64_t>(
          std::floor(static_cast<long double>(ratio) * size));
      if (n > size) n = size;
      break;
  }
  for (const PySlice& s : slices) n = SliceLength(s, n);
  return n;
}

std::vector<int64_t> TestRange::SliceIndices(int64_t size) const {
  std::vector<int64_t> rows;
  if (size < 0) size = 0;
  rows.reserve(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) rows.push_back(i);
  if (kind != Kind::kSlices) return rows;
  for (const PySlice& s : slices) {
    const auto [start, stop, step] =
        Adjust(s, static_cast<int64_t>(rows.size()));
    std::vector<int64_t> next;
    if (step > 0) {
      for (int64_t i = start; i < stop;) {
        next.push_back(rows[static_cast<size_t>(i)]);
        if (stop - i <= step) break;
        i += step;
      }
    } else {
      for (int64_t i = start; i > stop;) {
        next.push_back(rows[static_cast<size_t>(i)]);
        if (step == INT64_MIN || i - stop <= -step) break;
        i += step;
      }
    }
    rows = std::move(next);
  }
  return rows;
}

}  // namespace ocx::spec
