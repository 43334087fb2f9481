// bench_fair_share: the cost of the dispatcher's placement walk
// (server/dispatcher/fair_share.h) with a large backlog.
//
// N queued tasks are spread over U users (one evaluation each, E tasks per
// evaluation); S slots. Each simulated turn one running task ends and the
// walk runs as the dispatcher's Schedule does: the first candidate starts,
// the next finds the runner full and every other queue is skipped. The
// time per turn is printed for U users and for one user with the same N,
// and their ratio; and for U users with N/10 tasks: the walk costs
// O(users + queues) per turn, never O(queued tasks), so that ratio stays
// near 1.
//
// Usage: bench_fair_share [--tasks N] [--users U] [--turns T]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "server/dispatcher/fair_share.h"

namespace {

using ocx::bench::Fmt;
using ocx::bench::Now;
using ocx::server::Account;
using ocx::server::FairShare;
using ocx::server::QueueKey;

struct Args {
  int tasks = 100000;
  int users = 50;
  int turns = 20000;
  int slots = 64;
};

Args ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = atoi(argv[i + 1]);
    if (a == "--tasks") {
      args.tasks = v;
    } else if (a == "--users") {
      args.users = v;
    } else if (a == "--turns") {
      args.turns = v;
    } else {
      fprintf(stderr, "usage: %s [--tasks N] [--users U] [--turns T]\n",
              argv[0]);
      exit(2);
    }
  }
  return args;
}

// Microseconds per turn with `users` users sharing `tasks` queued tasks.
double Run(const Args& args, int users) {
  FairShare fair;
  std::vector<Account> accounts;
  for (int u = 0; u < users; ++u) {
    accounts.push_back(Account{100000 + u, absl::StrCat("user", u)});
  }
  for (int i = 0; i < args.tasks; ++i) {
    const int u = i % users;
    fair.Add(accounts[u], QueueKey{0, u, 1}, absl::StrCat("e", u), i,
             absl::StrCat("e", u, "-infer-", i));
  }
  std::deque<int> running;  // users of running tasks, oldest first
  auto turn = [&]() {
    int free = args.slots - static_cast<int>(running.size());
    FairShare::Turn walk = fair.StartTurn();
    while (auto c = walk.Next()) {
      if (free > 0) {
        const int u = static_cast<int>(c->account->uid - 100000);
        fair.AddRunning(*c->account, 0, +1);
        running.push_back(u);
        walk.Started();
        --free;
      } else {
        walk.SkipQueue();  // the runner is full
      }
    }
  };
  turn();  // fills the slots
  const double start = Now();
  for (int i = 0; i < args.turns && fair.ready_tasks() > 0; ++i) {
    const int u = running.front();
    running.pop_front();
    fair.AddRunning(accounts[u], 0, -1);
    turn();
  }
  return (Now() - start) * 1e6 / args.turns;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  if (args.turns > args.tasks - args.slots) {
    args.turns = args.tasks - args.slots;
  }
  printf("bench_fair_share: %d queued tasks, %d slots, %d turns\n", args.tasks,
         args.slots, args.turns);
  const double one = Run(args, 1);
  const double many = Run(args, args.users);
  Args tenth = args;
  tenth.tasks = args.tasks / 10;
  tenth.turns = std::min(args.turns, tenth.tasks - args.slots);
  const double few = Run(tenth, args.users);
  printf("1 user, %d tasks:   %8.2f us/turn\n", args.tasks, one);
  printf("%d users, %d tasks: %8.2f us/turn\n", args.users, args.tasks, many);
  printf("%d users, %d tasks: %8.2f us/turn\n", args.users, tenth.tasks, few);
  printf("ratio %d users / 1 user: %.2f; %d tasks / %d tasks: %.2f\n",
         args.users, many / one, args.tasks, tenth.tasks, many / few);
  ocx::bench::PrintResult({
      {"bench", "fair_share"},
      {"tasks", absl::StrCat(args.tasks)},
      {"users", absl::StrCat(args.users)},
      {"us_per_turn_1_user", Fmt(one, 2)},
      {"us_per_turn_users", Fmt(many, 2)},
      {"ratio_users", Fmt(many / one, 2)},
      {"ratio_tasks_10x", Fmt(many / few, 2)},
  });
  return 0;
}
