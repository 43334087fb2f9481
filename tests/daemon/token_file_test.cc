#include "server/daemon/token_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TokenFileTest, Sha256HexMatchesSha256sum) {
  // printf %s abc | sha256sum
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenFileTest, FindsTheUserOfAToken) {
  absl::StatusOr<TokenFile> file =
      TokenFile::Parse(absl::StrCat("# comment\n\nalice ", Sha256Hex("t-alice"),
                                    "\n  bob\t", Sha256Hex("t-bob"), "  \n"),
                       "tokens");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->size(), 2u);
  EXPECT_EQ(*file->UserOf("t-bob"), "bob");
  EXPECT_EQ(*file->UserOf("t-alice"), "alice");
  EXPECT_EQ(file->UserOf("t-carol").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(file->UserOf("").ok());
}

TEST(TokenFileTest, MalformedLineNamesPathAndLine) {
  absl::StatusOr<TokenFile> file =
      TokenFile::Parse("# ok\nalice not-a-hash\n", "/etc/ocx/tokens");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(file.status().message(), HasSubstr("/etc/ocx/tokens:2"));
  EXPECT_THAT(file.status().message(), Not(HasSubstr("not-a-hash")));
}

TEST(TokenFileTest, GroupWritableFileIsRefused) {
  char tmpl[] = "/tmp/ocxtokens.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(tmpl) << "alice " << Sha256Hex("x") << "\n";
  chmod(tmpl, 0620);
  absl::StatusOr<TokenFile> loose = TokenFile::Load(tmpl);
  EXPECT_EQ(loose.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loose.status().message(), HasSubstr("chmod go-w"));
  chmod(tmpl, 0600);
  absl::StatusOr<TokenFile> tight = TokenFile::Load(tmpl);
  ASSERT_TRUE(tight.ok()) << tight.status();
  EXPECT_EQ(*tight->UserOf("x"), "alice");
  unlink(tmpl);
}

}  // namespace
}  // namespace ocx::daemon
