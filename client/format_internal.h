// Helpers the ocxctl formatters share (client/format.h has the public
// functions): absent values, times and ages, short lists, and the
// structured forms (json, yaml, name) of one resource.
//
// Pure functions. Thread-safe.
#ifndef OCX_CLIENT_FORMAT_INTERNAL_H_
#define OCX_CLIENT_FORMAT_INTERNAL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "client/format.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"

namespace ocx::client::format_internal {

inline constexpr char kNone[] = "-";
// Datasets or dependencies a narrow table lists before "+N".
inline constexpr int kNarrowListLimit = 3;

// Code points, for column widths.
size_t DisplayWidth(absl::string_view text);

bool IsSet(const google::protobuf::Timestamp& ts);
absl::Time ToTime(const google::protobuf::Timestamp& ts);

// How long ago `since` was; "-" when unset.
std::string Age(const google::protobuf::Timestamp& since,
                const RenderOptions& options);

// From `start` to `end`, or to now while `end` is unset.
std::string Span(const google::protobuf::Timestamp& start,
                 const google::protobuf::Timestamp& end,
                 const RenderOptions& options);

// "2024-05-01 12:00:00"; "-" when unset.
std::string DateTime(const google::protobuf::Timestamp& ts,
                     const RenderOptions& options);

// "2024-05-01 12:00:00 UTC (5m ago)".
std::string DateTimeWithAge(const google::protobuf::Timestamp& ts,
                            const RenderOptions& options);

// `text`, or "-" when empty.
std::string OrNone(absl::string_view text);

// One id per line.
std::string Names(const std::vector<std::string>& ids);

// "a,b,c,+2" (narrow) or every item (wide); "-" for none.
template <typename Container>
std::string JoinList(const Container& items, bool wide) {
  if (items.empty()) return kNone;
  int size = static_cast<int>(items.size());
  if (wide || size <= kNarrowListLimit) return absl::StrJoin(items, ",");
  std::vector<std::string> shown(items.begin(),
                                 items.begin() + kNarrowListLimit);
  shown.push_back(absl::StrCat("+", size - kNarrowListLimit));
  return absl::StrJoin(shown, ",");
}

// The ids of `tasks`, one per line.
template <typename Tasks>
std::string TaskIds(const Tasks& tasks) {
  std::vector<std::string> ids;
  for (const v1::Task& task : tasks) ids.push_back(task.id());
  return Names(ids);
}

// A list in a structured form: the `Response` with the items in its
// repeated `field` for json and yaml, their ids for name; nullopt for table
// and wide.
template <typename Response, typename Item>
std::optional<std::string> StructuredList(
    const std::vector<Item>& items,
    google::protobuf::RepeatedPtrField<Item>* (Response::*field)(),
    OutputFormat format) {
  if (format == OutputFormat::kJson || format == OutputFormat::kYaml) {
    Response response;
    for (const Item& item : items) *(response.*field)()->Add() = item;
    return RenderMessage(response, format);
  }
  if (format != OutputFormat::kName) return std::nullopt;
  std::vector<std::string> ids;
  for (const Item& item : items) ids.push_back(item.id());
  return Names(ids);
}

// One resource in a structured form: its JSON or YAML, or its `id` for
// name; nullopt for table and wide, which each formatter draws itself.
std::optional<std::string> StructuredForm(
    const google::protobuf::Message& resource, const std::string& id,
    OutputFormat format);

}  // namespace ocx::client::format_internal

#endif  // OCX_CLIENT_FORMAT_INTERNAL_H_
