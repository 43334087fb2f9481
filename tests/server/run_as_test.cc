// Run as the submitter, end to end below the daemon: the real gRPC API
// (its CallerResolver says who calls), the real dispatcher with
// run_as_owners (ocxd as root), a real LocalRunner and ocx-shim. A
// `command` task writes `id -u` and `id -G` into its work dir: it runs as
// its owner, whose files the work dir, log and task.json are. Root-owned
// evaluations and work dirs outside the owner's roots are refused.
// Skipped unless run as root (tests/test_users.h).
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/waker.h"
#include "common/work_dir_layout.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ocx/v1/service.grpc.pb.h"
#include "runners/local/local_runner.h"
#include "server/api/evaluation_service.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/store.h"
#include "tests/test_users.h"

namespace ocx::server {
namespace {

using ::testing::HasSubstr;

// A spec of one model and one dataset whose tasks record who they run as.
v1::EvaluationSpec IdSpec(const std::string& work_dir = "") {
  v1::EvaluationSpec spec;
  auto* model = spec.add_models();
  model->set_abbr("model0");
  model->set_type("OpenAISDK");
  model->set_path("m");
  auto* ds = spec.add_datasets();
  ds->set_abbr("ds0");
  ds->set_path("/nonexistent/ds0.jsonl");
  spec.set_work_dir(work_dir);
  for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
    auto* runner = stage->mutable_runner();
    runner->set_type("LocalRunner");
    runner->set_retry(0);
    auto* task = runner->mutable_task();
    task->set_type("command");
    for (const char* a :
         {"/bin/sh", "-c",
          "d=$1; mkdir -p $d/predictions/model0 $d/results/model0 && "
          "echo '{{}}' > $d/predictions/model0/ds0.json && "
          "echo '{{}}' > $d/results/model0/ds0.json && "
          "id -u > $d/$2.uid && id -G > $d/$2.gids",
          "sh", "{work_dir}", "{stage}"}) {
      task->add_argv(a);
    }
  }
  return spec;
}

// The text of <wd>/<stage><ext>; "" when missing.
std::string FileText(const std::string& wd, const char* stage,
                     const char* ext) {
  absl::StatusOr<std::string> text =
      ReadFile(absl::StrCat(wd, "/", stage, ext));
  return text.ok() ? *text : "";
}

struct Stat {
  uid_t uid = 0;
  gid_t gid = 0;
  int mode = -1;
};

Stat StatOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {};
  return {st.st_uid, st.st_gid, static_cast<int>(st.st_mode & 07777)};
}

class RunAsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = ocx::testing::RunAsSkipReason();
    if (!why.empty()) GTEST_SKIP() << why;
    absl::StatusOr<Identity> a = ocx::testing::TestUser("ocxrun-a", "ocxrun-g");
    absl::StatusOr<Identity> b = ocx::testing::TestUser("ocxrun-b");
    absl::StatusOr<Identity> root = IdentityOfUid(0, "");
    ASSERT_TRUE(a.ok() && b.ok() && root.ok()) << a.status() << b.status();
    a_ = *a;
    b_ = *b;
    root_id_ = *root;
    caller_ = a_;
    char tmpl[] = "/tmp/ocxrun-api.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0711);  // owners pass through to their dirs
    ASSERT_TRUE(MakeDirs(dir_ + "/work").ok());
    chmod((dir_ + "/work").c_str(), 0711);
    ASSERT_TRUE(MakeDirs(dir_ + "/shared").ok());  // root's, 0755
    chmod((dir_ + "/shared").c_str(), 0755);

    absl::StatusOr<std::unique_ptr<store::Store>> store =
        store::Store::Open(dir_ + "/ocx.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    runners::LocalRunner::Options local;
    local.shim_path = OCX_SHIM_PATH;
    local.kill_grace_s = 1;
    absl::StatusOr<std::unique_ptr<runners::LocalRunner>> runner =
        runners::LocalRunner::Create(local);
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = *std::move(runner);
    DispatcherOptions options;
    options.initial_backoff_ms = 100;
    options.run_as_owners = true;  // as ocxd does when it runs as root
    dispatcher_ = std::make_unique<Dispatcher>(store_.get(), runner_.get(),
                                               &waker_, options);
    ASSERT_TRUE(dispatcher_->Recover().ok());
    dispatcher_->Start();

    SubmissionPolicy policy;  // as ocxd sets it up as root
    policy.work_root = dir_ + "/work";
    policy.per_user_work_root = true;
    policy.work_dir_roots = {dir_ + "/work/{user}", dir_ + "/shared"};
    policy.refuse_root_owner = true;
    AccessPolicy access;
    absl::StatusOr<Identity> daemon = DaemonIdentity("");
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    access.daemon = *daemon;
    service_ = std::make_unique<EvaluationServiceImpl>(
        store_.get(), dispatcher_.get(), policy,
        [this](const grpc::ServerContext&) { return caller_; }, access);
    const std::string target = absl::StrCat("unix://", dir_, "/ocxd.sock");
    grpc::ServerBuilder builder;
    builder.AddListeningPort(target, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::EvaluationService::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) {
      service_->Shutdown();
      server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    }
    if (dispatcher_ != nullptr) dispatcher_->Stop();
    if (!dir_.empty() && getenv("OCX_KEEP_TEST_DIRS") == nullptr) {
      int rc = system(absl::StrCat("rm -rf '", dir_, "'").c_str());
      (void)rc;
    }
  }

  grpc::Status Create(const v1::EvaluationSpec& spec, v1::Evaluation* out) {
    grpc::ClientContext ctx;
    v1::CreateEvaluationRequest req;
    *req.mutable_spec() = spec;
    return stub_->CreateEvaluation(&ctx, req, out);
  }

  v1::Evaluation WaitForEnd(const std::string& id) {
    v1::Evaluation e;
    for (int i = 0; i < 300; ++i) {
      grpc::ClientContext ctx;
      v1::GetEvaluationRequest req;
      req.set_id(id);
      if (stub_->GetEvaluation(&ctx, req, &e).ok() &&
          (e.state() == v1::Evaluation::SUCCEEDED ||
           e.state() == v1::Evaluation::FAILED ||
           e.state() == v1::Evaluation::CANCELLED)) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return e;
  }

  Identity a_, b_, root_id_, caller_;
  std::string dir_;
  Waker waker_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runners::LocalRunner> runner_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<EvaluationServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::EvaluationService::Stub> stub_;
};

TEST_F(RunAsTest, TasksRunAsTheOwnerInAWorkDirOfTheirs) {
  v1::Evaluation e;
  grpc::Status s = Create(IdSpec(), &e);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // No work_dir: <work_root>/<user>/<id>.
  const std::string user_root = dir_ + "/work/ocxrun-a";
  EXPECT_EQ(e.work_dir(), absl::StrCat(user_root, "/", e.id()));
  EXPECT_EQ(e.owner().uid(), a_.uid);
  v1::Evaluation done = WaitForEnd(e.id());
  ASSERT_EQ(done.state(), v1::Evaluation::SUCCEEDED) << done.DebugString();

  for (const char* stage : {"infer", "eval"}) {
    const std::string wd = e.work_dir();
    EXPECT_EQ(absl::StripAsciiWhitespace(FileText(wd, stage, ".uid")),
              absl::StrCat(a_.uid))
        << stage;
    std::set<std::string> want, got;
    for (gid_t g : a_.groups) want.insert(absl::StrCat(g));
    for (absl::string_view g : absl::StrSplit(
             absl::StripAsciiWhitespace(FileText(wd, stage, ".gids")), ' ',
             absl::SkipEmpty())) {
      got.insert(std::string(g));
    }
    EXPECT_EQ(got, want) << stage;
  }
  // The owner's files, not world-readable.
  Stat st = StatOf(user_root);
  EXPECT_EQ(st.uid, a_.uid);
  EXPECT_EQ(st.mode, 0750);
  st = StatOf(e.work_dir());
  EXPECT_EQ(st.uid, a_.uid);
  EXPECT_EQ(st.gid, a_.gid);
  EXPECT_EQ(st.mode, 0750);
  grpc::ClientContext ctx;
  v1::ListTasksRequest req;
  req.set_evaluation_id(e.id());
  v1::ListTasksResponse tasks;
  ASSERT_TRUE(stub_->ListTasks(&ctx, req, &tasks).ok());
  ASSERT_EQ(tasks.tasks_size(), 2);
  for (const v1::Task& t : tasks.tasks()) {
    grpc::ClientContext c;
    v1::GetTaskRequest get;
    get.set_id(t.id());
    v1::Task full;
    ASSERT_TRUE(stub_->GetTask(&c, get, &full).ok());
    ASSERT_EQ(full.attempts_size(), 1);
    st = StatOf(full.attempts(0).log_path());
    EXPECT_EQ(st.uid, a_.uid) << full.attempts(0).log_path();
    EXPECT_EQ(st.gid, a_.gid);
    EXPECT_EQ(st.mode, 0640);
    st = StatOf(layout::TaskJsonFile(e.work_dir(), t.id()));
    EXPECT_EQ(st.uid, a_.uid);
    EXPECT_EQ(st.mode, 0640);
    st = StatOf(layout::AttemptDir(e.work_dir(), t.id(), 1));
    EXPECT_EQ(st.uid, a_.uid);
    EXPECT_EQ(st.mode, 0750);
  }
  // What the task wrote follows its umask (027).
  st = StatOf(e.work_dir() + "/infer.uid");
  EXPECT_EQ(st.uid, a_.uid);
  EXPECT_EQ(st.mode, 0640);
}

TEST_F(RunAsTest, ARootOwnedEvaluationIsRefusedAtSubmit) {
  caller_ = root_id_;
  v1::Evaluation e;
  grpc::Status s = Create(IdSpec(), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("allow_root_tasks"));
}

TEST_F(RunAsTest, WorkDirsOutsideTheOwnersRootsAreRefused) {
  v1::Evaluation e;
  for (const char* bad : {"/etc", "/", "/etc/ocx-run"}) {
    grpc::Status s = Create(IdSpec(bad), &e);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr("work_dir: "));
    EXPECT_THAT(s.error_message(), HasSubstr("allowed roots: "));
  }
  EXPECT_FALSE(PathExists("/etc/ocx-run"));
  // A link inside the owner's root that leads to /etc.
  const std::string user_root = dir_ + "/work/ocxrun-a";
  ASSERT_TRUE(MakeDirs(user_root).ok());
  ASSERT_EQ(symlink("/etc", (user_root + "/escape").c_str()), 0);
  grpc::Status s = Create(IdSpec(user_root + "/escape/x"), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("resolves to /etc/x"));
  EXPECT_FALSE(PathExists("/etc/x"));
  // Another user's root is not ocxrun-b's.
  caller_ = b_;
  s = Create(IdSpec(user_root + "/for-b"), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("ocxrun-b"));
}

TEST_F(RunAsTest, TheWorkDirIsMadeOnlyWhereTheOwnerMayMakeIt) {
  // dir_/shared is an allowed root but root's own, 0755.
  v1::Evaluation e;
  grpc::Status s = Create(IdSpec(dir_ + "/shared/e1"), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("work_dir: ocxrun-a"));
  EXPECT_THAT(s.error_message(), HasSubstr("Permission denied"));
  EXPECT_FALSE(PathExists(dir_ + "/shared/e1"));
}

}  // namespace
}  // namespace ocx::server
