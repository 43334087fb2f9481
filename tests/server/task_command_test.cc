// Paths and argv of a task attempt: pure functions of the task's params, so
// a restarted daemon computes the same ones.
#include "server/dispatcher/task_command.h"

#include "gtest/gtest.h"

namespace ocx::server {
namespace {

ocx::v1::TaskParams Params() {
  ocx::v1::TaskParams p;
  p.set_task_id("e1-infer-3");
  p.set_evaluation_id("e1");
  p.set_work_dir("/w/e1");
  p.set_stage(ocx::v1::STAGE_INFER);
  p.mutable_model()->set_abbr("llama");
  return p;
}

TEST(TaskCommandTest, PathsFollowTheWorkDirLayout) {
  TaskPaths paths = PathsFor(Params(), 2);
  EXPECT_EQ(paths.task_dir, "/w/e1/.ocx/tasks/e1-infer-3");
  EXPECT_EQ(paths.task_json, "/w/e1/.ocx/tasks/e1-infer-3/task.json");
  EXPECT_EQ(paths.attempt_dir, "/w/e1/.ocx/tasks/e1-infer-3/2");
  EXPECT_EQ(paths.log_path, "/w/e1/logs/infer/llama/e1-infer-3.2.out");
}

TEST(TaskCommandTest, CommandArgvHasEveryPlaceholderExpanded) {
  ocx::v1::TaskParams p = Params();
  p.mutable_task()->set_type("command");
  for (const char* arg :
       {"run", "{task_json}", "--id={task_id}", "{evaluation_id}",
        "{work_dir}/x", "a{attempt}", "{stage}", "{{literal}}"}) {
    p.mutable_task()->add_argv(arg);
  }
  std::vector<std::string> argv =
      TaskArgv(p, PathsFor(p, 4), 4, "/bin/ocx-task");
  std::vector<std::string> want = {"run",
                                   "/w/e1/.ocx/tasks/e1-infer-3/task.json",
                                   "--id=e1-infer-3",
                                   "e1",
                                   "/w/e1/x",
                                   "a4",
                                   "infer",
                                   "{literal}"};
  EXPECT_EQ(argv, want);
}

TEST(TaskCommandTest, OpenIclTasksRunOcxTaskWithTheirStage) {
  ocx::v1::TaskParams p = Params();
  p.mutable_task()->set_type("OpenICLInferTask");
  EXPECT_EQ(
      TaskArgv(p, PathsFor(p, 1), 1, "/bin/ocx-task"),
      (std::vector<std::string>{"/bin/ocx-task", "infer",
                                "/w/e1/.ocx/tasks/e1-infer-3/task.json"}));
  p.set_stage(ocx::v1::STAGE_EVAL);
  EXPECT_EQ(TaskArgv(p, PathsFor(p, 1), 1, "/bin/ocx-task")[1], "eval");
}

}  // namespace
}  // namespace ocx::server
