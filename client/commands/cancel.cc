// ocxctl cancel: cancels an evaluation and prints its new state.
#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"

namespace ocx::client {

int RunCancel(const CommandContext& ctx, const std::string& evaluation_id) {
  v1::CancelEvaluationRequest request;
  request.set_id(evaluation_id);
  absl::StatusOr<v1::Evaluation> evaluation =
      ctx.client->CancelEvaluation(request);
  if (!evaluation.ok()) {
    return FailEvaluation(ctx, evaluation.status(), evaluation_id);
  }
  switch (ctx.format) {
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      *ctx.out << "evaluation " << evaluation->id() << " "
               << StateName(evaluation->state()) << "\n";
      break;
    case OutputFormat::kName:
      *ctx.out << evaluation->id() << "\n";
      break;
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      *ctx.out << RenderMessage(*evaluation, ctx.format);
      break;
  }
  *ctx.out << std::flush;
  return kExitOk;
}

}  // namespace ocx::client
