#include "runners/local/attempt_files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace ocx::runners {

absl::StatusOr<Claim> ParseClaim(absl::string_view text) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  Claim claim;
  int pid = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &pid) || pid <= 0 ||
      !absl::SimpleAtoi(parts[1], &claim.start_time)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed claim \"", absl::CEscape(text),
                     "\" (want \"<pid> <starttime>\")"));
  }
  claim.pid = pid;
  return claim;
}

absl::StatusOr<ExitRecord> ParseExitRecord(absl::string_view text) {
  ExitRecord rec;
  bool have_code = false, have_signal = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view key = line.substr(0, eq);
    absl::string_view value = line.substr(eq + 1);
    bool ok = true;
    if (key == "exit_code") {
      ok = have_code = absl::SimpleAtoi(value, &rec.exit_code);
    } else if (key == "signal") {
      ok = have_signal = absl::SimpleAtoi(value, &rec.signal);
    } else if (key == "start_ms") {
      ok = absl::SimpleAtoi(value, &rec.start_ms);
    } else if (key == "end_ms") {
      ok = absl::SimpleAtoi(value, &rec.end_ms);
    } else if (key == "task_pid") {
      int pid = 0;
      ok = absl::SimpleAtoi(value, &pid) && pid > 0;
      rec.task_pid = pid;
    } else if (key == "reason") {
      rec.reason = std::string(value);
    } else if (key == "claim") {
      absl::StatusOr<Claim> claim = ParseClaim(value);
      ok = claim.ok();
      if (ok) rec.claim = *claim;
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("exit file: bad value in line \"", line, "\""));
    }
  }
  if (!have_code || !have_signal) {
    return absl::InvalidArgumentError(
        "exit file: exit_code= or signal= line missing");
  }
  return rec;
}

namespace {

// The shim's own file in an attempt dir: not a link, and owned by the
// daemon's uid (the shim runs as the daemon). Under a root daemon the
// attempt dir belongs to the task's owner, who could put a forged claim
// there naming another process for ocxd to signal.
// Read through the descriptor that was checked (one open per file: the
// dispatcher reads two of them per attempt).
template <typename T>
absl::StatusOr<T> ParseShimFile(const std::string& path,
                                absl::StatusOr<T> (*parse)(absl::string_view)) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
  struct stat st;
  const bool ours =
      fstat(fd, &st) == 0 && st.st_uid == geteuid() && S_ISREG(st.st_mode);
  if (!ours) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not written by ocx-shim (not a regular file of uid ",
        geteuid(), ")"));
  }
  absl::StatusOr<std::string> text = ReadFd(fd, path);
  close(fd);
  if (!text.ok()) return text.status();
  absl::StatusOr<T> parsed = parse(*text);
  if (!parsed.ok()) return Annotate(parsed.status(), path);
  return parsed;
}

}  // namespace

absl::StatusOr<Claim> ReadClaim(const std::string& attempt_dir) {
  return ParseShimFile(JoinPath(attempt_dir, kClaimFile), &ParseClaim);
}

absl::StatusOr<ExitRecord> ReadExitRecord(const std::string& attempt_dir) {
  OCX_ASSIGN_OR_RETURN(
      ExitRecord rec,
      ParseShimFile(JoinPath(attempt_dir, kExitFile), &ParseExitRecord));
  if (!rec.claim) return rec;
  absl::StatusOr<Claim> claim = ReadClaim(attempt_dir);
  if (!claim.ok() && !absl::IsNotFound(claim.status()) &&
      !absl::IsInvalidArgument(claim.status())) {
    return claim.status();  // e.g. out of descriptors: ask again later
  }
  if (!claim.ok() || claim->pid != rec.claim->pid ||
      claim->start_time != rec.claim->start_time) {
    return absl::InvalidArgumentError(absl::StrCat(
        JoinPath(attempt_dir, kExitFile), ": names claim ", rec.claim->pid, " ",
        rec.claim->start_time, ", not this attempt's (",
        claim.ok() ? absl::StrCat(claim->pid, " ", claim->start_time)
                   : claim.status().message(),
        "): stale bytes of another record, as a power loss can leave"));
  }
  return rec;
}

absl::StatusOr<ProcStat> ReadProcStat(pid_t pid) {
  // Read by hand rather than with ReadFile(): a process that exits between
  // open() and read() makes read() fail with ESRCH, which means NOT_FOUND
  // here.
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
  char buf[1024];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0 && err == ESRCH) {
    return absl::NotFoundError(absl::StrCat(path, ": process exited"));
  }
  if (n < 0) return PosixError(absl::StrCat("read ", path), err);
  absl::string_view text(buf, static_cast<size_t>(n));
  // Field 2 is "(comm)" and comm may hold spaces or ')': fields 3.. follow
  // the last ')'.
  size_t paren = text.rfind(')');
  if (paren == absl::string_view::npos) {
    return absl::InternalError(absl::StrCat("/proc/", pid, "/stat: no ')'"));
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(text.substr(paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state), fields[19] is field 22 (starttime).
  ProcStat st;
  if (fields.size() < 20 || fields[0].size() != 1 ||
      !absl::SimpleAtoi(fields[19], &st.start_time)) {
    return absl::InternalError(
        absl::StrCat("/proc/", pid, "/stat: unexpected format"));
  }
  st.state = fields[0][0];
  return st;
}

absl::StatusOr<bool> ClaimHolderAlive(const Claim& claim) {
  absl::StatusOr<ProcStat> st = ReadProcStat(claim.pid);
  if (absl::IsNotFound(st.status())) return false;
  if (!st.ok()) return st.status();
  return st->start_time == claim.start_time && st->state != 'Z' &&
         st->state != 'X';
}

}  // namespace ocx::runners
