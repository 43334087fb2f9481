#include "client/format.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "yaml-cpp/yaml.h"

namespace ocx::client {
namespace {

using v1::Attempt;
using v1::Evaluation;
using v1::StageCounts;
using v1::Task;

constexpr char kNone[] = "-";
constexpr char kColumnGap[] = "   ";
constexpr char kDateTime[] = "%Y-%m-%d %H:%M:%S";
// Datasets or dependencies a narrow table lists before "+N".
constexpr int kNarrowListLimit = 3;

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

bool IsSet(const google::protobuf::Timestamp& ts) {
  return ts.seconds() != 0 || ts.nanos() != 0;
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string Age(const google::protobuf::Timestamp& since,
                const RenderOptions& options) {
  if (!IsSet(since)) return kNone;
  return HumanDuration(options.now - ToTime(since));
}

// From `start` to `end`, or to now while `end` is unset.
std::string Span(const google::protobuf::Timestamp& start,
                 const google::protobuf::Timestamp& end,
                 const RenderOptions& options) {
  if (!IsSet(start)) return kNone;
  absl::Time until = IsSet(end) ? ToTime(end) : options.now;
  return HumanDuration(until - ToTime(start));
}

std::string DateTime(const google::protobuf::Timestamp& ts,
                     const RenderOptions& options) {
  if (!IsSet(ts)) return kNone;
  return absl::FormatTime(kDateTime, ToTime(ts), options.time_zone);
}

// "2024-05-01 12:00:00 UTC (5m ago)".
std::string DateTimeWithAge(const google::protobuf::Timestamp& ts,
                            const RenderOptions& options) {
  if (!IsSet(ts)) return kNone;
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", ToTime(ts), options.time_zone),
      " (", HumanDuration(options.now - ToTime(ts)), " ago)");
}

std::string OrNone(absl::string_view text) {
  return text.empty() ? std::string(kNone) : std::string(text);
}

template <typename Container>
std::string JoinList(const Container& items, bool wide) {
  if (items.empty()) return kNone;
  int size = static_cast<int>(items.size());
  if (wide || size <= kNarrowListLimit) return absl::StrJoin(items, ",");
  std::vector<std::string> shown(items.begin(),
                                 items.begin() + kNarrowListLimit);
  shown.push_back(absl::StrCat("+", size - kNarrowListLimit));
  return absl::StrJoin(shown, ",");
}

std::string Attempts(const Task& task) {
  if (task.max_attempts() > 0) {
    return absl::StrCat(task.attempt_count(), "/", task.max_attempts());
  }
  return absl::StrCat(task.attempt_count());
}

struct Totals {
  int pending = 0;  // pending + ready
  int running = 0;
  int succeeded = 0;
  int failed = 0;
  int cancelled = 0;
};

Totals SumStages(const Evaluation& evaluation) {
  Totals totals;
  for (const StageCounts& counts : evaluation.stage_counts()) {
    totals.pending += counts.pending() + counts.ready();
    totals.running += counts.running();
    totals.succeeded += counts.succeeded();
    totals.failed += counts.failed();
    totals.cancelled += counts.cancelled();
  }
  return totals;
}

std::string Names(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) absl::StrAppend(&out, id, "\n");
  return out;
}

template <typename T>
std::string TaskIds(const T& tasks) {
  std::vector<std::string> ids;
  for (const Task& task : tasks) ids.push_back(task.id());
  return Names(ids);
}

// --- YAML -----------------------------------------------------------------

// True when a plain YAML scalar with this text would not read as a string.
bool NeedsQuotes(const std::string& text) {
  if (text.empty()) return true;
  std::string lower = absl::AsciiStrToLower(text);
  for (const char* word : {"~", "null", "true", "false", "yes", "no", "on",
                           "off", "y", "n", ".inf", "-.inf", "+.inf", ".nan"}) {
    if (lower == word) return true;
  }
  double number;
  if (absl::SimpleAtod(text, &number)) return true;
  return absl::StartsWith(lower, "0x") || absl::StartsWith(lower, "0o");
}

void EmitYaml(const YAML::Node& node, YAML::Emitter* out) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      if (node.size() == 0) {
        *out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      *out << YAML::BeginMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        *out << YAML::Key;
        EmitYaml(it->first, out);
        *out << YAML::Value;
        EmitYaml(it->second, out);
      }
      *out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      if (node.size() == 0) {
        *out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      *out << YAML::BeginSeq;
      for (auto it = node.begin(); it != node.end(); ++it) EmitYaml(*it, out);
      *out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar:
      // JSON strings were double-quoted in the source: tag "!".
      if (node.Tag() == "!" && NeedsQuotes(node.Scalar())) {
        *out << YAML::DoubleQuoted << node.Scalar();
      } else {
        *out << node.Scalar();
      }
      return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      *out << YAML::Null;
      return;
  }
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "table") return OutputFormat::kTable;
  if (lower == "wide") return OutputFormat::kWide;
  if (lower == "json") return OutputFormat::kJson;
  if (lower == "yaml") return OutputFormat::kYaml;
  if (lower == "name") return OutputFormat::kName;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown output format \"", text,
                   "\" (known: table, wide, json, yaml, name)"));
}

std::string HumanDuration(absl::Duration d) {
  // k8s.io/apimachinery/pkg/util/duration.HumanDuration, except that kubectl
  // shows 60 to 179 minutes as "125m" where this shows "2h5m".
  int64_t seconds = absl::ToInt64Seconds(d);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return absl::StrCat(seconds, "s");
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    if (s == 0) return absl::StrCat(minutes, "m");
    return absl::StrCat(minutes, "m", s, "s");
  }
  if (minutes < 60) return absl::StrCat(minutes, "m");
  int64_t hours = minutes / 60;
  if (hours < 8) {
    int64_t m = minutes % 60;
    if (m == 0) return absl::StrCat(hours, "h");
    return absl::StrCat(hours, "h", m, "m");
  }
  if (hours < 48) return absl::StrCat(hours, "h");
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    if (h == 0) return absl::StrCat(hours / 24, "d");
    return absl::StrCat(hours / 24, "d", h, "h");
  }
  if (hours < 24 * 365 * 2) return absl::StrCat(hours / 24, "d");
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    if (dy == 0) return absl::StrCat(hours / 24 / 365, "y");
    return absl::StrCat(hours / 24 / 365, "y", dy, "d");
  }
  return absl::StrCat(hours / 24 / 365, "y");
}

std::string StateName(Evaluation::State state) {
  if (state == Evaluation::STATE_UNSPECIFIED) return "UNKNOWN";
  const std::string& name = Evaluation::State_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state)) : name;
}

std::string StateName(Task::State state) {
  if (state == Task::STATE_UNSPECIFIED) return "UNKNOWN";
  const std::string& name = Task::State_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state)) : name;
}

std::string StateName(Attempt::State state) {
  if (state == Attempt::STATE_UNSPECIFIED) return "UNKNOWN";
  const std::string& name = Attempt::State_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state)) : name;
}

std::string StageName(v1::Stage stage) {
  switch (stage) {
    case v1::STAGE_INFER:
      return "infer";
    case v1::STAGE_EVAL:
      return "eval";
    default:
      return kNone;
  }
}

bool IsTerminal(Evaluation::State state) {
  return state == Evaluation::SUCCEEDED || state == Evaluation::FAILED ||
         state == Evaluation::CANCELLED;
}

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += kColumnGap;
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - DisplayWidth(row[i]), ' ');
      }
    }
    // Trailing empty cells leave blanks behind.
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string RenderFields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [key, value] : fields) {
    width = std::max(width, DisplayWidth(key) + 1);
  }
  std::string out;
  for (const auto& [key, value] : fields) {
    std::string label = absl::StrCat(key, ":");
    label.append(width - DisplayWidth(label), ' ');
    label += kColumnGap;
    absl::StrAppend(&out, label, value, "\n");
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  // Only fails for malformed Any or out-of-range well-known types; show the
  // reason rather than nothing.
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::StrCat("{\"error\": \"", status.ToString(), "\"}\n");
  }
  if (json.empty() || json.back() != '\n') json += "\n";
  return json;
}

absl::StatusOr<std::string> JsonToYaml(absl::string_view json) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(json));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read JSON: ", e.what()));
  }
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  EmitYaml(root, &out);
  if (!out.good()) {
    return absl::InternalError(
        absl::StrCat("cannot write YAML: ", out.GetLastError()));
  }
  return absl::StrCat(out.c_str(), "\n");
}

std::string RenderMessage(const google::protobuf::Message& message,
                          OutputFormat format) {
  std::string json = ToJson(message);
  if (format != OutputFormat::kYaml) return json;
  absl::StatusOr<std::string> yaml = JsonToYaml(json);
  return yaml.ok() ? *yaml : json;
}

std::string FormatEvaluationList(const std::vector<Evaluation>& list,
                                 const RenderOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml: {
      v1::ListEvaluationsResponse response;
      for (const Evaluation& e : list) *response.add_evaluations() = e;
      return RenderMessage(response, options.format);
    }
    case OutputFormat::kName: {
      std::vector<std::string> ids;
      for (const Evaluation& e : list) ids.push_back(e.id());
      return Names(ids);
    }
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  bool wide = options.format == OutputFormat::kWide;
  std::vector<std::vector<std::string>> rows;
  if (wide) {
    rows.push_back({"ID", "NAME", "STATE", "TASKS", "SUCCEEDED", "FAILED",
                    "RUNNING", "PENDING", "CANCELLED", "AGE", "DURATION",
                    "WORK-DIR"});
  } else {
    rows.push_back({"ID", "NAME", "STATE", "TASKS", "SUCCEEDED", "FAILED",
                    "RUNNING", "AGE"});
  }
  for (const Evaluation& e : list) {
    Totals totals = SumStages(e);
    std::vector<std::string> row = {e.id(),
                                    OrNone(e.name()),
                                    StateName(e.state()),
                                    absl::StrCat(e.task_count()),
                                    absl::StrCat(totals.succeeded),
                                    absl::StrCat(totals.failed),
                                    absl::StrCat(totals.running)};
    if (wide) {
      row.push_back(absl::StrCat(totals.pending));
      row.push_back(absl::StrCat(totals.cancelled));
    }
    row.push_back(Age(e.create_time(), options));
    if (wide) {
      row.push_back(Span(e.create_time(), e.end_time(), options));
      row.push_back(OrNone(e.work_dir()));
    }
    rows.push_back(std::move(row));
  }
  return RenderTable(rows);
}

std::string FormatEvaluationStatus(const Evaluation& evaluation,
                                   const std::vector<Task>& tasks,
                                   const RenderOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      return RenderMessage(evaluation, options.format);
    case OutputFormat::kName:
      return Names({evaluation.id()});
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"ID", evaluation.id()},
      {"Name", OrNone(evaluation.name())},
      {"State", StateName(evaluation.state())},
      {"Work dir", OrNone(evaluation.work_dir())},
      {"Created", DateTimeWithAge(evaluation.create_time(), options)},
  };
  if (IsSet(evaluation.end_time())) {
    fields.push_back(
        {"Ended", DateTimeWithAge(evaluation.end_time(), options)});
  }
  fields.push_back({"Duration", Span(evaluation.create_time(),
                                     evaluation.end_time(), options)});
  fields.push_back({"Tasks", absl::StrCat(evaluation.task_count())});
  std::string out = RenderFields(fields);

  if (evaluation.stage_counts_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"STAGE", "TOTAL", "PENDING", "READY", "RUNNING", "SUCCEEDED", "FAILED",
         "CANCELLED"}};
    for (const StageCounts& c : evaluation.stage_counts()) {
      rows.push_back({StageName(c.stage()), absl::StrCat(c.total()),
                      absl::StrCat(c.pending()), absl::StrCat(c.ready()),
                      absl::StrCat(c.running()), absl::StrCat(c.succeeded()),
                      absl::StrCat(c.failed()), absl::StrCat(c.cancelled())});
    }
    absl::StrAppend(&out, "\n", RenderTable(rows));
  }
  if (!tasks.empty()) {
    absl::StrAppend(&out, "\n", FormatTaskList(tasks, options));
  }
  return out;
}

std::string FormatProgress(const Task& task, bool with_rate) {
  if (!task.has_progress()) return kNone;
  const v1::TaskProgress& p = task.progress();
  std::string out = p.total() > 0 ? absl::StrCat(p.done(), "/", p.total())
                                  : absl::StrCat(p.done());
  if (with_rate) {
    absl::StrAppend(&out, " (", absl::StrFormat("%.1f", p.rate_per_s()), "/s)");
  }
  return out;
}

std::string FormatTaskList(const std::vector<Task>& tasks,
                           const RenderOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml: {
      v1::ListTasksResponse response;
      for (const Task& t : tasks) *response.add_tasks() = t;
      return RenderMessage(response, options.format);
    }
    case OutputFormat::kName:
      return TaskIds(tasks);
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  bool wide = options.format == OutputFormat::kWide;
  std::vector<std::vector<std::string>> rows;
  if (wide) {
    rows.push_back({"ID", "STAGE", "STATE", "PROGRESS", "ATTEMPTS", "MODEL",
                    "DATASETS", "GPUS", "AGE", "DURATION", "REASON"});
  } else {
    rows.push_back({"ID", "STAGE", "STATE", "PROGRESS", "ATTEMPTS", "MODEL",
                    "DATASETS", "AGE"});
  }
  for (const Task& t : tasks) {
    std::vector<std::string> row = {t.id(),
                                    StageName(t.stage()),
                                    StateName(t.state()),
                                    FormatProgress(t, wide),
                                    Attempts(t),
                                    OrNone(t.model_abbr()),
                                    JoinList(t.dataset_abbrs(), wide)};
    if (wide) row.push_back(absl::StrCat(t.num_gpus()));
    row.push_back(Age(t.create_time(), options));
    if (wide) {
      row.push_back(Span(t.start_time(), t.end_time(), options));
      row.push_back(OrNone(t.reason()));
    }
    rows.push_back(std::move(row));
  }
  return RenderTable(rows);
}

std::string FormatExit(const Attempt& attempt) {
  if (attempt.has_exit_code()) return absl::StrCat(attempt.exit_code());
  if (!attempt.has_signal()) return kNone;
  switch (attempt.signal()) {
    case 1:
      return "SIGHUP";
    case 2:
      return "SIGINT";
    case 6:
      return "SIGABRT";
    case 7:
      return "SIGBUS";
    case 9:
      return "SIGKILL";
    case 11:
      return "SIGSEGV";
    case 15:
      return "SIGTERM";
    default:
      return absl::StrCat("SIG", attempt.signal());
  }
}

std::string FormatAttempts(const std::vector<Attempt>& attempts,
                           const RenderOptions& options) {
  bool wide = options.format == OutputFormat::kWide;
  std::vector<std::vector<std::string>> rows;
  if (wide) {
    rows.push_back({"NUMBER", "STATE", "BACKEND", "BACKEND-ID", "GPUS",
                    "STARTED", "DURATION", "EXIT", "REASON", "LOG"});
  } else {
    rows.push_back({"NUMBER", "STATE", "BACKEND-ID", "STARTED", "DURATION",
                    "EXIT", "REASON", "LOG"});
  }
  for (const Attempt& a : attempts) {
    std::vector<std::string> row = {absl::StrCat(a.number()),
                                    StateName(a.state())};
    if (wide) row.push_back(OrNone(a.backend()));
    row.push_back(OrNone(a.backend_id()));
    if (wide) {
      row.push_back(a.gpus().empty() ? std::string(kNone)
                                     : absl::StrJoin(a.gpus(), ","));
    }
    row.push_back(DateTime(a.start_time(), options));
    row.push_back(Span(a.start_time(), a.end_time(), options));
    row.push_back(FormatExit(a));
    row.push_back(OrNone(a.reason()));
    row.push_back(OrNone(a.log_path()));
    rows.push_back(std::move(row));
  }
  return RenderTable(rows);
}

std::string FormatTaskDetail(const Task& task, const RenderOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      return RenderMessage(task, options.format);
    case OutputFormat::kName:
      return Names({task.id()});
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"ID", task.id()},
      {"Evaluation", OrNone(task.evaluation_id())},
      {"Name", OrNone(task.name())},
      {"Stage", StageName(task.stage())},
      {"State", StateName(task.state())},
      {"Model", OrNone(task.model_abbr())},
      {"Datasets", JoinList(task.dataset_abbrs(), true)},
      {"GPUs", absl::StrCat(task.num_gpus())},
      {"Depends on", JoinList(task.depends_on(), true)},
      {"Attempts", Attempts(task)},
      {"Created", DateTimeWithAge(task.create_time(), options)},
      {"Started", DateTimeWithAge(task.start_time(), options)},
  };
  if (IsSet(task.end_time())) {
    fields.push_back({"Ended", DateTimeWithAge(task.end_time(), options)});
  }
  fields.push_back(
      {"Duration", Span(task.start_time(), task.end_time(), options)});
  if (IsSet(task.next_attempt_time())) {
    fields.push_back(
        {"Next attempt",
         absl::StrCat(
             DateTime(task.next_attempt_time(), options), " (in ",
             HumanDuration(ToTime(task.next_attempt_time()) - options.now),
             ")")});
  }
  if (!task.reason().empty()) fields.push_back({"Reason", task.reason()});
  std::string out = RenderFields(fields);
  if (task.attempts_size() > 0) {
    std::vector<Attempt> attempts(task.attempts().begin(),
                                  task.attempts().end());
    absl::StrAppend(&out, "\n", FormatAttempts(attempts, options));
  }
  return out;
}

namespace {

// A task's dataset parts with their ranges ("gsm8k_0 [0:189]"), from its
// params; the bare abbrs when the params are absent.
std::vector<std::string> PartsWithRanges(const Task& t) {
  std::vector<std::string> parts;
  if (t.params().datasets().empty()) {
    parts.assign(t.dataset_abbrs().begin(), t.dataset_abbrs().end());
    return parts;
  }
  for (const v1::TaskDataset& d : t.params().datasets()) {
    const std::string& range = d.config().reader_cfg().test_range();
    parts.push_back(range.empty()
                        ? d.config().abbr()
                        : absl::StrCat(d.config().abbr(), " ", range));
  }
  return parts;
}

// The sum over the task's datasets, or "-" when one of them is unknown (0).
std::string SumOrNone(const Task& t,
                      int64_t (v1::TaskDataset::*field)() const) {
  int64_t sum = 0;
  for (const v1::TaskDataset& d : t.params().datasets()) {
    int64_t v = (d.*field)();
    if (v <= 0) return kNone;
    sum += v;
  }
  return t.params().datasets().empty() ? kNone : absl::StrCat(sum);
}

}  // namespace

std::string FormatPlan(const v1::PlanEvaluationResponse& plan,
                       const RenderOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      return RenderMessage(plan, options.format);
    case OutputFormat::kName:
      return TaskIds(plan.tasks());
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  bool wide = options.format == OutputFormat::kWide;
  bool any_reused = false;
  for (const Task& t : plan.tasks()) {
    if (t.state() == Task::SUCCEEDED) any_reused = true;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "STAGE", "MODEL",
                                                 "DATASETS", "SAMPLES", "COST",
                                                 "GPUS", "DEPENDS"}};
  if (any_reused) rows[0].push_back("REUSED");
  int infer = 0;
  int eval = 0;
  int gpus = 0;
  for (const Task& t : plan.tasks()) {
    if (t.stage() == v1::STAGE_INFER) ++infer;
    if (t.stage() == v1::STAGE_EVAL) ++eval;
    gpus = std::max(gpus, t.num_gpus());
    rows.push_back({t.id(), StageName(t.stage()), OrNone(t.model_abbr()),
                    JoinList(PartsWithRanges(t), wide),
                    SumOrNone(t, &v1::TaskDataset::num_samples),
                    SumOrNone(t, &v1::TaskDataset::cost),
                    absl::StrCat(t.num_gpus()),
                    JoinList(t.depends_on(), wide)});
    if (t.state() == Task::SUCCEEDED) rows.back().push_back("yes");
  }
  std::string out = RenderTable(rows);
  std::string gpu_text =
      gpus == 0 ? "CPU only"
                : absl::StrCat("up to ", gpus, gpus == 1 ? " GPU" : " GPUs",
                               " per task");
  std::string size_text;
  if (plan.total_samples() > 0) {
    size_text = absl::StrCat(", ", plan.total_samples(), " samples");
    if (plan.total_cost() > 0) {
      absl::StrAppend(&size_text, " (cost ", plan.total_cost(), ")");
    }
  }
  absl::StrAppend(&out, "\n", plan.tasks_size(),
                  plan.tasks_size() == 1 ? " task" : " tasks", " (", infer,
                  " infer, ", eval, " eval)", size_text, ", ", gpu_text,
                  ", work dir ", OrNone(plan.work_dir()), "\n");
  if (plan.reused_tasks() > 0) {
    absl::StrAppend(&out, plan.reused_tasks(),
                    plan.reused_tasks() == 1 ? " task is" : " tasks are",
                    " reused: outputs with the same fingerprint exist\n");
  }
  absl::StrAppend(&out, "dry run: nothing was stored\n");
  return out;
}

std::string FormatCreated(const Evaluation& evaluation,
                          const RenderOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      return RenderMessage(evaluation, options.format);
    case OutputFormat::kName:
      return Names({evaluation.id()});
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  return absl::StrCat("evaluation ", evaluation.id(), " created (",
                      evaluation.task_count(),
                      evaluation.task_count() == 1 ? " task" : " tasks", ")\n");
}

}  // namespace ocx::client
