// ocxctl results: the summary table of an evaluation, as ocxd computes it.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"
#include "summary/render.h"
#include "summary/results_proto.h"

namespace ocx::client {

int RunResults(const CommandContext& ctx, const std::string& evaluation_id,
               const std::string& format) {
  std::string name = absl::AsciiStrToLower(format);
  if (name.empty()) {
    if (ctx.format == OutputFormat::kJson) {
      name = "json";
    } else if (IsTable(ctx)) {
      name = "table";
    } else {
      return Usage(ctx, "results: -o must be table, csv, md or json");
    }
  }
  v1::GetEvaluationResultsRequest request;
  request.set_name(evaluation_id);
  absl::StatusOr<v1::EvaluationResults> results =
      ctx.client->GetEvaluationResults(request);
  if (!results.ok()) {
    return FailEvaluation(ctx, results.status(), evaluation_id);
  }
  absl::StatusOr<std::string> text =
      summary::Render(summary::FromProto(*results), name);
  if (!text.ok()) return Usage(ctx, text.status().message());
  *ctx.out << *text << std::flush;
  return kExitOk;
}

}  // namespace ocx::client
