#include "server/http/console_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/utf8_cut.h"
#include "server/http/json_text.h"

namespace ocx::server {
namespace {

bool IsFinal(ocx::v1::Attempt::State s) {
  return s != ocx::v1::Attempt::LAUNCHING && s != ocx::v1::Attempt::RUNNING;
}

bool IsFinal(ocx::v1::Task::State s) {
  return s == ocx::v1::Task::SUCCEEDED || s == ocx::v1::Task::FAILED ||
         s == ocx::v1::Task::CANCELLED;
}

std::string Event(absl::string_view name, const std::string& data) {
  return absl::StrCat("event: ", name, "\ndata: ", data, "\n\n");
}

std::string EndEvent(ocx::v1::Task::State state) {
  return Event(
      "end",
      JsonObject({{"state", JsonString(ocx::v1::Task::State_Name(state))}}));
}

}  // namespace

LogTail::LogTail(store::Store* store, std::string task_id, int attempt,
                 int64_t offset)
    : store_(store),
      task_id_(std::move(task_id)),
      requested_(attempt),
      offset_(offset) {}

std::string LogTail::ReadMore() const {
  std::string buf(kMaxChunk, '\0');
  int fd = open(attempt_->log_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = pread(fd, buf.data(), buf.size(), offset_);
  close(fd);
  if (n <= 0) return "";
  buf.resize(static_cast<size_t>(n));
  // A full buffer may end inside a character: the rest comes next time.
  if (buf.size() == kMaxChunk) {
    buf.resize(Utf8Prefix(buf, kMaxChunk - 1).size());
    if (buf.empty()) buf.assign(kMaxChunk, '\0');  // not UTF-8 at all
  }
  return buf;
}

absl::StatusOr<std::string> LogTail::Poll(bool* done) {
  *done = false;
  if (!attempt_.has_value()) {
    absl::StatusOr<ocx::v1::Attempt> first =
        store_->GetAttempt(task_id_, requested_);
    if (first.ok()) {
      attempt_ = *std::move(first);
    } else if (absl::IsNotFound(first.status()) && requested_ == 0) {
      // Not started yet: wait, unless it never will.
      absl::StatusOr<ocx::v1::Task> task = store_->GetTask(task_id_);
      if (!task.ok()) return task.status();
      if (IsFinal(task->state())) {
        *done = true;
        return EndEvent(task->state());
      }
      return std::string();
    } else {
      return first.status();
    }
  }
  std::string text = ReadMore();
  if (!text.empty()) {
    offset_ += static_cast<int64_t>(text.size());
    return Event("log",
                 JsonObject({{"attempt", absl::StrCat(attempt_->number())},
                             {"offset", absl::StrCat(offset_)},
                             {"text", JsonString(text)}}));
  }
  if (!IsFinal(attempt_->state())) {
    absl::StatusOr<ocx::v1::Attempt> fresh =
        store_->GetAttempt(task_id_, attempt_->number());
    if (fresh.ok()) attempt_ = *std::move(fresh);
    // What it wrote before ending is read by the next Poll.
    return std::string();
  }
  return AfterAttempt(done);
}

absl::StatusOr<std::string> LogTail::AfterAttempt(bool* done) {
  if (requested_ != 0) {
    *done = true;
    return Event(
        "end",
        JsonObject({{"attempt_state", JsonString(ocx::v1::Attempt::State_Name(
                                          attempt_->state()))}}));
  }
  absl::StatusOr<ocx::v1::Attempt> latest = store_->GetAttempt(task_id_, 0);
  if (latest.ok() && latest->number() > attempt_->number()) {
    attempt_ = *std::move(latest);
    offset_ = 0;
    return Event("attempt",
                 JsonObject({{"attempt", absl::StrCat(attempt_->number())}}));
  }
  absl::StatusOr<ocx::v1::Task> task = store_->GetTask(task_id_);
  if (!task.ok()) return task.status();
  if (!IsFinal(task->state())) return std::string();  // a retry is due
  *done = true;
  return EndEvent(task->state());
}

}  // namespace ocx::server
