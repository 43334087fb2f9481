// ocx-task infer end to end: the real ocx-task binary against the real
// stories260K model behind the OpenAI-compatible test server
// (tests/tools/llm-server), including the server's fault modes.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "task/json/json.h"
#include "tests/tools/llm_server.h"

namespace ocx::task {
namespace {

using ::google::protobuf::Value;
using ::ocx::testing::LlmServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPrompt[] = "Once upon a time, there was a little";
// The model's greedy continuation in 22 tokens (a prefix of the one in
// ../shared/models/README.md).
constexpr char kGreedy22[] =
    " girl named Lily. She loved to play outside in the park.";

struct TaskRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr, as the attempt's log has them
};

// Runs ocx-task with `args`, its output into a file; `kill_when` (if set) is
// polled every 10 ms and SIGKILLs the process when it returns true.
TaskRun RunTask(const std::vector<std::string>& args,
                const std::vector<std::string>& env = {},
                const std::function<bool()>& kill_when = nullptr) {
  char log_path[] = "/tmp/ocx-task-log-XXXXXX";
  int log_fd = mkstemp(log_path);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    for (const std::string& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv;
    std::string bin = OCX_TASK_BINARY;
    argv.push_back(bin.data());
    for (const std::string& a : args) argv.push_back(strdup(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  TaskRun run;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (kill_when && kill_when()) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  close(log_fd);
  run.output = ReadFile(log_path).value_or("");
  unlink(log_path);
  return run;
}

std::string LastLine(const std::string& text) {
  std::vector<std::string> lines =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n');
  return lines.empty() ? "" : lines.back();
}

std::vector<Value> JsonLines(const std::string& path) {
  std::vector<Value> out;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(path).value_or(""), '\n', absl::SkipEmpty())) {
    absl::StatusOr<Value> v = ParseJson(line);
    if (v.ok()) out.push_back(*v);
  }
  return out;
}

class InferTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ocx-infer-task-XXXXXX";
    work_ = mkdtemp(tmpl);
    task_dir_ = work_ + "/.ocx/tasks/t-infer-0";
    ASSERT_TRUE(MakeDirs(task_dir_).ok());
  }
  void TearDown() override {
    server_.Stop();
    std::system(("rm -rf " + work_).c_str());
  }

  void StartServer(std::vector<std::string> args = {}) {
    args.push_back("--request-log");
    args.push_back(RequestLog());
    absl::Status s = server_.Start(args);
    ASSERT_TRUE(s.ok()) << s;
  }
  std::string RequestLog() const {
    return absl::StrCat(work_, "/requests", restarts_, ".jsonl");
  }

  std::string WriteData(const std::string& name, const std::string& text) {
    std::string path = work_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // TaskParams JSON with one model and the given dataset configs (JSON).
  std::string WriteTask(const std::string& model_extra,
                        const std::vector<std::string>& datasets) {
    std::string ds;
    for (const std::string& d : datasets) {
      absl::StrAppend(&ds, ds.empty() ? "" : ",", "{\"config\":", d, "}");
    }
    std::string json = absl::StrCat(
        "{\"task_id\":\"t-infer-0\",\"stage\":\"STAGE_INFER\",\"work_dir\":",
        JsonQuote(work_), ",\"fingerprint\":\"0123456789abcdef\",",
        "\"model\":{\"abbr\":\"tiny\",\"type\":\"OpenAISDK\",\"path\":"
        "\"stories260K\",\"openai_api_base\":",
        JsonQuote(server_.base_url()), ",\"temperature\":0", model_extra,
        "},\"datasets\":[", ds, "]}");
    std::string path = task_dir_ + "/task.json";
    std::ofstream(path) << json;
    return path;
  }

  std::string GenDataset(const std::string& abbr, const std::string& path,
                         const std::string& extra = "") {
    return absl::StrCat(
        "{\"abbr\":", JsonQuote(abbr), ",\"path\":", JsonQuote(path),
        ",\"reader_cfg\":{\"input_columns\":[\"q\"],\"output_column\":\"a\"}"
        ",\"infer_cfg\":{\"prompt_template\":{\"template\":\"{q}\"},"
        "\"retriever\":{\"type\":\"ZeroRetriever\"},\"inferencer\":{\"type\":"
        "\"GenInferencer\",\"max_out_len\":22}}",
        extra, "}");
  }

  Value Predictions(const std::string& part) {
    absl::StatusOr<std::string> text =
        ReadFile(absl::StrCat(work_, "/predictions/tiny/", part, ".json"));
    EXPECT_TRUE(text.ok()) << text.status();
    absl::StatusOr<Value> v = ParseJson(text.value_or("null"));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.value_or(Value());
  }

  std::string Prediction(const Value& preds, int i) {
    const Value* rec = Member(preds, std::to_string(i));
    if (rec == nullptr || Member(*rec, "prediction") == nullptr)
      return "<none>";
    return CellText(*Member(*rec, "prediction"));
  }

  // Story beginnings, one per line of a JSONL dataset.
  std::string Stories(int n) {
    static const char* kStarts[] = {"Once upon a time, there was a little",
                                    "One day, Lily went to the",
                                    "Tom had a big red",
                                    "The sun was shining and the birds",
                                    "Sam and his mom went to the",
                                    "There was a small dog named",
                                    "Lucy liked to play with her",
                                    "Ben saw a big tree in the"};
    std::string out;
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&out, "{\"q\": ",
                      JsonQuote(absl::StrCat(kStarts[i % 8], i >= 8 ? " " : "",
                                             i >= 8 ? std::to_string(i) : "")),
                      ", \"a\": \"x\"}\n");
    }
    return out;
  }

  std::string work_;
  std::string task_dir_;
  LlmServer server_;
  int restarts_ = 0;
};

TEST_F(InferTaskTest, GreedyGenerationThroughCompletions) {
  StartServer();
  std::string data = WriteData(
      "gen.jsonl", absl::StrCat("{\"q\": \"", kPrompt,
                                "\", \"a\": \"girl\"}\n"
                                "{\"q\": \"Tom had a big red\", \"a\": 3}\n"));
  std::string task =
      WriteTask(",\"api\":\"completions\"", {GenDataset("story", data)});
  TaskRun run = RunTask({"infer", task});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  Value preds = Predictions("story");
  EXPECT_EQ(Prediction(preds, 0), kGreedy22);
  const Value& first = *Member(preds, "0");
  EXPECT_EQ(Member(first, "origin_prompt")->string_value(), kPrompt);
  EXPECT_EQ(Member(first, "gold")->string_value(), "girl");
  EXPECT_EQ(Member(*Member(preds, "1"), "gold")->number_value(), 3);
  EXPECT_EQ(preds.struct_value().fields_size(), 2);
  // Progress is final and the journal is gone.
  absl::StatusOr<Value> progress =
      ParseJson(ReadFile(task_dir_ + "/progress.json").value_or(""));
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(Member(*progress, "done")->number_value(), 2);
  EXPECT_EQ(Member(*progress, "total")->number_value(), 2);
  EXPECT_FALSE(PathExists(task_dir_ + "/journal/story.jsonl"));
  std::vector<Value> requests = JsonLines(RequestLog());
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(Member(requests[0], "endpoint")->string_value(), "/v1/completions");
}

TEST_F(InferTaskTest, ChatTemplatesGoToChatCompletions) {
  StartServer();
  std::string data = WriteData(
      "chat.jsonl", absl::StrCat("{\"q\": \"", kPrompt, "\", \"a\": \"g\"}\n"));
  std::string ds = absl::StrCat(
      "{\"abbr\":\"chat\",\"path\":", JsonQuote(data),
      ",\"reader_cfg\":{\"input_columns\":[\"q\"],\"output_column\":\"a\"},"
      "\"infer_cfg\":{\"prompt_template\":{\"template\":{\"round\":["
      "{\"role\":\"HUMAN\",\"prompt\":\"{q}\"},{\"role\":\"BOT\","
      "\"prompt\":\"{a}\"}]}},\"inferencer\":{\"max_out_len\":5}}}");
  TaskRun run = RunTask({"infer", WriteTask("", {ds})});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  Value preds = Predictions("chat");
  // The server's chat rendering is the contents, each followed by "\n".
  EXPECT_EQ(Prediction(preds, 0), " girl named Lily");
  const Value* prompt = Member(*Member(preds, "0"), "origin_prompt");
  ASSERT_TRUE(prompt->has_list_value());
  EXPECT_EQ(ToJson(*prompt), absl::StrCat("[{\"content\":\"", kPrompt,
                                          "\",\"role\":\"user\"}]"));
  std::vector<Value> requests = JsonLines(RequestLog());
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(Member(requests[0], "endpoint")->string_value(),
            "/v1/chat/completions");
}

TEST_F(InferTaskTest, PerplexityPicksTheNaturalEnding) {
  StartServer();
  std::string data = WriteData(
      "ppl.jsonl",
      absl::StrCat("{\"q\": \"", kPrompt, "\", \"a\": \"girl\"}\n",
                   "{\"q\": \"One day, Lily went to the\", \"a\": \"park\"}\n",
                   "{\"q\": \"Tom had a big red\", \"a\": \"ball\"}\n"));
  std::string ds = absl::StrCat(
      "{\"abbr\":\"cloze\",\"path\":", JsonQuote(data),
      ",\"reader_cfg\":{\"input_columns\":[\"q\"],\"output_column\":\"a\"},"
      "\"infer_cfg\":{\"prompt_template\":{\"template\":{\"girl\":\"{q} girl\","
      "\"park\":\"{q} park\",\"ball\":\"{q} ball\"}},\"inferencer\":"
      "{\"type\":\"PPLInferencer\"}}}");
  TaskRun run = RunTask({"infer", WriteTask("", {ds})});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  Value preds = Predictions("cloze");
  EXPECT_EQ(Prediction(preds, 0), "girl");
  EXPECT_EQ(Prediction(preds, 1), "park");
  EXPECT_EQ(Prediction(preds, 2), "ball");
  const Value* label = Member(*Member(preds, "0"), "label: girl");
  ASSERT_NE(label, nullptr);
  EXPECT_EQ(Member(*label, "prompt")->string_value(),
            absl::StrCat(kPrompt, " girl"));
  const double girl = Member(*label, "PPL")->number_value();
  const double ball = Member(*Member(*Member(preds, "0"), "label: ball"), "PPL")
                          ->number_value();
  EXPECT_GT(girl, 1.0);
  EXPECT_LT(girl, ball);
  EXPECT_EQ(JsonLines(RequestLog()).size(), 9u);  // 3 samples x 3 labels
}

TEST_F(InferTaskTest, ServerWithoutLogprobsCannotRunPerplexity) {
  StartServer({"--no-logprobs"});
  std::string data = WriteData("p.jsonl", "{\"q\": \"Tom had a\"}\n");
  std::string ds = absl::StrCat(
      "{\"abbr\":\"p\",\"path\":", JsonQuote(data),
      ",\"infer_cfg\":{\"prompt_template\":{\"template\":{\"A\":\"{q} ball\","
      "\"B\":\"{q} dog\"}},\"inferencer\":{\"type\":\"PPLInferencer\"}}}");
  TaskRun run = RunTask({"infer", WriteTask("", {ds})});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(LastLine(run.output), HasSubstr("cannot score prompts"));
  EXPECT_FALSE(PathExists(work_ + "/predictions/tiny/p.json"));
}

// A server that ignores echo and scores only what it generates (as
// llama.cpp's llama-server does): no perplexity is made up from a generated
// token; the task fails and leaves its error record in OCX_ATTEMPT_DIR.
TEST_F(InferTaskTest, ServerThatIgnoresEchoCannotRunPerplexity) {
  StartServer({"--llama-server-logprobs"});
  std::string data = WriteData("p.jsonl", "{\"q\": \"Tom had a\"}\n");
  std::string ds = absl::StrCat(
      "{\"abbr\":\"p\",\"path\":", JsonQuote(data),
      ",\"infer_cfg\":{\"prompt_template\":{\"template\":{\"A\":\"{q} ball\","
      "\"B\":\"{q} dog\"}},\"inferencer\":{\"type\":\"PPLInferencer\"}}}");
  const std::string attempt_dir = work_ + "/attempt-1";
  ASSERT_TRUE(MakeDirs(attempt_dir).ok());
  TaskRun run = RunTask({"infer", WriteTask("", {ds})},
                        {"OCX_ATTEMPT_DIR=" + attempt_dir});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(LastLine(run.output),
              HasSubstr("does not return prompt log-probabilities (echo "
                        "ignored: 1 log-probability for a "));
  EXPECT_FALSE(PathExists(work_ + "/predictions/tiny/p.json"));
  absl::StatusOr<std::string> record = ReadFile(attempt_dir + "/error.json");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_THAT(*record, HasSubstr("\"kind\":\"unsupported_server\""));
  EXPECT_THAT(*record, HasSubstr("llama.cpp's llama-server does not"));
}

TEST_F(InferTaskTest, RetriesA429ThenSucceeds) {
  StartServer({"--fail-first", "2", "--fail-status", "429"});
  std::string data = WriteData("d.jsonl", Stories(3));
  TaskRun run = RunTask({"infer", WriteTask(",\"api\":\"completions\","
                                            "\"max_concurrency\":1",
                                            {GenDataset("d", data)})});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("HTTP 429"));
  EXPECT_EQ(Predictions("d").struct_value().fields_size(), 3);
  std::vector<Value> requests = JsonLines(RequestLog());
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(Member(requests[0], "status")->number_value(), 429);
  EXPECT_EQ(Member(requests[1], "status")->number_value(), 429);
  EXPECT_EQ(Member(requests[2], "status")->number_value(), 200);
}

TEST_F(InferTaskTest, UnauthorizedFailsAtOnceWithTheServersMessage) {
  StartServer({"--api-key", "right-key"});
  std::string data = WriteData("d.jsonl", Stories(4));
  std::string task =
      WriteTask(",\"key_env\":\"TINY_KEY\",\"max_concurrency\":1",
                {GenDataset("d", data)});
  TaskRun run = RunTask({"infer", task}, {"TINY_KEY=wrong-SECRET-key"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(LastLine(run.output), HasSubstr("HTTP 401"));
  EXPECT_THAT(LastLine(run.output), HasSubstr("/chat/completions"));
  EXPECT_THAT(run.output, Not(HasSubstr("SECRET")));
  EXPECT_THAT(run.output, Not(HasSubstr("retry")));
  EXPECT_EQ(JsonLines(RequestLog()).size(), 1u);
  // The right key works.
  TaskRun ok = RunTask({"infer", task}, {"TINY_KEY=right-key"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  // An unset variable is named.
  TaskRun unset = RunTask({"infer", task});
  EXPECT_EQ(unset.exit_code, 1);
  EXPECT_THAT(LastLine(unset.output), HasSubstr("TINY_KEY"));
}

TEST_F(InferTaskTest, MalformedJsonNamesTheEndpointAndShowsTheBody) {
  StartServer({"--malformed"});
  std::string data = WriteData("d.jsonl", Stories(2));
  TaskRun run = RunTask({"infer", WriteTask(",\"api\":\"completions\"",
                                            {GenDataset("d", data)})});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(LastLine(run.output),
              HasSubstr(absl::StrCat("malformed JSON from POST ",
                                     server_.base_url(), "/completions")));
  EXPECT_THAT(LastLine(run.output), HasSubstr("the body starts with: \"{"));
}

TEST_F(InferTaskTest, EmptyDatasetWritesEmptyPredictions) {
  StartServer();
  std::string empty = WriteData("empty.jsonl", "\n");
  std::string some = WriteData("some.jsonl", Stories(3));
  TaskRun run = RunTask(
      {"infer",
       WriteTask("", {GenDataset("empty", empty),
                      GenDataset("ranged", some,
                                 ",\"reader_cfg\":{\"input_columns\":[\"q\"],"
                                 "\"test_range\":\"[3:]\"}")})});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(*ReadFile(work_ + "/predictions/tiny/empty.json"), "{}\n");
  EXPECT_EQ(*ReadFile(work_ + "/predictions/tiny/ranged.json"), "{}\n");
  EXPECT_EQ(JsonLines(RequestLog()).size(), 0u);
}

// The server dies mid-task; the next attempt, against a new server, asks
// only for the samples the first did not finish.
TEST_F(InferTaskTest, ServerDeathThenTheNextAttemptResumes) {
  StartServer({"--die-after", "5"});
  std::string data = WriteData("d.jsonl", Stories(12));
  const std::string model =
      ",\"api\":\"completions\",\"max_concurrency\":2,"
      "\"retry\":1";
  TaskRun first = RunTask({"infer", WriteTask(model, {GenDataset("d", data)})});
  EXPECT_EQ(first.exit_code, 1) << first.output;
  EXPECT_THAT(LastLine(first.output), HasSubstr("failed after 2 tries"));
  EXPECT_FALSE(PathExists(work_ + "/predictions/tiny/d.json"));
  std::set<std::string> answered;
  for (const Value& r : JsonLines(RequestLog())) {
    if (Member(r, "status")->number_value() == 200) {
      answered.insert(Member(r, "prompt")->string_value());
    }
  }
  // --die-after 5: at most five answers; one may be lost with the server.
  EXPECT_GE(answered.size(), 4u);
  EXPECT_LE(answered.size(), 5u);
  std::string journal = ReadFile(task_dir_ + "/journal/d.jsonl").value_or("");
  const int journaled =
      static_cast<int>(std::count(journal.begin(), journal.end(), '\n')) - 1;
  EXPECT_GE(journaled, 3);
  EXPECT_LE(journaled, static_cast<int>(answered.size()));

  server_.Stop();
  ++restarts_;
  StartServer();
  TaskRun second = RunTask({"infer", WriteTask(model, {GenDataset("d", data)})},
                           {"OCX_ATTEMPT=2"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output,
              HasSubstr(absl::StrCat(journaled, " resumed from the journal")));
  std::vector<Value> again = JsonLines(RequestLog());
  EXPECT_EQ(again.size(), static_cast<size_t>(12 - journaled));
  int repeated = 0;
  for (const Value& r : again) {
    repeated += answered.count(Member(r, "prompt")->string_value());
  }
  // Only answers lost in flight when the server died are asked again
  // (max_concurrency 2).
  EXPECT_EQ(repeated, static_cast<int>(answered.size()) - journaled);
  EXPECT_LE(repeated, 2);
  Value preds = Predictions("d");
  EXPECT_EQ(preds.struct_value().fields_size(), 12);
  EXPECT_EQ(Prediction(preds, 0), kGreedy22);
  absl::StatusOr<Value> progress =
      ParseJson(ReadFile(task_dir_ + "/progress.json").value_or(""));
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(Member(*progress, "attempt")->number_value(), 2);
  EXPECT_EQ(Member(*progress, "done")->number_value(), 12);
}

// kill -9 of ocx-task itself mid-run: the rerun sends only what the journal
// does not hold (at most the requests that were in flight are repeated).
TEST_F(InferTaskTest, KilledTaskResumesFromItsJournal) {
  StartServer();
  std::string data = WriteData("d.jsonl", Stories(60));
  const std::string model = ",\"api\":\"completions\",\"max_concurrency\":2";
  std::string ds = GenDataset("d", data);
  ds.replace(ds.find("\"max_out_len\":22"), 16, "\"max_out_len\":64");
  std::string task = WriteTask(model, {ds});
  const std::string journal = task_dir_ + "/journal/d.jsonl";
  auto journaled = [&] {
    std::string text = ReadFile(journal).value_or("");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n')) - 1;
  };
  TaskRun first =
      RunTask({"infer", task}, {}, [&] { return journaled() >= 10; });
  ASSERT_EQ(first.exit_code, -SIGKILL) << first.output;
  const int done = journaled();
  ASSERT_GE(done, 10);
  ASSERT_LT(done, 60);
  // Let the server finish the requests that were in flight (it logs them).
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const size_t asked_before = JsonLines(RequestLog()).size();
  TaskRun second = RunTask({"infer", task}, {"OCX_ATTEMPT=2"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const size_t asked_after = JsonLines(RequestLog()).size() - asked_before;
  EXPECT_EQ(asked_after, static_cast<size_t>(60 - done));
  EXPECT_EQ(Predictions("d").struct_value().fields_size(), 60);
}

}  // namespace
}  // namespace ocx::task
