#include "common/loopback.h"

#include "gtest/gtest.h"

namespace ocx {
namespace {

TEST(LoopbackTest, LoopbackLiteralsAndLocalhost) {
  for (const char* host :
       {"127.0.0.1", "127.9.8.7", "::1", "[::1]", "localhost"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
}

TEST(LoopbackTest, OtherAddressesAndLookalikeNamesAreNot) {
  // A name is not an address: "127.example.com" resolves wherever its DNS
  // says, so plain text on it must not count as loopback.
  for (const char* host :
       {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "127.example.com",
        "127.0.0.1.nip.io", "gpu-box", ""}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

}  // namespace
}  // namespace ocx
