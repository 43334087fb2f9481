// Managed model servers as a table: `ocxctl servers` and the Servers
// section of `ocxctl status`.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "client/format.h"
#include "client/format_internal.h"

namespace ocx::client {
namespace {

using format_internal::Age;
using format_internal::DisplayWidth;
using format_internal::JoinList;
using format_internal::kNone;
using format_internal::Names;
using format_internal::OrNone;
using v1::Replica;
using v1::ServerPool;

// The table's REASON column keeps this many characters.
constexpr size_t kReasonWidth = 40;

std::string Endpoint(const Replica& replica) {
  if (replica.host().empty() || replica.port() <= 0) return kNone;
  return absl::StrCat(replica.host(), ":", replica.port());
}

// `reason` on one line (runs of blanks and line breaks become one space);
// cut to kReasonWidth code points, the last one "…", unless `whole`.
std::string Reason(absl::string_view reason, bool whole) {
  std::string line;
  for (char c : reason) {
    bool blank = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (!blank) {
      line += c;
    } else if (!line.empty() && line.back() != ' ') {
      line += ' ';
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (line.empty()) return kNone;
  if (whole || DisplayWidth(line) <= kReasonWidth) return line;
  std::string cut;
  size_t points = 0;
  for (char c : line) {
    bool starts_point = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (starts_point && ++points == kReasonWidth) break;
    cut += c;
  }
  while (!cut.empty() && cut.back() == ' ') cut.pop_back();
  return absl::StrCat(cut, "…");
}

std::vector<std::string> ReplicaRow(const ServerPool& pool, const Replica& r,
                                    const RenderOptions& options, bool wide) {
  std::vector<std::string> row = {r.id(), OrNone(pool.model_abbr()),
                                  StateName(r.state())};
  if (wide) row.push_back(r.attempt() > 0 ? absl::StrCat(r.attempt()) : kNone);
  row.push_back(Endpoint(r));
  row.push_back(r.gpus().empty() ? std::string(kNone)
                                 : absl::StrJoin(r.gpus(), ","));
  row.push_back(absl::StrCat(r.active_tasks()));
  row.push_back(absl::StrCat(r.served_tasks()));
  if (wide) {
    row.push_back(absl::StrCat(pool.outstanding_tasks()));
    row.push_back(OrNone(r.backend_id()));
  }
  row.push_back(Age(r.create_time(), options));
  if (wide) row.push_back(JoinList(pool.evaluation_ids(), true));
  row.push_back(Reason(r.reason(), wide));
  return row;
}

// A pool none of whose replicas is listed.
std::vector<std::string> PoolRow(const ServerPool& pool,
                                 const RenderOptions& options, bool wide) {
  std::vector<std::string> row = {pool.id(), OrNone(pool.model_abbr()), kNone};
  if (wide) row.push_back(kNone);  // ATTEMPT
  row.insert(row.end(), {kNone, kNone, kNone, kNone});
  if (wide) {
    row.push_back(absl::StrCat(pool.outstanding_tasks()));
    row.push_back(kNone);  // BACKEND-ID
  }
  row.push_back(Age(pool.create_time(), options));
  if (wide) row.push_back(JoinList(pool.evaluation_ids(), true));
  row.push_back(
      Reason(pool.outstanding_tasks() > 0
                 ? absl::StrCat("no replica yet; ", pool.outstanding_tasks(),
                                " infer tasks waiting")
                 : "",
             wide));
  return row;
}

}  // namespace

std::string FormatServerList(const std::vector<ServerPool>& pools,
                             const RenderOptions& options) {
  if (options.format == OutputFormat::kJson ||
      options.format == OutputFormat::kYaml) {
    v1::ListServersResponse response;
    for (const ServerPool& pool : pools) *response.add_servers() = pool;
    return RenderMessage(response, options.format);
  }
  if (options.format == OutputFormat::kName) {
    std::vector<std::string> ids;
    for (const ServerPool& pool : pools) {
      if (pool.replicas().empty()) ids.push_back(pool.id());
      for (const Replica& r : pool.replicas()) ids.push_back(r.id());
    }
    return Names(ids);
  }
  bool wide = options.format == OutputFormat::kWide;
  std::vector<std::vector<std::string>> rows;
  if (wide) {
    rows.push_back({"REPLICA", "MODEL", "STATE", "ATTEMPT", "ENDPOINT", "GPUS",
                    "ACTIVE", "SERVED", "WAITING", "BACKEND-ID", "AGE",
                    "EVALUATIONS", "REASON"});
  } else {
    rows.push_back({"REPLICA", "MODEL", "STATE", "ENDPOINT", "GPUS", "ACTIVE",
                    "SERVED", "AGE", "REASON"});
  }
  for (const ServerPool& pool : pools) {
    if (pool.replicas().empty()) rows.push_back(PoolRow(pool, options, wide));
    for (const Replica& r : pool.replicas()) {
      rows.push_back(ReplicaRow(pool, r, options, wide));
    }
  }
  return RenderTable(rows);
}

std::string FormatServersSection(const std::vector<ServerPool>& pools,
                                 const RenderOptions& options) {
  if (pools.empty()) return "";
  return absl::StrCat("\nServers:\n", FormatServerList(pools, options));
}

}  // namespace ocx::client
