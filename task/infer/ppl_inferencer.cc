// PPLInferencer (inferencer.h).
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "task/infer/inferencer.h"
#include "task/json/json.h"

namespace ocx::task {
namespace {

class PplInferencer : public PromptedInferencer {
 public:
  using PromptedInferencer::PromptedInferencer;

  void Start(const Row& row, RecordCallback done) override {
    const std::vector<std::string>& labels = prompts_->labels();
    // What the labels' answers gather into; the record is made when the
    // last one arrives. The first error ends the sample.
    struct Pending {
      std::vector<std::string> texts;
      std::vector<double> ppl;
      size_t left = 0;
      bool failed = false;
      std::string gold;
      RecordCallback done;
    };
    auto pending = std::make_shared<Pending>();
    pending->done = std::move(done);
    pending->gold = GoldMember(row, output_column_);
    pending->ppl.assign(labels.size(), 0);
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StatusOr<Prompt> prompt = prompts_->LabelPrompt(row, i);
      if (!prompt.ok()) {
        pending->done(prompt.status());
        return;
      }
      pending->texts.push_back(FlattenPrompt(*prompt));
    }
    pending->left = labels.size();
    for (size_t i = 0; i < labels.size(); ++i) {
      model_->Score(pending->texts[i],
                    [this, pending, i](absl::StatusOr<double> ppl) {
                      if (pending->failed) return;
                      if (!ppl.ok()) {
                        pending->failed = true;
                        pending->done(ppl.status());
                        return;
                      }
                      pending->ppl[i] = *ppl;
                      if (--pending->left == 0) Finish(*pending);
                    });
    }
  }

 private:
  template <typename P>
  void Finish(P& p) {
    const std::vector<std::string>& labels = prompts_->labels();
    size_t best = 0;
    for (size_t i = 1; i < labels.size(); ++i) {
      if (p.ppl[i] < p.ppl[best]) best = i;
    }
    std::string record =
        absl::StrCat("{\"origin_prompt\":", JsonQuote(p.texts[best]), p.gold,
                     ",\"prediction\":", JsonQuote(labels[best]));
    for (size_t i = 0; i < labels.size(); ++i) {
      google::protobuf::Value ppl;
      ppl.set_number_value(p.ppl[i]);
      absl::StrAppend(&record, ",",
                      JsonQuote(absl::StrCat("label: ", labels[i])),
                      ":{\"prompt\":", JsonQuote(p.texts[i]),
                      ",\"PPL\":", ToJson(ppl), "}");
    }
    record.push_back('}');
    p.done(std::move(record));
  }
};

}  // namespace

std::unique_ptr<Inferencer> MakePplInferencer(const PromptBuilder* prompts,
                                              OpenAIModel* model,
                                              std::string output_column) {
  return std::make_unique<PplInferencer>(prompts, model,
                                         std::move(output_column));
}

}  // namespace ocx::task
