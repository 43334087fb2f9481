// A temporary directory for dataset files, removed with its contents at the
// end of the test (the dataset and dataset-size tests write files there).
#ifndef OCX_TESTS_DATASETS_TEMP_DIR_H_
#define OCX_TESTS_DATASETS_TEMP_DIR_H_

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace ocx::testing {

class DatasetDir {
 public:
  DatasetDir() {
    std::string tmpl =
        absl::StrCat(getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp",
                     "/ocx-datasets-XXXXXX");
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~DatasetDir() { std::filesystem::remove_all(path_); }
  DatasetDir(const DatasetDir&) = delete;
  DatasetDir& operator=(const DatasetDir&) = delete;

  // Writes `text` to `name` in the directory; returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::string path = absl::StrCat(path_, "/", name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ocx::testing

#endif  // OCX_TESTS_DATASETS_TEMP_DIR_H_
