// Shared by the gRPC API tests (servers_api_test.cc, evaluation_api_test.cc):
// a fixture with a real Store file, a Dispatcher that is never started, the
// EvaluationService on a real in-process gRPC server on a unix socket, and
// a stub to call it.
#ifndef OCX_TESTS_SERVER_API_TEST_UTIL_H_
#define OCX_TESTS_SERVER_API_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/waker.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ocx/v1/service.grpc.pb.h"
#include "server/api/evaluation_service.h"
#include "server/dispatcher/dispatcher.h"
#include "tests/server/store_test_util.h"

namespace ocx::server::testing {

class ApiTest : public ::ocx::store::testing::StoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StoreTest::SetUp());
    dispatcher_ = std::make_unique<Dispatcher>(store_.get(), Runners(), &waker_,
                                               DispatcherOptions{});
    absl::StatusOr<Identity> me = DaemonIdentity("");
    ASSERT_TRUE(me.ok()) << me.status();
    daemon_ = *me;
    AccessPolicy access;
    access.daemon = daemon_;
    ConfigureAccess(&access);
    CallerResolver resolver = MakeResolver();
    if (!resolver) {
      resolver = [me = *me](const grpc::ServerContext&) { return me; };
    }
    service_ = std::make_unique<EvaluationServiceImpl>(
        store_.get(), dispatcher_.get(), SubmissionPolicy{},
        std::move(resolver), std::move(access));
    std::string target = absl::StrCat("unix://", dir_.path(), "/ocxd.sock");
    grpc::ServerBuilder builder;
    builder.AddListeningPort(target, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::EvaluationService::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }

  // Hooks for tests of authorization: the resolver every call goes
  // through (none: every caller is the daemon's account), and the access
  // policy (its daemon starts as the test's own account).
  virtual CallerResolver MakeResolver() { return nullptr; }
  // The dispatcher's runners (none: a task that gets ready fails).
  virtual RunnerSet Runners() { return {}; }
  virtual void ConfigureAccess(AccessPolicy*) {}

  void TearDown() override {
    service_->Shutdown();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }

  Waker waker_;
  Identity daemon_;  // the account the test runs as
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<EvaluationServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::EvaluationService::Stub> stub_;
};

}  // namespace ocx::server::testing

#endif  // OCX_TESTS_SERVER_API_TEST_UTIL_H_
