// ocxctl servers: the managed model servers (docs/serving.md), one row per
// replica.
#include <string>
#include <vector>

#include "client/commands.h"
#include "client/commands/command_util.h"

namespace ocx::client {

int RunServers(const CommandContext& ctx, const std::string& evaluation_id,
               bool all) {
  v1::ListServersRequest request;
  request.set_evaluation_id(evaluation_id);
  request.set_all(all);
  absl::StatusOr<v1::ListServersResponse> response =
      ctx.client->ListServers(request);
  if (!response.ok()) {
    if (evaluation_id.empty()) return Fail(ctx, response.status());
    return FailEvaluation(ctx, response.status(), evaluation_id);
  }
  std::vector<v1::ServerPool> pools(response->servers().begin(),
                                    response->servers().end());
  if (pools.empty() && IsTable(ctx)) {
    *ctx.err << (all ? "no servers found"
                     : "no servers running (--all shows ended ones)")
             << std::endl;
    return kExitOk;
  }
  *ctx.out << FormatServerList(pools, Render(ctx)) << std::flush;
  return kExitOk;
}

}  // namespace ocx::client
