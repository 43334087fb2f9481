#include "server/dispatcher/fair_share.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ocx::server {
namespace {

std::string Name(const Account& a) {
  return a.user.empty() ? absl::StrCat("uid ", a.uid) : a.user;
}

std::string Plural(int n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

}  // namespace

FairShare::FairShare(ocx::v1::FairShareSettings settings)
    : settings_(std::move(settings)) {}

FairShare::User& FairShare::UserOf(const Account& account) {
  User& u = users_[account.uid];
  if (u.account.uid != account.uid || u.account.user.empty()) {
    u.account = account;
  }
  return u;
}

void FairShare::Add(const Account& account, const QueueKey& key,
                    const std::string& evaluation_id, int index,
                    const std::string& task_id) {
  ReadyQueue& q = UserOf(account).queues[key];
  if (q.evaluation_id.empty()) q.evaluation_id = evaluation_id;
  if (q.tasks.emplace(index, task_id).second) ++ready_tasks_;
}

void FairShare::Remove(int64_t uid, const QueueKey& key, int index,
                       const std::string& task_id) {
  auto u = users_.find(uid);
  if (u == users_.end()) return;
  auto q = u->second.queues.find(key);
  if (q == u->second.queues.end()) return;
  ready_tasks_ -= q->second.tasks.erase({index, task_id});
  if (q->second.tasks.empty()) u->second.queues.erase(q);
}

void FairShare::RemoveEvaluation(int64_t uid, int32_t priority, int64_t seq) {
  auto u = users_.find(uid);
  if (u == users_.end()) return;
  UserQueues& queues = u->second.queues;
  auto it = queues.lower_bound(QueueKey{priority, seq, 0});
  while (it != queues.end() && it->first.priority == priority &&
         it->first.seq == seq) {
    ready_tasks_ -= it->second.tasks.size();
    it = queues.erase(it);
  }
}

void FairShare::AddRunning(const Account& account, int gpus, int delta) {
  User& u = UserOf(account);
  u.running += delta;
  u.gpus += delta * gpus;
  u.weight += delta * std::max(1, gpus);
}

int FairShare::running_tasks(int64_t uid) const {
  auto u = users_.find(uid);
  return u == users_.end() ? 0 : u->second.running;
}

int FairShare::running_gpus(int64_t uid) const {
  auto u = users_.find(uid);
  return u == users_.end() ? 0 : u->second.gpus;
}

int FairShare::MaxTasks(const std::string& user) const {
  auto o = settings_.users().find(user);
  if (o != settings_.users().end() && o->second.max_running_tasks() > 0) {
    return o->second.max_running_tasks();
  }
  return settings_.user_max_running_tasks();
}

int FairShare::MaxGpus(const std::string& user) const {
  auto o = settings_.users().find(user);
  if (o != settings_.users().end() && o->second.max_gpus() > 0) {
    return o->second.max_gpus();
  }
  return settings_.user_max_gpus();
}

std::string FairShare::Blocked(int64_t uid, int gpus) const {
  auto it = users_.find(uid);
  if (it == users_.end()) return "";
  const User& u = it->second;
  const int max_tasks = MaxTasks(u.account.user);
  if (max_tasks > 0 && u.running >= max_tasks) {
    return absl::StrCat("user quota (", Name(u.account), " runs ", u.running,
                        " of ", Plural(max_tasks, "task", "tasks"), ")");
  }
  const int max_gpus = MaxGpus(u.account.user);
  if (max_gpus > 0 && gpus > 0 && u.gpus + gpus > max_gpus) {
    return absl::StrCat("user GPU quota (", Name(u.account), " holds ", u.gpus,
                        " of ", Plural(max_gpus, "GPU", "GPUs"), ", needs ",
                        gpus, ")");
  }
  return "";
}

std::string FairShare::NeverFits(int64_t uid, int gpus) const {
  auto it = users_.find(uid);
  if (it == users_.end()) return "";
  const int max_gpus = MaxGpus(it->second.account.user);
  if (max_gpus == 0 || gpus <= max_gpus) return "";
  return absl::StrCat("needs ", Plural(gpus, "GPU", "GPUs"), " but ",
                      Name(it->second.account), " may hold at most ", max_gpus,
                      " (fair_share.user_max_gpus of ocxd's config)");
}

// ---- Turn ----

FairShare::Turn::Turn(FairShare* owner) : owner_(owner) {
  for (auto& [uid, u] : owner_->users_) {
    if (!u.queues.empty()) Push(uid);
  }
}

void FairShare::Turn::Push(int64_t uid) {
  const User& u = owner_->users_.at(uid);
  heap_.emplace(u.weight, u.last_served, uid);
}

std::optional<FairShare::Turn::Candidate> FairShare::Turn::Next() {
  while (true) {
    if (!current_.has_value()) {
      if (heap_.empty()) return std::nullopt;
      current_ = std::get<2>(heap_.top());
      heap_.pop();
    }
    User& u = owner_->users_.at(*current_);
    auto [c, fresh] = cursors_.try_emplace(*current_);
    Cursor& cursor = c->second;
    if (fresh) {
      cursor.queue = u.queues.begin();
      if (cursor.queue != u.queues.end()) {
        cursor.task = cursor.queue->second.tasks.begin();
      }
    }
    while (cursor.queue != u.queues.end() &&
           cursor.task == cursor.queue->second.tasks.end()) {
      if (++cursor.queue != u.queues.end()) {
        cursor.task = cursor.queue->second.tasks.begin();
      }
    }
    if (cursor.queue == u.queues.end()) {
      current_.reset();  // nothing left to try for this user
      continue;
    }
    return Candidate{&u.account, &cursor.queue->first, &cursor.queue->second,
                     cursor.task->first, &cursor.task->second};
  }
}

void FairShare::Turn::EraseCurrent() {
  User& u = owner_->users_.at(*current_);
  Cursor& cursor = cursors_.at(*current_);
  cursor.task = cursor.queue->second.tasks.erase(cursor.task);
  --owner_->ready_tasks_;
  if (cursor.queue->second.tasks.empty()) {
    cursor.queue = u.queues.erase(cursor.queue);
    if (cursor.queue != u.queues.end()) {
      cursor.task = cursor.queue->second.tasks.begin();
    }
  }
}

void FairShare::Turn::Started() {
  EraseCurrent();
  owner_->users_.at(*current_).last_served = ++owner_->clock_;
  Push(*current_);
  current_.reset();
}

void FairShare::Turn::Dropped() { EraseCurrent(); }

void FairShare::Turn::SkipTask() { ++cursors_.at(*current_).task; }

void FairShare::Turn::SkipQueue() {
  Cursor& cursor = cursors_.at(*current_);
  cursor.task = cursor.queue->second.tasks.end();
}

void FairShare::Turn::SkipUser() { current_.reset(); }

}  // namespace ocx::server
