// ocxctl check: the preflight of a spec (rpc CheckEvaluation), judged by
// ocxd from where the tasks run; the client only formats.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"

namespace ocx::client {
namespace {

std::string FormatChecks(const v1::CheckEvaluationResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"KIND", "TARGET", "USED-BY", "STATUS", "LATENCY", "DETAIL"}};
  for (const v1::PreflightCheck& c : response.checks()) {
    rows.push_back({c.kind(), c.target().empty() ? "-" : c.target(),
                    c.used_by().empty() ? "-" : c.used_by(),
                    c.ok() ? "ok" : "FAILED",
                    c.kind() == "endpoint" && c.latency_ms() > 0
                        ? absl::StrCat(c.latency_ms(), " ms")
                        : "-",
                    c.detail()});
  }
  return RenderTable(rows);
}

}  // namespace

int RunCheck(const CommandContext& ctx, const SubmitOptions& options) {
  absl::StatusOr<v1::EvaluationSpec> spec = PrepareSpec(options);
  if (!spec.ok()) return Fail(ctx, spec.status());
  v1::CheckEvaluationRequest request;
  *request.mutable_spec() = *std::move(spec);
  absl::StatusOr<v1::CheckEvaluationResponse> response =
      ctx.client->CheckEvaluation(request);
  if (!response.ok()) return Fail(ctx, response.status());
  int failed = 0;
  for (const v1::PreflightCheck& c : response->checks()) {
    if (!c.ok()) ++failed;
  }
  if (ctx.format == OutputFormat::kJson || ctx.format == OutputFormat::kYaml) {
    *ctx.out << RenderMessage(*response, ctx.format);
  } else {
    *ctx.out << FormatChecks(*response);
    if (failed > 0) {
      *ctx.out << failed << " of " << response->checks_size()
               << " checks failed\n";
    }
  }
  *ctx.out << std::flush;
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace ocx::client
