// Renders a SummaryTable as text. Every value is printed "%.2f" and a
// missing one "-", in all text formats; json keeps full precision and null.
//
//   txt  aligned columns (text left, model columns right) under a dashed
//        rule, like OpenCompass's summary.txt
//   csv  RFC 4180, header row first
//   md   a GitHub-flavoured Markdown table
//   json {"models": [...], "rows": [{"dataset", "version", "metric",
//        "mode", "values": {"<model>": number|null}}]}
//
// Thread-safe: no shared state.
#ifndef OCX_SUMMARY_RENDER_H_
#define OCX_SUMMARY_RENDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "summary/summary_table.h"

namespace ocx::summary {

std::string RenderText(const SummaryTable& table);
std::string RenderCsv(const SummaryTable& table);
std::string RenderMarkdown(const SummaryTable& table);
std::string RenderJson(const SummaryTable& table);

// By name: table (or txt) | csv | md | json; INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> Render(const SummaryTable& table,
                                   absl::string_view format);

}  // namespace ocx::summary

#endif  // OCX_SUMMARY_RENDER_H_
