#include "spec/yaml_scalar.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/utf8_cut.h"

namespace ocx::spec {
namespace {

namespace pb = google::protobuf;

// Scalars quoted in messages are cut to this many bytes.
constexpr size_t kMaxQuoted = 80;

absl::Status TypeError(absl::string_view text, const pb::FieldDescriptor* f) {
  return absl::InvalidArgumentError(
      absl::StrCat("expected ", Expected(f), ", got ", QuoteScalar(text)));
}

absl::Status RangeError(absl::string_view text, absl::string_view type) {
  return absl::InvalidArgumentError(
      absl::StrCat(text, " is out of range for ", type));
}

// Sets or adds `s` (signed fields) or `u` (unsigned ones), already checked
// to fit the field's type.
void StoreInteger(pb::Message* msg, const pb::FieldDescriptor* f, int64_t s,
                  uint64_t u) {
  const pb::Reflection* r = msg->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      rep ? r->AddInt32(msg, f, static_cast<int32_t>(s))
          : r->SetInt32(msg, f, static_cast<int32_t>(s));
      return;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      rep ? r->AddInt64(msg, f, s) : r->SetInt64(msg, f, s);
      return;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      rep ? r->AddUInt32(msg, f, static_cast<uint32_t>(u))
          : r->SetUInt32(msg, f, static_cast<uint32_t>(u));
      return;
    default:
      rep ? r->AddUInt64(msg, f, u) : r->SetUInt64(msg, f, u);
      return;
  }
}

absl::Status SetInteger(absl::string_view text, pb::Message* msg,
                        const pb::FieldDescriptor* f) {
  if (!LooksLikeInteger(text)) return TypeError(text, f);
  int64_t s = 0;
  uint64_t u = 0;
  bool fits = false;
  absl::string_view type;
  const pb::FieldDescriptor::CppType cpp_type = f->cpp_type();
  if (cpp_type == pb::FieldDescriptor::CPPTYPE_INT32 ||
      cpp_type == pb::FieldDescriptor::CPPTYPE_INT64) {
    const bool is32 = cpp_type == pb::FieldDescriptor::CPPTYPE_INT32;
    type = is32 ? "int32" : "int64";
    fits = absl::SimpleAtoi(text, &s) &&
           (!is32 || (s >= std::numeric_limits<int32_t>::min() &&
                      s <= std::numeric_limits<int32_t>::max()));
  } else {
    if (text[0] == '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected a non-negative integer, got ", QuoteScalar(text)));
    }
    const bool is32 = cpp_type == pb::FieldDescriptor::CPPTYPE_UINT32;
    type = is32 ? "uint32" : "uint64";
    fits = absl::SimpleAtoi(text, &u) &&
           (!is32 || u <= std::numeric_limits<uint32_t>::max());
  }
  if (!fits) return RangeError(text, type);
  StoreInteger(msg, f, s, u);
  return absl::OkStatus();
}

absl::Status SetFloating(absl::string_view text, pb::Message* msg,
                         const pb::FieldDescriptor* f) {
  const pb::Reflection* r = msg->GetReflection();
  const bool rep = f->is_repeated();
  const bool is_float = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT;
  double v = 0;
  if (!ParseSpecialFloat(text, &v)) {
    if (!LooksLikeDecimal(text)) return TypeError(text, f);
    if (!absl::SimpleAtod(text, &v) || std::isinf(v) ||
        (is_float && std::fabs(v) > std::numeric_limits<float>::max())) {
      return RangeError(text, is_float ? "float" : "double");
    }
  }
  if (is_float) {
    rep ? r->AddFloat(msg, f, static_cast<float>(v))
        : r->SetFloat(msg, f, static_cast<float>(v));
  } else {
    rep ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
  }
  return absl::OkStatus();
}

}  // namespace

std::string QuoteScalar(absl::string_view text) {
  if (text.size() > kMaxQuoted) {
    return absl::StrCat("\"", absl::CHexEscape(Utf8Prefix(text, kMaxQuoted)),
                        "...\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

bool IsTrue(absl::string_view s) {
  return s == "true" || s == "True" || s == "TRUE";
}
bool IsFalse(absl::string_view s) {
  return s == "false" || s == "False" || s == "FALSE";
}

bool LooksLikeInteger(absl::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool LooksLikeDecimal(absl::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(s[i])))
      ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = digits();
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    frac_digits = digits();
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

bool ParseSpecialFloat(absl::string_view s, double* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
    if (s == ".inf" || s == ".Inf" || s == ".INF") {
      *out = negative ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
      return true;
    }
    return false;
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  return false;
}

std::string Expected(const pb::FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return "an integer";
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      std::vector<std::string> names;
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        names.push_back(f->enum_type()->value(i)->name());
      }
      return absl::StrCat("one of (", absl::StrJoin(names, ", "), ")");
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
    default:
      return "a mapping";
  }
}

absl::Status SetScalarField(absl::string_view text, pb::Message* msg,
                            const pb::FieldDescriptor* f) {
  const pb::Reflection* r = msg->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return SetInteger(text, msg, f);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return SetFloating(text, msg, f);
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      if (!IsTrue(text) && !IsFalse(text)) return TypeError(text, f);
      rep ? r->AddBool(msg, f, IsTrue(text)) : r->SetBool(msg, f, IsTrue(text));
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* ev =
          f->enum_type()->FindValueByName(std::string(text));
      if (ev == nullptr) return TypeError(text, f);
      rep ? r->AddEnum(msg, f, ev) : r->SetEnum(msg, f, ev);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(msg, f, std::string(text))
          : r->SetString(msg, f, std::string(text));
      return absl::OkStatus();
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
    default:
      return absl::InternalError(
          absl::StrCat(f->full_name(), ": SetScalarField on a message field"));
  }
}

}  // namespace ocx::spec
