// Renders ocx resources for a terminal or a script, kubectl style: aligned
// tables (`table`, `wide`), proto JSON, YAML, or bare ids (`name`).
//
// Pure functions: no gRPC, no clock, no I/O. Thread-safe.
#ifndef OCX_CLIENT_FORMAT_H_
#define OCX_CLIENT_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/service.pb.h"

namespace ocx::client {

enum class OutputFormat { kTable, kWide, kJson, kYaml, kName };

// "table", "wide", "json", "yaml", "name" (case-insensitive).
// INVALID_ARGUMENT lists the accepted names.
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text);

struct RenderOptions {
  OutputFormat format = OutputFormat::kTable;
  // Ages and running durations are measured up to `now`.
  absl::Time now = absl::UnixEpoch();
  // Absolute times are shown in this zone.
  absl::TimeZone time_zone = absl::UTCTimeZone();
};

// Ages and durations as kubectl shows them: "45s", "119s" (under 2 minutes),
// "3m12s" (under 10), "25m" (under an hour), "2h5m" (under 8 hours; kubectl
// says "125m" up to 3 hours), "10h" (under 2 days), "3d5h" (under 8 days),
// "30d", "2y30d" (under 8 years), "9y". Negative durations of more than one
// second are "<invalid>", smaller ones "0s".
std::string HumanDuration(absl::Duration d);

// Names without the proto prefix: "RUNNING", "SUCCEEDED"; "infer", "eval".
// The zero value is "UNKNOWN" ("-" for the stage).
std::string StateName(v1::Evaluation::State state);
std::string StateName(v1::Task::State state);
std::string StateName(v1::Attempt::State state);
std::string StateName(v1::Replica::State state);
std::string StageName(v1::Stage stage);

bool IsTerminal(v1::Evaluation::State state);

// Columns left-aligned and separated by three spaces, no trailing blanks;
// rows[0] is the header. Widths count UTF-8 code points. Every line ends in
// "\n"; no rows gives "".
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

// "Key:   value" lines with the values aligned three spaces after the
// longest key's colon.
std::string RenderFields(
    const std::vector<std::pair<std::string, std::string>>& fields);

// Proto JSON with the .proto field names, pretty-printed, ending in "\n".
std::string ToJson(const google::protobuf::Message& message);

// YAML (block style) of a JSON document. Strings that YAML would read as
// another type (numbers, booleans, null) stay quoted. INVALID_ARGUMENT when
// `json` does not parse.
absl::StatusOr<std::string> JsonToYaml(absl::string_view json);

// ToJson, or its YAML for OutputFormat::kYaml.
std::string RenderMessage(const google::protobuf::Message& message,
                          OutputFormat format);

// Evaluations (ListEvaluations, `ocxctl list`, `ocxctl status`).
//   table: ID NAME STATE TASKS SUCCEEDED FAILED RUNNING AGE
//   wide:  ... RUNNING PENDING CANCELLED AGE DURATION WORK-DIR
//   json/yaml: {"evaluations": [...]}; name: one id per line.
std::string FormatEvaluationList(const std::vector<v1::Evaluation>& list,
                                 const RenderOptions& options);

// One evaluation (`ocxctl status ID`): a header block (id, name, state, work
// dir, created, duration, tasks), the per-stage counts table and the task
// table. json/yaml: the Evaluation; name: its id.
std::string FormatEvaluationStatus(const v1::Evaluation& evaluation,
                                   const std::vector<v1::Task>& tasks,
                                   const RenderOptions& options);

// Tasks (`ocxctl tasks`).
//   table: ID STAGE STATE ATTEMPTS MODEL DATASETS AGE
//   wide:  ID STAGE STATE ATTEMPTS MODEL DATASETS GPUS AGE DURATION REASON
// The table lists at most three datasets ("a,b,c,+2"); wide lists all.
// ATTEMPTS is "count/max" when max is known. json/yaml: {"tasks": [...]}.
std::string FormatTaskList(const std::vector<v1::Task>& tasks,
                           const RenderOptions& options);

// A running task's progress: "120/500" ("120" when the total is unknown),
// with " (3.2/s)" when `with_rate`; "-" without a report.
std::string FormatProgress(const v1::Task& task, bool with_rate);

// One task with its attempts (`ocxctl task`): a describe-style block and the
// attempts table. json/yaml: the Task; name: its id.
std::string FormatTaskDetail(const v1::Task& task,
                             const RenderOptions& options);

// NUMBER STATE BACKEND-ID STARTED DURATION EXIT REASON LOG (table and wide;
// wide adds BACKEND and GPUS after STATE).
std::string FormatAttempts(const std::vector<v1::Attempt>& attempts,
                           const RenderOptions& options);

// A dry run: ID STAGE MODEL DATASETS SAMPLES COST GPUS DEPENDS, plus REUSED
// when a task would be reused. DATASETS lists the parts with their ranges
// ("gsm8k_0 [0:189]"); SAMPLES and COST are the task's sums, "-" when the
// partitioner did not count them. Wide lists every dataset and dependency.
// Then a totals line (tasks by stage, infer samples and cost, GPUs, work
// dir) and the number of reused tasks. json/yaml: the response as it is
// (from `ocxctl submit --dry-run`: the spec once, tasks by reference);
// name: task ids.
std::string FormatPlan(const v1::PlanEvaluationResponse& plan,
                       const RenderOptions& options);

// Managed model servers (`ocxctl servers`), one row per replica; a pool
// with no replica listed has one row with its pool id and state "-".
//   table: REPLICA MODEL STATE ENDPOINT GPUS ACTIVE SERVED AGE REASON
//   wide:  REPLICA MODEL STATE ATTEMPT ENDPOINT GPUS ACTIVE SERVED WAITING
//          BACKEND-ID AGE EVALUATIONS REASON
// ENDPOINT is host:port once known; ACTIVE and SERVED count task attempts
// (running now, ever); WAITING is the pool's infer tasks not ended. The
// table cuts REASON to one line of 40 characters; wide shows it whole (on
// one line). json/yaml: {"servers": [...]}; name: the replica ids (the
// pool id for a pool without replicas).
std::string FormatServerList(const std::vector<v1::ServerPool>& pools,
                             const RenderOptions& options);

// The Servers section of `ocxctl status ID`: "\nServers:\n" and the table,
// or "" when there are no pools.
std::string FormatServersSection(const std::vector<v1::ServerPool>& pools,
                                 const RenderOptions& options);

// "evaluation e123 created (42 tasks)" for table/wide, the id for name, the
// Evaluation for json/yaml.
std::string FormatCreated(const v1::Evaluation& evaluation,
                          const RenderOptions& options);

// Exit code, signal name ("SIGKILL") or "-".
std::string FormatExit(const v1::Attempt& attempt);

}  // namespace ocx::client

#endif  // OCX_CLIENT_FORMAT_H_
