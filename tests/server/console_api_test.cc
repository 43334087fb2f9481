// The web console's JSON API (server/http/console_api.h) and its log tail
// (console_log.h) without a listener: a real Store file, a Dispatcher that
// recovers the stored evaluations and runs them on a FakeRunner (attempts
// never end unless told), and callers made up as Identity values — the
// rules compare uids, so no local accounts are needed.
#include "server/http/console_api.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/time_util.h"
#include "common/utf8_cut.h"
#include "common/work_dir_layout.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/http/console_log.h"
#include "server/http/json_text.h"
#include "tests/server/fake_runner.h"
#include "tests/server/store_test_util.h"

namespace ocx::server {
namespace {

using ::ocx::store::testing::MakeAttempt;
using ::ocx::store::testing::MakeEvaluation;
using ::ocx::store::testing::MakeTask;
using ::ocx::v1::Evaluation;
using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Value Parse(const std::string& json) {
  google::protobuf::Value value;
  auto status = google::protobuf::util::JsonStringToMessage(json, &value);
  EXPECT_TRUE(status.ok()) << status << "\n" << json;
  return value;
}

const google::protobuf::Value& Field(const google::protobuf::Value& v,
                                     const std::string& key) {
  static const google::protobuf::Value kNull;
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? kNull : it->second;
}

Identity Person(uid_t uid, const std::string& user, bool admin = false) {
  Identity id;
  id.uid = uid;
  id.gid = uid;
  id.user = user;
  id.admin = admin;
  id.via = "loopback http";
  return id;
}

class ConsoleApiTest : public store::testing::StoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreTest::SetUp());
    alice_ = Person(60001, "alice");
    bob_ = Person(60002, "bob");
    admin_ = Person(60003, "carol", /*admin=*/true);
  }

  void TearDown() override {
    if (started_) dispatcher_->Stop();
  }

  // Stores evaluation `id` owned by `owner` with one READY infer task, and
  // a work dir of its own under the test's directory.
  Evaluation Store(const std::string& id, const Identity& owner,
                   Evaluation::State state = Evaluation::QUEUED,
                   const std::string& name = "") {
    Evaluation e = MakeEvaluation(id, state);
    e.set_task_count(1);
    *e.mutable_owner() = OwnerOf(owner);
    e.set_work_dir(absl::StrCat(dir_.path(), "/", id));
    for (auto* stage : {e.mutable_spec()->mutable_infer(),
                        e.mutable_spec()->mutable_eval()}) {
      stage->mutable_runner()->set_type("LocalRunner");
    }
    if (!name.empty()) e.set_name(name);
    v1::Task t = MakeTask(id, v1::STAGE_INFER, 0);
    t.mutable_params()->set_work_dir(e.work_dir());
    Insert(e, {t});
    return e;
  }

  // Evaluation `id` of alice with five SUCCEEDED infer tasks and three
  // PENDING eval tasks: nothing of it changes without an event.
  void StoreQuiet(const std::string& id) {
    Evaluation e = MakeEvaluation(id, Evaluation::RUNNING);
    e.set_task_count(8);
    *e.mutable_owner() = OwnerOf(alice_);
    e.set_work_dir(absl::StrCat(dir_.path(), "/", id));
    std::vector<v1::Task> tasks;
    for (int i = 0; i < 5; ++i) {
      tasks.push_back(MakeTask(id, v1::STAGE_INFER, i, v1::Task::SUCCEEDED));
    }
    for (int i = 0; i < 3; ++i) {
      tasks.push_back(MakeTask(id, v1::STAGE_EVAL, i, v1::Task::PENDING));
    }
    Insert(e, tasks);
  }

  // The dispatcher, after recovering what is stored.
  void StartDispatcher() {
    dispatcher_ = std::make_unique<Dispatcher>(
        store_.get(), RunnerSet{{"LocalRunner", &runner_}}, &waker_,
        DispatcherOptions{});
    ASSERT_TRUE(dispatcher_->Recover().ok());
    dispatcher_->Start();
    started_ = true;
  }

  ConsoleApi Api() {
    if (dispatcher_ == nullptr) {
      dispatcher_ = std::make_unique<Dispatcher>(store_.get(), RunnerSet{},
                                                 &waker_, DispatcherOptions{});
    }
    ConsoleOptions options;
    options.store = store_.get();
    options.dispatcher = dispatcher_.get();
    options.access.daemon = Person(0, "root", true);
    return ConsoleApi(options);
  }

  Identity alice_, bob_, admin_;
  Waker waker_;
  testing::FakeRunner runner_;
  std::unique_ptr<Dispatcher> dispatcher_;
  bool started_ = false;
};

TEST_F(ConsoleApiTest, ListShowsEveryonesEvaluationsWithOwnersAndTheCaller) {
  Store("ea", alice_);
  Store("eb", bob_);
  JsonAnswer answer = Api().ListEvaluations(bob_, "", "");
  ASSERT_EQ(answer.status, 200) << answer.body;
  google::protobuf::Value v = Parse(answer.body);
  const auto& list = Field(v, "evaluations").list_value().values();
  ASSERT_EQ(list.size(), 2);
  EXPECT_EQ(Field(Field(list[0], "owner"), "user").string_value(), "bob");
  EXPECT_EQ(Field(Field(list[1], "owner"), "user").string_value(), "alice");
  EXPECT_EQ(Field(list[0], "state").string_value(), "QUEUED");
  EXPECT_EQ(Field(Field(v, "caller"), "user").string_value(), "bob");
  // No spec in a list.
  EXPECT_EQ(Field(list[0], "spec").kind_case(), 0);

  // Servers are open to every identified caller, as ListServers is.
  EXPECT_EQ(Api().ListServers(bob_).body, "{\"servers\":[]}");

  answer = Api().ListEvaluations(bob_, "me", "");
  EXPECT_EQ(Parse(answer.body)
                .struct_value()
                .fields()
                .at("evaluations")
                .list_value()
                .values_size(),
            1);
}

TEST_F(ConsoleApiTest, DetailsAreForTheOwnerAndAdminsOnly) {
  Store("ea", alice_);
  ConsoleApi api = Api();
  JsonAnswer mine = api.GetEvaluation(alice_, "ea");
  EXPECT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(Field(Parse(mine.body), "id").string_value(), "ea");
  EXPECT_EQ(api.GetEvaluation(admin_, "ea").status, 200);

  for (JsonAnswer refused :
       {api.GetEvaluation(bob_, "ea"), api.ListTasks(bob_, "ea"),
        api.GetResults(bob_, "ea"), api.Cancel(bob_, "ea"),
        api.Leaderboard(bob_, {"ea"})}) {
    EXPECT_EQ(refused.status, 403) << refused.body;
    google::protobuf::Value error = Field(Parse(refused.body), "error");
    EXPECT_EQ(Field(error, "code").string_value(), "PERMISSION_DENIED");
    EXPECT_THAT(Field(error, "message").string_value(),
                HasSubstr("belongs to alice"));
  }
  EXPECT_TRUE(api.AuthorizeTaskLog(alice_, "ea-infer-0").ok());
  EXPECT_TRUE(
      absl::IsPermissionDenied(api.AuthorizeTaskLog(bob_, "ea-infer-0")));
  JsonAnswer missing = api.GetEvaluation(alice_, "nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("evaluation nope not found"));
}

TEST_F(ConsoleApiTest, UserTextIsEscapedAndStillReadsBack) {
  const std::string name = "<script>alert('x')</script> & \"q\"";
  Store("ea", alice_, Evaluation::QUEUED, name);
  JsonAnswer answer = Api().GetEvaluation(alice_, "ea");
  ASSERT_EQ(answer.status, 200);
  EXPECT_THAT(answer.body, Not(HasSubstr("<")));
  EXPECT_THAT(answer.body, Not(HasSubstr(">")));
  EXPECT_THAT(answer.body, Not(HasSubstr("&")));
  EXPECT_EQ(Field(Parse(answer.body), "name").string_value(), name);
}

TEST_F(ConsoleApiTest, JsonStringMakesInvalidUtf8Valid) {
  const std::string bad = "ok \xff\xfe end \xe2\x82";  // stray and cut bytes
  std::string json = JsonString(bad);
  google::protobuf::Value v = Parse(json);
  EXPECT_EQ(v.string_value(),
            "ok \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9 \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
  // Overlong and surrogate forms are not UTF-8 either.
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(ConsoleApiTest, TasksCarryStateAndProgress) {
  Store("ea", alice_);
  JsonAnswer answer = Api().ListTasks(alice_, "ea");
  ASSERT_EQ(answer.status, 200) << answer.body;
  google::protobuf::Value v = Parse(answer.body);
  const auto& tasks = Field(v, "tasks").list_value().values();
  ASSERT_EQ(tasks.size(), 1);
  EXPECT_EQ(Field(tasks[0], "id").string_value(), "ea-infer-0");
  EXPECT_EQ(Field(tasks[0], "stage").string_value(), "STAGE_INFER");
  EXPECT_EQ(Field(tasks[0], "state").string_value(), "READY");
  EXPECT_FALSE(Field(v, "truncated").bool_value());
}

TEST_F(ConsoleApiTest, TasksComeInPagesOfOneStageAndState) {
  StoreQuiet("ea");
  ConsoleApi api = Api();
  std::vector<std::string> ids;
  std::string token;
  int pages = 0;
  do {
    JsonAnswer page =
        api.ListTasks(alice_, "ea", {"STAGE_INFER", "", "2", token});
    ASSERT_EQ(page.status, 200) << page.body;
    google::protobuf::Value v = Parse(page.body);
    for (const auto& t : Field(v, "tasks").list_value().values()) {
      EXPECT_EQ(Field(t, "stage").string_value(), "STAGE_INFER");
      ids.push_back(Field(t, "id").string_value());
    }
    token = Field(v, "next_page_token").string_value();
    EXPECT_EQ(Field(v, "truncated").bool_value(), !token.empty());
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(ids,
              ::testing::ElementsAre("ea-infer-0", "ea-infer-1", "ea-infer-2",
                                     "ea-infer-3", "ea-infer-4"));

  JsonAnswer pending = api.ListTasks(alice_, "ea", {"", "PENDING", "", ""});
  ASSERT_EQ(pending.status, 200) << pending.body;
  google::protobuf::Value parsed = Parse(pending.body);
  const auto& tasks = Field(parsed, "tasks").list_value().values();
  ASSERT_EQ(tasks.size(), 3);
  EXPECT_EQ(Field(tasks[0], "id").string_value(), "ea-eval-0");

  for (const auto& [query, field] :
       {std::pair<TaskQuery, std::string>{{"bogus", "", "", ""}, "stage:"},
        {{"", "NOPE", "", ""}, "state:"},
        {{"", "", "-1", ""}, "page_size:"},
        {{"", "", "x", ""}, "page_size:"}}) {
    JsonAnswer bad = api.ListTasks(alice_, "ea", query);
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_THAT(bad.body, HasSubstr(field));
  }
}

TEST_F(ConsoleApiTest, AnUnchangedAnswerIsNotModifiedUntilAnEvent) {
  StoreQuiet("ea");
  ConsoleApi api = Api();
  const TaskQuery infer{"STAGE_INFER", "", "2", ""};
  JsonAnswer e = api.GetEvaluation(alice_, "ea", /*with_spec=*/false);
  JsonAnswer t = api.ListTasks(alice_, "ea", infer);
  JsonAnswer r = api.GetResults(alice_, "ea");
  for (const JsonAnswer* a : {&e, &t, &r}) {
    ASSERT_EQ(a->status, 200) << a->body;
    ASSERT_FALSE(a->etag.empty()) << a->body;
  }
  JsonAnswer same = api.GetEvaluation(alice_, "ea", false, e.etag);
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  EXPECT_EQ(same.etag, e.etag);
  EXPECT_EQ(api.ListTasks(alice_, "ea", infer, t.etag).status, 304);
  EXPECT_EQ(api.GetResults(alice_, "ea", r.etag).status, 304);
  // A list of tags, weak or not, as browsers send them.
  EXPECT_EQ(api.GetEvaluation(alice_, "ea", false, "\"x\", W/" + e.etag).status,
            304);
  // Another answer's tag, another page's, or one of another ocxd: read.
  EXPECT_EQ(api.GetEvaluation(alice_, "ea", true, e.etag).status, 200);
  EXPECT_EQ(
      api.ListTasks(alice_, "ea", {"STAGE_EVAL", "", "2", ""}, t.etag).status,
      200);
  EXPECT_EQ(Api().GetEvaluation(alice_, "ea", false, e.etag).status, 200);
  // The tag does not skip authorization.
  EXPECT_EQ(api.GetEvaluation(bob_, "ea", false, e.etag).status, 403);
  EXPECT_EQ(api.ListTasks(bob_, "ea", infer, t.etag).status, 403);

  ASSERT_TRUE(store_->Begin().ok());
  v1::Event event;
  event.set_evaluation_id("ea");
  event.set_state("RUNNING");
  ASSERT_TRUE(store_->AppendEvent(event).ok());
  ASSERT_TRUE(store_->Commit().ok());
  JsonAnswer moved = api.GetEvaluation(alice_, "ea", false, e.etag);
  EXPECT_EQ(moved.status, 200);
  EXPECT_NE(moved.etag, e.etag);
  EXPECT_EQ(api.ListTasks(alice_, "ea", infer, t.etag).status, 200);
  EXPECT_EQ(api.GetResults(alice_, "ea", r.etag).status, 200);
  EXPECT_EQ(api.GetEvaluation(alice_, "ea", false, moved.etag).status, 304);
}

TEST_F(ConsoleApiTest, APageWithReadyOrRunningTasksHasNoTag) {
  Store("ea", alice_);  // one READY task: its pending reason may change
  JsonAnswer answer = Api().ListTasks(alice_, "ea");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.etag, "");
  EXPECT_FALSE(Api().GetEvaluation(alice_, "ea").etag.empty());
}

TEST_F(ConsoleApiTest, ResultsAndLeaderboardComeFromTheResultsFiles) {
  Evaluation a = Store("ea", alice_, Evaluation::SUCCEEDED);
  Evaluation b = Store("eb", alice_, Evaluation::SUCCEEDED);
  Store("ec", bob_, Evaluation::SUCCEEDED);  // not alice's: left out
  for (const auto& [e, score] :
       {std::pair<Evaluation, double>{a, 75}, {b, 50}}) {
    std::string path =
        layout::InWorkDir(e.work_dir(), layout::ResultFile("m0", "ds0"));
    ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
    ASSERT_TRUE(
        WriteFileAtomic(path, absl::StrCat("{\"accuracy\": ", score, "}"))
            .ok());
  }
  JsonAnswer results = Api().GetResults(alice_, "ea");
  ASSERT_EQ(results.status, 200) << results.body;
  google::protobuf::Value r = Parse(results.body);
  const auto& row = Field(r, "rows").list_value().values(0);
  EXPECT_EQ(Field(row, "metric").string_value(), "accuracy");
  EXPECT_EQ(Field(Field(row, "values").list_value().values(0), "value")
                .number_value(),
            75);

  JsonAnswer board = Api().Leaderboard(alice_, {});
  ASSERT_EQ(board.status, 200) << board.body;
  google::protobuf::Value l = Parse(board.body);
  EXPECT_EQ(Field(l, "evaluation_ids").list_value().values_size(), 2);
  const google::protobuf::Value& table = Field(l, "results");
  ASSERT_EQ(Field(table, "model_abbrs").list_value().values_size(), 2);
  EXPECT_EQ(Field(table, "model_abbrs").list_value().values(0).string_value(),
            "m0@eb");  // newest first
  const auto& values =
      Field(Field(table, "rows").list_value().values(0), "values").list_value();
  EXPECT_EQ(Field(values.values(0), "value").number_value(), 50);
  EXPECT_EQ(Field(values.values(1), "value").number_value(), 75);
}

TEST_F(ConsoleApiTest, CancelTakesTheApisPathAndNamesTheCaller) {
  Store("ea", alice_);
  ASSERT_NO_FATAL_FAILURE(StartDispatcher());
  ConsoleApi api = Api();
  EXPECT_EQ(api.Cancel(bob_, "ea").status, 403);
  JsonAnswer done = api.Cancel(alice_, "ea");
  ASSERT_EQ(done.status, 200)
      << done.body << "\n"
      << [&] {
           std::string all;
           for (const v1::Event& e : store_->ListEvents("ea", 0, 100).value()) {
             absl::StrAppend(&all, e.message(), "\n");
           }
           return all;
         }();
  std::string state = Field(Parse(done.body), "state").string_value();
  EXPECT_TRUE(state == "CANCELLING" || state == "CANCELLED") << state;
  auto events = store_->ListEvents("ea", 0, 100);
  ASSERT_TRUE(events.ok());
  bool named = false;
  for (const v1::Event& e : *events) {
    named |= absl::StrContains(e.message(), "alice (uid 60001") &&
             absl::StrContains(e.message(), "loopback http");
  }
  EXPECT_TRUE(named) << "no event names the caller";
  EXPECT_EQ(api.Cancel(alice_, "").status, 400);
}

class LogTailTest : public store::testing::StoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreTest::SetUp());
    Insert(MakeEvaluation("e1", Evaluation::RUNNING),
           {MakeTask("e1", v1::STAGE_INFER, 0, v1::Task::RUNNING)});
    attempt_ = MakeAttempt("e1-infer-0", 1, v1::Attempt::RUNNING);
    attempt_.attempt.set_log_path(dir_.path() + "/1.log");
    Put(attempt_);
  }

  void AppendLog(const std::string& text) {
    std::ofstream(attempt_.attempt.log_path(), std::ios::app) << text;
  }

  store::AttemptRecord attempt_;
};

TEST_F(LogTailTest, StreamsWhatTheLogGainsThenEndsWithTheTask) {
  LogTail tail(store_.get(), "e1-infer-0", 0, 0);
  bool done = true;
  absl::StatusOr<std::string> events = tail.Poll(&done);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(*events, "");  // no log file yet
  EXPECT_FALSE(done);

  AppendLog("first line\n");
  events = tail.Poll(&done);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, HasSubstr("event: log\ndata: "));
  EXPECT_THAT(*events, HasSubstr("\"text\":\"first line\\n\""));
  EXPECT_THAT(*events, HasSubstr("\"offset\":11"));

  AppendLog("<b>x</b> \xff\n");
  events = tail.Poll(&done);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events,
              HasSubstr("\\u003cb\\u003ex\\u003c/b\\u003e \xEF\xBF\xBD"));
  EXPECT_THAT(*events, Not(HasSubstr("<")));
  EXPECT_EQ(tail.Poll(&done).value(), "");

  // The attempt and the task end: the stream ends with the task's state.
  attempt_.attempt.set_state(v1::Attempt::SUCCEEDED);
  Put(attempt_);
  v1::Task t = MakeTask("e1", v1::STAGE_INFER, 0, v1::Task::SUCCEEDED);
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->UpdateTask(t).ok());
  ASSERT_TRUE(store_->Commit().ok());
  std::string rest;
  for (int i = 0; i < 5 && !done; ++i) rest += tail.Poll(&done).value();
  EXPECT_TRUE(done);
  EXPECT_THAT(rest, HasSubstr("event: end\ndata: {\"state\":\"SUCCEEDED\"}"));
}

TEST_F(LogTailTest, AnUnknownTaskIsNotFound) {
  LogTail tail(store_.get(), "nope", 0, 0);
  bool done = false;
  EXPECT_TRUE(absl::IsNotFound(tail.Poll(&done).status()));
}

}  // namespace
}  // namespace ocx::server
