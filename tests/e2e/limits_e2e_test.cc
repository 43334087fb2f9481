// Input limits against a real ocxd (docs/security.md, "Input limits"): a
// spec above limits.max_spec_bytes is refused before planning and nothing
// is stored; a 50 MB request is refused by gRPC's receive limit and never
// parsed, and the daemon's memory does not keep it; a plan above
// max_tasks_per_evaluation is refused; a config shared by many tasks is stored
// once (task rows hold references) and GetTask still answers the full params; a
// big dry run is paged below max_message_bytes, and ocxctl follows the pages.
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/task_params.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ::testing::HasSubstr;

// VmRSS (or another field) of `pid` in KiB, from /proc; -1 when
// unreadable.
int64_t RssKib(pid_t pid, absl::string_view field = "VmRSS:") {
  std::string status = FileText(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, field)) continue;
    int64_t kib = 0;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits += c;
    }
    if (absl::SimpleAtoi(digits, &kib)) return kib;
  }
  return -1;
}

// One SQL integer from the database file.
int64_t QueryInt(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t value = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

class LimitsE2ETest : public ::testing::Test {
 protected:
  // Starts ocxd with `limits_yaml` as the body of its config's `limits`.
  void StartDaemon(const std::string& limits_yaml) {
    const std::string config = dir_.path() + "/ocxd.yaml";
    std::ofstream(config) << "limits: {" << limits_yaml << "}\n";
    daemon_ = std::make_unique<OcxdProcess>(
        dir_.path(), std::vector<std::string>{"--config", config});
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }

  int EvaluationCount() {
    grpc::ClientContext ctx;
    v1::ListEvaluationsRequest req;
    v1::ListEvaluationsResponse resp;
    EXPECT_TRUE(daemon_->stub()->ListEvaluations(&ctx, req, &resp).ok());
    return resp.evaluations_size();
  }

  TempDir dir_;
  std::unique_ptr<OcxdProcess> daemon_;
};

// A model whose generation_kwargs carry `bytes` of text.
void AddBigModelConfig(int64_t bytes, v1::EvaluationSpec* spec) {
  (*spec->mutable_models(0)
        ->mutable_generation_kwargs()
        ->mutable_fields())["note"]
      .set_string_value(std::string(bytes, 'x'));
}

TEST_F(LimitsE2ETest, SpecAboveTheLimitIsRefusedQuicklyAndNothingIsStored) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(""));
  v1::EvaluationSpec spec = TestSpec(1, 1, {});
  AddBigModelConfig(2 << 20, &spec);  // 2 MiB
  const int64_t size = static_cast<int64_t>(spec.ByteSizeLong());
  for (bool dry_run : {false, true}) {
    grpc::ClientContext ctx;
    const absl::Time start = absl::Now();
    grpc::Status status;
    if (dry_run) {
      v1::PlanEvaluationRequest req;
      *req.mutable_spec() = spec;
      v1::PlanEvaluationResponse resp;
      status = daemon_->stub()->PlanEvaluation(&ctx, req, &resp);
    } else {
      v1::CreateEvaluationRequest req;
      *req.mutable_spec() = spec;
      v1::Evaluation resp;
      status = daemon_->stub()->CreateEvaluation(&ctx, req, &resp);
    }
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(),
                HasSubstr(absl::StrCat("spec: ", size,
                                       " bytes is larger than the limit of "
                                       "1048576 bytes")));
    EXPECT_THAT(status.error_message(), HasSubstr("limits.max_spec_bytes"));
    EXPECT_LT(took, absl::Seconds(1)) << (dry_run ? "plan" : "create");
  }
  EXPECT_EQ(EvaluationCount(), 0);
  EXPECT_EQ(QueryInt(daemon_->database(), "SELECT count(*) FROM tasks"), 0);
}

TEST_F(LimitsE2ETest, FiftyMegabyteRequestIsRefusedByGrpcWithoutParsing) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(""));
  const int64_t rss_before = RssKib(daemon_->pid());
  ASSERT_GT(rss_before, 0);
  v1::CreateEvaluationRequest req;
  *req.mutable_spec() = TestSpec(1, 1, {});
  AddBigModelConfig(50 << 20, req.mutable_spec());
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::Evaluation resp;
    grpc::Status status = daemon_->stub()->CreateEvaluation(&ctx, req, &resp);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
  }
  const int64_t rss_after = RssKib(daemon_->pid());
  const int64_t hwm = RssKib(daemon_->pid(), "VmHWM:");
  printf("ocxd VmRSS %lld KiB -> %lld KiB, VmHWM %lld KiB\n",
         static_cast<long long>(rss_before), static_cast<long long>(rss_after),
         static_cast<long long>(hwm));
  // gRPC 1.51 reads a message whole before applying its size limit, so one
  // request costs its 50 MB (plus gRPC's buffers, about 80 MB measured) for
  // a moment. Parsed into a spec (and planned) it would cost the read
  // buffer and a parsed copy, 100 MB and more, at its peak; three requests
  // that were kept would add 150 MB.
  EXPECT_LT(hwm - rss_before, 100 * 1024);
  EXPECT_LT(rss_after - rss_before, 60 * 1024)
      << "VmRSS " << rss_before << " KiB -> " << rss_after << " KiB";
  EXPECT_EQ(EvaluationCount(), 0);
  // Still serving.
  v1::EvaluationSpec small = TestSpec(1, 1, {});
  grpc::ClientContext ctx;
  v1::PlanEvaluationRequest plan;
  *plan.mutable_spec() = small;
  v1::PlanEvaluationResponse planned;
  ASSERT_TRUE(daemon_->stub()->PlanEvaluation(&ctx, plan, &planned).ok());
  EXPECT_EQ(planned.tasks_size(), 2);
}

TEST_F(LimitsE2ETest, PlanAboveTheTaskLimitIsRefusedNamingCountAndLimit) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon("max_tasks_per_evaluation: 30"));
  // 4 x 5: 20 infer + 20 eval tasks.
  v1::CreateEvaluationRequest req;
  *req.mutable_spec() = TestSpec(4, 5, {});
  grpc::ClientContext ctx;
  v1::Evaluation resp;
  grpc::Status status = daemon_->stub()->CreateEvaluation(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("has 40 tasks, more than the limit of 30 "
                        "(limits.max_tasks_per_evaluation"));
  EXPECT_EQ(EvaluationCount(), 0);
  // 3 x 5 = 30 fits.
  *req.mutable_spec() = TestSpec(3, 5, {"--sleep-ms", "0"});
  grpc::ClientContext ctx2;
  status = daemon_->stub()->CreateEvaluation(&ctx2, req, &resp);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// 500 infer and 500 eval tasks share one model with a 64 KiB config: task
// rows refer to it, so the database holds it once (in the spec), not 1000
// times; GetTask still answers it in full.
TEST_F(LimitsE2ETest, SharedConfigIsStoredOncePerEvaluation) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(""));
  constexpr int64_t kConfigBytes = 64 << 10;
  v1::EvaluationSpec spec = TestSpec(1, 500, {"--sleep-ms", "0"}, 1, 0);
  AddBigModelConfig(kConfigBytes, &spec);
  v1::Evaluation e = CreateOrFail(daemon_->stub(), spec);
  ASSERT_EQ(e.task_count(), 1000);
  {
    grpc::ClientContext ctx;
    v1::CancelEvaluationRequest cancel;
    cancel.set_id(e.id());
    v1::Evaluation out;
    daemon_->stub()->CancelEvaluation(&ctx, cancel, &out);
  }
  const int64_t params =
      QueryInt(daemon_->database(), "SELECT sum(length(params)) FROM tasks");
  const int64_t specs = QueryInt(daemon_->database(),
                                 "SELECT sum(length(spec)) FROM evaluations");
  // Copied into every task this would be 1000 x 64 KiB = 64 MiB; a task
  // row's params are its ids, outputs and references: a few hundred bytes.
  EXPECT_GT(specs, kConfigBytes);
  EXPECT_LT(params, 1000 * 512)
      << "task params hold " << params << " bytes for 1000 tasks";
  printf(
      "db bytes: spec %lld, params of 1000 tasks %lld (copied: %lld); "
      "ratio %.1fx smaller\n",
      static_cast<long long>(specs), static_cast<long long>(params),
      static_cast<long long>(1000 * kConfigBytes),
      static_cast<double>(1000 * kConfigBytes) / (params + specs));
  v1::Task t = GetTaskOrFail(daemon_->stub(), e.id() + "-infer-7");
  EXPECT_FALSE(t.params().has_refs());
  EXPECT_EQ(t.params()
                .model()
                .generation_kwargs()
                .fields()
                .at("note")
                .string_value()
                .size(),
            static_cast<size_t>(kConfigBytes));
  EXPECT_EQ(t.params().datasets(0).config().path(), "/data/ds7.jsonl");
  EXPECT_EQ(t.params().task().type(), "command");
  // The evaluation's spec can be left out (AIP-157 BASIC view).
  grpc::ClientContext ctx;
  v1::GetEvaluationRequest get;
  get.set_id(e.id());
  get.set_view(v1::EVALUATION_VIEW_BASIC);
  v1::Evaluation basic;
  ASSERT_TRUE(daemon_->stub()->GetEvaluation(&ctx, get, &basic).ok());
  EXPECT_FALSE(basic.has_spec());
  EXPECT_TRUE(basic.spec_omitted());
  EXPECT_EQ(basic.task_count(), 1000);
}

// A 2000-task dry run with a 160 KiB answer limit: pages below the limit,
// every task once, and ocxctl prints them all.
TEST_F(LimitsE2ETest, BigDryRunIsPagedBelowTheMessageLimit) {
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon("max_spec_bytes: 65536, max_message_bytes: 163840"));
  v1::EvaluationSpec spec = TestSpec(20, 50, {});
  for (v1::TaskView view : {v1::TASK_VIEW_BASIC, v1::TASK_VIEW_FULL}) {
    v1::PlanEvaluationRequest req;
    *req.mutable_spec() = spec;
    req.set_view(view);
    std::set<std::string> ids;
    int pages = 0;
    while (true) {
      grpc::ClientContext ctx;
      v1::PlanEvaluationResponse page;
      grpc::Status status = daemon_->stub()->PlanEvaluation(&ctx, req, &page);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ++pages;
      EXPECT_LE(page.ByteSizeLong(), 163840u);
      EXPECT_EQ(page.total_tasks(), 2000);
      for (const v1::Task& t : page.tasks()) {
        EXPECT_TRUE(ids.insert(t.id()).second) << t.id();
        EXPECT_EQ(t.params().has_refs(), view == v1::TASK_VIEW_BASIC);
        EXPECT_EQ(t.params().model().type().empty(),
                  view == v1::TASK_VIEW_BASIC);
      }
      if (page.next_page_token().empty()) break;
      req.set_page_token(page.next_page_token());
      ASSERT_LT(pages, 200);
    }
    EXPECT_EQ(ids.size(), 2000u);
    EXPECT_GT(pages, 1);
  }
  // A token is bound to its spec.
  v1::PlanEvaluationRequest first;
  *first.mutable_spec() = spec;
  grpc::ClientContext ctx;
  v1::PlanEvaluationResponse page;
  ASSERT_TRUE(daemon_->stub()->PlanEvaluation(&ctx, first, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  first.set_page_token(page.next_page_token());
  first.mutable_spec()->mutable_models(0)->set_abbr("other");
  grpc::ClientContext ctx2;
  grpc::Status status = daemon_->stub()->PlanEvaluation(&ctx2, first, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));

  // ocxctl follows the pages.
  const std::string yaml = dir_.path() + "/eval.yaml";
  {
    std::ofstream out(yaml);
    out << "models:\n";
    for (int m = 0; m < 20; ++m) {
      out << "  - {abbr: model" << m << ", type: OpenAISDK, path: p}\n";
    }
    out << "datasets:\n";
    for (int d = 0; d < 50; ++d) {
      out << "  - {abbr: ds" << d << ", path: /data/ds" << d << ".jsonl}\n";
    }
    out << "infer: {runner: {task: {type: command, argv: [/bin/true]}}}\n"
        << "eval: {runner: {task: {type: command, argv: [/bin/true]}}}\n";
  }
  RunResult names =
      RunProgram({OcxctlPath(), "-o", "name", "submit", "--dry-run", yaml},
                 {"OCX_SERVER=" + daemon_->server()});
  ASSERT_EQ(names.exit_code, 0) << names.err;
  std::vector<std::string> lines =
      absl::StrSplit(names.out, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 2000u);
  RunResult table = RunProgram({OcxctlPath(), "submit", "--dry-run", yaml},
                               {"OCX_SERVER=" + daemon_->server()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("2000 tasks (1000 infer, 1000 eval)"));
}

// `ocxctl -o json submit --dry-run` of a 54-task plan (3 models x 9
// datasets): each model and dataset config appears once, in `spec`, and the
// tasks refer to it (params.refs). Read back and expanded, the tasks are
// exactly those of the daemon's full view, and the JSON is well below the
// full view's.
TEST_F(LimitsE2ETest, DryRunJsonHoldsEachConfigOnceAndReadsBackWhole) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(""));
  const std::string yaml = dir_.path() + "/eval.yaml";
  {
    std::ofstream out(yaml);
    out << "models:\n";
    for (int m = 0; m < 3; ++m) {
      out << "  - {abbr: model" << m << ", type: OpenAISDK, path: org/model"
          << m << ", openai_api_base: \"http://127.0.0.1:1/v1\", "
          << "max_out_len: 512, batch_size: 8, temperature: 0}\n";
    }
    out << "datasets:\n";
    for (int d = 0; d < 9; ++d) {
      out << "  - abbr: ds" << d << "\n    path: /data/ds" << d << ".jsonl\n"
          << "    reader_cfg: {input_columns: [question, A, B, C, D], "
          << "output_column: answer}\n"
          << "    infer_cfg:\n"
          << "      prompt_template: {type: PromptTemplate, template: "
          << "\"Question: {question}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. "
          << "{D}\\nAnswer:\"}\n"
          << "      retriever: {type: ZeroRetriever}\n"
          << "      inferencer: {type: GenInferencer, max_out_len: 32}\n"
          << "    eval_cfg: {evaluator: {type: AccEvaluator}, "
          << "pred_postprocessor: {type: first-capital}}\n";
    }
    out << "infer: {runner: {task: {type: command, argv: [/bin/true]}}}\n"
        << "eval: {runner: {task: {type: command, argv: [/bin/true]}}}\n";
  }
  RunResult json =
      RunProgram({OcxctlPath(), "-o", "json", "submit", "--dry-run", yaml},
                 {"OCX_SERVER=" + daemon_->server()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::PlanEvaluationResponse plan;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &plan).ok())
      << json.out.substr(0, 500);
  ASSERT_EQ(plan.tasks_size(), 54);
  ASSERT_EQ(plan.spec().models_size(), 3);
  ASSERT_EQ(plan.spec().datasets_size(), 9);
  // Each config once: a prompt template is in the text 9 times, not 54.
  size_t templates = 0;
  for (size_t at = json.out.find("Question: "); at != std::string::npos;
       at = json.out.find("Question: ", at + 1)) {
    ++templates;
  }
  EXPECT_EQ(templates, 9u);

  // The daemon's full view of the same spec: what the JSON held before.
  v1::PlanEvaluationRequest req;
  *req.mutable_spec() = plan.spec();
  req.set_view(v1::TASK_VIEW_FULL);
  grpc::ClientContext ctx;
  v1::PlanEvaluationResponse full;
  ASSERT_TRUE(daemon_->stub()->PlanEvaluation(&ctx, req, &full).ok());
  ASSERT_EQ(full.tasks_size(), 54);
  EXPECT_FALSE(full.has_spec());
  for (int i = 0; i < plan.tasks_size(); ++i) {
    v1::Task expanded = plan.tasks(i);
    ASSERT_TRUE(expanded.params().has_refs()) << expanded.id();
    ASSERT_TRUE(ExpandTaskParams(plan.spec(), expanded.mutable_params()).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        expanded, full.tasks(i)))
        << expanded.DebugString() << "\nvs\n"
        << full.tasks(i).DebugString();
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string full_json;
  full.clear_total_tasks();
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(full, &full_json, options)
          .ok());
  RecordProperty("json_bytes", static_cast<int>(json.out.size()));
  RecordProperty("full_view_json_bytes", static_cast<int>(full_json.size()));
  // These configs are small (what is left is each task's own ids, paths
  // and fingerprints): 60 KB against 106 KB. Bigger configs drop more.
  EXPECT_LT(json.out.size() * 3, full_json.size() * 2)
      << json.out.size() << " vs " << full_json.size();

  // -o yaml carries the same structure.
  RunResult yaml_out =
      RunProgram({OcxctlPath(), "-o", "yaml", "submit", "--dry-run", yaml},
                 {"OCX_SERVER=" + daemon_->server()});
  ASSERT_EQ(yaml_out.exit_code, 0) << yaml_out.err;
  EXPECT_THAT(yaml_out.out, HasSubstr("spec:"));
  EXPECT_THAT(yaml_out.out, HasSubstr("refs:"));
}

// ocxctl refuses a spec file above the limit before sending it, with the
// daemon's words.
TEST_F(LimitsE2ETest, OcxctlRefusesABigSpecFileBeforeSending) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(""));
  const std::string yaml = dir_.path() + "/big.yaml";
  {
    std::ofstream out(yaml);
    out << "models: [{abbr: m, type: OpenAISDK, path: p}]\n"
        << "datasets: [{abbr: d, path: /data/d.jsonl}]\n"
        << "# " << std::string(2 << 20, 'x') << "\n";
  }
  RunResult r = RunProgram({OcxctlPath(), "submit", yaml},
                           {"OCX_SERVER=" + daemon_->server()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("bytes is larger than the limit of 1048576 "
                               "bytes (limits.max_spec_bytes"));
  EXPECT_EQ(EvaluationCount(), 0);
}

}  // namespace
}  // namespace ocx::testing
