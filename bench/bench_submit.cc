// bench_submit: how fast a large evaluation is accepted and inspected.
//
// Targets (issue): one evaluation of 10,000 tasks is committed in under
// 0.3 s; `ocxctl status` of it answers in under 50 ms.
//
// A real ocxd (tests/e2e/ocxd_process.h) on a unix socket in a temporary
// directory. The big spec is 100 models x 50 datasets with NaivePartitioner
// n=1: 5,000 infer + 5,000 eval tasks. The daemon is started with
// --max-parallel 1 and every task runs `/bin/sleep 3600`, and a small
// evaluation created first holds the only slot, so no task of the big
// evaluations starts while it is measured; everything is cancelled at the
// end.
//
// Measured: CreateEvaluation (median of 3, a fresh evaluation each),
// GetEvaluation (median and p95 of 50), the real `ocxctl status <id>`
// (median of 10, process start included) and `ocxctl tasks <id>` (all 10k
// tasks, median of 3). Baselines in the same run: after each create, the
// task rows ocxd stored for the first big evaluation (every column's value
// as stored) inserted into a fresh SQLite file with ocxd's schema for the
// evaluations, tasks and task_counts tables (indexes and triggers
// included) and ocxd's pragmas (WAL, synchronous=NORMAL, foreign keys on),
// in one transaction of prepared inserts (median of 3); the same reads of a
// small (1 model x 1 dataset: 2 tasks) evaluation, and `ocxctl list -o name`
// (client start-up plus one small RPC).
//
// Usage: bench_submit [--models M] [--datasets D]
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/daemon_bench.h"
#include "ocx/v1/service.grpc.pb.h"
#include "tests/e2e/ocxd_process.h"

namespace {

using ocx::bench::CancelAll;
using ocx::bench::Context;
using ocx::bench::Fmt;
using ocx::bench::Median;
using ocx::bench::Now;
using ocx::bench::Percentile;
using ocx::bench::Sample;
using ocx::bench::SleepSpec;
using ocx::bench::TimedGet;
using ocx::bench::TimedOcxctl;

constexpr int kCreates = 3;
constexpr int kGets = 50;
constexpr int kStatusRuns = 10;
constexpr int kTasksRuns = 3;

bool Check(int rc, sqlite3* db, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
  fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db));
  return false;
}

// The rows ocxd stored for one evaluation, column values as SQLite holds
// them, and the schema of the tables a create writes: what the raw
// baseline inserts.
struct StoredRows {
  std::vector<std::string> schema;  // CREATE statements, tables first
  std::vector<sqlite3_value*> evaluation;
  std::vector<std::vector<sqlite3_value*>> tasks;
  ~StoredRows() {
    for (sqlite3_value* v : evaluation) sqlite3_value_free(v);
    for (auto& row : tasks) {
      for (sqlite3_value* v : row) sqlite3_value_free(v);
    }
  }
};

// Runs `sql` (its `?`, if it has one: `arg`) and appends each row's values to
// `out`.
bool ReadRows(sqlite3* db, const char* sql, const std::string& arg,
              std::vector<std::vector<sqlite3_value*>>* out) {
  sqlite3_stmt* s = nullptr;
  if (!Check(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), db, sql)) {
    return false;
  }
  sqlite3_bind_text(s, 1, arg.c_str(), -1, SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    auto& row = out->emplace_back();
    for (int c = 0; c < sqlite3_column_count(s); ++c) {
      row.push_back(sqlite3_value_dup(sqlite3_column_value(s, c)));
    }
  }
  sqlite3_finalize(s);
  return Check(rc, db, sql);
}

// Reads evaluation `id`'s rows and the schema from ocxd's database.
bool ReadStored(const std::string& db_path, const std::string& id,
                StoredRows* out) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr) == SQLITE_OK;
  std::vector<std::vector<sqlite3_value*>> schema, evaluation;
  ok = ok && ReadRows(db,
                      "SELECT sql FROM sqlite_master WHERE tbl_name IN "
                      "('evaluations', 'tasks', 'task_counts') AND sql IS NOT "
                      "NULL ORDER BY type != 'table', type = 'trigger', rowid",
                      "", &schema);
  ok = ok &&
       ReadRows(db, "SELECT * FROM evaluations WHERE id=?", id, &evaluation);
  ok = ok &&
       ReadRows(db, "SELECT * FROM tasks WHERE eval_id=?", id, &out->tasks);
  sqlite3_close(db);
  for (auto& row : schema) {
    out->schema.push_back(
        reinterpret_cast<const char*>(sqlite3_value_text(row[0])));
    sqlite3_value_free(row[0]);
  }
  if (evaluation.size() == 1) out->evaluation = evaluation[0];
  return ok && evaluation.size() == 1 && !out->tasks.empty();
}

// Inserts one row's values with `stmt` (an INSERT ... VALUES (?,...)).
bool InsertRow(sqlite3* db, sqlite3_stmt* stmt,
               const std::vector<sqlite3_value*>& row) {
  for (size_t c = 0; c < row.size(); ++c) {
    sqlite3_bind_value(stmt, static_cast<int>(c + 1), row[c]);
  }
  bool ok = Check(sqlite3_step(stmt), db, "insert");
  sqlite3_reset(stmt);
  return ok;
}

std::string InsertSql(const char* table, size_t columns) {
  std::string sql = absl::StrCat("INSERT INTO ", table, " VALUES (?");
  for (size_t c = 1; c < columns; ++c) sql += ",?";
  return sql + ")";
}

// The raw baseline: the same task rows inserted into a fresh database with
// ocxd's schema and pragmas (WAL, synchronous=NORMAL, foreign keys on), the
// evaluation row first, then one transaction of prepared inserts; seconds
// from BEGIN to COMMIT, negative on error.
double RawSqliteInsert(const std::string& path, const StoredRows& rows) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return -1;
  bool ok = Check(sqlite3_exec(db,
                               "PRAGMA journal_mode=WAL;"
                               "PRAGMA synchronous=NORMAL;"
                               "PRAGMA foreign_keys=ON;",
                               nullptr, nullptr, nullptr),
                  db, "pragmas");
  for (const std::string& sql : rows.schema) {
    ok = ok && Check(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
                     db, sql.c_str());
  }
  sqlite3_stmt* eval = nullptr;
  sqlite3_stmt* task = nullptr;
  ok = ok &&
       Check(sqlite3_prepare_v2(
                 db, InsertSql("evaluations", rows.evaluation.size()).c_str(),
                 -1, &eval, nullptr),
             db, "prepare") &&
       Check(sqlite3_prepare_v2(
                 db, InsertSql("tasks", rows.tasks[0].size()).c_str(), -1,
                 &task, nullptr),
             db, "prepare") &&
       InsertRow(db, eval, rows.evaluation);
  double start = Now();
  ok = ok &&
       Check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db,
             "begin");
  for (size_t i = 0; ok && i < rows.tasks.size(); ++i) {
    ok = InsertRow(db, task, rows.tasks[i]);
  }
  ok = ok && Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db,
                   "commit");
  double elapsed = Now() - start;
  sqlite3_finalize(eval);
  sqlite3_finalize(task);
  sqlite3_close(db);
  return ok ? elapsed : -1;
}

// Average width of the stored task rows' params blob, and the row count.
void StoredTaskWidth(const std::string& db_path, double* avg_params,
                     int64_t* rows) {
  *avg_params = 0;
  *rows = 0;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT avg(length(params)), count(*) FROM tasks",
                         -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    *avg_params = sqlite3_column_double(s, 0);
    *rows = sqlite3_column_int64(s, 1);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

// Seconds, or negative on error (printed).
double TimedCreate(ocx::v1::EvaluationService::Stub* stub,
                   const ocx::v1::EvaluationSpec& spec, const std::string& name,
                   ocx::v1::Evaluation* out) {
  ocx::v1::CreateEvaluationRequest req;
  *req.mutable_spec() = spec;
  req.set_name(name);
  auto ctx = Context(120);
  double start = Now();
  grpc::Status s = stub->CreateEvaluation(ctx.get(), req, out);
  double elapsed = Now() - start;
  if (!s.ok()) {
    fprintf(stderr, "CreateEvaluation %s: %s\n", name.c_str(),
            s.error_message().c_str());
    return -1;
  }
  return elapsed;
}

// Reads every task of `id` in pages of `page_size`; seconds (negative on
// error) and the number of pages.
double TimedListAll(ocx::v1::EvaluationService::Stub* stub,
                    const std::string& id, int page_size, int* pages) {
  *pages = 0;
  std::string token;
  double start = Now();
  do {
    ocx::v1::ListTasksRequest req;
    req.set_evaluation_id(id);
    req.set_page_size(page_size);
    req.set_page_token(token);
    ocx::v1::ListTasksResponse resp;
    auto ctx = Context(60);
    grpc::Status s = stub->ListTasks(ctx.get(), req, &resp);
    if (!s.ok()) {
      fprintf(stderr, "ListTasks %s: %s\n", id.c_str(),
              s.error_message().c_str());
      return -1;
    }
    ++*pages;
    token = resp.next_page_token();
  } while (!token.empty());
  return Now() - start;
}

}  // namespace

int main(int argc, char** argv) {
  int models = 100, datasets = 50;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--models" || a == "--datasets") && i + 1 < argc) {
      (a == "--models" ? models : datasets) = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: %s [--models M] [--datasets D]\n", argv[0]);
      return 2;
    }
  }
  const int tasks = 2 * models * datasets;
  printf("bench_submit: evaluations of %d models x %d datasets = %d tasks\n",
         models, datasets, tasks);

  ocx::testing::TempDir dir;

  ocx::testing::OcxdProcess ocxd(dir.path(), {"--max-parallel", "1"});
  if (absl::Status s = ocxd.Start(); !s.ok()) {
    fprintf(stderr, "ocxd: %s\n", s.ToString().c_str());
    return 1;
  }
  auto* stub = ocxd.stub();
  std::string out_path = dir.path() + "/ocxctl.out";

  // Client start-up baseline against a daemon with nothing in it.
  Sample list_s;
  for (int i = 0; i < kStatusRuns; ++i) {
    list_s.Add(TimedOcxctl(ocxd, out_path, {"-o", "name", "list"}));
  }
  if (!list_s.ok) return 1;

  // The small evaluation: created first, its infer task takes the only slot.
  ocx::v1::Evaluation small;
  double small_create = TimedCreate(stub, SleepSpec(1, 1), "small", &small);
  if (small_create < 0) return 1;
  printf("create small (%d tasks): %.1f ms; ocxd VmRSS now %.1f MB\n",
         small.task_count(), small_create * 1e3,
         ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS") * 1.024e-3);

  // Whatever happens from here on, no `sleep 3600` task is left behind.
  std::vector<std::string> ids = {small.id()};
  auto cancel_all = absl::MakeCleanup([&ids, stub] { CancelAll(stub, ids); });
  // Each create is followed by the raw baseline: the rows of the first
  // big evaluation inserted into a fresh file (interleaved, so that load
  // from elsewhere on the machine weighs on both alike).
  Sample create_s, raw_s;
  ocx::v1::EvaluationSpec big_spec = SleepSpec(models, datasets);
  std::string big_id;
  StoredRows stored;
  for (int i = 0; i < kCreates; ++i) {
    ocx::v1::Evaluation e;
    double s = TimedCreate(stub, big_spec, absl::StrCat("big", i), &e);
    if (s < 0) return 1;
    create_s.Add(s);
    ids.push_back(e.id());
    if (big_id.empty()) {
      big_id = e.id();
      if (!ReadStored(ocxd.database(), big_id, &stored)) return 1;
    }
    double raw =
        RawSqliteInsert(absl::StrCat(dir.path(), "/raw", i, ".db"), stored);
    if (raw < 0) return 1;
    raw_s.Add(raw);
    printf(
        "create big #%d (%d tasks): %.1f ms; raw sqlite insert of the same "
        "%zu rows: %.1f ms; ocxd VmRSS now %.1f MB; load average %.2f\n",
        i + 1, e.task_count(), s * 1e3, stored.tasks.size(), raw * 1e3,
        ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS") * 1.024e-3,
        ocx::bench::LoadAverage());
    if (e.task_count() != tasks) {
      fprintf(stderr, "expected %d tasks, got %d\n", tasks, e.task_count());
      return 1;
    }
  }

  double avg_params = 0;
  int64_t rows = 0;
  StoredTaskWidth(ocxd.database(), &avg_params, &rows);
  printf("stored: %lld task rows, params blob %.0f bytes on average\n",
         static_cast<long long>(rows), avg_params);

  // GetEvaluation, big and small interleaved (after a warm-up).
  Sample get_big, get_small;
  TimedGet(stub, big_id);
  TimedGet(stub, small.id());
  for (int i = 0; i < kGets; ++i) {
    get_big.Add(TimedGet(stub, big_id));
    get_small.Add(TimedGet(stub, small.id()));
  }
  if (!get_big.ok || !get_small.ok) return 1;

  // Where ocxctl's time goes: reading all tasks in default (500) pages and
  // in one page.
  Sample list500, list_one;
  int pages500 = 0, pages_one = 0;
  for (int i = 0; i < kTasksRuns; ++i) {
    list500.Add(TimedListAll(stub, big_id, 0, &pages500));
    list_one.Add(TimedListAll(stub, big_id, 10000, &pages_one));
  }
  if (!list500.ok || !list_one.ok) return 1;

  // ocxctl status / tasks.
  Sample status_big, status_small, tasks_big;
  int64_t status_bytes = 0;
  for (int i = 0; i < kStatusRuns; ++i) {
    status_big.Add(TimedOcxctl(ocxd, out_path, {"status", big_id}));
    status_bytes = ocx::bench::FileSize(out_path);
    status_small.Add(TimedOcxctl(ocxd, out_path, {"status", small.id()}));
  }
  for (int i = 0; i < kTasksRuns; ++i) {
    tasks_big.Add(TimedOcxctl(ocxd, out_path, {"tasks", big_id}));
  }
  if (!status_big.ok || !status_small.ok || !tasks_big.ok) return 1;

  int64_t hwm_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "VmHWM");
  int64_t rss_kb = ocx::bench::ProcStatusKb(ocxd.pid(), "VmRSS");

  std::move(cancel_all).Invoke();
  ocxd.Stop(SIGTERM);

  const double raw = Median(raw_s.seconds);

  const double create_med = Median(create_s.seconds);
  printf("\n");
  printf(
      "CreateEvaluation %d tasks: median %.1f ms (target < 300 ms); raw "
      "sqlite median %.1f ms; ratio %.2f\n",
      tasks, create_med * 1e3, raw * 1e3, create_med / raw);
  printf(
      "GetEvaluation %d tasks: median %.2f ms, p95 %.2f ms; small: median "
      "%.2f ms, p95 %.2f ms; ratio %.2f\n",
      tasks, get_big.MedianMs(), get_big.P95Ms(), get_small.MedianMs(),
      get_small.P95Ms(), get_big.MedianMs() / get_small.MedianMs());
  printf(
      "ocxctl status %d tasks: median %.1f ms (target < 50 ms; output %lld "
      "bytes); small: %.1f ms; ratio %.2f\n",
      tasks, status_big.MedianMs(), static_cast<long long>(status_bytes),
      status_small.MedianMs(), status_big.MedianMs() / status_small.MedianMs());
  printf("ocxctl list -o name (start-up baseline): median %.1f ms\n",
         list_s.MedianMs());
  printf("ocxctl tasks %d tasks: median %.1f ms\n", tasks,
         tasks_big.MedianMs());
  printf("ocxd with %d queued tasks: VmRSS %.1f MB, VmHWM %.1f MB\n",
         (kCreates * tasks) + small.task_count(), rss_kb * 1.024e-3,
         hwm_kb * 1.024e-3);
  printf(
      "ListTasks of all %d tasks over gRPC: %d pages (default size): %.1f "
      "ms; %d page(s) of up to 10000: %.1f ms\n",
      tasks, pages500, list500.MedianMs(), pages_one, list_one.MedianMs());

  ocx::bench::PrintResult({
      {"bench", "submit"},
      {"tasks", absl::StrCat(tasks)},
      {"create_s", Fmt(create_med, 4)},
      {"raw_sqlite_s", Fmt(raw, 4)},
      {"ratio_create_vs_sqlite", Fmt(create_med / raw, 2)},
      {"load", Fmt(ocx::bench::LoadAverage(), 2)},
      {"params_bytes", Fmt(avg_params, 0)},
      {"get_ms", Fmt(get_big.MedianMs(), 2)},
      {"get_p95_ms", Fmt(get_big.P95Ms(), 2)},
      {"get_small_ms", Fmt(get_small.MedianMs(), 2)},
      {"ratio_get_vs_small", Fmt(get_big.MedianMs() / get_small.MedianMs(), 2)},
      {"status_ms", Fmt(status_big.MedianMs(), 1)},
      {"status_small_ms", Fmt(status_small.MedianMs(), 1)},
      {"ratio_status_vs_small",
       Fmt(status_big.MedianMs() / status_small.MedianMs(), 2)},
      {"list_ms", Fmt(list_s.MedianMs(), 1)},
      {"tasks_ms", Fmt(tasks_big.MedianMs(), 1)},
      {"list_tasks_default_pages_ms", Fmt(list500.MedianMs(), 1)},
      {"list_tasks_one_page_ms", Fmt(list_one.MedianMs(), 1)},
      {"ocxd_hwm_mb", Fmt(hwm_kb * 1.024e-3, 1)},
  });
  return 0;
}
