#include "server/submission_stream.h"

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "common/task_rows_channel.h"

namespace ocx::server {
namespace {

// The producer's side of a streamed plan: the first full chunk hands the
// submission to the dispatcher (on a thread of its own, since Submit waits
// for the commit), later ones are pushed as they fill.
class PlanStream {
 public:
  PlanStream(Submission* sub, Dispatcher* dispatcher,
             const StreamOptions& options)
      : sub_(sub), dispatcher_(dispatcher), options_(options) {}

  ~PlanStream() {
    if (submitter_.joinable()) submitter_.join();
  }

  void Add(const ocx::v1::Task& task) {
    if (cancel_.load(std::memory_order_relaxed)) return;
    chunk_.Add(task);
    if (chunk_.size() >= options_.chunk_rows) Flush();
  }

  // Ends the plan with `planned` (the planner's status) and returns the
  // submission's result.
  absl::StatusOr<std::string> Finish(absl::Status planned) {
    if (channel_ == nullptr) {
      // One chunk or less: submitted whole, no thread.
      if (!planned.ok()) return planned;
      sub_->task_rows = std::move(chunk_);
      return dispatcher_->Submit(std::move(*sub_));
    }
    if (planned.ok() && !chunk_.empty()) Flush();
    channel_->Close(planned);
    submitter_.join();
    // The dispatcher's status names the planner's error when it cut the
    // plan; a plan stopped by the dispatcher reports the dispatcher's.
    return result_;
  }

  const std::atomic<bool>* cancel() const { return &cancel_; }

 private:
  void Flush() {
    if (channel_ == nullptr) Start();
    if (!channel_->Push(std::move(chunk_))) cancel_ = true;
    chunk_ = TaskRows();
  }

  void Start() {
    channel_ = std::make_shared<TaskRowsChannel>(options_.queued_chunks);
    sub_->task_stream = channel_;
    submitter_ = std::thread([this] {
      result_ = dispatcher_->Submit(std::move(*sub_));
      // Whatever the outcome, the dispatcher takes no more chunks (a
      // deduplicated retry or a shutdown never took any).
      channel_->Stop(result_.ok() ? absl::OkStatus() : result_.status());
      cancel_ = true;
    });
  }

  Submission* const sub_;
  Dispatcher* const dispatcher_;
  const StreamOptions options_;
  TaskRows chunk_;
  std::shared_ptr<TaskRowsChannel> channel_;
  std::thread submitter_;
  absl::StatusOr<std::string> result_ = absl::UnknownError("not submitted");
  std::atomic<bool> cancel_{false};
};

}  // namespace

absl::StatusOr<std::string> SubmitPlanned(PreparedSubmission prepared,
                                          Dispatcher* dispatcher,
                                          const StreamOptions& options) {
  if (prepared.reuse_store != nullptr) {
    // Keyed reuse marks tasks against the whole plan.
    absl::StatusOr<Submission> sub = PlanAll(std::move(prepared));
    if (!sub.ok()) return sub.status();
    return dispatcher->Submit(*std::move(sub));
  }
  Submission& sub = prepared.submission;
  partitioners::PlanOptions& plan = prepared.plan_options;
  plan.on_count = [&sub](int64_t count) {
    sub.evaluation.set_task_count(static_cast<int32_t>(count));
    return CheckPlanCount(count);
  };
  PlanStream stream(&sub, dispatcher, options);
  plan.cancel = stream.cancel();
  // Copies: `sub` moves to the dispatcher at the first full chunk, while
  // planning goes on.
  const ocx::v1::EvaluationSpec spec = sub.evaluation.spec();
  const std::string eval_id = sub.evaluation.id();
  absl::Status planned = partitioners::PlanTasksTo(
      spec, eval_id, plan, [&stream](ocx::v1::Task t) { stream.Add(t); });
  return stream.Finish(std::move(planned));
}

}  // namespace ocx::server
