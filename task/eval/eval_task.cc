// OpenICLEvalTask: for each (model, dataset) pair of the task, read every
// prediction part, postprocess in OpenCompass's order, score, and write
// results/<model>/<dataset>.json.
#include "task/eval/eval_task.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "common/work_dir_layout.h"
#include "task/eval/evaluators.h"
#include "task/eval/postprocessors.h"
#include "task/eval/predictions_reader.h"
#include "task/eval/results_writer.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

using eval::EvalSample;
using eval::Postprocessor;
using eval::PredictionRecord;

// The begin/end markers of `role` in the model's meta_template (its
// `round` or `reserved_roles`); nullopt when the template has no such role.
std::optional<std::pair<std::string, std::string>> RoleMarkers(
    const google::protobuf::Value& meta_template, const std::string& role) {
  if (!meta_template.has_struct_value()) return std::nullopt;
  const auto& fields = meta_template.struct_value().fields();
  for (const char* list : {"round", "reserved_roles"}) {
    auto it = fields.find(list);
    if (it == fields.end() || !it->second.has_list_value()) continue;
    for (const google::protobuf::Value& r : it->second.list_value().values()) {
      if (!r.has_struct_value()) continue;
      const auto& rf = r.struct_value().fields();
      auto name = rf.find("role");
      if (name == rf.end() || name->second.string_value() != role) continue;
      auto text = [&rf](const char* key) {
        auto k = rf.find(key);
        return k != rf.end() && k->second.has_string_value()
                   ? k->second.string_value()
                   : std::string();
      };
      return std::make_pair(text("begin"), text("end"));
    }
  }
  return std::nullopt;
}

// A postprocessor from config, or none for an empty type.
absl::StatusOr<std::optional<Postprocessor>> OptionalPostprocessor(
    const std::string& type, const std::string& field) {
  if (type.empty()) return std::optional<Postprocessor>();
  absl::StatusOr<Postprocessor> p = eval::GetPostprocessor(type);
  if (!p.ok()) return Annotate(p.status(), field);
  return std::optional<Postprocessor>(*std::move(p));
}

// How a pair's predictions and golds are scored: the evaluator and the
// postprocessors, in OpenCompass's order.
struct Scoring {
  eval::Evaluator evaluator;
  // pred_role's begin/end markers, only with a meta_template.
  std::optional<std::pair<std::string, std::string>> role;
  std::optional<Postprocessor> model_pp;
  std::optional<Postprocessor> dataset_pp;
  std::optional<Postprocessor> gold_pp;
};

absl::StatusOr<Scoring> ScoringFor(const ocx::v1::ModelConfig& model,
                                   const ocx::v1::DatasetConfig& d,
                                   const std::string& field) {
  const std::string& evaluator_type = d.eval_cfg().evaluator().type();
  if (evaluator_type.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".evaluator.type: required for OpenICLEvalTask (known: ",
        absl::StrJoin(eval::KnownEvaluators(), ", "), ")"));
  }
  absl::StatusOr<eval::Evaluator> evaluator =
      eval::GetEvaluator(evaluator_type);
  if (!evaluator.ok()) {
    return Annotate(evaluator.status(), field + ".evaluator.type");
  }
  Scoring s{*std::move(evaluator), std::nullopt, std::nullopt, std::nullopt,
            std::nullopt};
  OCX_ASSIGN_OR_RETURN(s.model_pp,
                       OptionalPostprocessor(model.pred_postprocessor().type(),
                                             "model.pred_postprocessor.type"));
  OCX_ASSIGN_OR_RETURN(
      s.dataset_pp,
      OptionalPostprocessor(d.eval_cfg().pred_postprocessor().type(),
                            field + ".pred_postprocessor.type"));
  OCX_ASSIGN_OR_RETURN(
      s.gold_pp,
      OptionalPostprocessor(d.eval_cfg().dataset_postprocessor().type(),
                            field + ".dataset_postprocessor.type"));
  // pred_role applies only with a meta_template, as in OpenCompass.
  if (!d.eval_cfg().pred_role().empty() && model.has_meta_template()) {
    s.role = RoleMarkers(model.meta_template(), d.eval_cfg().pred_role());
    if (!s.role.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".pred_role: the model's meta_template has no role \"",
          d.eval_cfg().pred_role(), "\""));
    }
  }
  return s;
}

EvalSample Postprocess(const Scoring& scoring, const PredictionRecord& r) {
  EvalSample s;
  s.prediction = r.prediction;
  if (scoring.role.has_value()) {
    s.prediction = eval::ExtractRolePrediction(
        s.prediction, scoring.role->first, scoring.role->second);
  }
  if (scoring.model_pp.has_value())
    s.prediction = (*scoring.model_pp)(s.prediction);
  if (scoring.dataset_pp.has_value()) {
    s.prediction = (*scoring.dataset_pp)(s.prediction);
  }
  if (r.gold.has_value() && r.gold->has_list_value()) {
    s.gold_is_list = true;
    for (const auto& g : r.gold->list_value().values()) {
      s.golds.push_back(ScalarText(g));
    }
  } else if (r.gold.has_value()) {
    s.golds.push_back(ScalarText(*r.gold));
  }
  if (scoring.gold_pp.has_value()) {
    for (std::string& g : s.golds) g = (*scoring.gold_pp)(g);
  }
  return s;
}

std::vector<eval::SampleDetail> Details(
    const std::vector<PredictionRecord>& records,
    const std::vector<EvalSample>& samples, const eval::Scores& scores) {
  std::vector<eval::SampleDetail> details;
  details.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    eval::SampleDetail det;
    det.prediction = records[i].prediction;
    det.processed = samples[i].prediction;
    det.gold = records[i].gold;
    if (i < scores.correct.size()) det.correct = scores.correct[i];
    if (i < scores.sample_scores.size()) det.score = scores.sample_scores[i];
    details.push_back(std::move(det));
  }
  return details;
}

absl::Status EvaluatePair(const ocx::v1::TaskParams& params,
                          const ocx::v1::TaskDataset& td,
                          const std::vector<std::string>& all_abbrs) {
  const ocx::v1::ModelConfig& model = params.model();
  const ocx::v1::DatasetConfig& d = td.config();
  const std::string abbr = td.base_abbr().empty() ? d.abbr() : td.base_abbr();
  const std::string pair = absl::StrCat(model.abbr(), "/", abbr);
  OCX_ASSIGN_OR_RETURN(
      Scoring scoring,
      ScoringFor(model, d, absl::StrCat("datasets[", abbr, "].eval_cfg")));

  const std::vector<std::string> parts =
      eval::PredictionPartsOf(params, abbr, all_abbrs);
  absl::StatusOr<std::vector<PredictionRecord>> records =
      eval::ReadPredictions(params.work_dir(), parts);
  if (!records.ok()) return Annotate(records.status(), pair);

  std::vector<EvalSample> samples;
  samples.reserve(records->size());
  for (const PredictionRecord& r : *records) {
    samples.push_back(Postprocess(scoring, r));
  }
  absl::StatusOr<eval::Scores> scores = scoring.evaluator(samples);
  if (!scores.ok()) return Annotate(scores.status(), pair);

  std::vector<eval::SampleDetail> details;
  if (params.task().dump_details())
    details = Details(*records, samples, *scores);
  const std::string out = layout::InWorkDir(
      params.work_dir(), layout::ResultFile(model.abbr(), abbr));
  OCX_RETURN_IF_ERROR(eval::WriteResults(
      out, *scores, params.task().dump_details() ? &details : nullptr));
  std::string line = absl::StrCat("eval ", pair, ": ", samples.size(),
                                  " samples from ", parts.size(), " part(s);");
  for (const auto& [name, value] : scores->metrics) {
    absl::StrAppend(&line, " ", name, "=", absl::StrFormat("%.2f", value));
  }
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunEvalTask(const ocx::v1::TaskParams& params,
                         const std::string& task_json) {
  if (params.work_dir().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(task_json, ": work_dir is empty"));
  }
  if (!IsSafeName(params.model().abbr())) {
    return absl::InvalidArgumentError(absl::StrCat(
        task_json, ": model.abbr must match [A-Za-z0-9._-]+, got \"",
        params.model().abbr(), "\""));
  }
  std::vector<std::string> abbrs;
  for (const ocx::v1::TaskDataset& td : params.datasets()) {
    const std::string& abbr =
        td.base_abbr().empty() ? td.config().abbr() : td.base_abbr();
    if (!IsSafeName(abbr)) {
      return absl::InvalidArgumentError(absl::StrCat(
          task_json, ": dataset abbr must match [A-Za-z0-9._-]+, got \"", abbr,
          "\""));
    }
    abbrs.push_back(abbr);
  }
  if (abbrs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(task_json, ": the task has no datasets"));
  }
  for (const ocx::v1::TaskDataset& td : params.datasets()) {
    OCX_RETURN_IF_ERROR(EvaluatePair(params, td, abbrs));
  }
  return absl::OkStatus();
}

}  // namespace ocx::task
