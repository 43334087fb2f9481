#include "task/eval/results_writer.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "task/json/json.h"

namespace ocx::task::eval {

std::string RenderResults(const Scores& scores,
                          const std::vector<SampleDetail>* details) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : scores.metrics) {
    absl::StrAppend(&out, first ? "\n  " : ",\n  ", JsonQuote(name), ": ",
                    JsonNumber(value));
    first = false;
  }
  if (details != nullptr) {
    absl::StrAppend(&out, first ? "\n  " : ",\n  ", "\"details\": [");
    for (size_t i = 0; i < details->size(); ++i) {
      const SampleDetail& d = (*details)[i];
      absl::StrAppend(&out, i == 0 ? "\n    " : ",\n    ",
                      "{\"prediction\": ", JsonQuote(d.prediction),
                      ", \"processed\": ", JsonQuote(d.processed));
      if (d.gold.has_value()) {
        absl::StrAppend(&out, ", \"gold\": ", ToJson(*d.gold));
      }
      if (d.correct.has_value()) {
        absl::StrAppend(&out, ", \"correct\": ", *d.correct ? "true" : "false");
      }
      if (d.score.has_value()) {
        absl::StrAppend(&out, ", \"score\": ", JsonNumber(*d.score));
      }
      out += "}";
    }
    out += details->empty() ? "]" : "\n  ]";
  }
  out += "\n}\n";
  return out;
}

absl::Status WriteResults(const std::string& path, const Scores& scores,
                          const std::vector<SampleDetail>* details) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status made = MakeDirs(path.substr(0, slash));
    if (!made.ok()) return made;
  }
  return WriteFileAtomic(path, RenderResults(scores, details));
}

}  // namespace ocx::task::eval
