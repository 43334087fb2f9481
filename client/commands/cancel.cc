// ocxctl cancel: cancels an evaluation and prints its new state.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"

namespace ocx::client {

int RunCancel(const CommandContext& ctx, const std::string& evaluation_id) {
  v1::CancelEvaluationRequest request;
  request.set_id(evaluation_id);
  absl::StatusOr<v1::Evaluation> evaluation =
      ctx.client->CancelEvaluation(request);
  if (evaluation.status().code() == absl::StatusCode::kFailedPrecondition) {
    // Already ended. When it ended CANCELLED, the cancel the user asked for
    // has happened (perhaps by this very command, whose first try reached
    // the daemon before a restart cut the answer off): not an error.
    v1::GetEvaluationRequest get;
    get.set_id(evaluation_id);
    absl::StatusOr<v1::Evaluation> now = ctx.client->GetEvaluation(get);
    if (now.ok() && now->state() == v1::Evaluation::CANCELLED) {
      evaluation = std::move(now);
    }
  }
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
