// common/utf8_cut: cuts land on character boundaries for 2-, 3- and 4-byte
// characters at every position, and the gRPC status conversion (the
// 1024-byte cut every error crosses) keeps a message valid UTF-8.
#include "common/utf8_cut.h"

#include <string>

#include "gtest/gtest.h"
#include "server/api/grpc_status.h"

namespace ocx {
namespace {

// True when `s` is well-formed UTF-8 (no cut sequence, no stray byte).
bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80           ? 1
               : (c >> 5) == 0x6  ? 2
               : (c >> 4) == 0xE  ? 3
               : (c >> 3) == 0x1E ? 4
                                  : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(Utf8PrefixTest, NeverEndsInsideACharacter) {
  // a, é (2 bytes), 中 (3), 😀 (4), z.
  const std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80z";
  EXPECT_EQ(Utf8Prefix(text, 0), "");
  EXPECT_EQ(Utf8Prefix(text, 1), "a");
  EXPECT_EQ(Utf8Prefix(text, 2), "a");  // inside é
  EXPECT_EQ(Utf8Prefix(text, 3), "a\xC3\xA9");
  EXPECT_EQ(Utf8Prefix(text, 4), "a\xC3\xA9");  // inside 中
  EXPECT_EQ(Utf8Prefix(text, 5), "a\xC3\xA9");
  EXPECT_EQ(Utf8Prefix(text, 6), "a\xC3\xA9\xE4\xB8\xAD");
  for (size_t n : {7, 8, 9}) {  // inside 😀
    EXPECT_EQ(Utf8Prefix(text, n), "a\xC3\xA9\xE4\xB8\xAD") << n;
  }
  EXPECT_EQ(Utf8Prefix(text, 10), text.substr(0, 10));
  EXPECT_EQ(Utf8Prefix(text, 11), text);
  EXPECT_EQ(Utf8Prefix(text, 100), text);
  for (size_t n = 0; n <= text.size(); ++n) {
    EXPECT_TRUE(IsValidUtf8(std::string(Utf8Prefix(text, n)))) << n;
  }
}

TEST(Utf8PrefixTest, BytesThatAreNotUtf8AreCutAsTheyAre) {
  const std::string junk = "ab\x80\x80\x80\x80\x80";
  EXPECT_EQ(Utf8Prefix(junk, 6), junk.substr(0, 6));
}

TEST(AbbreviateTest, AddsAnEllipsisOnlyWhenItCuts) {
  EXPECT_EQ(Abbreviate("short", 5), "short");
  EXPECT_EQ(Abbreviate("\xE4\xB8\xAD\xE6\x96\x87", 4), "\xE4\xB8\xAD...");
}

TEST(ToGrpcStatusTest, A1024ByteCutInsideACharacterKeepsValidUtf8) {
  // 1023 ASCII bytes, then 3-byte characters: byte 1024 is inside one.
  std::string message(1023, 'x');
  for (int i = 0; i < 10; ++i) message += "\xE4\xB8\xAD";
  grpc::Status status =
      server::ToGrpcStatus(absl::InvalidArgumentError(message));
  EXPECT_EQ(status.error_message(), std::string(1023, 'x'));
  EXPECT_TRUE(IsValidUtf8(status.error_message()));
}

}  // namespace
}  // namespace ocx
