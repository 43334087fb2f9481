#include "client/commands/watch.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/commands/command_util.h"
#include "client/watch_view.h"

namespace ocx::client {
namespace {

using v1::Evaluation;
using v1::Task;

// Calls `fn` every `period` on its own thread until destroyed.
class Ticker {
 public:
  Ticker(absl::Duration period, std::function<void()> fn)
      : thread_([this, period, fn = std::move(fn)] {
          while (!stop_.WaitForNotificationWithTimeout(period)) fn();
        }) {}
  ~Ticker() {
    stop_.Notify();
    thread_.join();
  }

 private:
  absl::Notification stop_;
  std::thread thread_;
};

WatchViewOptions ViewOptions(const CommandContext& ctx) {
  WatchViewOptions options;
  options.tty = IsTable(ctx) ? ctx.out_is_tty : ctx.err_is_tty;
  options.width = ctx.terminal_width;
  options.time_zone = ctx.time_zone;
  return options;
}

class Watch {
 public:
  Watch(const CommandContext& ctx, Evaluation evaluation,
        int64_t after_sequence)
      : ctx_(ctx),
        view_options_(ViewOptions(ctx)),
        view_(IsTable(ctx) ? ctx.out : ctx.err, view_options_),
        evaluation_(std::move(evaluation)),
        after_sequence_(after_sequence),
        id_(evaluation_.id()),
        outage_(ctx) {}

  int Run() {
    {
      absl::MutexLock lock(&mu_);
      view_.Update(evaluation_, absl::Now());
    }
    StartTicker();
    while (true) {
      absl::Status status = StreamEvents();
      if (status.ok() && IsTerminal(evaluation_.state())) break;
      if (!status.ok() && !IsTransient(status.code())) return Fail(status);
      if (status.ok()) {
        // The daemon ended the stream before the evaluation ended (shutting
        // down?): look again after a pause rather than spin.
        absl::SleepFor(ctx_.retry_backoff);
      }
      if (std::optional<int> exit = Resync(status)) return *exit;
      // Loop: the next stream sends what was missed and ends at once when
      // the evaluation is over.
    }
    ticker_.reset();
    view_.Finish(absl::Now());
    if (ctx_.format == OutputFormat::kJson ||
        ctx_.format == OutputFormat::kYaml) {
      *ctx_.out << RenderMessage(evaluation_, ctx_.format) << std::flush;
    }
    return evaluation_.state() == Evaluation::SUCCEEDED ? kExitOk : kExitFailed;
  }

 private:
  // Per-task progress comes from ListTasks (the watch stream carries no
  // tasks): polled on the ticker's thread, about once per tick.
  void StartTicker() {
    ticker_ = std::make_unique<Ticker>(ctx_.tick, [this] {
      v1::ListTasksRequest request;
      request.set_evaluation_id(id_);
      request.set_state(Task::RUNNING);
      absl::StatusOr<v1::ListTasksResponse> running =
          ctx_.client->ListTasks(request);
      absl::MutexLock lock(&mu_);
      if (running.ok()) {
        view_.UpdateTasks({running->tasks().begin(), running->tasks().end()},
                          absl::Now());
      }
      if (view_options_.tty) view_.Tick(absl::Now());
    });
  }

  // One WatchEvaluation stream, from the last event seen.
  absl::Status StreamEvents() {
    v1::WatchEvaluationRequest request;
    request.set_id(id_);
    request.set_after_sequence(after_sequence_);
    return ctx_.client->WatchEvaluation(
        request, [&](const v1::WatchEvaluationResponse& batch) {
          for (const v1::Event& event : batch.events()) {
            after_sequence_ = std::max(after_sequence_, event.sequence());
          }
          if (batch.has_evaluation()) evaluation_ = batch.evaluation();
          absl::MutexLock lock(&mu_);
          view_.Update(batch, absl::Now());
          return true;
        });
  }

  // Takes a fresh snapshot after a stream ended with `status`, reconnecting
  // first if the daemon is gone. An exit code when the watch must end.
  std::optional<int> Resync(absl::Status status) {
    absl::StatusOr<Evaluation> snapshot;
    while (true) {
      if (!status.ok() && outage_.Begin()) {
        absl::MutexLock lock(&mu_);
        view_.Notice(kLostConnection, absl::Now());
      }
      if (outage_.lost()) {
        if (outage_.Expired()) return GiveUp(status);
        outage_.Wait();
      }
      v1::GetEvaluationRequest get;
      get.set_id(id_);
      snapshot = ctx_.client->GetEvaluation(get);
      if (snapshot.ok()) break;
      status = snapshot.status();
      if (!IsTransient(status.code())) return Fail(status);
    }
    evaluation_ = *snapshot;
    absl::MutexLock lock(&mu_);
    if (outage_.lost()) {
      outage_.End();
      view_.Notice(view_options_.tty ? "" : "reconnected to ocxd", absl::Now());
    }
    view_.Update(evaluation_, absl::Now());
    return std::nullopt;
  }

  int GiveUp(const absl::Status& last) {
    ticker_.reset();
    *ctx_.err << "ocxctl: " << outage_.GaveUpText(last)
              << "; the evaluation keeps running: `ocxctl status " << id_
              << " --watch` follows it again" << std::endl;
    return kExitUnreachable;
  }

  int Fail(const absl::Status& status) {
    ticker_.reset();
    return FailEvaluation(ctx_, status, id_);
  }

  const CommandContext& ctx_;
  const WatchViewOptions view_options_;
  absl::Mutex mu_;  // Guards `view_` against the ticker thread.
  WatchView view_;
  Evaluation evaluation_;
  int64_t after_sequence_;
  const std::string id_;
  Outage outage_;
  // Declared last: destroyed (joined) before the members it uses.
  std::unique_ptr<Ticker> ticker_;
};

}  // namespace

int WatchUntilDone(const CommandContext& ctx, Evaluation evaluation,
                   int64_t after_sequence) {
  return Watch(ctx, std::move(evaluation), after_sequence).Run();
}

}  // namespace ocx::client
