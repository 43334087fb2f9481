// ocxctl rescore: a new evaluation scoring an existing one's predictions
// again, with the same or other evaluators, and no inference.
#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"
#include "client/commands/watch.h"

namespace ocx::client {
namespace {

// --evaluator values into the request: "TYPE" for every dataset, or
// "DATASET=TYPE".
absl::Status ReadEvaluators(const std::vector<std::string>& values,
                            v1::RescoreEvaluationRequest* request) {
  for (const std::string& value : values) {
    const size_t eq = value.find('=');
    if (eq == std::string::npos) {
      if (!request->evaluator().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--evaluator: \"", request->evaluator(), "\" and \"", value,
            "\" both name every dataset; give one, or DATASET=TYPE"));
      }
      request->set_evaluator(value);
      continue;
    }
    if (eq == 0 || eq + 1 == value.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--evaluator: \"", value, "\" is not TYPE or DATASET=TYPE"));
    }
    (*request->mutable_dataset_evaluators())[value.substr(0, eq)] =
        value.substr(eq + 1);
  }
  return absl::OkStatus();
}

}  // namespace

int RunRescore(const CommandContext& ctx,
               const RescoreCommandOptions& options) {
  v1::RescoreEvaluationRequest request;
  request.set_id(options.evaluation_id);
  request.set_name(options.name);
  request.set_request_id(NewRequestId());
  if (absl::Status read = ReadEvaluators(options.evaluators, &request);
      !read.ok()) {
    return Usage(ctx, read.message());
  }
  absl::StatusOr<v1::Evaluation> created = CreateWithRetries(
      ctx, [&] { return ctx.client->RescoreEvaluation(request); });
  if (!created.ok()) {
    return FailEvaluation(ctx, created.status(), options.evaluation_id);
  }
  const bool structured =
      ctx.format == OutputFormat::kJson || ctx.format == OutputFormat::kYaml;
  if (!options.watch || !structured) {
    *ctx.out << FormatCreated(*created, Render(ctx)) << std::flush;
  }
  if (!options.watch) return kExitOk;
  return WatchUntilDone(ctx, *std::move(created), 0);
}

}  // namespace ocx::client
