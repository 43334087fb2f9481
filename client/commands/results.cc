// ocxctl results: the summary table of an evaluation, as ocxd computes it;
// of several, side by side (summary/compare.h).
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"
#include "summary/compare.h"
#include "summary/render.h"
#include "summary/results_proto.h"

namespace ocx::client {

int RunResults(const CommandContext& ctx,
               const std::vector<std::string>& evaluation_ids,
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
  std::vector<summary::LabeledTable> tables;
  for (const std::string& id : evaluation_ids) {
    v1::GetEvaluationResultsRequest request;
    request.set_name(id);
    absl::StatusOr<v1::EvaluationResults> results =
        ctx.client->GetEvaluationResults(request);
    if (!results.ok()) return FailEvaluation(ctx, results.status(), id);
    tables.push_back({id, summary::FromProto(*results)});
  }
  if (tables.empty()) return Usage(ctx, "results: name an evaluation");
  absl::StatusOr<std::string> text = summary::Render(
      tables.size() == 1 ? tables[0].table : summary::CompareTables(tables),
      name);
  if (!text.ok()) return Usage(ctx, text.status().message());
  *ctx.out << *text << std::flush;
  return kExitOk;
}

}  // namespace ocx::client
