#include "task/infer/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace ocx::task {
namespace {

std::string Header(const std::string& fingerprint) {
  return absl::StrCat("ocx-journal v1 ", fingerprint);
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(absl::StrCat("write ", path), errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(
    const std::string& path, const std::string& fingerprint) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    absl::Status made = MakeDirs(path.substr(0, slash));
    if (!made.ok()) return made;
  }
  std::map<int64_t, std::string> records;
  bool keep = false;
  size_t valid_bytes = 0;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (text.ok()) {
    absl::string_view rest = *text;
    size_t eol = rest.find('\n');
    if (eol != absl::string_view::npos &&
        rest.substr(0, eol) == Header(fingerprint)) {
      keep = true;
      rest.remove_prefix(eol + 1);
      // Only complete lines: a torn last line has no newline.
      size_t end = rest.rfind('\n');
      rest = end == absl::string_view::npos ? absl::string_view()
                                            : rest.substr(0, end);
      valid_bytes = eol + 1 + (end == absl::string_view::npos ? 0 : end + 1);
      for (absl::string_view line : absl::StrSplit(rest, '\n')) {
        size_t tab = line.find('\t');
        int64_t index = 0;
        if (tab == absl::string_view::npos ||
            !absl::SimpleAtoi(line.substr(0, tab), &index) || index < 0) {
          continue;
        }
        records[index] = std::string(line.substr(tab + 1));
      }
    }
  } else if (!absl::IsNotFound(text.status())) {
    return text.status();
  }
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (!keep) flags |= O_TRUNC;
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
  std::unique_ptr<Journal> journal(new Journal(path, fd));
  journal->records_ = std::move(records);
  if (!keep) {
    absl::Status s =
        WriteAll(fd, absl::StrCat(Header(fingerprint), "\n"), path);
    if (!s.ok()) return s;
  } else if (valid_bytes < text->size() &&
             ftruncate(fd, static_cast<off_t>(valid_bytes)) != 0) {
    // Cut a torn last line, so the next record starts on its own line.
    return PosixError(absl::StrCat("truncate ", path), errno);
  }
  return journal;
}

Journal::~Journal() {
  if (fd_ >= 0) close(fd_);
}

absl::Status Journal::Append(int64_t index, const std::string& record) {
  std::string line = absl::StrCat(index, "\t", record, "\n");
  absl::Status s = WriteAll(fd_, line, path_);
  if (s.ok()) records_[index] = record;
  return s;
}

absl::Status Journal::Remove() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return PosixError(absl::StrCat("unlink ", path_), errno);
  }
  return absl::OkStatus();
}

}  // namespace ocx::task
