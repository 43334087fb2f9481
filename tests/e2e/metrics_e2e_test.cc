// ocxd's /metrics: a real daemon with --http-listen on a free port runs an
// evaluation; the scrape reports its tasks, attempts and store
// transactions in the Prometheus text format, which promtool (Debian
// prometheus) accepts.
#include <stdlib.h>
#include <string.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::testing {
namespace {

using ::testing::HasSubstr;

bool HavePromtool() {
  return system("promtool --version >/dev/null 2>&1") == 0;
}

TEST(MetricsE2ETest, ScrapeReportsTasksAttemptsAndTransactions) {
  TempDir dir;
  OcxdProcess daemon(dir.path(), {"--http-listen", "127.0.0.1:0"});
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  const std::string url = MetricsUrl(daemon.log());
  ASSERT_THAT(url, ::testing::StartsWith("http://127.0.0.1:")) << daemon.log();

  ocx::v1::Evaluation e =
      CreateOrFail(daemon.stub(), TestSpec(2, 1, {}, /*max_num_workers=*/2));
  absl::StatusOr<ocx::v1::Evaluation> ended =
      WaitForEnd(daemon.stub(), e.id(), 60);
  ASSERT_TRUE(ended.ok()) << ended.status();
  ASSERT_EQ(ended->state(), ocx::v1::Evaluation::SUCCEEDED) << daemon.log();
  int infer = 0, eval = 0;
  for (const ocx::v1::Task& t : AllTasks(daemon.stub(), e.id())) {
    (t.stage() == ocx::v1::STAGE_INFER ? infer : eval) += 1;
  }

  absl::StatusOr<HttpResult> scrape = HttpCall("GET", url, "", {}, 10000);
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->status, 200);
  EXPECT_THAT(scrape->headers, HasSubstr("text/plain; version=0.0.4"));
  const std::string& body = scrape->body;
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "ocx_tasks{stage=\"infer\",state=\"succeeded\"} ",
                        infer, "\n")));
  EXPECT_THAT(
      body, HasSubstr(absl::StrCat(
                "ocx_tasks{stage=\"eval\",state=\"succeeded\"} ", eval, "\n")));
  EXPECT_THAT(body,
              HasSubstr("ocx_tasks{stage=\"infer\",state=\"failed\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("ocx_evaluations{state=\"succeeded\"} 1\n"));
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "ocx_attempts_ended_total{stage=\"infer\",backend="
                        "\"local\",state=\"succeeded\"} ",
                        infer, "\n")));
  EXPECT_THAT(body, HasSubstr("ocx_queue_depth 0\n"));
  EXPECT_THAT(body,
              HasSubstr("ocx_store_transaction_seconds_bucket{le=\"+Inf\"}"));
  EXPECT_THAT(body, HasSubstr("ocx_dispatcher_turn_seconds_count "));
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "ocx_attempt_duration_seconds_count{stage=\"infer\","
                        "state=\"succeeded\"} ",
                        infer, "\n")));
  EXPECT_THAT(body, HasSubstr("\nprocess_resident_memory_bytes "));
  EXPECT_THAT(body, HasSubstr("\nprocess_open_fds "));

  // Every metric the Grafana dashboard in deploy/ queries is one ocxd
  // exports.
  const std::string dashboard = FileText(std::string(OCX_SOURCE_DIR) +
                                         "/deploy/grafana/ocx-dashboard.json");
  ASSERT_FALSE(dashboard.empty());
  int queried = 0;
  for (size_t at = 0; (at = dashboard.find("ocx_", at)) != std::string::npos;) {
    size_t end = dashboard.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", at);
    std::string name = dashboard.substr(at, end - at);
    at = end;
    if (name == "ocx_") continue;  // "ocx-overview" and the like
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      if (absl::EndsWith(name, suffix) &&
          !absl::StrContains(body, absl::StrCat("# TYPE ", name, " "))) {
        name.resize(name.size() - strlen(suffix));
      }
    }
    EXPECT_THAT(body, HasSubstr(absl::StrCat("# TYPE ", name, " ")))
        << "the dashboard queries " << name;
    ++queried;
  }
  EXPECT_GE(queried, 10);

  if (!HavePromtool()) {
    GTEST_SKIP() << "promtool (Debian prometheus) is not installed: the "
                    "format check did not run";
  }
  const std::string file = dir.path() + "/metrics.txt";
  std::ofstream(file) << body;
  RunResult check = RunProgram(
      {"/bin/sh", "-c", absl::StrCat("promtool check metrics < '", file, "'")});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool lint findings";
}

TEST(MetricsE2ETest, PlainHttpOnANonLoopbackAddressIsRefusedAtStart) {
  TempDir dir;
  RunResult refused =
      RunProgram({OcxdPath(), "--listen", "unix://" + dir.path() + "/ocxd.sock",
                  "--database", dir.path() + "/ocx.db", "--work-root",
                  dir.path() + "/w", "--http-listen", "0.0.0.0:0"});
  EXPECT_EQ(refused.exit_code, 78) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("not a loopback address"));
}

}  // namespace
}  // namespace ocx::testing
