#include "summary/render.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ocx::summary {
namespace {

constexpr int kFixedColumns = 4;

// Header and cells as strings, the common ground of the text formats.
std::vector<std::vector<std::string>> Cells(const SummaryTable& table) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header = {"dataset", "version", "metric", "mode"};
  header.insert(header.end(), table.model_abbrs.begin(),
                table.model_abbrs.end());
  cells.push_back(std::move(header));
  for (const SummaryRow& r : table.rows) {
    std::vector<std::string> row = {r.dataset, r.version, r.metric, r.mode};
    for (size_t i = 0; i < table.model_abbrs.size(); ++i) {
      const bool present = i < r.values.size() && r.values[i].has_value();
      row.push_back(present ? absl::StrFormat("%.2f", *r.values[i]) : "-");
    }
    cells.push_back(std::move(row));
  }
  return cells;
}

std::vector<size_t> Widths(const std::vector<std::vector<std::string>>& c) {
  std::vector<size_t> w(c.front().size(), 0);
  for (const auto& row : c) {
    for (size_t i = 0; i < row.size(); ++i)
      w[i] = std::max(w[i], row[i].size());
  }
  return w;
}

std::string Pad(const std::string& s, size_t width, bool right) {
  const std::string fill(width - std::min(width, s.size()), ' ');
  return right ? fill + s : s + fill;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonDouble(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

}  // namespace

std::string RenderText(const SummaryTable& table) {
  const auto cells = Cells(table);
  const auto widths = Widths(cells);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::vector<std::string> padded;
    for (size_t i = 0; i < row.size(); ++i) {
      padded.push_back(Pad(row[i], widths[i], i >= kFixedColumns));
    }
    std::string l = absl::StrJoin(padded, "  ");
    while (!l.empty() && l.back() == ' ') l.pop_back();
    absl::StrAppend(&out, l, "\n");
  };
  line(cells[0]);
  std::vector<std::string> rule;
  for (size_t w : widths) rule.push_back(std::string(w, '-'));
  absl::StrAppend(&out, absl::StrJoin(rule, "  "), "\n");
  for (size_t r = 1; r < cells.size(); ++r) line(cells[r]);
  return out;
}

std::string RenderCsv(const SummaryTable& table) {
  std::string out;
  for (const auto& row : Cells(table)) {
    std::vector<std::string> fields;
    for (const std::string& c : row) fields.push_back(CsvField(c));
    absl::StrAppend(&out, absl::StrJoin(fields, ","), "\n");
  }
  return out;
}

std::string RenderMarkdown(const SummaryTable& table) {
  const auto cells = Cells(table);
  const auto widths = Widths(cells);
  std::string out;
  for (size_t r = 0; r < cells.size(); ++r) {
    std::vector<std::string> padded;
    for (size_t i = 0; i < cells[r].size(); ++i) {
      std::string c = cells[r][i];
      // A '|' would end the cell.
      for (size_t p = c.find('|'); p != std::string::npos;
           p = c.find('|', p + 2)) {
        c.replace(p, 1, "\\|");
      }
      padded.push_back(Pad(c, widths[i], i >= kFixedColumns));
    }
    absl::StrAppend(&out, "| ", absl::StrJoin(padded, " | "), " |\n");
    if (r == 0) {
      // Each rule cell spans the cell and its two spaces; a right-aligned
      // column ends in ':'.
      std::string rule = "|";
      for (size_t i = 0; i < widths.size(); ++i) {
        std::string dashes(widths[i] + 2, '-');
        if (i >= kFixedColumns) dashes.back() = ':';
        absl::StrAppend(&rule, dashes, "|");
      }
      absl::StrAppend(&out, rule, "\n");
    }
  }
  return out;
}

std::string RenderJson(const SummaryTable& table) {
  std::vector<std::string> models;
  for (const std::string& m : table.model_abbrs)
    models.push_back(JsonString(m));
  std::string out = absl::StrCat(
      "{\n  \"models\": [", absl::StrJoin(models, ", "), "],\n  \"rows\": [");
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const SummaryRow& row = table.rows[r];
    std::vector<std::string> values;
    for (size_t i = 0; i < table.model_abbrs.size(); ++i) {
      const bool present = i < row.values.size() && row.values[i].has_value();
      values.push_back(
          absl::StrCat(JsonString(table.model_abbrs[i]), ": ",
                       present ? JsonDouble(*row.values[i]) : "null"));
    }
    absl::StrAppend(&out, r == 0 ? "\n    " : ",\n    ",
                    "{\"dataset\": ", JsonString(row.dataset),
                    ", \"version\": ", JsonString(row.version),
                    ", \"metric\": ", JsonString(row.metric),
                    ", \"mode\": ", JsonString(row.mode), ", \"values\": {",
                    absl::StrJoin(values, ", "), "}}");
  }
  absl::StrAppend(&out, table.rows.empty() ? "]\n}\n" : "\n  ]\n}\n");
  return out;
}

absl::StatusOr<std::string> Render(const SummaryTable& table,
                                   absl::string_view format) {
  if (format == "table" || format == "txt") return RenderText(table);
  if (format == "csv") return RenderCsv(table);
  if (format == "md") return RenderMarkdown(table);
  if (format == "json") return RenderJson(table);
  return absl::InvalidArgumentError(absl::StrCat(
      "format: unknown \"", format, "\" (known: table, csv, md, json)"));
}

}  // namespace ocx::summary
