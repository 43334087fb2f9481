// Field-path error messages for configuration checks: the evaluation spec
// (spec/validate), ocxd's own config (spec/daemon_config) and each runner's
// settings (runners/<backend>/config) name a bad value the same way,
// `<field path>: <problem>`, e.g. `infer.runner.aliyun_cfg.workspace_id:
// required for DLCRunner`.
//
// Thread-safe: no shared state.
#ifndef OCX_COMMON_FIELD_CHECK_H_
#define OCX_COMMON_FIELD_CHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"

namespace ocx::field {

// INVALID_ARGUMENT "<path>: <problem>".
absl::Status Bad(absl::string_view path, absl::string_view problem);

// "parent.field", "parent[i]", "parent[\"key\"]" (key C-escaped).
std::string Sub(absl::string_view parent, absl::string_view field);
std::string Index(absl::string_view parent, int i);
std::string Key(absl::string_view parent, absl::string_view key);

// The value in double quotes, C-escaped.
std::string Quote(absl::string_view s);

absl::Status CheckNoNul(absl::string_view path, absl::string_view s);
absl::Status CheckAtLeastZero(absl::string_view path, int64_t v);
absl::Status CheckAtLeastZero(absl::string_view path, double v);
absl::Status CheckInRange(absl::string_view path, int64_t v, int64_t lo,
                          int64_t hi);

// True for [A-Za-z_][A-Za-z0-9_]*.
bool IsEnvVarName(absl::string_view name);

// An environment map (a proto map<string, string>): every key IsEnvVarName
// and no value with a NUL; the error names the smallest bad key,
// `<path>["KEY"]: ...` (map order is unspecified).
absl::Status CheckEnvMap(
    absl::string_view path,
    const google::protobuf::Map<std::string, std::string>& env);

}  // namespace ocx::field

#endif  // OCX_COMMON_FIELD_CHECK_H_
