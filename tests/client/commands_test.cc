// The ocxctl commands against an in-process fake ocxd on a unix socket:
// exit codes, messages, idempotent Create retries, watch resume and log
// resume after a lost connection.
#include "client/commands.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ocx/v1/service.grpc.pb.h"

namespace ocx::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using v1::Evaluation;
using v1::Task;

// An EvaluationService whose methods do what the test says and record their
// requests. Unset handlers answer UNIMPLEMENTED.
class FakeOcxd final : public v1::EvaluationService::Service {
 public:
  using Writer = grpc::ServerWriter<v1::WatchEvaluationResponse>;
  using LogWriter = grpc::ServerWriter<v1::ReadTaskLogResponse>;

  std::function<grpc::Status(int call, const v1::CreateEvaluationRequest&,
                             Evaluation*)>
      create;
  std::function<grpc::Status(const v1::PlanEvaluationRequest&,
                             v1::PlanEvaluationResponse*)>
      plan;
  std::function<grpc::Status(const v1::GetEvaluationRequest&, Evaluation*)> get;
  std::function<grpc::Status(const v1::ListEvaluationsRequest&,
                             v1::ListEvaluationsResponse*)>
      list;
  std::function<grpc::Status(const v1::CancelEvaluationRequest&, Evaluation*)>
      cancel;
  std::function<grpc::Status(int call, grpc::ServerContext*,
                             const v1::WatchEvaluationRequest&, Writer*)>
      watch;
  std::function<grpc::Status(const v1::ListTasksRequest&,
                             v1::ListTasksResponse*)>
      list_tasks;
  std::function<grpc::Status(const v1::GetTaskRequest&, Task*)> get_task;
  std::function<grpc::Status(int call, const v1::ReadTaskLogRequest&,
                             LogWriter*)>
      read_log;
  std::function<grpc::Status(const v1::ListServersRequest&,
                             v1::ListServersResponse*)>
      list_servers;

  std::vector<v1::CreateEvaluationRequest> creates() {
    absl::MutexLock lock(&mu_);
    return creates_;
  }
  std::vector<v1::WatchEvaluationRequest> watches() {
    absl::MutexLock lock(&mu_);
    return watches_;
  }
  std::vector<v1::ReadTaskLogRequest> log_reads() {
    absl::MutexLock lock(&mu_);
    return log_reads_;
  }
  std::vector<v1::ListTasksRequest> task_lists() {
    absl::MutexLock lock(&mu_);
    return task_lists_;
  }
  int plans() {
    absl::MutexLock lock(&mu_);
    return plans_;
  }
  std::vector<v1::ListServersRequest> server_lists() {
    absl::MutexLock lock(&mu_);
    return server_lists_;
  }

  grpc::Status CreateEvaluation(grpc::ServerContext*,
                                const v1::CreateEvaluationRequest* request,
                                Evaluation* response) override {
    int call;
    {
      absl::MutexLock lock(&mu_);
      creates_.push_back(*request);
      call = static_cast<int>(creates_.size());
    }
    return create ? create(call, *request, response) : Unimplemented();
  }
  grpc::Status PlanEvaluation(grpc::ServerContext*,
                              const v1::PlanEvaluationRequest* request,
                              v1::PlanEvaluationResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      ++plans_;
    }
    return plan ? plan(*request, response) : Unimplemented();
  }
  grpc::Status GetEvaluation(grpc::ServerContext*,
                             const v1::GetEvaluationRequest* request,
                             Evaluation* response) override {
    return get ? get(*request, response) : Unimplemented();
  }
  grpc::Status ListEvaluations(grpc::ServerContext*,
                               const v1::ListEvaluationsRequest* request,
                               v1::ListEvaluationsResponse* response) override {
    return list ? list(*request, response) : Unimplemented();
  }
  grpc::Status CancelEvaluation(grpc::ServerContext*,
                                const v1::CancelEvaluationRequest* request,
                                Evaluation* response) override {
    return cancel ? cancel(*request, response) : Unimplemented();
  }
  grpc::Status WatchEvaluation(grpc::ServerContext* context,
                               const v1::WatchEvaluationRequest* request,
                               Writer* writer) override {
    int call;
    {
      absl::MutexLock lock(&mu_);
      watches_.push_back(*request);
      call = static_cast<int>(watches_.size());
    }
    return watch ? watch(call, context, *request, writer) : Unimplemented();
  }
  grpc::Status ListTasks(grpc::ServerContext*,
                         const v1::ListTasksRequest* request,
                         v1::ListTasksResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      task_lists_.push_back(*request);
    }
    return list_tasks ? list_tasks(*request, response) : Unimplemented();
  }
  grpc::Status GetTask(grpc::ServerContext*, const v1::GetTaskRequest* request,
                       Task* response) override {
    return get_task ? get_task(*request, response) : Unimplemented();
  }
  grpc::Status ReadTaskLog(grpc::ServerContext*,
                           const v1::ReadTaskLogRequest* request,
                           LogWriter* writer) override {
    int call;
    {
      absl::MutexLock lock(&mu_);
      log_reads_.push_back(*request);
      call = static_cast<int>(log_reads_.size());
    }
    return read_log ? read_log(call, *request, writer) : Unimplemented();
  }
  grpc::Status ListServers(grpc::ServerContext*,
                           const v1::ListServersRequest* request,
                           v1::ListServersResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      server_lists_.push_back(*request);
    }
    return list_servers ? list_servers(*request, response) : Unimplemented();
  }

 private:
  static grpc::Status Unimplemented() {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not in this test");
  }

  absl::Mutex mu_;
  std::vector<v1::CreateEvaluationRequest> creates_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::WatchEvaluationRequest> watches_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReadTaskLogRequest> log_reads_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListTasksRequest> task_lists_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListServersRequest> server_lists_ ABSL_GUARDED_BY(mu_);
  int plans_ ABSL_GUARDED_BY(mu_) = 0;
};

Evaluation MakeEvaluation(const std::string& id, Evaluation::State state) {
  Evaluation e;
  e.set_id(id);
  e.set_name(id);
  e.set_state(state);
  e.set_task_count(2);
  e.mutable_create_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  v1::StageCounts* infer = e.add_stage_counts();
  infer->set_stage(v1::STAGE_INFER);
  infer->set_total(2);
  if (state == Evaluation::SUCCEEDED) infer->set_succeeded(2);
  if (state == Evaluation::FAILED) infer->set_failed(2);
  if (state == Evaluation::RUNNING) infer->set_running(2);
  if (state == Evaluation::QUEUED) infer->set_pending(2);
  return e;
}

v1::WatchEvaluationResponse Batch(const Evaluation& e,
                                  std::vector<int64_t> sequences) {
  v1::WatchEvaluationResponse batch;
  *batch.mutable_evaluation() = e;
  for (int64_t sequence : sequences) {
    v1::Event* event = batch.add_events();
    event->set_sequence(sequence);
    event->set_evaluation_id(e.id());
    event->set_task_id(e.id() + "-infer-0");
    event->set_state("RUNNING");
  }
  return batch;
}

// A pool of model m0 used by e1, with one replica of `state` that ended
// `ended_ago` ago (not ended for zero).
v1::ServerPool* AddPool(v1::ListServersResponse* response,
                        const std::string& replica_id, v1::Replica::State state,
                        absl::Duration ended_ago = absl::ZeroDuration()) {
  v1::ServerPool* pool = response->servers_size() > 0
                             ? response->mutable_servers(0)
                             : response->add_servers();
  pool->set_id("srv-00aa11bb22");
  pool->set_model_abbr("m0");
  v1::Replica* replica = pool->add_replicas();
  replica->set_id(replica_id);
  replica->set_state(state);
  if (ended_ago > absl::ZeroDuration()) {
    replica->mutable_end_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - ended_ago));
  }
  return pool;
}

grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "daemon restarting");
}

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/ocxctl-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    socket_ = dir_ + "/ocxd.sock";
    server_ = Start(&fake_);
    ASSERT_NE(server_, nullptr);
    RpcClientOptions options;
    options.target = "unix://" + socket_;
    options.timeout = absl::Seconds(5);
    options.max_reconnect_backoff = absl::Milliseconds(100);
    client_ = std::make_unique<RpcClient>(options);
    ctx_.client = client_.get();
    ctx_.server.target = options.target;
    ctx_.server.is_unix = true;
    ctx_.server.socket_path = socket_;
    ctx_.server.source = ServerAddress::Source::kFlag;
    ctx_.out = &out_;
    ctx_.err = &err_;
    ctx_.time_zone = absl::UTCTimeZone();
    ctx_.retry_backoff = absl::Milliseconds(10);
    ctx_.max_reconnect_backoff = absl::Milliseconds(50);
    ctx_.reconnect_window = absl::Seconds(20);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now()));
    server_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  std::unique_ptr<grpc::Server> Start(FakeOcxd* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_,
                             grpc::InsecureServerCredentials());
    builder.RegisterService(service);
    return builder.BuildAndStart();
  }

  // Writes a spec file and returns its path.
  std::string WriteSpec(const std::string& yaml) {
    std::string path = dir_ + "/eval.yaml";
    std::ofstream(path) << yaml;
    return path;
  }

  static std::string ValidSpec() {
    return R"(models:
  - {abbr: m, type: OpenAISDK, path: stories260K}
datasets:
  - abbr: d
    type: JsonlDataset
    path: /data/d.jsonl
    reader_cfg: {input_columns: [q], output_column: a}
work_dir: out
infer:
  runner:
    type: LocalRunner
    task:
      type: command
      argv: [python3, "{config_dir}/task.py", "{task_json}"]
)";
  }

  std::string dir_;
  std::string socket_;
  FakeOcxd fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<RpcClient> client_;
  std::ostringstream out_;
  std::ostringstream err_;
  CommandContext ctx_;
};

TEST(ExitCodeForTest, Contract) {
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kFailedPrecondition), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInternal), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInvalidArgument), 2);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kNotFound), 2);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), 3);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDeadlineExceeded), 3);
}

TEST(NewRequestIdTest, RandomUuidV4) {
  const std::regex uuid4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewRequestId();
    EXPECT_TRUE(std::regex_match(id, uuid4)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(ExpandConfigDirTest, ReplacesInArgvAndEnvLeavingEscapes) {
  v1::EvaluationSpec spec;
  v1::TaskConfig* task = spec.mutable_infer()->mutable_runner()->mutable_task();
  task->add_argv("{config_dir}/run.py");
  task->add_argv("{{config_dir}}");
  task->add_argv("{task_json}");
  (*task->mutable_env())["PYTHONPATH"] = "{config_dir}:/x";
  spec.mutable_eval()->mutable_runner()->mutable_task()->add_argv(
      "--cfg={config_dir}/a");
  ExpandConfigDir("/home/u/cfg{1}", &spec);
  EXPECT_EQ(task->argv(0), "/home/u/cfg{{1}}/run.py");
  EXPECT_EQ(task->argv(1), "{{config_dir}}");
  EXPECT_EQ(task->argv(2), "{task_json}");
  EXPECT_EQ(task->env().at("PYTHONPATH"), "/home/u/cfg{{1}}:/x");
  EXPECT_EQ(spec.eval().runner().task().argv(0), "--cfg=/home/u/cfg{{1}}/a");
  EXPECT_FALSE(spec.eval().has_partitioner());
}

TEST_F(CommandsTest, SubmitRetriesCreateWithTheSameRequestId) {
  fake_.create = [](int call, const v1::CreateEvaluationRequest&,
                    Evaluation* e) {
    if (call < 3) return Unavailable();
    e->set_id("e7qk2m4xa");
    e->set_task_count(3);
    return grpc::Status::OK;
  };
  SubmitOptions options;
  options.file = WriteSpec(ValidSpec());
  options.name = "nightly";
  options.cwd = "/home/u/project";
  EXPECT_EQ(RunSubmit(ctx_, options), 0) << err_.str();
  EXPECT_EQ(out_.str(), "evaluation e7qk2m4xa created (3 tasks)\n");
  std::vector<v1::CreateEvaluationRequest> creates = fake_.creates();
  ASSERT_EQ(creates.size(), 3u);
  EXPECT_FALSE(creates[0].request_id().empty());
  EXPECT_EQ(creates[1].request_id(), creates[0].request_id());
  EXPECT_EQ(creates[2].request_id(), creates[0].request_id());
  EXPECT_EQ(creates[0].name(), "nightly");
  EXPECT_EQ(creates[0].spec().work_dir(), "/home/u/project/out");
  EXPECT_EQ(creates[0].spec().infer().runner().task().argv(1),
            dir_ + "/task.py");
}

TEST_F(CommandsTest, DatasetPathsBesideTheConfigBecomeAbsolute) {
  // data/gsm8k.jsonl exists beside the config; opencompass/gsm8k is a
  // dataset id the task program resolves, not a file: left alone.
  ASSERT_EQ(mkdir((dir_ + "/data").c_str(), 0755), 0);
  std::ofstream(dir_ + "/data/gsm8k.jsonl") << "{}\n";
  fake_.create = [](int, const v1::CreateEvaluationRequest&, Evaluation* e) {
    e->set_id("e1");
    return grpc::Status::OK;
  };
  SubmitOptions options;
  options.file = WriteSpec(R"(models: [{abbr: m}]
datasets:
  - {abbr: a, path: data/gsm8k.jsonl}
  - {abbr: b, path: ./data/../data/gsm8k.jsonl}
  - {abbr: c, path: opencompass/gsm8k}
  - {abbr: d, path: /abs/d.jsonl}
  - {abbr: e}
)");
  options.cwd = "/somewhere/else";
  EXPECT_EQ(RunSubmit(ctx_, options), 0) << err_.str();
  std::vector<v1::CreateEvaluationRequest> creates = fake_.creates();
  ASSERT_EQ(creates.size(), 1u);
  const auto& datasets = creates[0].spec().datasets();
  EXPECT_EQ(datasets[0].path(), dir_ + "/data/gsm8k.jsonl");
  EXPECT_EQ(datasets[1].path(), dir_ + "/data/gsm8k.jsonl");
  EXPECT_EQ(datasets[2].path(), "opencompass/gsm8k");
  EXPECT_EQ(datasets[3].path(), "/abs/d.jsonl");
  EXPECT_EQ(datasets[4].path(), "");
}

TEST_F(CommandsTest, SubmitKeepsAGivenRequestIdAndPrintsNameOnly) {
  fake_.create = [](int, const v1::CreateEvaluationRequest&, Evaluation* e) {
    e->set_id("e1");
    return grpc::Status::OK;
  };
  ctx_.format = OutputFormat::kName;
  SubmitOptions options;
  options.file = WriteSpec(ValidSpec());
  options.request_id = "my-key";
  EXPECT_EQ(RunSubmit(ctx_, options), 0) << err_.str();
  EXPECT_EQ(out_.str(), "e1\n");
  ASSERT_EQ(fake_.creates().size(), 1u);
  EXPECT_EQ(fake_.creates()[0].request_id(), "my-key");
}

TEST_F(CommandsTest, SubmitGivesUpAfterThreeRetries) {
  fake_.create = [](int, const v1::CreateEvaluationRequest&, Evaluation*) {
    return Unavailable();
  };
  SubmitOptions options;
  options.file = WriteSpec(ValidSpec());
  EXPECT_EQ(RunSubmit(ctx_, options), 3);
  EXPECT_EQ(fake_.creates().size(), 4u);
  EXPECT_THAT(err_.str(), StartsWith("ocxctl: cannot reach ocxd at unix://" +
                                     socket_ + " (--server): "));
}

TEST_F(CommandsTest, SubmitBadConfigExits2NamingTheField) {
  SubmitOptions options;
  options.file = WriteSpec("models:\n  - abbr: m\n    colour: red\n");
  EXPECT_EQ(RunSubmit(ctx_, options), 2);
  EXPECT_THAT(err_.str(), StartsWith("ocxctl: "));
  EXPECT_THAT(err_.str(), HasSubstr("models[0]"));
  EXPECT_THAT(err_.str(), HasSubstr("colour"));
  EXPECT_TRUE(fake_.creates().empty());
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, SubmitInvalidSpecIsCaughtBeforeTheDaemon) {
  SubmitOptions options;
  options.file = WriteSpec(
      "models:\n  - {abbr: 'bad/name', type: OpenAISDK, path: x}\n"
      "datasets:\n  - {abbr: d, type: JsonlDataset, path: /d.jsonl}\n");
  EXPECT_EQ(RunSubmit(ctx_, options), 2);
  EXPECT_THAT(err_.str(),
              StartsWith("ocxctl: " + options.file + ": models[0].abbr"));
  EXPECT_TRUE(fake_.creates().empty());
}

TEST_F(CommandsTest, SubmitMissingFileExits2) {
  SubmitOptions options;
  options.file = dir_ + "/missing.yaml";
  EXPECT_EQ(RunSubmit(ctx_, options), 2);
  EXPECT_THAT(err_.str(), HasSubstr("missing.yaml"));
}

TEST_F(CommandsTest, DaemonRejectionOfTheSpecExits2WithTheFile) {
  fake_.create = [](int, const v1::CreateEvaluationRequest&, Evaluation*) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "datasets[0].path: /data/d.jsonl does not exist");
  };
  SubmitOptions options;
  options.file = WriteSpec(ValidSpec());
  EXPECT_EQ(RunSubmit(ctx_, options), 2);
  EXPECT_EQ(err_.str(), "ocxctl: " + options.file +
                            ": datasets[0].path: /data/d.jsonl does not "
                            "exist\n");
}

TEST_F(CommandsTest, DryRunPrintsThePlanAndStoresNothing) {
  fake_.plan = [](const v1::PlanEvaluationRequest& request,
                  v1::PlanEvaluationResponse* response) {
    response->set_work_dir(request.spec().work_dir());
    Task* t = response->add_tasks();
    t->set_id("dry-run-infer-0");
    t->set_stage(v1::STAGE_INFER);
    t->set_model_abbr("m");
    t->add_dataset_abbrs("d");
    return grpc::Status::OK;
  };
  SubmitOptions options;
  options.file = WriteSpec(ValidSpec());
  options.dry_run = true;
  options.cwd = "/p";
  EXPECT_EQ(RunSubmit(ctx_, options), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "ID                STAGE   MODEL   DATASETS   SAMPLES   COST   "
            "GPUS   DEPENDS\n"
            "dry-run-infer-0   infer   m       d          -         -      "
            "0      -\n"
            "\n"
            "1 task (1 infer, 0 eval), CPU only, work dir /p/out\n"
            "dry run: nothing was stored\n");
  EXPECT_EQ(fake_.plans(), 1);
  EXPECT_TRUE(fake_.creates().empty());
}

TEST_F(CommandsTest, SubmitWatchResumesAfterTheLastSeenEvent) {
  fake_.create = [](int, const v1::CreateEvaluationRequest&, Evaluation* e) {
    *e = MakeEvaluation("e1", Evaluation::QUEUED);
    return grpc::Status::OK;
  };
  fake_.get = [](const v1::GetEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::RUNNING);
    return grpc::Status::OK;
  };
  fake_.watch = [](int call, grpc::ServerContext*,
                   const v1::WatchEvaluationRequest& request,
                   FakeOcxd::Writer* writer) {
    if (call == 1) {
      writer->Write(Batch(MakeEvaluation("e1", Evaluation::RUNNING), {1, 2}));
      return Unavailable();  // The daemon went away mid-stream.
    }
    writer->Write(Batch(MakeEvaluation("e1", Evaluation::SUCCEEDED), {3}));
    return grpc::Status::OK;
  };
  SubmitOptions options;
  options.file = WriteSpec(ValidSpec());
  options.watch = true;
  EXPECT_EQ(RunSubmit(ctx_, options), 0) << err_.str();
  std::vector<v1::WatchEvaluationRequest> watches = fake_.watches();
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_EQ(watches[0].id(), "e1");
  EXPECT_EQ(watches[0].after_sequence(), 0);
  EXPECT_EQ(watches[1].after_sequence(), 2);
  std::string out = out_.str();
  EXPECT_THAT(out, StartsWith("evaluation e1 created (2 tasks)\n"
                              "watching evaluation e1: 2 tasks\n"));
  EXPECT_THAT(out, HasSubstr("lost connection to ocxd, reconnecting…\n"
                             "reconnected to ocxd\n"));
  EXPECT_THAT(out, HasSubstr("evaluation e1 SUCCEEDED after "));
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST_F(CommandsTest, WatchExitCodeFollowsTheFinalState) {
  fake_.get = [](const v1::GetEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::RUNNING);
    return grpc::Status::OK;
  };
  fake_.watch = [](int, grpc::ServerContext*, const v1::WatchEvaluationRequest&,
                   FakeOcxd::Writer* writer) {
    writer->Write(Batch(MakeEvaluation("e1", Evaluation::FAILED), {5}));
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunStatus(ctx_, "e1", /*watch=*/true), 1);
  EXPECT_THAT(out_.str(), HasSubstr("evaluation e1 FAILED after "));

  // JSON: the live view goes to stderr, the final evaluation to stdout.
  out_.str("");
  err_.str("");
  fake_.watch = [](int, grpc::ServerContext*, const v1::WatchEvaluationRequest&,
                   FakeOcxd::Writer* writer) {
    writer->Write(Batch(MakeEvaluation("e1", Evaluation::SUCCEEDED), {6}));
    return grpc::Status::OK;
  };
  ctx_.format = OutputFormat::kJson;
  EXPECT_EQ(RunStatus(ctx_, "e1", /*watch=*/true), 0);
  EXPECT_THAT(out_.str(), StartsWith("{\n \"id\": \"e1\","));
  EXPECT_THAT(err_.str(), HasSubstr("evaluation e1 SUCCEEDED after "));
}

TEST_F(CommandsTest, WatchSurvivesADaemonRestart) {
  absl::Notification first_batch_sent;
  fake_.get = [](const v1::GetEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::RUNNING);
    e->set_last_event_sequence(4);
    return grpc::Status::OK;
  };
  fake_.watch = [&](int, grpc::ServerContext* context,
                    const v1::WatchEvaluationRequest&,
                    FakeOcxd::Writer* writer) {
    writer->Write(Batch(MakeEvaluation("e1", Evaluation::RUNNING), {5}));
    first_batch_sent.Notify();
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status::CANCELLED;
  };
  FakeOcxd restarted;
  restarted.get = fake_.get;
  restarted.watch = [](int, grpc::ServerContext*,
                       const v1::WatchEvaluationRequest&,
                       FakeOcxd::Writer* writer) {
    writer->Write(Batch(MakeEvaluation("e1", Evaluation::SUCCEEDED), {6, 7}));
    return grpc::Status::OK;
  };

  std::atomic<int> code{-1};
  std::thread watcher([&] { code = RunStatus(ctx_, "e1", /*watch=*/true); });
  ASSERT_TRUE(
      first_batch_sent.WaitForNotificationWithTimeout(absl::Seconds(10)));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(50)));
  server_.reset();
  absl::SleepFor(absl::Milliseconds(300));  // Down for a while.
  server_ = Start(&restarted);
  ASSERT_NE(server_, nullptr);
  watcher.join();

  EXPECT_EQ(code, 0) << err_.str();
  std::vector<v1::WatchEvaluationRequest> before = fake_.watches();
  std::vector<v1::WatchEvaluationRequest> after = restarted.watches();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].after_sequence(), 4);  // From GetEvaluation.
  ASSERT_GE(after.size(), 1u);
  EXPECT_EQ(after[0].after_sequence(), 5);
  EXPECT_THAT(out_.str(), HasSubstr("lost connection to ocxd, reconnecting…"));
  EXPECT_THAT(out_.str(), HasSubstr("evaluation e1 SUCCEEDED"));
}

TEST_F(CommandsTest, WatchGivesUpWhenTheDaemonStaysAway) {
  fake_.get = [](const v1::GetEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::RUNNING);
    return grpc::Status::OK;
  };
  fake_.watch = [](int, grpc::ServerContext*, const v1::WatchEvaluationRequest&,
                   FakeOcxd::Writer*) { return Unavailable(); };
  ctx_.reconnect_window = absl::Milliseconds(200);
  // After the first Get, every Get fails too.
  std::atomic<int> gets{0};
  fake_.get = [&gets](const v1::GetEvaluationRequest& request, Evaluation* e) {
    if (gets++ > 0) return Unavailable();
    *e = MakeEvaluation(request.id(), Evaluation::RUNNING);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunStatus(ctx_, "e1", /*watch=*/true), 3);
  EXPECT_THAT(err_.str(), HasSubstr("could not reconnect within 200ms"));
  EXPECT_THAT(err_.str(), HasSubstr("ocxctl status e1 --watch"));
}

TEST_F(CommandsTest, NotFoundIsPlainText) {
  fake_.get = [](const v1::GetEvaluationRequest&, Evaluation*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "");
  };
  EXPECT_EQ(RunStatus(ctx_, "e999", false), 2);
  EXPECT_EQ(err_.str(), "ocxctl: evaluation e999 not found\n");

  err_.str("");
  fake_.get = [](const v1::GetEvaluationRequest&, Evaluation*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "evaluation e999 not found (ids look like e7qk2m4xa)");
  };
  EXPECT_EQ(RunStatus(ctx_, "e999", false), 2);
  EXPECT_EQ(err_.str(),
            "ocxctl: evaluation e999 not found (ids look like e7qk2m4xa)\n");

  err_.str("");
  fake_.get_task = [](const v1::GetTaskRequest&, Task*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such row");
  };
  EXPECT_EQ(RunTask(ctx_, "e1-infer-9"), 2);
  EXPECT_EQ(err_.str(), "ocxctl: task e1-infer-9 not found: no such row\n");
}

TEST_F(CommandsTest, UnreachableDaemonExits3AndSaysWhere) {
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  server_.reset();
  unlink(socket_.c_str());
  // Calls wait for the daemon up to the timeout: keep it short here.
  RpcClientOptions options = client_->options();
  options.timeout = absl::Milliseconds(500);
  client_ = std::make_unique<RpcClient>(options);
  ctx_.client = client_.get();
  EXPECT_EQ(RunList(ctx_, "", 10), 3);
  EXPECT_EQ(err_.str(),
            "ocxctl: cannot reach ocxd at unix://" + socket_ +
                " (--server): no socket at " + socket_ +
                "; check that ocxd is running and listening there, or change "
                "--server\n");

  err_.str("");
  ctx_.server.source = ServerAddress::Source::kDefault;
  EXPECT_EQ(RunStatus(ctx_, "", false), 3);
  EXPECT_THAT(err_.str(), HasSubstr("start the daemon with `ocxd`"));
  EXPECT_THAT(err_.str(), HasSubstr("OCX_SERVER"));
}

TEST_F(CommandsTest, StatusShowsOnePageOfTasksAndPointsToTheRest) {
  fake_.get = [](const v1::GetEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::RUNNING);
    e->set_work_dir("/w/e1");
    e->set_task_count(2);
    return grpc::Status::OK;
  };
  fake_.list_tasks = [](const v1::ListTasksRequest& request,
                        v1::ListTasksResponse* response) {
    Task* t = response->add_tasks();
    t->set_stage(v1::STAGE_INFER);
    t->set_state(Task::RUNNING);
    if (request.page_token().empty()) {
      t->set_id("e1-infer-0");
      response->set_next_page_token("p2");
    } else {
      t->set_id("e1-infer-1");
    }
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunStatus(ctx_, "e1", false), 0) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("ID:         e1\n"));
  EXPECT_THAT(out_.str(), HasSubstr("\ne1-infer-0   infer   RUNNING"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("e1-infer-1")));
  EXPECT_THAT(out_.str(),
              HasSubstr("(first 1 of 2 tasks; all of them: ocxctl tasks e1)"));
  ASSERT_EQ(fake_.task_lists().size(), 1u);
  EXPECT_EQ(fake_.task_lists()[0].page_size(), 20);
}

TEST_F(CommandsTest, StatusShowsTheServersTheEvaluationMayHaveUsed) {
  fake_.get = [](const v1::GetEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::RUNNING);
    e->mutable_create_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
    return grpc::Status::OK;
  };
  fake_.list_tasks = [](const v1::ListTasksRequest&, v1::ListTasksResponse*) {
    return grpc::Status::OK;
  };
  // Without ListServers (an older ocxd) there is no section, and no error.
  EXPECT_EQ(RunStatus(ctx_, "e1", false), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("Servers:")));
  EXPECT_EQ(err_.str(), "");

  fake_.list_servers = [](const v1::ListServersRequest&,
                          v1::ListServersResponse* response) {
    AddPool(response, "srv-00aa11bb22-1", v1::Replica::READY);
    // Stopped before e1 was created: it cannot have served e1.
    AddPool(response, "srv-00aa11bb22-2", v1::Replica::STOPPED, absl::Hours(2));
    AddPool(response, "srv-00aa11bb22-3", v1::Replica::FAILED,
            absl::Minutes(5));
    return grpc::Status::OK;
  };
  out_.str("");
  EXPECT_EQ(RunStatus(ctx_, "e1", false), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\nServers:\nREPLICA   "));
  EXPECT_THAT(out_.str(), HasSubstr("\nsrv-00aa11bb22-1   m0      READY "));
  EXPECT_THAT(out_.str(), Not(HasSubstr("srv-00aa11bb22-2")));
  EXPECT_THAT(out_.str(), HasSubstr("\nsrv-00aa11bb22-3   m0      FAILED "));
  ASSERT_EQ(fake_.server_lists().size(), 2u);
  EXPECT_EQ(fake_.server_lists()[1].evaluation_id(), "e1");
  EXPECT_TRUE(fake_.server_lists()[1].all());

  // JSON is the evaluation alone.
  out_.str("");
  ctx_.format = OutputFormat::kJson;
  EXPECT_EQ(RunStatus(ctx_, "e1", false), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("srv-")));
  EXPECT_EQ(fake_.server_lists().size(), 2u);
}

TEST_F(CommandsTest, ServersPassesTheFiltersAndPrintsOneRowPerReplica) {
  fake_.list_servers = [](const v1::ListServersRequest& request,
                          v1::ListServersResponse* response) {
    if (request.evaluation_id() == "e404") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "evaluation e404 not found");
    }
    if (request.all()) {
      AddPool(response, "srv-00aa11bb22-1", v1::Replica::READY);
      AddPool(response, "srv-00aa11bb22-2", v1::Replica::STOPPED,
              absl::Minutes(1));
    }
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunServers(ctx_, "", false), 0) << err_.str();
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(), "no servers running (--all shows ended ones)\n");

  err_.str("");
  EXPECT_EQ(RunServers(ctx_, "e1", true), 0) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("REPLICA            MODEL   STATE "));
  EXPECT_THAT(out_.str(), HasSubstr("\nsrv-00aa11bb22-1   m0      READY "));
  EXPECT_THAT(out_.str(), HasSubstr("\nsrv-00aa11bb22-2   m0      STOPPED "));
  std::vector<v1::ListServersRequest> requests = fake_.server_lists();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].evaluation_id(), "");
  EXPECT_FALSE(requests[0].all());
  EXPECT_EQ(requests[1].evaluation_id(), "e1");
  EXPECT_TRUE(requests[1].all());

  out_.str("");
  ctx_.format = OutputFormat::kName;
  EXPECT_EQ(RunServers(ctx_, "", true), 0) << err_.str();
  EXPECT_EQ(out_.str(), "srv-00aa11bb22-1\nsrv-00aa11bb22-2\n");

  EXPECT_EQ(RunServers(ctx_, "e404", false), 2);
  EXPECT_EQ(err_.str(), "ocxctl: evaluation e404 not found\n");
}

TEST_F(CommandsTest, LogsOfAReplicaPrintTheDaemonsWords) {
  fake_.read_log = [](int, const v1::ReadTaskLogRequest& request,
                      FakeOcxd::LogWriter*) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "replica " + request.task_id() + " not found");
  };
  EXPECT_EQ(RunLogs(ctx_, "srv-00aa11bb22-9", 0, false), 2);
  EXPECT_EQ(err_.str(), "ocxctl: replica srv-00aa11bb22-9 not found\n");
}

TEST_F(CommandsTest, ListFollowsPagesUpToTheLimit) {
  std::vector<v1::ListEvaluationsRequest> requests;
  fake_.list = [&requests](const v1::ListEvaluationsRequest& request,
                           v1::ListEvaluationsResponse* response) {
    requests.push_back(request);
    int start = request.page_token().empty() ? 0 : 2;
    for (int i = start; i < start + 2; ++i) {
      *response->add_evaluations() =
          MakeEvaluation("e" + std::to_string(i), Evaluation::SUCCEEDED);
    }
    response->set_next_page_token("next");
    return grpc::Status::OK;
  };
  ctx_.format = OutputFormat::kName;
  EXPECT_EQ(RunList(ctx_, "succeeded", 3), 0) << err_.str();
  EXPECT_EQ(out_.str(), "e0\ne1\ne2\n");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].state(), Evaluation::SUCCEEDED);
  EXPECT_EQ(requests[0].page_size(), 3);
  EXPECT_EQ(requests[1].page_size(), 1);
  EXPECT_EQ(requests[1].page_token(), "next");
}

TEST_F(CommandsTest, TasksFiltersAndRejectsUnknownNames) {
  fake_.list_tasks = [](const v1::ListTasksRequest&, v1::ListTasksResponse*) {
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunTasks(ctx_, "e1", "Failed", "EVAL"), 0) << err_.str();
  ASSERT_EQ(fake_.task_lists().size(), 1u);
  EXPECT_EQ(fake_.task_lists()[0].evaluation_id(), "e1");
  EXPECT_EQ(fake_.task_lists()[0].state(), Task::FAILED);
  EXPECT_EQ(fake_.task_lists()[0].stage(), v1::STAGE_EVAL);
  EXPECT_EQ(err_.str(), "no tasks found\n");

  err_.str("");
  EXPECT_EQ(RunTasks(ctx_, "e1", "done", ""), 2);
  EXPECT_THAT(err_.str(), HasSubstr("unknown task state \"done\" (known: "
                                    "PENDING, READY, LAUNCHING, RUNNING"));
  err_.str("");
  EXPECT_EQ(RunTasks(ctx_, "e1", "", "train"), 2);
  EXPECT_THAT(err_.str(), HasSubstr("(known: infer, eval)"));
  EXPECT_EQ(fake_.task_lists().size(), 1u);
}

TEST_F(CommandsTest, CallsWaitForADaemonThatStartsLateAndSayTheyWait) {
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  server_.reset();
  unlink(socket_.c_str());
  std::vector<std::string> notices;
  RpcClientOptions options = client_->options();
  options.on_waiting = [&notices](const std::string& line) {
    notices.push_back(line);
  };
  client_ = std::make_unique<RpcClient>(options);
  ctx_.client = client_.get();
  fake_.cancel = [](const v1::CancelEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::CANCELLING);
    return grpc::Status::OK;
  };
  // The daemon comes up 1.5 s after the call starts, as after a restart.
  std::thread late([this] {
    absl::SleepFor(absl::Milliseconds(1500));
    server_ = Start(&fake_);
  });
  absl::Time start = absl::Now();
  int exit_code = RunCancel(ctx_, "e1");
  late.join();
  EXPECT_EQ(exit_code, 0) << err_.str();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1500));
  EXPECT_THAT(out_.str(), HasSubstr("CANCELLING"));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_THAT(notices[0], HasSubstr("waiting for ocxd at unix://" + socket_));
}

TEST_F(CommandsTest, AHungDaemonAndAMissingOneReadDifferently) {
  RpcClientOptions options = client_->options();
  options.timeout = absl::Milliseconds(300);
  client_ = std::make_unique<RpcClient>(options);
  ctx_.client = client_.get();
  fake_.get = [](const v1::GetEvaluationRequest&, Evaluation*) {
    absl::SleepFor(absl::Seconds(1));  // Connected, but no answer in time.
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunStatus(ctx_, "e1", false), 3);
  EXPECT_THAT(err_.str(), HasSubstr("did not answer within 300ms"));
  EXPECT_THAT(err_.str(), HasSubstr("overloaded or stuck"));

  err_.str("");
  server_->Shutdown(absl::ToChronoTime(absl::Now()));
  server_.reset();
  unlink(socket_.c_str());
  client_ = std::make_unique<RpcClient>(options);
  ctx_.client = client_.get();
  EXPECT_EQ(RunStatus(ctx_, "e1", false), 3);
  EXPECT_THAT(err_.str(), HasSubstr("cannot reach ocxd"));
  EXPECT_THAT(err_.str(), HasSubstr("no socket at " + socket_));
}

TEST_F(CommandsTest, CancelOfAnEvaluationAlreadyCancelledSucceeds) {
  // As when a restart cut off the answer to this command's first try.
  fake_.cancel = [](const v1::CancelEvaluationRequest& request, Evaluation*) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "evaluation " + request.id() + " already CANCELLED");
  };
  fake_.get = [](const v1::GetEvaluationRequest& request, Evaluation* e) {
    *e = MakeEvaluation(request.id(), Evaluation::CANCELLED);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCancel(ctx_, "e1"), 0) << err_.str();
  EXPECT_EQ(out_.str(), "evaluation e1 CANCELLED\n");
}

TEST_F(CommandsTest, CancelPrintsTheNewStateOrRefusal) {
  fake_.cancel = [](const v1::CancelEvaluationRequest& request, Evaluation* e) {
    if (request.id() == "done") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "evaluation done already SUCCEEDED");
    }
    *e = MakeEvaluation(request.id(), Evaluation::CANCELLING);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunCancel(ctx_, "e1"), 0);
  EXPECT_EQ(out_.str(), "evaluation e1 CANCELLING\n");
  EXPECT_EQ(RunCancel(ctx_, "done"), 1);
  EXPECT_EQ(err_.str(), "ocxctl: evaluation done already SUCCEEDED\n");
}

TEST_F(CommandsTest, LogsFollowResumesAtTheOffsetOfTheSameAttempt) {
  fake_.read_log = [](int call, const v1::ReadTaskLogRequest& request,
                      FakeOcxd::LogWriter* writer) {
    v1::ReadTaskLogResponse chunk;
    chunk.set_attempt(2);
    if (call == 1) {
      chunk.set_data(std::string("hello \0", 7));
      chunk.set_offset(7);
      writer->Write(chunk);
      return Unavailable();
    }
    chunk.set_data("world\n");
    chunk.set_offset(request.offset() + 6);
    writer->Write(chunk);
    return grpc::Status::OK;
  };
  EXPECT_EQ(RunLogs(ctx_, "e1-infer-0", 0, /*follow=*/true), 0) << err_.str();
  EXPECT_EQ(out_.str(), std::string("hello \0world\n", 13));
  std::vector<v1::ReadTaskLogRequest> reads = fake_.log_reads();
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].attempt(), 0);
  EXPECT_TRUE(reads[0].follow());
  EXPECT_EQ(reads[1].attempt(), 2);
  EXPECT_EQ(reads[1].offset(), 7);
  EXPECT_EQ(err_.str(), "ocxctl: lost connection to ocxd, reconnecting…\n");
}

TEST_F(CommandsTest, LogsWithoutFollowDoNotRetry) {
  fake_.read_log = [](int, const v1::ReadTaskLogRequest&,
                      FakeOcxd::LogWriter*) { return Unavailable(); };
  EXPECT_EQ(RunLogs(ctx_, "e1-infer-0", 3, /*follow=*/false), 3);
  EXPECT_EQ(fake_.log_reads().size(), 1u);
  EXPECT_EQ(fake_.log_reads()[0].attempt(), 3);
}

}  // namespace
}  // namespace ocx::client
