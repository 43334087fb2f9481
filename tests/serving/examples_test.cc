// The serve examples (examples/serve-*.yaml) load and validate, and each
// one's command runs under `ocx-task serve` with its placeholders filled.
// vLLM, LMDeploy and SGLang need GPUs and llama-server is not packaged for
// Debian 12, so the program is swapped for the stand-in
// tests/tools/fake-model-server (docs/serving.md, "Examples and what is
// tested here"): the command's program words are replaced by
// [python3, <stand-in>] and every flag after them is kept.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serving/endpoint_file.h"
#include "serving/serve_config.h"
#include "spec/evaluation_spec.h"
#include "spec/validate.h"
#include "task/json/json.h"
#include "tests/serving/child_process.h"
#include "tests/tools/llm_server.h"

namespace ocx::serving {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Example {
  const char* file;
  // How many leading command words name the program (python3 -m module: 3).
  int program_words;
  const char* program;  // what they must be
  const char* port_flag;
  const char* model_flag;  // "" when the model path is positional
  const char* gpus_flag;   // "" when the example does not pass {num_gpus}
};

const Example kExamples[] = {
    {"serve-vllm.yaml", 1, "vllm", "--port", "", "--tensor-parallel-size"},
    {"serve-lmdeploy.yaml", 1, "lmdeploy", "--server-port", "", "--tp"},
    {"serve-sglang.yaml", 3, "python3 -m sglang.launch_server", "--port",
     "--model-path", "--tp"},
    {"serve-llama-cpp.yaml", 1, "llama-server", "--port", "-m", ""},
};

// The value after `flag` in argv; "" when absent.
std::string After(const std::vector<std::string>& argv,
                  const std::string& flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

class ExamplesTest : public ::testing::TestWithParam<Example> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ocx-serve-examples-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }
  std::string dir_;
};

TEST_P(ExamplesTest, ValidatesAndServesThroughTheStandIn) {
  const Example& ex = GetParam();
  absl::StatusOr<ocx::v1::EvaluationSpec> spec = spec::LoadEvaluationSpecFile(
      absl::StrCat(OCX_SOURCE_DIR, "/examples/", ex.file));
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec::ValidateEvaluationSpec(*spec).ok())
      << spec::ValidateEvaluationSpec(*spec);
  spec::ApplyDefaults(&*spec);
  ASSERT_TRUE(spec::ValidateEvaluationSpec(*spec).ok());
  const ocx::v1::ModelConfig& model = spec->models(0);
  ASSERT_TRUE(model.has_serve());
  EXPECT_TRUE(model.openai_api_base().empty());

  // The stand-in in place of the program.
  ocx::v1::ModelConfig swapped = model;
  ocx::v1::ServeConfig* serve = swapped.mutable_serve();
  std::vector<std::string> command(serve->command().begin(),
                                   serve->command().end());
  ASSERT_GT(command.size(), static_cast<size_t>(ex.program_words));
  std::vector<std::string> program(command.begin(),
                                   command.begin() + ex.program_words);
  EXPECT_EQ(absl::StrJoin(program, " "), ex.program);
  command.erase(command.begin(), command.begin() + ex.program_words);
  command.insert(command.begin(), {"python3", OCX_FAKE_MODEL_SERVER});
  serve->clear_command();
  for (const std::string& arg : command) serve->add_command(arg);

  const int base = testing::FreePortBlock(4);
  ASSERT_NE(base, 0);
  const ocx::v1::ServerPool pool = PoolFor(swapped, spec->infer().runner());
  const std::string endpoint_file = EndpointFileIn(dir_);
  const std::string argv_log = dir_ + "/argv.jsonl";
  const std::string log = dir_ + "/replica.log";
  const std::string gpus = serve->num_gpus() == 2 ? "0,1" : "0";
  testing::ChildProcess replica;
  ASSERT_TRUE(replica
                  .Start(ReplicaArgv(OCX_TASK_BINARY, pool, endpoint_file,
                                     "127.0.0.1", base, base + 3, base),
                         {{"FAKE_SERVER_ARGV_LOG", argv_log},
                          {"CUDA_VISIBLE_DEVICES", gpus}},
                         log)
                  .ok());
  ASSERT_TRUE(testing::WaitForFile(endpoint_file, 10000))
      << ReadFile(log).value_or("");
  absl::StatusOr<std::optional<Endpoint>> endpoint =
      ReadEndpointFile(endpoint_file);
  ASSERT_TRUE(endpoint.ok() && endpoint->has_value());
  const Endpoint& e = **endpoint;
  EXPECT_EQ(e.pid, replica.pid());

  // Ready: the example's own ready path answers 200.
  const std::string ready_url =
      absl::StrCat("http://", e.host, ":", e.port, pool.serve().ready().path());
  long status = 0;
  for (int i = 0; i < 200 && status != 200; ++i) {
    absl::StatusOr<testing::HttpResult> r =
        testing::HttpCall("GET", ready_url, "", {}, 2000);
    status = r.ok() ? r->status : 0;
    if (status != 200) usleep(50 * 1000);
  }
  ASSERT_EQ(status, 200) << ready_url << "\n" << ReadFile(log).value_or("");

  // The argv the server got: the example's flags with the values filled.
  absl::StatusOr<std::string> logged = ReadFile(argv_log);
  ASSERT_TRUE(logged.ok()) << logged.status();
  absl::StatusOr<google::protobuf::Value> record = task::ParseJson(*logged);
  ASSERT_TRUE(record.ok()) << record.status();
  std::vector<std::string> got;
  for (const auto& v :
       record->struct_value().fields().at("argv").list_value().values()) {
    got.push_back(v.string_value());
  }
  ServeValues values{model.path(), "127.0.0.1", e.port, serve->num_gpus(),
                     gpus};
  absl::StatusOr<std::vector<std::string>> expected =
      ExpandServeCommand(*serve, values);
  ASSERT_TRUE(expected.ok());
  // The interpreter runs the stand-in: its argv starts at the script.
  expected->erase(expected->begin());
  EXPECT_EQ(got, *expected);
  EXPECT_EQ(After(got, ex.port_flag), absl::StrCat(e.port));
  if (*ex.model_flag != '\0')
    EXPECT_EQ(After(got, ex.model_flag), model.path());
  EXPECT_THAT(*logged, HasSubstr(absl::StrCat("\"", model.path(), "\"")));
  if (*ex.gpus_flag != '\0') {
    EXPECT_EQ(After(got, ex.gpus_flag), absl::StrCat(serve->num_gpus()));
  }
  EXPECT_EQ(
      record->struct_value().fields().at("cuda_visible_devices").string_value(),
      gpus);
  for (const std::string& arg : got) EXPECT_THAT(arg, Not(HasSubstr("{")));
}

INSTANTIATE_TEST_SUITE_P(Serve, ExamplesTest, ::testing::ValuesIn(kExamples),
                         [](const ::testing::TestParamInfo<Example>& info) {
                           std::string name = info.param.file;
                           name = name.substr(6, name.size() - 11);
                           name.erase(
                               std::remove(name.begin(), name.end(), '-'),
                               name.end());
                           return name;
                         });

}  // namespace
}  // namespace ocx::serving
