#include "serving/endpoint_file.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::serving {
namespace {

using ::testing::HasSubstr;

class EndpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ocx-endpoint-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink(EndpointFileIn(dir_).c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(EndpointFileTest, WriteThenRead) {
  const std::string path = EndpointFileIn(dir_);
  EXPECT_EQ(path, dir_ + "/endpoint.json");
  ASSERT_TRUE(WriteEndpointFile(path, {"node7", 20001, 4242}).ok());
  absl::StatusOr<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("\"host\":\"node7\""));
  EXPECT_THAT(*text, HasSubstr("\"port\":20001"));
  EXPECT_THAT(*text, HasSubstr("\"pid\":4242"));
  absl::StatusOr<std::optional<Endpoint>> e = ReadEndpointFile(path);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(e->has_value());
  EXPECT_EQ((*e)->host, "node7");
  EXPECT_EQ((*e)->port, 20001);
  EXPECT_EQ((*e)->pid, 4242);
}

TEST_F(EndpointFileTest, MissingIsNotAnError) {
  absl::StatusOr<std::optional<Endpoint>> e =
      ReadEndpointFile(EndpointFileIn(dir_));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->has_value());
}

TEST_F(EndpointFileTest, MalformedNamesTheFileAndTheField) {
  const std::string path = EndpointFileIn(dir_);
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"not json", "not a JSON object"},
      {"{\"port\": 1, \"pid\": 1}", "\"host\" must be a non-empty string"},
      {"{\"host\": \"h\", \"pid\": 1}", "\"port\" must be a number"},
      {"{\"host\": \"h\", \"port\": 70000, \"pid\": 1}",
       "\"port\" must be a whole number in 1..65535"},
      {"{\"host\": \"h\", \"port\": 80.5, \"pid\": 1}", "\"port\""},
      {"{\"host\": \"h\", \"port\": 80}", "\"pid\" must be a number"},
      {"{\"host\": \"h\", \"port\": 80, \"pid\": -1}", "\"pid\""},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(WriteFileAtomic(path, c.text).ok());
    absl::StatusOr<std::optional<Endpoint>> e = ReadEndpointFile(path);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(e.status().message(), HasSubstr(path)) << c.text;
    EXPECT_THAT(e.status().message(), HasSubstr(c.error)) << c.text;
  }
}

TEST(BaseUrlTest, HostPortAndApiPath) {
  EXPECT_EQ(BaseUrl({"127.0.0.1", 20001, 1}, "/v1"),
            "http://127.0.0.1:20001/v1");
  EXPECT_EQ(BaseUrl({"node7", 8080, 1}, ""), "http://node7:8080");
}

}  // namespace
}  // namespace ocx::serving
