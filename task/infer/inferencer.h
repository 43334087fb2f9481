// Inferencers: how one sample becomes its predictions-file record.
//   GenInferencer  the model's answer to the sample's prompt.
//   PPLInferencer  each label's prompt scored by the model; the label of the
//                  lowest perplexity is the prediction.
// Records are JSON objects as OpenCompass writes them: "origin_prompt",
// "prediction", "gold" (the output column's value, absent without one), and
// for PPL "label: <L>": {"prompt", "PPL"} per label.
//
// Thread-compatible: use from the model's HttpPool thread.
#ifndef OCX_TASK_INFER_INFERENCER_H_
#define OCX_TASK_INFER_INFERENCER_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "datasets/row_reader.h"
#include "task/model/openai_model.h"
#include "task/prompt/prompt_builder.h"

namespace ocx::task {

class Inferencer {
 public:
  using RecordCallback = std::function<void(absl::StatusOr<std::string>)>;
  virtual ~Inferencer() = default;

  // Starts `row`; `done` gets its record (one line of JSON) or the error.
  virtual void Start(const Row& row, RecordCallback done) = 0;
};

// What both inferencers hold. `prompts` and `model` must outlive it.
class PromptedInferencer : public Inferencer {
 public:
  PromptedInferencer(const PromptBuilder* prompts, OpenAIModel* model,
                     std::string output_column)
      : prompts_(prompts),
        model_(model),
        output_column_(std::move(output_column)) {}

 protected:
  const PromptBuilder* const prompts_;
  OpenAIModel* const model_;
  const std::string output_column_;
};

// `prompts` and `model` must outlive the inferencer.
std::unique_ptr<Inferencer> MakeGenInferencer(const PromptBuilder* prompts,
                                              OpenAIModel* model,
                                              std::string output_column);
std::unique_ptr<Inferencer> MakePplInferencer(const PromptBuilder* prompts,
                                              OpenAIModel* model,
                                              std::string output_column);

// `,"gold":<value>` for the row's output column, or "" when there is none.
std::string GoldMember(const Row& row, const std::string& output_column);

}  // namespace ocx::task

#endif  // OCX_TASK_INFER_INFERENCER_H_
