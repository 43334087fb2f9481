// GenInferencer (inferencer.h).
#include <utility>

#include "absl/strings/str_cat.h"
#include "task/infer/inferencer.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

class GenInferencer : public PromptedInferencer {
 public:
  using PromptedInferencer::PromptedInferencer;

  void Start(const Row& row, RecordCallback done) override {
    absl::StatusOr<Prompt> prompt = prompts_->GenPrompt(row);
    if (!prompt.ok()) {
      done(prompt.status());
      return;
    }
    std::string head = absl::StrCat("{\"origin_prompt\":", PromptJson(*prompt),
                                    GoldMember(row, output_column_));
    model_->Generate(*prompt, [head = std::move(head), done = std::move(done)](
                                  absl::StatusOr<std::string> text) {
      if (!text.ok()) {
        done(text.status());
        return;
      }
      done(absl::StrCat(head, ",\"prediction\":", JsonQuote(*text), "}"));
    });
  }
};

}  // namespace

std::string GoldMember(const Row& row, const std::string& output_column) {
  if (output_column.empty()) return "";
  const google::protobuf::Value* gold = Member(row, output_column);
  if (gold == nullptr) return "";
  return absl::StrCat(",\"gold\":", ToJson(*gold));
}

std::unique_ptr<Inferencer> MakeGenInferencer(const PromptBuilder* prompts,
                                              OpenAIModel* model,
                                              std::string output_column) {
  return std::make_unique<GenInferencer>(prompts, model,
                                         std::move(output_column));
}

}  // namespace ocx::task
