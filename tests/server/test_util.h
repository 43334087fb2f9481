// Helpers shared by the server tests: a temporary directory and small
// builders for store rows.
#ifndef OCX_TESTS_SERVER_TEST_UTIL_H_
#define OCX_TESTS_SERVER_TEST_UTIL_H_

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ocx::server::testing {

// A fresh directory under $TEST_TMPDIR or /tmp, removed by the destructor
// unless OCX_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl =
        absl::StrCat(base != nullptr ? base : "/tmp", "/ocx-server-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << strerror(errno);
    }
    path_ = tmpl;
  }
  ~TempDir() {
    if (getenv("OCX_KEEP_TEST_DIRS") != nullptr) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ocx::server::testing

#endif  // OCX_TESTS_SERVER_TEST_UTIL_H_
