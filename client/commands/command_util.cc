#include "client/commands/command_util.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ocx::client {
namespace {

std::string UnreachableText(const CommandContext& ctx,
                            const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::StrCat(
        "ocxd at ", Where(ctx.server), " did not answer within ",
        absl::FormatDuration(ctx.client->options().timeout),
        "; it may be overloaded or stuck (raise --timeout to wait longer)");
  }
  std::string detail = std::string(status.message());
  if (ctx.server.is_unix && !Exists(ctx.server.socket_path)) {
    detail = absl::StrCat("no socket at ", ctx.server.socket_path);
  }
  if (ctx.server.is_unix && access(ctx.server.socket_path.c_str(), W_OK) != 0 &&
      errno == EACCES) {
    // The socket is 0660 in access.socket_group (docs/security.md).
    return absl::StrCat(
        "permission denied on ", ctx.server.socket_path,
        ": only members of the socket's group may use this ocxd; ask its "
        "administrator to add you (usermod -aG GROUP ",
        "$USER, then log in again)");
  }
  std::string hint =
      ctx.server.source == ServerAddress::Source::kDefault
          ? "start the daemon with `ocxd`, or point ocxctl at a running one "
            "with --server ADDRESS or OCX_SERVER=ADDRESS"
          : absl::StrCat(
                "check that ocxd is running and listening there, or "
                "change ",
                SourceName(ctx.server.source));
  return absl::StrCat("cannot reach ocxd at ", Where(ctx.server), ": ",
                      detail.empty() ? "unavailable" : detail, "; ", hint);
}

// The message for a failed call about `what` ("evaluation e999"), whose id is
// `id`.
std::string ErrorText(const CommandContext& ctx, const absl::Status& status,
                      absl::string_view what, absl::string_view id) {
  absl::string_view message = status.message();
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return UnreachableText(ctx, status);
    case absl::StatusCode::kNotFound:
      if (what.empty()) break;
      if (message.empty()) return absl::StrCat(what, " not found");
      // The daemon's own words when they already name the object.
      if (!id.empty() && absl::StrContains(message, id)) break;
      return absl::StrCat(what, " not found: ", message);
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return absl::StrCat("ocxd failed: ",
                          message.empty() ? "internal error" : message);
    case absl::StatusCode::kUnimplemented:
      return absl::StrCat(
          "this ocxd does not support the request (is it older than ocxctl?)",
          message.empty() ? "" : ": ", message);
    default:
      break;
  }
  if (message.empty()) return absl::StatusCodeToString(status.code());
  return std::string(message);
}

}  // namespace

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    default:
      return kExitFailed;
  }
}

bool IsTransient(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Where(const ServerAddress& server) {
  return absl::StrCat(server.target, " (", SourceName(server.source), ")");
}

int Fail(const CommandContext& ctx, const absl::Status& status,
         absl::string_view what, absl::string_view id) {
  *ctx.err << "ocxctl: " << ErrorText(ctx, status, what, id) << std::endl;
  return ExitCodeFor(status.code());
}

int FailEvaluation(const CommandContext& ctx, const absl::Status& status,
                   absl::string_view id) {
  return Fail(ctx, status, absl::StrCat("evaluation ", id), id);
}

int Usage(const CommandContext& ctx, absl::string_view message) {
  *ctx.err << "ocxctl: " << message << std::endl;
  return kExitUsage;
}

absl::StatusOr<v1::Evaluation> CreateWithRetries(
    const CommandContext& ctx,
    const std::function<absl::StatusOr<v1::Evaluation>()>& create) {
  absl::Duration backoff = ctx.retry_backoff;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<v1::Evaluation> created = create();
    if (created.ok()) return created;
    absl::StatusCode code = created.status().code();
    bool retry = code == absl::StatusCode::kUnavailable ||
                 code == absl::StatusCode::kDeadlineExceeded;
    if (!retry || attempt >= ctx.create_retries) return created;
    absl::SleepFor(backoff);
    backoff *= 2;
  }
}

bool IsTable(const CommandContext& ctx) {
  return ctx.format == OutputFormat::kTable ||
         ctx.format == OutputFormat::kWide;
}

RenderOptions Render(const CommandContext& ctx) {
  RenderOptions options;
  options.format = ctx.format;
  options.now = absl::Now();
  options.time_zone = ctx.time_zone;
  return options;
}

Outage::Outage(const CommandContext& ctx)
    : ctx_(ctx), backoff_(ctx.retry_backoff) {}

bool Outage::Begin() {
  if (lost_) return false;
  lost_ = true;
  since_ = absl::Now();
  return true;
}

void Outage::End() {
  lost_ = false;
  backoff_ = ctx_.retry_backoff;
}

bool Outage::Expired() const {
  return absl::Now() - since_ > ctx_.reconnect_window;
}

void Outage::Wait() {
  absl::SleepFor(backoff_);
  backoff_ = std::min(backoff_ * 2, ctx_.max_reconnect_backoff);
}

std::string Outage::GaveUpText(const absl::Status& last) const {
  return absl::StrCat("lost connection to ocxd at ", Where(ctx_.server),
                      " and could not reconnect within ",
                      absl::FormatDuration(ctx_.reconnect_window), " (",
                      last.message(), ")");
}

}  // namespace ocx::client
