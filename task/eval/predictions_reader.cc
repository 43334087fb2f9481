#include "task/eval/predictions_reader.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/work_dir_layout.h"
#include "task/json/json.h"

namespace ocx::task::eval {
namespace {

// k of "<dataset>_<k>.json", or nullopt when `file` is not a part of it.
std::optional<int64_t> PartIndex(absl::string_view file,
                                 absl::string_view dataset) {
  if (!absl::ConsumePrefix(&file, dataset) ||
      !absl::ConsumePrefix(&file, "_") ||
      !absl::ConsumeSuffix(&file, ".json") || file.empty()) {
    return std::nullopt;
  }
  for (char c : file) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t k = 0;
  if (!absl::SimpleAtoi(file, &k)) return std::nullopt;
  return k;
}

absl::StatusOr<std::vector<PredictionRecord>> ReadPart(
    const std::string& work_dir, const std::string& part) {
  const std::string path = layout::InWorkDir(work_dir, part);
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<google::protobuf::Value> v = ParseJson(*text);
  if (!v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(part, ": ", v.status().message()));
  }
  if (!v->has_struct_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        part, ": expected a JSON object keyed \"0\", \"1\", ... per sample"));
  }
  const auto& fields = v->struct_value().fields();
  std::vector<PredictionRecord> out(fields.size());
  for (const auto& [key, value] : fields) {
    int64_t index = -1;
    if (!absl::SimpleAtoi(key, &index) || index < 0 ||
        index >= static_cast<int64_t>(fields.size()) ||
        absl::StrCat(index) != key) {
      return absl::InvalidArgumentError(
          absl::StrCat(part, ": sample key \"", key,
                       "\" is not one of \"0\"..\"", fields.size() - 1,
                       "\" (samples must be numbered from 0 without "
                       "gaps)"));
    }
    if (!value.has_struct_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(part, ": sample ", key, " is not an object"));
    }
    const auto& sample = value.struct_value().fields();
    PredictionRecord& r = out[static_cast<size_t>(index)];
    auto pred = sample.find("prediction");
    if (pred == sample.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(part, ": sample ", key, " has no \"prediction\""));
    }
    if (pred->second.has_string_value()) {
      r.prediction = pred->second.string_value();
    } else if (pred->second.kind_case() ==
               google::protobuf::Value::kNumberValue) {
      r.prediction = ScalarText(pred->second);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          part, ": sample ", key, ": \"prediction\" must be a string"));
    }
    auto prompt = sample.find("origin_prompt");
    if (prompt != sample.end()) r.origin_prompt = prompt->second;
    auto gold = sample.find("gold");
    if (gold != sample.end()) r.gold = gold->second;
  }
  return out;
}

}  // namespace

std::vector<std::string> PredictionParts(
    const std::vector<std::string>& required_inputs,
    const std::string& model_abbr, const std::string& dataset_abbr,
    const std::vector<std::string>& all_dataset_abbrs) {
  const std::string whole = layout::PredictionFile(model_abbr, dataset_abbr);
  const std::string dir = whole.substr(0, whole.rfind('/') + 1);
  std::map<int64_t, std::string> parts;
  bool has_whole = false;
  for (const std::string& input : required_inputs) {
    if (input == whole) {
      has_whole = true;
      continue;
    }
    absl::string_view file = input;
    if (!absl::ConsumePrefix(&file, dir)) continue;
    // Another dataset of the task whose name looks like a part of this one.
    bool other = false;
    for (const std::string& abbr : all_dataset_abbrs) {
      if (abbr != dataset_abbr &&
          input == layout::PredictionFile(model_abbr, abbr)) {
        other = true;
      }
    }
    if (other) continue;
    std::optional<int64_t> k = PartIndex(file, dataset_abbr);
    if (k.has_value()) parts.emplace(*k, input);
  }
  std::vector<std::string> out;
  if (has_whole || parts.empty()) out.push_back(whole);
  for (auto& [k, path] : parts) out.push_back(std::move(path));
  return out;
}

std::vector<std::string> PredictionPartsOf(
    const ocx::v1::TaskParams& params, const std::string& dataset_abbr,
    const std::vector<std::string>& all_dataset_abbrs) {
  if (!params.has_parts_manifest()) {
    return PredictionParts(
        {params.required_inputs().begin(), params.required_inputs().end()},
        params.model().abbr(), dataset_abbr, all_dataset_abbrs);
  }
  std::vector<const ocx::v1::PartsManifest::Part*> listed;
  for (const ocx::v1::PartsManifest::Part& part :
       params.parts_manifest().parts()) {
    if (part.dataset_abbr() == dataset_abbr) listed.push_back(&part);
  }
  std::stable_sort(
      listed.begin(), listed.end(),
      [](const auto* a, const auto* b) { return a->index() < b->index(); });
  std::vector<std::string> out;
  for (const auto* part : listed) out.push_back(part->path());
  if (out.empty()) {
    out.push_back(layout::PredictionFile(params.model().abbr(), dataset_abbr));
  }
  return out;
}

absl::StatusOr<std::vector<PredictionRecord>> ReadPredictions(
    const std::string& work_dir, const std::vector<std::string>& parts) {
  std::vector<std::string> missing;
  for (const std::string& part : parts) {
    if (!PathExists(layout::InWorkDir(work_dir, part))) missing.push_back(part);
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "incomplete predictions: ", missing.size(), " of ", parts.size(),
        " part(s) missing: ", absl::StrJoin(missing, ", "),
        " (their infer tasks must succeed first)"));
  }
  std::vector<PredictionRecord> all;
  for (const std::string& part : parts) {
    absl::StatusOr<std::vector<PredictionRecord>> records =
        ReadPart(work_dir, part);
    if (!records.ok()) return records.status();
    for (PredictionRecord& r : *records) all.push_back(std::move(r));
  }
  return all;
}

}  // namespace ocx::task::eval
