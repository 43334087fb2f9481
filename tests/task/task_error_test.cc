// TaskError: tags survive context on the way up, untagged errors get a kind
// from their code, and the record is written as proto JSON.
#include "task/error/task_error.h"

#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace ocx::task {
namespace {

using ::testing::HasSubstr;

TEST(TaskErrorTest, ATagSurvivesAnnotation) {
  absl::Status s = WithTaskError(absl::FailedPreconditionError("HTTP 401"),
                                 kHttpError, 401, std::string(900, 'b'));
  s = Annotate(Annotate(s, "sample 3"), "dataset d");
  ocx::v1::TaskError e = TaskErrorOf(s);
  EXPECT_EQ(e.kind(), "http_error");
  EXPECT_EQ(e.http_status(), 401);
  EXPECT_EQ(e.message(), "dataset d: sample 3: HTTP 401");
  EXPECT_EQ(e.body_excerpt().size(), kMaxBodyExcerpt);
}

TEST(TaskErrorTest, AnExcerptDoesNotCutAUtf8Character) {
  // 499 ASCII bytes and then a 2-byte character across the limit.
  std::string body = std::string(499, 'a') + "\xC3\xA9" + "tail";
  ocx::v1::TaskError e = TaskErrorOf(
      WithTaskError(absl::UnavailableError("x"), kHttpError, 503, body));
  EXPECT_EQ(e.body_excerpt(), std::string(499, 'a'));
}

TEST(TaskErrorTest, UntaggedErrorsGetAKindFromTheirCode) {
  EXPECT_EQ(TaskErrorOf(absl::InvalidArgumentError("bad abbr")).kind(),
            "invalid_input");
  EXPECT_EQ(TaskErrorOf(absl::NotFoundError("no file")).kind(), "internal");
  EXPECT_EQ(TaskErrorOf(absl::NotFoundError("no file")).message(), "no file");
}

TEST(TaskErrorTest, TheRecordIsProtoJson) {
  char tmpl[] = "/tmp/ocx-task-error-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/error.json";
  ocx::v1::TaskError e = TaskErrorOf(
      WithTaskError(absl::UnavailableError("Couldn't connect to server"),
                    kEndpointUnreachable));
  ASSERT_TRUE(WriteTaskError(path, e).ok());
  absl::StatusOr<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr(R"("kind":"endpoint_unreachable")"));
  ocx::v1::TaskError back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*text, &back).ok());
  EXPECT_EQ(back.message(), "Couldn't connect to server");
  unlink(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace ocx::task
