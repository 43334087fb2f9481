// The live view of `ocxctl submit --watch` and `ocxctl status --watch`.
//
// On a terminal it keeps a small frame (header, one progress line per stage,
// the last few events, a notice) and redraws it in place with ANSI escapes.
// Elsewhere (CI logs, pipes) it prints plain lines without escapes: one
// progress line per batch that changed something, plus one line per failed
// task, and never redraws.
//
// Thread-compatible: callers that Tick() from a timer thread must serialize
// calls themselves.
#ifndef OCX_CLIENT_WATCH_VIEW_H_
#define OCX_CLIENT_WATCH_VIEW_H_

#include <deque>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ocx/v1/resources.pb.h"
#include "ocx/v1/service.pb.h"

namespace ocx::client {

struct WatchViewOptions {
  // Redraw in place with ANSI escapes (stdout is a terminal).
  bool tty = false;
  // Terminal columns; frame lines are cut to fit so that redraws stay
  // aligned. TTY only.
  int width = 80;
  // Events kept in the frame. TTY only.
  int max_events = 5;
  // Characters inside the progress bar's brackets.
  int bar_width = 20;
  absl::TimeZone time_zone = absl::UTCTimeZone();
  // Plain output: the shortest gap between two progress lines of a task.
  absl::Duration plain_progress_every = absl::Seconds(10);
};

// `[#####x..........]`: '#' for succeeded, 'x' for failed or cancelled, '.'
// for the rest, each rounded down; a full bar only when all succeeded.
std::string ProgressBar(int succeeded, int failed, int total, int width);

// "infer  [####....]   45/100  pending 10 running 2 succeeded 45 failed 1"
// (" cancelled N" when some were). `count_width` pads "45/100" so that the
// stages of one frame line up.
std::string StageLine(const v1::StageCounts& counts, int bar_width,
                      int count_width);

// "infer 45/100 (pending 10, running 2, failed 1)": zero counts left out.
std::string StageSummary(const v1::StageCounts& counts);

class WatchView {
 public:
  // `out` must outlive the view.
  WatchView(std::ostream* out, WatchViewOptions options);
  WatchView(const WatchView&) = delete;
  WatchView& operator=(const WatchView&) = delete;

  // A batch of WatchEvaluation: its events and snapshot.
  void Update(const v1::WatchEvaluationResponse& batch, absl::Time now);
  // A snapshot without events (GetEvaluation, Create's answer).
  void Update(const v1::Evaluation& evaluation, absl::Time now);

  // The running tasks with their progress (ListTasks, polled by the
  // caller). TTY: one frame line per task that reported ("  <id>  120/500
  // samples  3.2/s"), at most `max_events` of them, redrawn on the next
  // Draw. Plain: a line "  <id> progress 120/500 (3.2/s)" when a task's
  // count changed, at most every `plain_progress_every` per task.
  void UpdateTasks(const std::vector<v1::Task>& running, absl::Time now);

  // Redraws the elapsed time. TTY only; a no-op otherwise or after Finish().
  void Tick(absl::Time now);

  // Shows `message` below the frame until the next Notice() (TTY; an empty
  // message clears it) or prints it as a line (plain; empty prints nothing).
  void Notice(absl::string_view message, absl::Time now);

  // Draws the last frame and a closing line ("evaluation e1 SUCCEEDED after
  // 5m3s: 12 tasks, 12 succeeded"). Later calls do nothing.
  void Finish(absl::Time now);

  // The frame as drawn on a terminal, without escapes or cutting.
  std::vector<std::string> Frame(absl::Time now) const;

 private:
  void Draw(absl::Time now);
  void AddEvent(const v1::Event& event);
  std::string Elapsed(absl::Time now) const;
  std::string PlainLine(absl::Time now) const;

  std::ostream* const out_;
  const WatchViewOptions options_;

  v1::Evaluation evaluation_;
  bool has_evaluation_ = false;
  std::deque<std::string> events_;
  std::string notice_;
  // Frame lines on screen, to move the cursor back over (TTY).
  int drawn_lines_ = 0;
  // The plain progress line printed last, so that repeats are skipped.
  std::string last_plain_;
  bool header_printed_ = false;
  // Progress lines of running tasks (TTY frame).
  std::vector<std::string> task_lines_;
  // Plain: per task, the count printed last and when.
  std::map<std::string, std::pair<int64_t, absl::Time>> plain_progress_;
  bool finished_ = false;
};

}  // namespace ocx::client

#endif  // OCX_CLIENT_WATCH_VIEW_H_
