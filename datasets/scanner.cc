#include "datasets/scanner.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "datasets/csv_scanner.h"
#include "datasets/json_scanner.h"

namespace ocx::datasets {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr absl::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

absl::Status LineError(int64_t line, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", problem));
}

absl::Status PositionError(int64_t line, int64_t column,
                           absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("line ", line, ":", column, ": ", problem));
}

absl::Status NameTheFile(const std::string& path, DatasetFormat format,
                         const absl::Status& status) {
  absl::string_view message = status.message();
  if (absl::ConsumePrefix(&message, "line ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", message, " (", FormatName(format), ")"));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

BomSkipper::Result BomSkipper::Next(char c) {
  if (!at_start_) return Result::kByte;
  if (seen_ < kBom.size() && c == kBom[seen_]) {
    ++seen_;
    return Result::kSkip;
  }
  at_start_ = false;
  return seen_ != 0 && seen_ != kBom.size() ? Result::kBrokenBom
                                            : Result::kByte;
}

std::unique_ptr<SampleScanner> MakeScanner(DatasetFormat format,
                                           absl::string_view json_split,
                                           ScannedRows* rows,
                                           absl::string_view split_setting) {
  switch (format) {
    case DatasetFormat::kJsonl:
      return MakeJsonScanner(/*lines=*/true, json_split, split_setting, rows);
    case DatasetFormat::kJson:
      return MakeJsonScanner(/*lines=*/false, json_split, split_setting, rows);
    case DatasetFormat::kCsv:
      return MakeCsvScanner(rows);
  }
  return nullptr;
}

absl::StatusOr<int64_t> ScanFile(const std::string& path, DatasetFormat format,
                                 SampleScanner* scanner) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(absl::StrCat("cannot read ", path), errno);
  std::string buf(kChunkBytes, '\0');
  absl::Status status;
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return PosixError(absl::StrCat("cannot read ", path), err);
    }
    if (n == 0) break;
    status = scanner->Feed(absl::string_view(buf.data(), n));
    if (!status.ok()) break;
  }
  close(fd);
  absl::StatusOr<int64_t> count =
      status.ok() ? scanner->Finish() : absl::StatusOr<int64_t>(status);
  if (!count.ok() && absl::IsInvalidArgument(count.status())) {
    return NameTheFile(path, format, count.status());
  }
  return count;
}

}  // namespace ocx::datasets
