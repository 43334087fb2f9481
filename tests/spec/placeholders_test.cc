#include "spec/placeholders.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace ocx::spec {
namespace {

const std::map<std::string, std::string> kValues = {
    {"task_json", "/w/t.json"}, {"task_id", "t1"}, {"evaluation_id", "e1"},
    {"work_dir", "/w"},         {"attempt", "2"},  {"stage", "infer"}};

TEST(PlaceholdersTest, CheckAcceptsKnownNamesAndEscapes) {
  EXPECT_TRUE(CheckPlaceholders("").ok());
  EXPECT_TRUE(CheckPlaceholders("plain").ok());
  EXPECT_TRUE(CheckPlaceholders("--in={task_json}").ok());
  EXPECT_TRUE(CheckPlaceholders("{work_dir}/{stage}/{attempt}").ok());
  EXPECT_TRUE(CheckPlaceholders("{{not a placeholder}}").ok());
  EXPECT_TRUE(CheckPlaceholders("{{{task_id}}}").ok());
}

TEST(PlaceholdersTest, CheckErrors) {
  EXPECT_EQ(CheckPlaceholders("{foo}").message(),
            "unknown placeholder {foo} (known: {task_json}, {task_id}, "
            "{evaluation_id}, {work_dir}, {attempt}, {stage})");
  EXPECT_EQ(CheckPlaceholders("{}").message(),
            "unknown placeholder {} (known: {task_json}, {task_id}, "
            "{evaluation_id}, {work_dir}, {attempt}, {stage})");
  EXPECT_EQ(CheckPlaceholders("x{task_id").message(),
            "unclosed \"{\" at offset 1 (write {{ for a literal brace)");
  EXPECT_EQ(CheckPlaceholders("a}").message(),
            "unpaired \"}\" at offset 1 (write }} for a literal brace)");
  EXPECT_EQ(CheckPlaceholders("{{task_id}").message(),
            "unpaired \"}\" at offset 9 (write }} for a literal brace)");
}

TEST(PlaceholdersTest, Expand) {
  EXPECT_EQ(*ExpandPlaceholders("--in={task_json}", kValues), "--in=/w/t.json");
  EXPECT_EQ(*ExpandPlaceholders("{work_dir}/{stage}.{attempt}", kValues),
            "/w/infer.2");
  EXPECT_EQ(*ExpandPlaceholders("{{x}} {{{task_id}}}", kValues), "{x} {t1}");
  EXPECT_EQ(*ExpandPlaceholders("none", kValues), "none");
  // Values are not rescanned.
  EXPECT_EQ(*ExpandPlaceholders("{a}", {{"a", "{b}"}}), "{b}");
}

TEST(PlaceholdersTest, ExpandErrors) {
  EXPECT_EQ(ExpandPlaceholders("{nope}", {{"a", "1"}}).status().message(),
            "unknown placeholder {nope} (known: {a})");
  EXPECT_EQ(ExpandPlaceholders("}", kValues).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ocx::spec
