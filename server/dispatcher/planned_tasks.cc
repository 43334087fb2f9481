#include "server/dispatcher/planned_tasks.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/work_dir_layout.h"

namespace ocx::server {
namespace {

using ocx::v1::Task;

constexpr int kRefShift = 30;
constexpr uint32_t kMaxIndex = (uint32_t{1} << kRefShift) - 1;

bool Queued(int state) {
  return state == Task::PENDING || state == Task::READY;
}

bool Final(int state) {
  return state == Task::SUCCEEDED || state == Task::FAILED ||
         state == Task::CANCELLED;
}

bool FitsU16(int32_t v) {
  return v >= 0 && v <= std::numeric_limits<uint16_t>::max();
}

}  // namespace

bool SplitTaskId(absl::string_view id, absl::string_view* eval_id,
                 ocx::v1::Stage* stage, uint32_t* index) {
  const size_t dash = id.rfind('-');
  if (dash == absl::string_view::npos || dash == 0) return false;
  const size_t stage_dash = id.rfind('-', dash - 1);
  if (stage_dash == absl::string_view::npos) return false;
  const absl::string_view digits = id.substr(dash + 1);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0') ||
      !absl::ascii_isdigit(static_cast<unsigned char>(digits[0])) ||
      !absl::SimpleAtoi(digits, index) || *index > kMaxIndex) {
    return false;
  }
  const absl::string_view name =
      id.substr(stage_dash + 1, dash - stage_dash - 1);
  for (ocx::v1::Stage s : {ocx::v1::STAGE_INFER, ocx::v1::STAGE_EVAL}) {
    if (name == layout::StageName(s)) {
      *stage = s;
      *eval_id = id.substr(0, stage_dash);
      return true;
    }
  }
  return false;
}

bool PlannedTasks::Fit(const TaskRowView& row, Compact* c) {
  if (tasks_.empty()) eval_id_ = std::string(row.evaluation_id);
  absl::string_view eval;
  ocx::v1::Stage stage;
  uint32_t index = 0;
  // A queued task is tracked as its numbers say; an ended one is not
  // tracked at all.
  if (!(Queued(row.state) || Final(row.state)) ||
      row.evaluation_id != eval_id_ || !row.reason.empty() ||
      !SplitTaskId(row.id, &eval, &stage, &index) || eval != eval_id_ ||
      stage != row.stage || static_cast<int32_t>(index) != row.index ||
      !FitsU16(row.max_attempts) || !FitsU16(row.num_gpus)) {
    return false;
  }
  const size_t deps_begin = deps_.size();
  for (absl::string_view dep :
       absl::StrSplit(row.depends_on, ',', absl::SkipEmpty())) {
    uint32_t dep_index = 0;
    if (!SplitTaskId(dep, &eval, &stage, &dep_index) || eval != eval_id_) {
      deps_.resize(deps_begin);
      return false;
    }
    deps_.push_back(static_cast<uint32_t>(stage) << kRefShift | dep_index);
  }
  auto [it, added] = model_index_.try_emplace(
      row.model_abbr, static_cast<uint16_t>(models_.size()));
  if (added) {
    if (models_.size() > std::numeric_limits<uint16_t>::max()) {
      model_index_.erase(it);
      deps_.resize(deps_begin);
      return false;
    }
    models_.emplace_back(row.model_abbr);
  }
  c->ref = static_cast<uint32_t>(row.stage) << kRefShift | index;
  c->model = it->second;
  c->max_attempts = static_cast<uint16_t>(row.max_attempts);
  c->num_gpus = static_cast<uint16_t>(row.num_gpus);
  c->deps_end = static_cast<uint32_t>(deps_.size());
  return true;
}

void PlannedTasks::Add(const TaskRows& rows, size_t i) {
  const TaskRowView row = rows.View(i);
  Compact c{};
  c.state = static_cast<uint8_t>(row.state);
  if (!Fit(row, &c)) {
    c.ref = kOther;
    c.deps_end = static_cast<uint32_t>(deps_.size());
    other_of_.push_back(static_cast<uint32_t>(tasks_.size()));
    // Track keeps no params of a queued task: they are not parsed.
    others_.push_back(rows.Get(i, /*with_params=*/!Queued(row.state)));
  }
  tasks_.push_back(c);
}

Task PlannedTasks::Get(size_t i) const {
  const Compact& c = tasks_[i];
  if (c.ref == kOther) {
    auto it = std::lower_bound(other_of_.begin(), other_of_.end(), i);
    return others_[static_cast<size_t>(it - other_of_.begin())];
  }
  auto id_of = [this](uint32_t ref) {
    return absl::StrCat(
        eval_id_, "-",
        layout::StageName(static_cast<ocx::v1::Stage>(ref >> kRefShift)), "-",
        ref & kMaxIndex);
  };
  Task t;
  t.set_id(id_of(c.ref));
  t.set_evaluation_id(eval_id_);
  t.set_stage(static_cast<ocx::v1::Stage>(c.ref >> kRefShift));
  t.set_index(static_cast<int32_t>(c.ref & kMaxIndex));
  t.set_state(static_cast<Task::State>(c.state));
  t.set_model_abbr(models_[c.model]);
  t.set_max_attempts(c.max_attempts);
  t.set_num_gpus(c.num_gpus);
  for (uint32_t d = i == 0 ? 0 : tasks_[i - 1].deps_end; d < c.deps_end; ++d) {
    t.add_depends_on(id_of(deps_[d]));
  }
  return t;
}

}  // namespace ocx::server
