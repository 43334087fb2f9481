// FairShare: the dispatcher's ready queues, kept per user, the users'
// current usage and limits, and the order in which users get free slots
// (docs/security.md, "Fair share").
//
// Contract:
// - Accounts are keyed by uid; the user name is for messages and the
//   per-user overrides of FairShareSettings.users.
// - A user's ready tasks sit in queues, one per (evaluation, stage, model),
//   ordered by the evaluation's priority (higher first), then its age
//   (seq), then the stage, then the model; inside a queue by task index.
//   Priority never crosses users. A queue holds one model's tasks so that a
//   model that cannot start now (its endpoint down, no replica ready) is
//   skipped as one queue, not task by task.
// - Usage is what a user holds right now: running tasks and GPUs, counted
//   by AddRunning as tasks start and end. A user's weight is the sum over
//   its running tasks of max(1, GPUs held).
// - A Turn hands out users least weight first; equal weights go to the user
//   served least recently, so equal users alternate. A user with 10,000
//   queued tasks and one with 10 get slots in turn.
// - Limits: Blocked() says why a user may not start one more task; a task
//   needing more GPUs than its owner may ever hold is refused by
//   NeverFits().
//
// Cost: Add/Remove are O(log), a Turn costs O(users) to start and
// O(log users) per task started; the walk over queues is monotone, so one
// turn visits each queue and each skipped task at most once.
//
// Thread-compatible: only the dispatcher's loop thread uses it.
#ifndef OCX_SERVER_DISPATCHER_FAIR_SHARE_H_
#define OCX_SERVER_DISPATCHER_FAIR_SHARE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "ocx/v1/daemon_config.pb.h"

namespace ocx::server {

// The owner of evaluations the dispatcher schedules for.
struct Account {
  int64_t uid = -1;
  std::string user;
};

// Orders one user's ready queues: higher priority, then older evaluation,
// then stage, then model (the dispatcher's index of the model in its
// evaluation).
struct QueueKey {
  int32_t priority = 0;
  int64_t seq = 0;
  int stage = 0;
  int model = 0;

  bool operator<(const QueueKey& o) const {
    return std::make_tuple(-int64_t{priority}, seq, stage, model) <
           std::make_tuple(-int64_t{o.priority}, o.seq, o.stage, o.model);
  }
};

// One (evaluation, stage, model)'s ready tasks by (index, id). A B-tree: a
// million queued tasks cost ~40 bytes each here, not a tree node's 80.
using ReadyTasks = absl::btree_set<std::pair<int, std::string>>;
struct ReadyQueue {
  std::string evaluation_id;
  ReadyTasks tasks;
};
using UserQueues = std::map<QueueKey, ReadyQueue>;

class FairShare {
 public:
  explicit FairShare(ocx::v1::FairShareSettings settings = {});

  // ---- Ready queues ----
  void Add(const Account& account, const QueueKey& key,
           const std::string& evaluation_id, int index,
           const std::string& task_id);
  void Remove(int64_t uid, const QueueKey& key, int index,
              const std::string& task_id);
  // Drops every queue of the evaluation (priority and seq of its key).
  void RemoveEvaluation(int64_t uid, int32_t priority, int64_t seq);
  // Every user's queues, for reporting; by uid.
  template <typename Fn>  // Fn(const Account&, const UserQueues&)
  void ForEachUser(Fn fn) const {
    for (const auto& [uid, u] : users_) {
      if (!u.queues.empty()) fn(u.account, u.queues);
    }
  }
  size_t ready_tasks() const { return ready_tasks_; }

  // ---- Usage and limits ----
  // A task of `account` holding `gpus` started (delta +1) or ended (-1).
  void AddRunning(const Account& account, int gpus, int delta);
  int running_tasks(int64_t uid) const;
  int running_gpus(int64_t uid) const;
  // Why `uid` may not start one more task needing `gpus` now ("user quota
  // (alice runs 4 of 4 tasks)"), or "" when it may.
  std::string Blocked(int64_t uid, int gpus) const;
  // Why a task of `uid` needing `gpus` can never start under its owner's
  // GPU limit, or "".
  std::string NeverFits(int64_t uid, int gpus) const;

  // ---- A scheduling turn ----
  // Walks the users' queues in fair-share order. The queues must change
  // only through the Turn while it lives.
  class Turn {
   public:
    struct Candidate {
      const Account* account;
      const QueueKey* key;
      const ReadyQueue* queue;
      int index;
      const std::string* task_id;
    };
    // The next task to try: the first task left of the current user, or of
    // the least-weighted user with tasks left. nullopt when none is left.
    std::optional<Candidate> Next();
    // The candidate started: it leaves its queue, and its user waits until
    // the users now weighing less had their turn.
    void Started();
    // The candidate left the ready queues without starting (it failed).
    void Dropped();
    // The candidate waits; the task behind it in its queue is next.
    void SkipTask();
    // The rest of the candidate's queue waits this turn.
    void SkipQueue();
    // The candidate's user waits this turn.
    void SkipUser();

   private:
    friend class FairShare;
    struct Cursor {
      UserQueues::iterator queue;
      ReadyTasks::iterator task;
    };
    using Entry =
        std::tuple<int64_t, uint64_t, int64_t>;  // weight, served, uid
    explicit Turn(FairShare* owner);
    void Push(int64_t uid);
    // Removes the current task (the cursor moves to the next one).
    void EraseCurrent();

    FairShare* owner_;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
    std::map<int64_t, Cursor> cursors_;
    std::optional<int64_t> current_;
  };
  Turn StartTurn() { return Turn(this); }

 private:
  struct User {
    Account account;
    UserQueues queues;
    int running = 0;
    int gpus = 0;
    int64_t weight = 0;
    uint64_t last_served = 0;
  };
  User& UserOf(const Account& account);
  // The limits of `user`: its override, else the defaults (0: none).
  int MaxTasks(const std::string& user) const;
  int MaxGpus(const std::string& user) const;

  const ocx::v1::FairShareSettings settings_;
  std::map<int64_t, User> users_;
  size_t ready_tasks_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_FAIR_SHARE_H_
