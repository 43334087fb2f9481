#include "client/format.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/format_internal.h"

namespace ocx::client {
namespace format_internal {

constexpr char kDateTime[] = "%Y-%m-%d %H:%M:%S";

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

bool IsSet(const google::protobuf::Timestamp& ts) {
  return ts.seconds() != 0 || ts.nanos() != 0;
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string Age(const google::protobuf::Timestamp& since,
                const RenderOptions& options) {
  if (!IsSet(since)) return kNone;
  return HumanDuration(options.now - ToTime(since));
}

std::string Span(const google::protobuf::Timestamp& start,
                 const google::protobuf::Timestamp& end,
                 const RenderOptions& options) {
  if (!IsSet(start)) return kNone;
  absl::Time until = IsSet(end) ? ToTime(end) : options.now;
  return HumanDuration(until - ToTime(start));
}

std::string DateTime(const google::protobuf::Timestamp& ts,
                     const RenderOptions& options) {
  if (!IsSet(ts)) return kNone;
  return absl::FormatTime(kDateTime, ToTime(ts), options.time_zone);
}

std::string DateTimeWithAge(const google::protobuf::Timestamp& ts,
                            const RenderOptions& options) {
  if (!IsSet(ts)) return kNone;
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", ToTime(ts), options.time_zone),
      " (", HumanDuration(options.now - ToTime(ts)), " ago)");
}

std::string OrNone(absl::string_view text) {
  return text.empty() ? std::string(kNone) : std::string(text);
}

std::string Names(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) absl::StrAppend(&out, id, "\n");
  return out;
}

std::optional<std::string> StructuredForm(
    const google::protobuf::Message& resource, const std::string& id,
    OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      return RenderMessage(resource, format);
    case OutputFormat::kName:
      return Names({id});
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  return std::nullopt;
}

}  // namespace format_internal

namespace {

using format_internal::DisplayWidth;
using format_internal::kNone;
using v1::Attempt;
using v1::Evaluation;
using v1::Task;

constexpr char kColumnGap[] = "   ";

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "table") return OutputFormat::kTable;
  if (lower == "wide") return OutputFormat::kWide;
  if (lower == "json") return OutputFormat::kJson;
  if (lower == "yaml") return OutputFormat::kYaml;
  if (lower == "name") return OutputFormat::kName;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown output format \"", text,
                   "\" (known: table, wide, json, yaml, name)"));
}

std::string HumanDuration(absl::Duration d) {
  // k8s.io/apimachinery/pkg/util/duration.HumanDuration, except that kubectl
  // shows 60 to 179 minutes as "125m" where this shows "2h5m".
  int64_t seconds = absl::ToInt64Seconds(d);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return absl::StrCat(seconds, "s");
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    if (s == 0) return absl::StrCat(minutes, "m");
    return absl::StrCat(minutes, "m", s, "s");
  }
  if (minutes < 60) return absl::StrCat(minutes, "m");
  int64_t hours = minutes / 60;
  if (hours < 8) {
    int64_t m = minutes % 60;
    if (m == 0) return absl::StrCat(hours, "h");
    return absl::StrCat(hours, "h", m, "m");
  }
  if (hours < 48) return absl::StrCat(hours, "h");
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    if (h == 0) return absl::StrCat(hours / 24, "d");
    return absl::StrCat(hours / 24, "d", h, "h");
  }
  if (hours < 24 * 365 * 2) return absl::StrCat(hours / 24, "d");
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    if (dy == 0) return absl::StrCat(hours / 24 / 365, "y");
    return absl::StrCat(hours / 24 / 365, "y", dy, "d");
  }
  return absl::StrCat(hours / 24 / 365, "y");
}

namespace {

// The State enum of `Resource` by name; "UNKNOWN" for the zero value.
template <typename Resource>
std::string EnumStateName(typename Resource::State state) {
  if (state == Resource::STATE_UNSPECIFIED) return "UNKNOWN";
  const std::string& name = Resource::State_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state)) : name;
}

}  // namespace

std::string StateName(Evaluation::State state) {
  return EnumStateName<Evaluation>(state);
}

std::string StateName(Task::State state) { return EnumStateName<Task>(state); }

std::string StateName(Attempt::State state) {
  return EnumStateName<Attempt>(state);
}

std::string StateName(v1::Replica::State state) {
  return EnumStateName<v1::Replica>(state);
}

std::string StageName(v1::Stage stage) {
  switch (stage) {
    case v1::STAGE_INFER:
      return "infer";
    case v1::STAGE_EVAL:
      return "eval";
    default:
      return kNone;
  }
}

bool IsTerminal(Evaluation::State state) {
  return state == Evaluation::SUCCEEDED || state == Evaluation::FAILED ||
         state == Evaluation::CANCELLED;
}

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += kColumnGap;
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - DisplayWidth(row[i]), ' ');
      }
    }
    // Trailing empty cells leave blanks behind.
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string RenderFields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [key, value] : fields) {
    width = std::max(width, DisplayWidth(key) + 1);
  }
  std::string out;
  for (const auto& [key, value] : fields) {
    std::string label = absl::StrCat(key, ":");
    label.append(width - DisplayWidth(label), ' ');
    label += kColumnGap;
    absl::StrAppend(&out, label, value, "\n");
  }
  return out;
}

}  // namespace ocx::client
