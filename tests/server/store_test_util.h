// Shared by the store tests (store_test.cc, servers_store_test.cc): row
// builders with fixed times, the schema version of a file, and a fixture
// with a Store on a real SQLite file in a temporary directory.
#ifndef OCX_TESTS_SERVER_STORE_TEST_UTIL_H_
#define OCX_TESTS_SERVER_STORE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "gtest/gtest.h"
#include "server/store/schema.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"
#include "tests/server/test_util.h"

namespace ocx::store::testing {

using ::ocx::server::testing::TempDir;
using ::ocx::v1::Attempt;
using ::ocx::v1::Evaluation;
using ::ocx::v1::Task;

inline constexpr int64_t kT0 =
    1700000000123;  // ms; not a whole second on purpose

inline Evaluation MakeEvaluation(const std::string& id,
                                 Evaluation::State state = Evaluation::QUEUED,
                                 const std::string& request_id = "") {
  Evaluation e;
  e.set_id(id);
  e.set_name(absl::StrCat("name of ", id));
  e.set_request_id(request_id);
  e.set_state(state);
  e.set_work_dir(absl::StrCat("/work/", id));
  e.set_task_count(2);
  auto* model = e.mutable_spec()->add_models();
  model->set_abbr("m0");
  model->set_type("OpenAISDK");
  e.mutable_spec()->add_datasets()->set_abbr("ds0");
  e.mutable_spec()->mutable_infer()->mutable_runner()->set_max_num_workers(3);
  SetTimestamp(kT0, e.mutable_create_time());
  SetTimestamp(kT0, e.mutable_update_time());
  return e;
}

inline Task MakeTask(const std::string& eval_id, ocx::v1::Stage stage,
                     int index, Task::State state = Task::READY) {
  Task t;
  const char* word = stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
  t.set_id(absl::StrCat(eval_id, "-", word, "-", index));
  t.set_evaluation_id(eval_id);
  t.set_stage(stage);
  t.set_index(index);
  t.set_name(absl::StrCat("OpenICL[m0/ds", index, "]"));
  t.set_state(state);
  t.set_model_abbr("m0");
  t.add_dataset_abbrs(absl::StrCat("ds", index));
  t.add_dataset_abbrs(absl::StrCat("ds", index, "_extra"));
  if (stage == ocx::v1::STAGE_EVAL) {
    t.add_depends_on(absl::StrCat(eval_id, "-infer-", index));
  }
  t.set_num_gpus(1);
  t.set_max_attempts(3);
  SetTimestamp(kT0, t.mutable_create_time());
  ocx::v1::TaskParams* p = t.mutable_params();
  p->set_evaluation_id(eval_id);
  p->set_task_id(t.id());
  p->set_stage(stage);
  p->set_work_dir(absl::StrCat("/work/", eval_id));
  p->mutable_model()->set_abbr("m0");
  p->add_expected_outputs(absl::StrCat("predictions/m0/ds", index, ".json"));
  p->mutable_task()->set_type("command");
  p->mutable_task()->add_argv("/bin/true");
  return t;
}

inline AttemptRecord MakeAttempt(const std::string& task_id, int number,
                                 Attempt::State state) {
  AttemptRecord r;
  r.attempt_dir = absl::StrCat("/work/.ocx/tasks/", task_id, "/", number);
  Attempt& a = r.attempt;
  a.set_task_id(task_id);
  a.set_number(number);
  a.set_state(state);
  a.set_name(absl::StrCat("ocx-", task_id, "-", number));
  a.set_backend("local");
  a.set_backend_id(absl::StrCat(1000 + number));
  a.set_log_path(absl::StrCat("/work/logs/", task_id, ".", number, ".out"));
  SetTimestamp(kT0 + number * 1000, a.mutable_start_time());
  return r;
}

inline int UserVersion(const std::string& path) {
  auto conn = Connection::Open(path, /*read_only=*/true);
  EXPECT_TRUE(conn.ok()) << conn.status();
  if (!conn.ok()) return -1;
  auto stmt = (*conn)->Prepare("PRAGMA user_version");
  EXPECT_TRUE(stmt.ok()) << stmt.status();
  if (!stmt.ok()) return -1;
  auto row = (*stmt)->Step();
  EXPECT_TRUE(row.ok() && *row);
  return static_cast<int>((*stmt)->ColumnInt(0));
}

// A database file at schema `version`, as the release that wrote that
// version left it, holding evaluation e1 (RUNNING) with task e1-infer-0
// and its attempt 1, written with the columns of schema version 1.
inline void WriteOldDatabase(const std::string& path, int version) {
  auto conn = Connection::Open(path, /*read_only=*/false);
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::Status migrated = MigrateSchemaTo(conn->get(), version);
  ASSERT_TRUE(migrated.ok()) << migrated;
  Evaluation e = MakeEvaluation("e1", Evaluation::RUNNING);
  auto ev = (*conn)->Prepare(
      "INSERT INTO evaluations (id, name, state, spec, work_dir, task_count, "
      "create_ms, update_ms) VALUES (?,?,?,?,?,1,?,?)");
  ASSERT_TRUE(ev.ok()) << ev.status();
  (*ev)->Bind(1, e.id()).Bind(2, e.name()).Bind(3, int64_t{e.state()});
  (*ev)->BindBlob(4, e.spec().SerializeAsString()).Bind(5, e.work_dir());
  (*ev)->Bind(6, kT0).Bind(7, kT0);
  ASSERT_TRUE((*ev)->Run().ok());
  Task t = MakeTask("e1", ocx::v1::STAGE_INFER, 0, Task::RUNNING);
  auto task = (*conn)->Prepare(
      "INSERT INTO tasks (id, eval_id, stage, idx, name, state, model_abbr, "
      "dataset_abbrs, depends_on, num_gpus, attempt_count, max_attempts, "
      "create_ms, params) VALUES (?,?,1,0,?,?,?,'ds0','',1,1,3,?,?)");
  ASSERT_TRUE(task.ok()) << task.status();
  (*task)->Bind(1, t.id()).Bind(2, t.evaluation_id()).Bind(3, t.name());
  (*task)->Bind(4, int64_t{t.state()}).Bind(5, t.model_abbr()).Bind(6, kT0);
  (*task)->BindBlob(7, t.params().SerializeAsString());
  ASSERT_TRUE((*task)->Run().ok());
  ASSERT_TRUE((*conn)
                  ->Exec("INSERT INTO attempts (task_id, number, state, name, "
                         "backend, log_path, attempt_dir) VALUES "
                         "('e1-infer-0', 1, 2, 'ocx-e1-infer-0-1', 'local', "
                         "'/w/1.log', '/w/1')")
                  .ok());
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Reopen()); }

  std::string db_path() const { return dir_.path() + "/ocx.db"; }

  void Reopen() {
    store_.reset();
    auto store = Store::Open(db_path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Inserts an evaluation and its tasks in one transaction.
  int64_t Insert(const Evaluation& e, const std::vector<Task>& tasks = {}) {
    EXPECT_TRUE(store_->Begin().ok());
    auto seq = store_->InsertEvaluation(e);
    EXPECT_TRUE(seq.ok()) << seq.status();
    for (const Task& t : tasks) {
      absl::Status s = store_->InsertTask(t);
      EXPECT_TRUE(s.ok()) << s;
    }
    absl::Status commit = store_->Commit();
    EXPECT_TRUE(commit.ok()) << commit;
    return seq.ok() ? *seq : -1;
  }

  void Put(const AttemptRecord& r) {
    ASSERT_TRUE(store_->Begin().ok());
    absl::Status s = store_->PutAttempt(r);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(store_->Commit().ok());
  }

  int64_t Append(const ocx::v1::Event& e) {
    EXPECT_TRUE(store_->Begin().ok());
    auto seq = store_->AppendEvent(e);
    EXPECT_TRUE(seq.ok()) << seq.status();
    EXPECT_TRUE(store_->Commit().ok());
    return seq.ok() ? *seq : -1;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace ocx::store::testing

#endif  // OCX_TESTS_SERVER_STORE_TEST_UTIL_H_
