#include "client/watch_view.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/format.h"

namespace ocx::client {
namespace {

using v1::Evaluation;
using v1::Event;
using v1::StageCounts;

// Cursor up N lines: "\x1b[<N>A"; to column 0 and erase the line; erase from
// the cursor to the end of the screen.
constexpr char kEraseLine[] = "\r\x1b[2K";
constexpr char kEraseBelow[] = "\x1b[J";

bool IsSet(const google::protobuf::Timestamp& ts) {
  return ts.seconds() != 0 || ts.nanos() != 0;
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The first `width` code points of `line`.
std::string Cut(const std::string& line, int width) {
  if (width <= 0) return line;
  int points = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (points == width) return line.substr(0, i);
    ++points;
  }
  return line;
}

std::string Count(const StageCounts& counts) {
  return absl::StrCat(counts.succeeded(), "/", counts.total());
}

bool IsFailure(const Event& event) {
  return event.state() == "FAILED" || event.state() == "LOST";
}

}  // namespace

std::string ProgressBar(int succeeded, int failed, int total, int width) {
  int ok = 0;
  int bad = 0;
  if (total > 0) {
    ok = static_cast<int>(static_cast<int64_t>(succeeded) * width / total);
    bad = static_cast<int>(static_cast<int64_t>(succeeded + failed) * width /
                           total) -
          ok;
    ok = std::clamp(ok, 0, width);
    bad = std::clamp(bad, 0, width - ok);
  }
  return absl::StrCat("[", std::string(ok, '#'), std::string(bad, 'x'),
                      std::string(width - ok - bad, '.'), "]");
}

std::string StageLine(const StageCounts& counts, int bar_width,
                      int count_width) {
  std::string name = StageName(counts.stage());
  name.resize(std::max<size_t>(name.size(), 5), ' ');
  std::string count = Count(counts);
  if (static_cast<int>(count.size()) < count_width) {
    count.insert(0, count_width - count.size(), ' ');
  }
  std::string line = absl::StrCat(
      name, "  ",
      ProgressBar(counts.succeeded(), counts.failed() + counts.cancelled(),
                  counts.total(), bar_width),
      "  ", count, "  pending ", counts.pending() + counts.ready(), " running ",
      counts.running(), " succeeded ", counts.succeeded(), " failed ",
      counts.failed());
  if (counts.cancelled() > 0) {
    absl::StrAppend(&line, " cancelled ", counts.cancelled());
  }
  return line;
}

std::string StageSummary(const StageCounts& counts) {
  std::vector<std::string> parts;
  auto add = [&parts](const char* label, int n) {
    if (n > 0) parts.push_back(absl::StrCat(label, " ", n));
  };
  add("pending", counts.pending() + counts.ready());
  add("running", counts.running());
  add("failed", counts.failed());
  add("cancelled", counts.cancelled());
  std::string line =
      absl::StrCat(StageName(counts.stage()), " ", Count(counts));
  if (!parts.empty()) {
    absl::StrAppend(&line, " (", absl::StrJoin(parts, ", "), ")");
  }
  return line;
}

WatchView::WatchView(std::ostream* out, WatchViewOptions options)
    : out_(out), options_(std::move(options)) {}

std::string WatchView::Elapsed(absl::Time now) const {
  if (!IsSet(evaluation_.create_time()))
    return HumanDuration(absl::ZeroDuration());
  absl::Time until =
      IsSet(evaluation_.end_time()) ? ToTime(evaluation_.end_time()) : now;
  return HumanDuration(until - ToTime(evaluation_.create_time()));
}

std::vector<std::string> WatchView::Frame(absl::Time now) const {
  std::vector<std::string> lines;
  if (!has_evaluation_) return lines;
  std::string title = absl::StrCat("evaluation ", evaluation_.id());
  if (!evaluation_.name().empty() && evaluation_.name() != evaluation_.id()) {
    absl::StrAppend(&title, " (", evaluation_.name(), ")");
  }
  lines.push_back(absl::StrCat(title, "   ", StateName(evaluation_.state()),
                               "   elapsed ", Elapsed(now)));
  int count_width = 0;
  for (const StageCounts& counts : evaluation_.stage_counts()) {
    count_width = std::max(count_width, static_cast<int>(Count(counts).size()));
  }
  for (const StageCounts& counts : evaluation_.stage_counts()) {
    lines.push_back(StageLine(counts, options_.bar_width, count_width));
  }
  for (const std::string& line : task_lines_) lines.push_back(line);
  for (const std::string& event : events_) lines.push_back(event);
  if (!notice_.empty()) lines.push_back(notice_);
  return lines;
}

void WatchView::UpdateTasks(const std::vector<v1::Task>& running,
                            absl::Time now) {
  if (finished_) return;
  task_lines_.clear();
  for (const v1::Task& t : running) {
    if (!t.has_progress()) continue;
    const v1::TaskProgress& p = t.progress();
    const std::string count = p.total() > 0
                                  ? absl::StrCat(p.done(), "/", p.total())
                                  : absl::StrCat(p.done());
    const std::string rate = absl::StrFormat("%.1f/s", p.rate_per_s());
    if (options_.tty) {
      if (static_cast<int>(task_lines_.size()) < options_.max_events) {
        task_lines_.push_back(
            absl::StrCat("  ", t.id(), "  ", count, " samples  ", rate));
      }
      continue;
    }
    auto it = plain_progress_.find(t.id());
    if (it != plain_progress_.end() &&
        (it->second.first == p.done() ||
         now - it->second.second < options_.plain_progress_every)) {
      continue;
    }
    plain_progress_[t.id()] = {p.done(), now};
    *out_ << "  " << t.id() << " progress " << count << " (" << rate << ")\n"
          << std::flush;
  }
  if (options_.tty && has_evaluation_) Draw(now);
}

std::string WatchView::PlainLine(absl::Time now) const {
  std::string line = StateName(evaluation_.state());
  for (const StageCounts& counts : evaluation_.stage_counts()) {
    absl::StrAppend(&line, "  ", StageSummary(counts));
  }
  return line;
}

void WatchView::AddEvent(const Event& event) {
  std::string when = IsSet(event.time())
                         ? absl::FormatTime("%H:%M:%S", ToTime(event.time()),
                                            options_.time_zone)
                         : std::string("--:--:--");
  std::string line = absl::StrCat(
      "  ", when, "  ",
      event.task_id().empty() ? std::string("evaluation") : event.task_id(),
      "  ", event.state());
  // The daemon's message usually names the attempt already.
  if (!event.message().empty()) {
    absl::StrAppend(&line, "  ", event.message());
  } else if (event.attempt() > 0) {
    absl::StrAppend(&line, " (attempt ", event.attempt(), ")");
  }
  events_.push_back(std::move(line));
  while (static_cast<int>(events_.size()) > options_.max_events) {
    events_.pop_front();
  }
}

void WatchView::Draw(absl::Time now) {
  std::string text;
  if (drawn_lines_ > 0) absl::StrAppend(&text, "\x1b[", drawn_lines_, "A");
  std::vector<std::string> lines = Frame(now);
  for (const std::string& line : lines) {
    absl::StrAppend(&text, kEraseLine, Cut(line, options_.width - 1), "\n");
  }
  absl::StrAppend(&text, kEraseBelow);
  *out_ << text << std::flush;
  drawn_lines_ = static_cast<int>(lines.size());
}

void WatchView::Update(const v1::WatchEvaluationResponse& batch,
                       absl::Time now) {
  if (finished_) return;
  if (batch.has_evaluation()) {
    evaluation_ = batch.evaluation();
    has_evaluation_ = true;
  }
  if (options_.tty) {
    for (const Event& event : batch.events()) AddEvent(event);
    if (has_evaluation_) Draw(now);
    return;
  }
  if (!has_evaluation_) return;
  if (!header_printed_) {
    std::string header = absl::StrCat("watching evaluation ", evaluation_.id());
    if (!evaluation_.name().empty() && evaluation_.name() != evaluation_.id()) {
      absl::StrAppend(&header, " (", evaluation_.name(), ")");
    }
    absl::StrAppend(&header, ": ", evaluation_.task_count(),
                    evaluation_.task_count() == 1 ? " task" : " tasks");
    *out_ << header << "\n";
    header_printed_ = true;
  }
  std::string line = PlainLine(now);
  if (line != last_plain_) {
    *out_ << "[+" << Elapsed(now) << "] " << line << "\n";
    last_plain_ = std::move(line);
  }
  for (const Event& event : batch.events()) {
    if (event.task_id().empty() || !IsFailure(event)) continue;
    *out_ << "  " << event.task_id() << " " << event.state();
    if (!event.message().empty()) {
      *out_ << ": " << event.message();
    } else if (event.attempt() > 0) {
      *out_ << " (attempt " << event.attempt() << ")";
    }
    *out_ << "\n";
  }
  *out_ << std::flush;
}

void WatchView::Update(const Evaluation& evaluation, absl::Time now) {
  v1::WatchEvaluationResponse batch;
  *batch.mutable_evaluation() = evaluation;
  Update(batch, now);
}

void WatchView::Tick(absl::Time now) {
  if (!options_.tty || finished_ || !has_evaluation_) return;
  Draw(now);
}

void WatchView::Notice(absl::string_view message, absl::Time now) {
  if (finished_) return;
  if (options_.tty) {
    notice_ = std::string(message);
    if (has_evaluation_) {
      Draw(now);
    } else if (!message.empty()) {
      // Nothing drawn yet: the notice is the frame.
      *out_ << kEraseLine << Cut(notice_, options_.width - 1) << "\n"
            << std::flush;
      notice_.clear();
    }
    return;
  }
  if (!message.empty()) *out_ << message << "\n" << std::flush;
}

void WatchView::Finish(absl::Time now) {
  if (finished_) return;
  std::string closing;
  if (has_evaluation_) {
    int succeeded = 0;
    int failed = 0;
    int cancelled = 0;
    for (const StageCounts& counts : evaluation_.stage_counts()) {
      succeeded += counts.succeeded();
      failed += counts.failed();
      cancelled += counts.cancelled();
    }
    closing = absl::StrCat("evaluation ", evaluation_.id(), " ",
                           StateName(evaluation_.state()), " after ",
                           Elapsed(now), ": ", evaluation_.task_count(),
                           evaluation_.task_count() == 1 ? " task" : " tasks",
                           ", ", succeeded, " succeeded");
    if (failed > 0) absl::StrAppend(&closing, ", ", failed, " failed");
    if (cancelled > 0) absl::StrAppend(&closing, ", ", cancelled, " cancelled");
  }
  if (options_.tty) {
    notice_.clear();
    if (has_evaluation_) Draw(now);
  } else if (has_evaluation_) {
    std::string line = PlainLine(now);
    if (line != last_plain_) {
      *out_ << "[+" << Elapsed(now) << "] " << line << "\n";
      last_plain_ = std::move(line);
    }
  }
  if (!closing.empty()) *out_ << closing << "\n";
  *out_ << std::flush;
  finished_ = true;
}

}  // namespace ocx::client
