#include "task/prompt/prompt_builder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

using ::google::protobuf::Value;

constexpr char kDefaultIceToken[] = "</E>";

absl::Status Bad(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

}  // namespace

absl::StatusOr<Fill> PromptBuilder::RowFill(const Row& row,
                                            bool with_output) const {
  Fill fill;
  fill.emplace_back(ice_token_, ice_);
  if (input_columns_.empty()) {
    for (const auto& [key, value] : row.struct_value().fields()) {
      if (key == output_column_) continue;
      fill.emplace_back(absl::StrCat("{", key, "}"), CellText(value));
    }
  } else {
    for (const std::string& column : input_columns_) {
      const Value* value = Member(row, column);
      if (value == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("the row has no input column \"", column,
                         "\" (reader_cfg.input_columns)"));
      }
      fill.emplace_back(absl::StrCat("{", column, "}"), CellText(*value));
    }
  }
  if (!output_column_.empty()) {
    std::string gold;
    if (with_output) {
      const Value* value = Member(row, output_column_);
      if (value == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("the example has no output column \"", output_column_,
                         "\" (reader_cfg.output_column)"));
      }
      gold = CellText(*value);
    }
    fill.emplace_back(absl::StrCat("{", output_column_, "}"), gold);
  }
  return fill;
}

struct PromptBuilder::TemplateSet {
  bool is_map = false;
  std::optional<PromptTemplate> single;
  std::map<std::string, PromptTemplate> by_label;
};

absl::StatusOr<PromptBuilder::TemplateSet> PromptBuilder::ParseTemplateSet(
    const Value& tmpl, const std::string& field, bool ppl) {
  TemplateSet set;
  // A label map is an object that is not a chat dict.
  if (ppl && tmpl.has_struct_value() && Member(tmpl, "round") == nullptr) {
    set.is_map = true;
    for (const auto& [label, t] : tmpl.struct_value().fields()) {
      OCX_ASSIGN_OR_RETURN(
          PromptTemplate parsed,
          PromptTemplate::Parse(t, absl::StrCat(field, ".", label)));
      set.by_label.emplace(label, std::move(parsed));
    }
    if (set.by_label.empty()) {
      return Bad(field, "must map at least one label to its template");
    }
    return set;
  }
  OCX_ASSIGN_OR_RETURN(PromptTemplate parsed,
                       PromptTemplate::Parse(tmpl, field));
  set.single = std::move(parsed);
  return set;
}

absl::Status PromptBuilder::SetSampleTemplates(const TemplateSet& set,
                                               const std::string& field,
                                               const ocx::v1::InferConfig& cfg,
                                               bool ppl) {
  if (!ppl) {
    if (set.is_map || !set.single.has_value()) {
      return Bad(field,
                 "must be a string or a chat template for GenInferencer");
    }
    gen_template_ = set.single;
    return absl::OkStatus();
  }
  if (!set.is_map) {
    return Bad(field, "must map each label to its template for PPLInferencer");
  }
  const auto& configured = cfg.inferencer().labels();
  if (configured.empty()) {
    for (const auto& [label, t] : set.by_label) {
      labels_.push_back(label);
      label_templates_.push_back(t);
    }
    return absl::OkStatus();
  }
  for (int i = 0; i < configured.size(); ++i) {
    auto it = set.by_label.find(configured[i]);
    if (it == set.by_label.end()) {
      return Bad(absl::StrCat("infer_cfg.inferencer.labels[", i, "]"),
                 absl::StrCat("label \"", configured[i],
                              "\" has no template in ", field));
    }
    labels_.push_back(configured[i]);
    label_templates_.push_back(it->second);
  }
  return absl::OkStatus();
}

absl::Status PromptBuilder::SetExamples(const ocx::v1::InferConfig& cfg,
                                        const TemplateSet& ice_tmpl,
                                        const std::vector<Row>& train_rows) {
  const auto& ids = cfg.retriever().fix_id_list();
  if (ids.empty()) {
    return Bad("infer_cfg.retriever.fix_id_list",
               "required for FixKRetriever (indices of train rows)");
  }
  std::vector<std::string> examples;
  for (int i = 0; i < ids.size(); ++i) {
    const std::string field =
        absl::StrCat("infer_cfg.retriever.fix_id_list[", i, "]");
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= train_rows.size()) {
      return Bad(field, absl::StrCat("example ", ids[i],
                                     " is outside the train split's ",
                                     train_rows.size(), " rows"));
    }
    const Row& example = train_rows[ids[i]];
    absl::StatusOr<Fill> fill = RowFill(example, /*with_output=*/true);
    if (!fill.ok()) return Bad(field, fill.status().message());
    const PromptTemplate* t = nullptr;
    if (ice_tmpl.is_map) {
      const Value* gold = Member(example, output_column_);
      std::string label = gold == nullptr ? "" : CellText(*gold);
      auto it = ice_tmpl.by_label.find(label);
      if (it == ice_tmpl.by_label.end()) {
        return Bad(field, absl::StrCat("the example's label \"", label,
                                       "\" has no ice template"));
      }
      t = &it->second;
    } else {
      t = &*ice_tmpl.single;
    }
    // The examples never contain themselves.
    Fill example_fill = *fill;
    example_fill[0].second = "";
    examples.push_back(FlattenPrompt(t->Render(example_fill)));
  }
  for (const std::string& e : examples) absl::StrAppend(&ice_, e, "\n");
  return absl::OkStatus();
}

absl::StatusOr<PromptBuilder> PromptBuilder::Create(
    const ocx::v1::DatasetConfig& dataset, bool ppl,
    const std::vector<Row>& train_rows) {
  PromptBuilder b;
  const ocx::v1::InferConfig& cfg = dataset.infer_cfg();
  const std::string base = "infer_cfg";
  b.input_columns_.assign(dataset.reader_cfg().input_columns().begin(),
                          dataset.reader_cfg().input_columns().end());
  b.output_column_ = dataset.reader_cfg().output_column();
  b.ice_token_ = !cfg.ice_template().ice_token().empty()
                     ? cfg.ice_template().ice_token()
                 : !cfg.prompt_template().ice_token().empty()
                     ? cfg.prompt_template().ice_token()
                     : kDefaultIceToken;

  std::optional<TemplateSet> prompt_set;
  std::optional<TemplateSet> ice_set;
  if (cfg.prompt_template().has_template_()) {
    OCX_ASSIGN_OR_RETURN(
        prompt_set, ParseTemplateSet(cfg.prompt_template().template_(),
                                     base + ".prompt_template.template", ppl));
  }
  if (cfg.ice_template().has_template_()) {
    OCX_ASSIGN_OR_RETURN(
        ice_set, ParseTemplateSet(cfg.ice_template().template_(),
                                  base + ".ice_template.template", ppl));
  }
  if (!prompt_set.has_value() && !ice_set.has_value()) {
    return Bad(base + ".prompt_template.template",
               "required (a string such as \"{question}\", a chat template, "
               "or for PPLInferencer a map label -> template)");
  }
  // The sample's template set: prompt_template, else ice_template.
  const TemplateSet& sample_set =
      prompt_set.has_value() ? *prompt_set : *ice_set;
  const std::string sample_field = prompt_set.has_value()
                                       ? base + ".prompt_template.template"
                                       : base + ".ice_template.template";
  OCX_RETURN_IF_ERROR(b.SetSampleTemplates(sample_set, sample_field, cfg, ppl));

  const std::string& retriever = cfg.retriever().type();
  if (retriever == "FixKRetriever") {
    OCX_RETURN_IF_ERROR(b.SetExamples(
        cfg, ice_set.has_value() ? *ice_set : sample_set, train_rows));
  } else if (!retriever.empty() && retriever != "ZeroRetriever") {
    return Bad(base + ".retriever.type",
               absl::StrCat("unknown retriever \"", retriever,
                            "\" (known: ZeroRetriever, FixKRetriever)"));
  }
  return b;
}

absl::StatusOr<Prompt> PromptBuilder::GenPrompt(const Row& row) const {
  if (!gen_template_.has_value()) {
    return absl::FailedPreconditionError("not a generation dataset");
  }
  OCX_ASSIGN_OR_RETURN(Fill fill, RowFill(row, /*with_output=*/false));
  return gen_template_->Render(fill);
}

absl::StatusOr<Prompt> PromptBuilder::LabelPrompt(const Row& row,
                                                  size_t i) const {
  if (i >= label_templates_.size()) {
    return absl::OutOfRangeError("no such label");
  }
  OCX_ASSIGN_OR_RETURN(Fill fill, RowFill(row, /*with_output=*/false));
  return label_templates_[i].Render(fill);
}

}  // namespace ocx::task
