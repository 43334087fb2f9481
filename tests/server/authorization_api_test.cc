// Ownership and authorization over the real gRPC API (docs/security.md):
// real local accounts (ocxown-a, ocxown-b, and ocxown-adm in the admin group
// ocxown-admins, created when missing; the tests skip when not root), a real
// Store file, a running Dispatcher whose runner never ends an attempt, and a
// per-test CallerResolver that takes each call's identity from a test
// metadata header. Also the rules themselves, without gRPC.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/api/authorization.h"
#include "tests/server/api_test_util.h"
#include "tests/server/fake_runner.h"

namespace ocx::server {
namespace {

using ::ocx::store::testing::MakeAttempt;
using ::ocx::store::testing::MakeEvaluation;
using ::ocx::store::testing::MakeTask;
using ::ocx::v1::Evaluation;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kUserA[] = "ocxown-a";
constexpr char kUserB[] = "ocxown-b";
constexpr char kAdmin[] = "ocxown-adm";
constexpr char kAdminGroup[] = "ocxown-admins";
// The test's own header naming the account a call is made as.
constexpr char kAsHeader[] = "x-ocx-test-user";

// Makes the accounts these tests use when they are missing (never removes
// any: other runs may share them).
void EnsureAccounts() {
  if (getgrnam(kAdminGroup) == nullptr) {
    ASSERT_EQ(
        std::system(absl::StrCat("groupadd --system ", kAdminGroup).c_str()),
        0);
  }
  for (const char* user : {kUserA, kUserB, kAdmin}) {
    if (getpwnam(user) != nullptr) continue;
    std::string cmd =
        absl::StrCat("useradd --system --no-create-home ",
                     std::string(user) == kAdmin
                         ? absl::StrCat("--groups ", kAdminGroup, " ")
                         : "",
                     user);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
}

class AuthorizationApiTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to create the local accounts " << kUserA
                   << ", " << kUserB << " and " << kAdmin;
    }
    ASSERT_NO_FATAL_FAILURE(EnsureAccounts());
    for (const char* user : {kUserA, kUserB, kAdmin}) {
      absl::StatusOr<Identity> id = IdentityOfUser(user, kAdminGroup);
      ASSERT_TRUE(id.ok()) << id.status();
      id->via = "test header";
      identities_[user] = *id;
    }
    ASSERT_TRUE(identities_[kAdmin].admin);
    ASSERT_FALSE(identities_[kUserA].admin);
    ASSERT_NO_FATAL_FAILURE(ApiTest::SetUp());
    dispatcher_->Start();
  }

  void TearDown() override {
    if (service_ == nullptr) return;  // skipped
    ApiTest::TearDown();
    dispatcher_->Stop();
  }

  CallerResolver MakeResolver() override {
    return [this](const grpc::ServerContext& ctx) -> absl::StatusOr<Identity> {
      auto it = ctx.client_metadata().find(kAsHeader);
      if (it == ctx.client_metadata().end()) {
        return absl::UnauthenticatedError("no test user header");
      }
      std::string user(it->second.data(), it->second.size());
      auto found = identities_.find(user);
      if (found == identities_.end()) {
        return absl::UnauthenticatedError(absl::StrCat("unknown ", user));
      }
      return found->second;
    };
  }
  void ConfigureAccess(AccessPolicy* access) override {
    access->admin_group = kAdminGroup;
  }
  RunnerSet Runners() override { return {{"LocalRunner", &runner_}}; }

  // A context for a call made as `user`.
  static std::unique_ptr<grpc::ClientContext> As(const std::string& user) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata(kAsHeader, user);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return ctx;
  }

  v1::EvaluationSpec Spec() const {
    v1::EvaluationSpec spec;
    auto* model = spec.add_models();
    model->set_abbr("m0");
    model->set_type("OpenAISDK");
    model->set_path("stories260K");
    auto* ds = spec.add_datasets();
    ds->set_abbr("ds0");
    ds->set_path("ds0.jsonl");
    for (v1::StageConfig* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
      stage->mutable_runner()->mutable_task()->set_type("command");
      stage->mutable_runner()->mutable_task()->add_argv("/bin/true");
    }
    return spec;
  }

  // Creates an evaluation as `user`; its id, or "" with a test failure.
  std::string Create(const std::string& user,
                     const std::string& request_id = "",
                     const std::string& name = "") {
    v1::CreateEvaluationRequest request;
    *request.mutable_spec() = Spec();
    request.mutable_spec()->set_work_dir(
        absl::StrCat(dir_.path(), "/work-", user, "-", ++created_));
    request.set_request_id(request_id);
    request.set_name(name);
    v1::Evaluation e;
    grpc::Status status = stub_->CreateEvaluation(As(user).get(), request, &e);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (status.ok()) EXPECT_EQ(e.owner().user(), user);
    return e.id();
  }

  grpc::Status Get(const std::string& user, const std::string& id) {
    v1::GetEvaluationRequest request;
    request.set_id(id);
    v1::Evaluation e;
    return stub_->GetEvaluation(As(user).get(), request, &e);
  }
  grpc::Status Cancel(const std::string& user, const std::string& id) {
    v1::CancelEvaluationRequest request;
    request.set_id(id);
    v1::Evaluation e;
    return stub_->CancelEvaluation(As(user).get(), request, &e);
  }
  grpc::Status Rescore(const std::string& user, const std::string& id) {
    v1::RescoreEvaluationRequest request;
    request.set_id(id);
    v1::Evaluation e;
    return stub_->RescoreEvaluation(As(user).get(), request, &e);
  }
  grpc::Status Tasks(const std::string& user, const std::string& id) {
    v1::ListTasksRequest request;
    request.set_evaluation_id(id);
    v1::ListTasksResponse response;
    return stub_->ListTasks(As(user).get(), request, &response);
  }
  grpc::Status Task(const std::string& user, const std::string& task_id) {
    v1::GetTaskRequest request;
    request.set_id(task_id);
    v1::Task task;
    return stub_->GetTask(As(user).get(), request, &task);
  }
  grpc::Status Results(const std::string& user, const std::string& id) {
    v1::GetEvaluationResultsRequest request;
    request.set_name(id);
    v1::EvaluationResults results;
    return stub_->GetEvaluationResults(As(user).get(), request, &results);
  }
  grpc::Status Log(const std::string& user, const std::string& task_id,
                   std::string* data = nullptr) {
    v1::ReadTaskLogRequest request;
    request.set_task_id(task_id);
    auto ctx = As(user);
    auto reader = stub_->ReadTaskLog(ctx.get(), request);
    v1::ReadTaskLogResponse chunk;
    while (reader->Read(&chunk)) {
      if (data != nullptr) data->append(chunk.data());
    }
    return reader->Finish();
  }
  grpc::Status Watch(const std::string& user, const std::string& id,
                     int* responses) {
    v1::WatchEvaluationRequest request;
    request.set_id(id);
    auto ctx = As(user);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    auto reader = stub_->WatchEvaluation(ctx.get(), request);
    v1::WatchEvaluationResponse response;
    *responses = 0;
    while (reader->Read(&response)) ++*responses;
    return reader->Finish();
  }
  std::vector<v1::Evaluation> List(const std::string& user,
                                   const std::string& owner,
                                   grpc::Status* status = nullptr) {
    v1::ListEvaluationsRequest request;
    request.set_owner(owner);
    v1::ListEvaluationsResponse response;
    grpc::Status s = stub_->ListEvaluations(As(user).get(), request, &response);
    if (status != nullptr) *status = s;
    EXPECT_TRUE(status != nullptr || s.ok()) << s.error_message();
    return {response.evaluations().begin(), response.evaluations().end()};
  }
  std::vector<std::string> EventMessages(const std::string& id) {
    auto events = store_->ListEvents(id, 0, 100);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> out;
    if (events.ok()) {
      for (const v1::Event& e : *events) out.push_back(e.message());
    }
    return out;
  }
  // "ocxown-a (uid 1234, via test header)".
  std::string Described(const std::string& user) {
    return DescribeCaller(identities_[user]);
  }

  // The refusal every read and cancel of A's evaluation gives B.
  static void ExpectDenied(const grpc::Status& status,
                           const std::string& action) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("belongs to ocxown-a"));
    EXPECT_THAT(status.error_message(),
                HasSubstr("only ocxown-a and admins (root and members of "
                          "group ocxown-admins) may " +
                          action));
    // Nothing else about the evaluation: not its name, not its work dir.
    EXPECT_THAT(status.error_message(), Not(HasSubstr("secret-name")));
    EXPECT_THAT(status.error_message(), Not(HasSubstr("work-")));
  }

  testing::FakeRunner runner_;
  std::map<std::string, Identity> identities_;
  int created_ = 0;
};

TEST_F(AuthorizationApiTest, AnotherUserCannotReadOrCancelButTheOwnerCan) {
  std::string id = Create(kUserA, "", "secret-name");
  ASSERT_FALSE(id.empty());
  const std::string task = absl::StrCat(id, "-infer-0");
  int watched = 0;

  ExpectDenied(Get(kUserB, id), "see it");
  ExpectDenied(Cancel(kUserB, id), "cancel it");
  ExpectDenied(Tasks(kUserB, id), "see its tasks");
  ExpectDenied(Task(kUserB, task), "see its tasks");
  ExpectDenied(Log(kUserB, task), "read its logs");
  ExpectDenied(Results(kUserB, id), "read its results");
  ExpectDenied(Watch(kUserB, id, &watched), "watch it");
  ExpectDenied(Rescore(kUserB, id), "rescore it");
  EXPECT_EQ(watched, 0) << "a refused watch sends nothing";

  EXPECT_TRUE(Get(kUserA, id).ok());
  EXPECT_TRUE(Tasks(kUserA, id).ok());
  EXPECT_TRUE(Task(kUserA, task).ok());
  EXPECT_TRUE(Results(kUserA, id).ok());
  grpc::Status log = Log(kUserA, task);
  EXPECT_NE(log.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << log.error_message();
  // The refused cancel changed nothing; the owner's works and is audited.
  EXPECT_THAT(EventMessages(id), Not(::testing::Contains(HasSubstr("cancel"))));
  ASSERT_TRUE(Cancel(kUserA, id).ok());
  EXPECT_THAT(EventMessages(id),
              ::testing::Contains(
                  absl::StrCat("cancel requested by ", Described(kUserA))));
}

TEST_F(AuthorizationApiTest, AnAdminMayReadAndCancelAnyonesEvaluation) {
  std::string id = Create(kUserA);
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(Get(kAdmin, id).ok());
  EXPECT_TRUE(Tasks(kAdmin, id).ok());
  EXPECT_TRUE(Results(kAdmin, id).ok());
  ASSERT_TRUE(Cancel(kAdmin, id).ok());
  const std::string who = Described(kAdmin);
  EXPECT_THAT(who, HasSubstr("admin"));
  EXPECT_THAT(EventMessages(id),
              ::testing::Contains(absl::StrCat("cancel requested by ", who)));
}

TEST_F(AuthorizationApiTest, CreationIsAuditedWithTheCaller) {
  std::string id = Create(kUserB);
  ASSERT_FALSE(id.empty());
  std::vector<std::string> messages = EventMessages(id);
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages[0], absl::StrCat("evaluation created with 2 tasks by ",
                                      Described(kUserB)));
  EXPECT_THAT(messages[0],
              HasSubstr(absl::StrCat("ocxown-b (uid ", identities_[kUserB].uid,
                                     ", via test header)")));
}

TEST_F(AuthorizationApiTest, ListingShowsEveryonesOwnersAndFiltersByOwner) {
  std::string a = Create(kUserA);
  std::string b = Create(kUserB);
  auto ids_and_owners = [](const std::vector<v1::Evaluation>& list) {
    std::vector<std::string> out;
    for (const auto& e : list) out.push_back(e.id() + ":" + e.owner().user());
    return out;
  };
  EXPECT_THAT(ids_and_owners(List(kUserB, "")),
              UnorderedElementsAre(a + ":ocxown-a", b + ":ocxown-b"));
  EXPECT_THAT(ids_and_owners(List(kUserB, "me")),
              UnorderedElementsAre(b + ":ocxown-b"));
  EXPECT_THAT(ids_and_owners(List(kUserA, "me")),
              UnorderedElementsAre(a + ":ocxown-a"));
  EXPECT_THAT(ids_and_owners(List(kUserB, kUserA)),
              UnorderedElementsAre(a + ":ocxown-a"));
  EXPECT_TRUE(List(kAdmin, "me").empty());
  grpc::Status status;
  List(kUserA, "ocxown-nobody", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("owner: "));
  EXPECT_THAT(status.error_message(), HasSubstr("ocxown-nobody"));
  // An unidentified caller is turned away.
  v1::ListEvaluationsResponse response;
  grpc::ClientContext anonymous;
  EXPECT_EQ(stub_->ListEvaluations(&anonymous, {}, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthorizationApiTest, ARequestIdIsScopedToItsOwner) {
  std::string a = Create(kUserA, "shared-key");
  ASSERT_FALSE(a.empty());
  // B's Create with the same key is B's own request: a new evaluation of
  // B's, not A's, and not refused as a reuse of the key.
  std::string b = Create(kUserB, "shared-key");
  ASSERT_FALSE(b.empty());
  EXPECT_NE(a, b);
  // Each owner's retry finds its own evaluation. (The work dir differs per
  // call here, so the spec does too: build the same request again.)
  v1::CreateEvaluationRequest retry;
  *retry.mutable_spec() = Spec();
  retry.mutable_spec()->set_work_dir(
      absl::StrCat(dir_.path(), "/work-", kUserA, "-1"));
  retry.set_request_id("shared-key");
  v1::Evaluation again;
  grpc::Status status =
      stub_->CreateEvaluation(As(kUserA).get(), retry, &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(again.id(), a);
  EXPECT_EQ(again.owner().user(), kUserA);
  // A's retry with another request under the key names only A's own.
  retry.set_name("changed");
  status = stub_->CreateEvaluation(As(kUserA).get(), retry, &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr(a));
  EXPECT_THAT(status.error_message(), Not(HasSubstr(b)));
}

TEST_F(AuthorizationApiTest, AReplicaLogIsForAdminsAndThePoolsUsers) {
  // The dispatcher is the store's writer: stop it to write these rows.
  dispatcher_->Stop();
  Evaluation owned = MakeEvaluation("ea", Evaluation::RUNNING);
  *owned.mutable_owner() = OwnerOf(identities_[kUserA]);
  Insert(owned);
  v1::ServerPool pool;
  pool.set_id("srv-00aa11bb22");
  pool.set_fingerprint("00aa000000000000");
  pool.set_model_abbr("m0");
  v1::Replica replica;
  replica.set_id("srv-00aa11bb22-1");
  replica.set_pool_id(pool.id());
  replica.set_state(v1::Replica::READY);
  replica.set_attempt(1);
  store::AttemptRecord start =
      MakeAttempt(replica.id(), 1, v1::Attempt::RUNNING);
  start.attempt.set_log_path(dir_.path() + "/replica.log");
  ASSERT_TRUE(WriteFileAtomic(dir_.path() + "/replica.log", "serving\n").ok());
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->PutServerPool(pool).ok());
  ASSERT_TRUE(store_->PutPoolUser({pool.id(), "ea", "m0"}).ok());
  ASSERT_TRUE(store_->PutReplica(replica).ok());
  ASSERT_TRUE(store_->PutReplicaAttempt(start).ok());
  ASSERT_TRUE(store_->Commit().ok());

  std::string data;
  ASSERT_TRUE(Log(kUserA, replica.id(), &data).ok());
  EXPECT_EQ(data, "serving\n");
  data.clear();
  ASSERT_TRUE(Log(kAdmin, replica.id(), &data).ok());
  EXPECT_EQ(data, "serving\n");
  grpc::Status denied = Log(kUserB, replica.id());
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(),
              HasSubstr("the log of replica srv-00aa11bb22-1 (server pool "
                        "srv-00aa11bb22) is shown only to admins"));
  // The servers themselves are listed to anyone.
  v1::ListServersResponse servers;
  ASSERT_TRUE(stub_->ListServers(As(kUserB).get(), {}, &servers).ok());
  EXPECT_EQ(servers.servers_size(), 1);
}

// ocxd run by an ordinary account (here: ocxown-a, injected as the daemon's
// identity): only that account and admins may submit or plan.
class NonRootDaemonTest : public AuthorizationApiTest {
 protected:
  void ConfigureAccess(AccessPolicy* access) override {
    AuthorizationApiTest::ConfigureAccess(access);
    access->daemon = identities_[kUserA];
  }
};

TEST_F(NonRootDaemonTest, OnlyTheDaemonsAccountAndAdminsMaySubmit) {
  v1::CreateEvaluationRequest request;
  *request.mutable_spec() = Spec();
  request.mutable_spec()->set_work_dir(dir_.path() + "/work-refused");
  v1::Evaluation e;
  grpc::Status status = stub_->CreateEvaluation(As(kUserB).get(), request, &e);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat("ocxd runs as user ocxown-a (uid ",
                                     identities_[kUserA].uid,
                                     "), so only ocxown-a and admins")));
  EXPECT_THAT(status.error_message(), HasSubstr("Ask an admin"));
  EXPECT_THAT(status.error_message(), HasSubstr("system ocxd service"));
  EXPECT_FALSE(PathExists(dir_.path() + "/work-refused"));
  v1::PlanEvaluationRequest plan;
  *plan.mutable_spec() = Spec();
  v1::PlanEvaluationResponse planned;
  status = stub_->PlanEvaluation(As(kUserB).get(), plan, &planned);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("may plan evaluations"));

  EXPECT_FALSE(Create(kUserA).empty());
  EXPECT_FALSE(Create(kAdmin).empty());
  EXPECT_TRUE(List(kUserB, "").size() == 2);
}

// The rules without gRPC or real accounts.
Identity Someone(uid_t uid, const std::string& user, bool admin = false) {
  Identity id;
  id.uid = uid;
  id.gid = uid;
  id.user = user;
  id.admin = admin;
  id.via = "unix socket";
  return id;
}

TEST(AuthorizationRulesTest, OwnerAdminAndRowsFromBeforeOwners) {
  AccessPolicy policy;
  policy.daemon = Someone(500, "svc");
  const Identity alice = Someone(1001, "alice");
  const Identity bob = Someone(1002, "bob");
  const Identity admin = Someone(0, "root", true);
  const v1::Owner of_alice = OwnerOf(alice);
  EXPECT_TRUE(
      AuthorizeEvaluation(alice, "evaluation e1", of_alice, "see it", policy)
          .ok());
  EXPECT_TRUE(
      AuthorizeEvaluation(admin, "evaluation e1", of_alice, "see it", policy)
          .ok());
  absl::Status denied =
      AuthorizeEvaluation(bob, "evaluation e1", of_alice, "see it", policy);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(),
            "evaluation e1 belongs to alice; only alice and admins (root) may "
            "see it (you are bob)");
  // A row without an owner is the daemon account's.
  EXPECT_TRUE(
      AuthorizeEvaluation(policy.daemon, "evaluation e0", {}, "see it", policy)
          .ok());
  EXPECT_THAT(AuthorizeEvaluation(alice, "evaluation e0", {}, "see it", policy)
                  .message(),
              HasSubstr("belongs to svc"));
  EXPECT_EQ(EffectiveOwner({}, policy).user(), "svc");
}

TEST(AuthorizationRulesTest, SubmitIsOpenUnderARootDaemonOnly) {
  AccessPolicy root;
  root.daemon = Someone(0, "root", true);
  AccessPolicy user;
  user.daemon = Someone(500, "svc");
  user.admin_group = "ocx-admins";
  const Identity alice = Someone(1001, "alice");
  EXPECT_TRUE(AuthorizeSubmit(alice, "submit evaluations", root).ok());
  EXPECT_TRUE(AuthorizeSubmit(user.daemon, "submit evaluations", user).ok());
  EXPECT_TRUE(
      AuthorizeSubmit(Someone(1003, "carol", true), "submit evaluations", user)
          .ok());
  absl::Status denied = AuthorizeSubmit(alice, "submit evaluations", user);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(),
              HasSubstr("ocxd runs as user svc (uid 500), so only svc and "
                        "admins (root and members of group ocx-admins) may "
                        "submit evaluations"));
  EXPECT_THAT(denied.message(), HasSubstr("You are alice (uid 1001)"));
}

TEST(AuthorizationRulesTest, CallersAreDescribedForTheEventLog) {
  EXPECT_EQ(DescribeCaller(Someone(1001, "alice")),
            "alice (uid 1001, via unix socket)");
  EXPECT_EQ(DescribeCaller(Someone(0, "root", true)),
            "root (uid 0, admin, via unix socket)");
}

TEST(AuthorizationRulesTest, OwnerFilter) {
  AccessPolicy policy;
  policy.daemon = Someone(500, "svc");
  EXPECT_TRUE(OwnerFilter("", Someone(1001, "alice"), policy)->empty());
  EXPECT_EQ(*OwnerFilter("me", Someone(1001, "alice"), policy),
            std::vector<int64_t>{1001});
  // The daemon's account also owns the rows from before owners existed.
  EXPECT_EQ(*OwnerFilter("me", policy.daemon, policy),
            (std::vector<int64_t>{500, -1}));
  EXPECT_EQ(*OwnerFilter("root", Someone(1001, "alice"), policy),
            std::vector<int64_t>{0});
}

}  // namespace
}  // namespace ocx::server
