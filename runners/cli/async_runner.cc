#include "runners/cli/async_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace ocx::runners {

std::string KeyName(const AttemptKey& key) {
  return absl::StrCat(key.task_id, "#", key.attempt);
}

void AppendToFile(const std::string& path, absl::string_view text,
                  const FileOwner& owner) {
  if (path.empty() || text.empty()) return;
  absl::StatusOr<int> opened =
      OpenFor(path, O_WRONLY | O_APPEND | O_CREAT, kFileMode, owner);
  if (!opened.ok()) return;
  const int fd = *opened;
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.remove_prefix(static_cast<size_t>(n));
  }
  close(fd);
}

int64_t CallBackoffMs(int failures, int64_t initial_ms, int64_t max_ms) {
  double delay = static_cast<double>(initial_ms);
  for (int i = 1; i < failures && delay < max_ms; ++i) delay *= 2;
  return std::min<int64_t>(static_cast<int64_t>(delay), max_ms);
}

std::string FormatDelay(int64_t ms) {
  if (ms < 1000) return absl::StrCat(ms, " ms");
  return absl::StrCat(ms / 1000, ".", (ms % 1000) / 100, " s");
}

namespace cli_internal {

absl::Status MakeAttemptDirs(const LaunchSpec& spec) {
  FileOwner owner;
  if (spec.run_as.has_value()) owner = {spec.run_as->uid, spec.run_as->gid};
  OCX_RETURN_IF_ERROR(MakeDirsFor(Dirname(spec.log_path), owner));
  if (!spec.attempt_dir.empty()) {
    OCX_RETURN_IF_ERROR(MakeDirsFor(spec.attempt_dir, owner));
  }
  return absl::OkStatus();
}

void Note(const std::string& tag, const RemoteJob& j, const std::string& text) {
  AppendToFile(j.log_path,
               absl::StrCat("[ocx-", tag, " ",
                            absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                             absl::FromUnixMillis(NowMillis()),
                                             absl::UTCTimeZone()),
                            "] ", text, "\n"),
               j.owner);
}

AttemptUpdate Update(const AttemptKey& key, const RemoteJob& j,
                     AttemptUpdate::Kind kind, std::string reason) {
  AttemptUpdate u;
  u.key = key;
  u.kind = kind;
  u.backend_id = j.job_id;
  if (kind != AttemptUpdate::Kind::kRunning) u.end_ms = NowMillis();
  u.reason = std::move(reason);
  return u;
}

}  // namespace cli_internal
}  // namespace ocx::runners
