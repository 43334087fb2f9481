// Journal: the finished samples of one prediction part, appended one line
// each as they finish, so that a later attempt of the same task resumes
// where this one stopped (OpenCompass's tmp_<ds>.jsonl, made crash-safe).
//
// File format: a header line `ocx-journal v1 <fingerprint>`, then one line
// per sample, `<index>\t<record JSON>`. A line is written with one write(2)
// on an O_APPEND descriptor; a torn last line (the process was killed
// mid-write) has no newline and is dropped on load. A header from another
// fingerprint (the task's settings changed) discards the file.
//
// Thread-compatible.
#ifndef OCX_TASK_INFER_JOURNAL_H_
#define OCX_TASK_INFER_JOURNAL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::task {

class Journal {
 public:
  // Opens (creating it and its directory) the journal at `path` for work
  // with `fingerprint`, loading the samples finished before.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(
      const std::string& path, const std::string& fingerprint);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Sample index → its record (one line of JSON), as loaded or appended.
  const std::map<int64_t, std::string>& records() const { return records_; }

  // Appends sample `index`'s record (JSON without newlines).
  absl::Status Append(int64_t index, const std::string& record);

  // Deletes the file (once the predictions it fed are written).
  absl::Status Remove();

 private:
  Journal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_;
  std::map<int64_t, std::string> records_;
};

}  // namespace ocx::task

#endif  // OCX_TASK_INFER_JOURNAL_H_
