// The prompts of one dataset's samples, as OpenCompass's retrievers and
// PromptTemplate build them from `infer_cfg`:
//   - the retriever picks in-context examples: ZeroRetriever none,
//     FixKRetriever the train rows at `fix_id_list` (the same for every
//     sample);
//   - each example is rendered with `ice_template` (or the prompt template
//     when there is none) with its output column filled, the examples are
//     joined with "\n" and end with "\n", and the result replaces the ice
//     token (`ice_token`, default "</E>") of the sample's prompt;
//   - the sample's prompt is `prompt_template` (or `ice_template` alone)
//     with `{column}` filled from the row and the output column emptied.
// A perplexity template maps each label to a template; the labels are
// `inferencer.labels`, else the template's keys in sorted order (a config
// map has no order once parsed).
//
// Thread-compatible: immutable after Create.
#ifndef OCX_TASK_PROMPT_PROMPT_BUILDER_H_
#define OCX_TASK_PROMPT_PROMPT_BUILDER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datasets/row_reader.h"
#include "ocx/v1/spec.pb.h"
#include "task/prompt/prompt_template.h"

namespace ocx::task {

using datasets::Row;

class PromptBuilder {
 public:
  // `ppl`: the dataset runs PPLInferencer (its templates are label maps).
  // `train_rows`: the rows FixKRetriever picks from (LoadTrainRows); unused
  // for ZeroRetriever. INVALID_ARGUMENT naming the infer_cfg field for a
  // template of the wrong shape, an unknown retriever or an example id
  // outside the train rows.
  static absl::StatusOr<PromptBuilder> Create(
      const ocx::v1::DatasetConfig& dataset, bool ppl,
      const std::vector<Row>& train_rows);

  // The generation prompt of `row`. INVALID_ARGUMENT when the row lacks an
  // input column.
  absl::StatusOr<Prompt> GenPrompt(const Row& row) const;

  // PPL: the labels, and the text scored for label `i` of `row`.
  const std::vector<std::string>& labels() const { return labels_; }
  absl::StatusOr<Prompt> LabelPrompt(const Row& row, size_t i) const;

  // The in-context examples text placed at the ice token ("" for none).
  const std::string& ice() const { return ice_; }

 private:
  // A template that is either one template or a label → template map.
  struct TemplateSet;
  static absl::StatusOr<TemplateSet> ParseTemplateSet(
      const google::protobuf::Value& tmpl, const std::string& field, bool ppl);
  // The sample's templates from `set` (the field `field`): one for
  // generation, one per label for PPL.
  absl::Status SetSampleTemplates(const TemplateSet& set,
                                  const std::string& field,
                                  const ocx::v1::InferConfig& cfg, bool ppl);
  // The in-context examples text (FixKRetriever), rendered with `ice_tmpl`.
  absl::Status SetExamples(const ocx::v1::InferConfig& cfg,
                           const TemplateSet& ice_tmpl,
                           const std::vector<Row>& train_rows);
  absl::StatusOr<Fill> RowFill(const Row& row, bool with_output) const;

  std::vector<std::string> input_columns_;
  std::string output_column_;
  std::string ice_token_;
  std::string ice_;
  // Generation: one template. PPL: one per label, index-aligned with
  // labels_.
  std::optional<PromptTemplate> gen_template_;
  std::vector<std::string> labels_;
  std::vector<PromptTemplate> label_templates_;
};

}  // namespace ocx::task

#endif  // OCX_TASK_PROMPT_PROMPT_BUILDER_H_
