// `ocx-task serve` as a real program: it picks a port, writes the endpoint
// file and execs the command with the placeholders filled.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serving/endpoint_file.h"
#include "tests/serving/child_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::serving {
namespace {

using ::ocx::testing::ChildProcess;
using ::ocx::testing::FreePortBlock;
using ::ocx::testing::HeldPort;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kBlock = 4;

class ServeWrapperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ocx-serve-wrapper-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    endpoint_ = dir_ + "/endpoint.json";
    out_ = dir_ + "/argv.txt";
    log_ = dir_ + "/replica.log";
    base_ = FreePortBlock(kBlock);
    ASSERT_NE(base_, 0) << "no block of free ports";
  }
  void TearDown() override {
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  // `ocx-task serve <flags> -- /bin/sh -c 'printf ...' sh <args>`: the
  // stand-in writes each argument it got on a line of out_ and exits 0.
  std::vector<std::string> Argv(std::vector<std::string> flags,
                                std::vector<std::string> args) {
    std::vector<std::string> argv = {OCX_TASK_BINARY, "serve"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--", "/bin/sh", "-c",
                             "printf '%s\\n' \"$@\" > \"$OUT\"", "sh"});
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::vector<std::string> Flags(int start) {
    return {"--endpoint-file", endpoint_,
            "--host",          "127.0.0.1",
            "--ports",         absl::StrCat(base_, "-", base_ + kBlock - 1),
            "--port-start",    absl::StrCat(start),
            "--model-path",    "/models/q w",
            "--num-gpus",      "2"};
  }

  // Runs argv to its end; its exit code.
  int Run(const std::vector<std::string>& argv,
          std::optional<std::string> gpus = std::nullopt) {
    ChildProcess p;
    absl::Status started =
        p.Start(argv, {{"OUT", out_}, {"CUDA_VISIBLE_DEVICES", gpus}}, log_);
    EXPECT_TRUE(started.ok()) << started;
    pid_ = p.pid();
    std::optional<int> code = p.WaitExit(20000);
    EXPECT_TRUE(code.has_value()) << "ocx-task serve did not end";
    return code.value_or(-1);
  }

  std::vector<std::string> Lines(const std::string& path) {
    absl::StatusOr<std::string> text = ReadFile(path);
    EXPECT_TRUE(text.ok()) << text.status();
    if (!text.ok()) return {};
    std::vector<std::string> lines = absl::StrSplit(*text, '\n');
    if (!lines.empty() && lines.back().empty()) lines.pop_back();
    return lines;
  }

  Endpoint ReadEndpoint() {
    absl::StatusOr<std::optional<Endpoint>> e = ReadEndpointFile(endpoint_);
    EXPECT_TRUE(e.ok()) << e.status();
    EXPECT_TRUE(e.ok() && e->has_value()) << "no endpoint file";
    return e.ok() && e->has_value() ? **e : Endpoint{};
  }

  std::string Log() { return ReadFile(log_).value_or(""); }

  std::string dir_, endpoint_, out_, log_;
  int base_ = 0;
  pid_t pid_ = -1;
};

TEST_F(ServeWrapperTest, FillsPlaceholdersWritesEndpointAndExecs) {
  ASSERT_EQ(Run(Argv(Flags(base_), {"{model_path}", "--port", "{port}",
                                    "{host}", "--tp={num_gpus}", "{gpus}",
                                    "{{port}}", "$(echo no shell)"}),
                "2,3"),
            0)
      << Log();
  Endpoint e = ReadEndpoint();
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, base_);
  EXPECT_EQ(e.pid, pid_) << "exec keeps the wrapper's pid";
  EXPECT_THAT(
      Lines(out_),
      ElementsAre("/models/q w", "--port", absl::StrCat(base_), "127.0.0.1",
                  "--tp=2", "2,3", "{port}", "$(echo no shell)"));
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat("ocx-task serve: /bin/sh -c ")));
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat(" on 127.0.0.1:", base_, "\n")));
}

TEST_F(ServeWrapperTest, GpusIsEmptyWithoutCudaVisibleDevices) {
  ASSERT_EQ(Run(Argv(Flags(base_), {"[{gpus}]"}), std::nullopt), 0) << Log();
  EXPECT_THAT(Lines(out_), ElementsAre("[]"));
  ASSERT_EQ(Run(Argv(Flags(base_), {"[{gpus}]"}), ""), 0) << Log();
  EXPECT_THAT(Lines(out_), ElementsAre("[]"));
}

TEST_F(ServeWrapperTest, SkipsAHeldPortAndWrapsAround) {
  HeldPort held(base_ + 1);
  ASSERT_TRUE(held.held());
  ASSERT_EQ(Run(Argv(Flags(base_ + 1), {"{port}"})), 0) << Log();
  EXPECT_EQ(ReadEndpoint().port, base_ + 2);
  EXPECT_THAT(Lines(out_), ElementsAre(absl::StrCat(base_ + 2)));

  HeldPort last(base_ + kBlock - 1);
  ASSERT_TRUE(last.held());
  ASSERT_EQ(Run(Argv(Flags(base_ + kBlock - 1), {"{port}"})), 0) << Log();
  EXPECT_EQ(ReadEndpoint().port, base_) << "wraps to the first port";
}

TEST_F(ServeWrapperTest, NoFreePortExits75NamingTheRange) {
  std::vector<std::unique_ptr<HeldPort>> held;
  for (int p = base_; p < base_ + kBlock; ++p) {
    held.push_back(std::make_unique<HeldPort>(p));
    ASSERT_TRUE(held.back()->held());
  }
  EXPECT_EQ(Run(Argv(Flags(base_), {"{port}"})), 75);
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat("no free port in ", base_, "-",
                                            base_ + kBlock - 1)));
  EXPECT_FALSE(PathExists(endpoint_));
  EXPECT_FALSE(PathExists(out_)) << "nothing ran";
}

TEST_F(ServeWrapperTest, ProgramThatCannotRunExits127) {
  std::vector<std::string> argv = {OCX_TASK_BINARY, "serve"};
  std::vector<std::string> flags = Flags(base_);
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), {"--", "ocx-no-such-server", "--port", "{port}"});
  EXPECT_EQ(Run(argv), 127);
  EXPECT_THAT(Log(), HasSubstr("ocx-task serve: cannot run "
                               "\"ocx-no-such-server\": No such file or "
                               "directory"));
}

TEST_F(ServeWrapperTest, BadUsageExits2) {
  const std::string ports = absl::StrCat(base_, "-", base_ + 1);
  struct Case {
    std::vector<std::string> flags;
    std::vector<std::string> command;
    const char* error;
  } cases[] = {
      {{"--ports", ports}, {"x"}, "--endpoint-file is required"},
      {{"--endpoint-file", endpoint_}, {"x"}, "--ports is required"},
      {{"--endpoint-file", endpoint_, "--ports", ports}, {}, "no command"},
      {{"--endpoint-file", endpoint_, "--ports", "9-1"}, {"x"}, "\"9-1\""},
      {{"--endpoint-file", endpoint_, "--ports", ports, "--port-start", "1"},
       {"x"},
       "--port-start 1 is not in"},
      {{"--endpoint-file", endpoint_, "--ports", ports, "--bogus", "1"},
       {"x"},
       "unknown flag --bogus"},
      {{"--endpoint-file", endpoint_, "--ports", ports},
       {"x", "{prot}"},
       "unknown placeholder {prot}"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {OCX_TASK_BINARY, "serve"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    argv.push_back("--");
    argv.insert(argv.end(), c.command.begin(), c.command.end());
    std::remove(log_.c_str());
    EXPECT_EQ(Run(argv), 2) << c.error;
    EXPECT_THAT(Log(), HasSubstr(c.error));
    EXPECT_THAT(Log(), HasSubstr("usage: ocx-task serve"));
  }
  EXPECT_FALSE(PathExists(endpoint_));
}

TEST_F(ServeWrapperTest, EmptyHostIsTheNodeName) {
  std::vector<std::string> flags = Flags(base_);
  flags[3] = "";  // --host ""
  ASSERT_EQ(Run(Argv(flags, {"{host}"})), 0) << Log();
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  EXPECT_EQ(ReadEndpoint().host, name);
  EXPECT_THAT(Lines(out_), ElementsAre(name));
}

TEST_F(ServeWrapperTest, StandInServerAnswersOnThePortItWasGiven) {
  ChildProcess p;
  const std::string argv_log = dir_ + "/server-argv.jsonl";
  std::vector<std::string> argv = {OCX_TASK_BINARY, "serve"};
  std::vector<std::string> flags = Flags(base_);
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), {"--", OCX_FAKE_MODEL_SERVER, "serve", "{model_path}",
                           "--host", "{host}", "--port", "{port}"});
  ASSERT_TRUE(p.Start(argv,
                      {{"FAKE_SERVER_ARGV_LOG", argv_log},
                       {"FAKE_SERVER_READY_AFTER_S", "1"}},
                      log_)
                  .ok());
  ASSERT_TRUE(testing::WaitForFile(endpoint_, 10000)) << Log();
  Endpoint e = ReadEndpoint();
  const std::string url = absl::StrCat("http://", e.host, ":", e.port);
  long status = 0;
  bool saw_503 = false;
  for (int i = 0; i < 200 && status != 200; ++i) {
    absl::StatusOr<testing::HttpResult> r =
        testing::HttpCall("GET", url + "/v1/models", "", {}, 2000);
    status = r.ok() ? r->status : 0;
    saw_503 = saw_503 || status == 503;
    if (status != 200) usleep(50 * 1000);
  }
  ASSERT_EQ(status, 200) << Log();
  EXPECT_TRUE(saw_503) << "FAKE_SERVER_READY_AFTER_S answers 503 first";
  absl::StatusOr<testing::HttpResult> models =
      testing::HttpCall("GET", url + "/v1/models");
  ASSERT_TRUE(models.ok());
  EXPECT_THAT(models->body, HasSubstr("\"id\": \"/models/q w\""));
  EXPECT_THAT(Lines(argv_log).at(0),
              HasSubstr(absl::StrCat("\"--port\", \"", e.port, "\"")));
  EXPECT_THAT(Lines(argv_log).at(0),
              HasSubstr(absl::StrCat("\"pid\": ", e.pid)));
}

}  // namespace
}  // namespace ocx::serving
