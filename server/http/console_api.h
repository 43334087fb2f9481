// ConsoleApi: the web console's JSON API (docs/console.md), one method per
// route, free of HTTP so that it is tested without a listener. Each method
// takes the caller (identified by the listener, console_routes.h) and
// answers an HTTP status and a JSON body:
//   GET  /api/evaluations[?owner=me|USER]  ListEvaluations
//   GET  /api/evaluations/ID[?spec=0]      GetEvaluation (its spec: the plan)
//   GET  /api/evaluations/ID/tasks[?stage=S&state=T&page_size=N&page_token=P]
//                                          ListTasks (progress, pending_reason)
//   GET  /api/evaluations/ID/results       GetResults (the summary table)
//   GET  /api/leaderboard[?ids=A,B]        Leaderboard (summary/compare.h)
//   GET  /api/servers                      ListServers (managed servers)
//   POST /api/evaluations/ID/cancel        Cancel
// Messages are protobuf's JSON of the gRPC API's resources with proto field
// names, so the console and `ocxctl -o json` speak the same vocabulary.
// The rules are the gRPC API's (server/api/authorization.h): the list and
// the servers are open to every identified caller; an evaluation's details,
// tasks, results, logs and cancel are for its owner and admins. Errors are
// {"error": {"code": "NOT_FOUND", "message": "..."}} with the matching
// HTTP status.
//
// Reads go through the store's read pool and never wait on the dispatcher;
// only Cancel queues a command for it (the same one gRPC queues).
//
// Polling is cheap when nothing changed (console_api_etag.h): the
// evaluation, its results, and a page of tasks none of which is READY or
// RUNNING (whose pending reason and progress change without events) carry
// an ETag; asked again with it in If-None-Match while the evaluation has
// had no event since, they answer 304 and an empty body after one indexed
// read (the owner, for authorization).
//
// Thread-safe: the listener calls methods concurrently.
#ifndef OCX_SERVER_HTTP_CONSOLE_API_H_
#define OCX_SERVER_HTTP_CONSOLE_API_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/identity.h"
#include "server/api/authorization.h"
#include "server/dispatcher/dispatcher.h"
#include "server/http/console_api_etag.h"
#include "server/store/store.h"

namespace ocx::server {

struct ConsoleOptions {
  store::Store* store = nullptr;
  Dispatcher* dispatcher = nullptr;
  AccessPolicy access;
  // An evaluation answer leaves the spec out beyond this size (the
  // spec_omitted flag says so).
  int64_t max_spec_bytes = 1 << 20;
  // Most tasks one Tasks answer lists ("truncated" says when there were
  // more), and most evaluations the leaderboard compares.
  int max_tasks = 5000;
  int max_leaderboard_evaluations = 20;
};

// An HTTP status and a JSON body (empty for 304), and its ETag (empty:
// none; see above).
struct JsonAnswer {
  int status = 200;
  std::string body;
  std::string etag;
};

// Which tasks ListTasks answers, as the request's parameters spell them:
// `stage` and `state` are enum names (STAGE_INFER, RUNNING; empty: all),
// `page_size` a count (empty or 0: max_tasks; more is cut to max_tasks),
// `page_token` the next_page_token of the previous page of the same query.
struct TaskQuery {
  std::string stage;
  std::string state;
  std::string page_size;
  std::string page_token;
};

class ConsoleApi {
 public:
  explicit ConsoleApi(ConsoleOptions options);

  JsonAnswer ListEvaluations(const Identity& caller, const std::string& owner,
                             const std::string& page_token) const;
  // `if_none_match`: the request's If-None-Match header (empty: none).
  JsonAnswer GetEvaluation(const Identity& caller, const std::string& id,
                           bool with_spec = true,
                           const std::string& if_none_match = "") const;
  // By stage, then index: {"tasks", "next_page_token", "truncated"}.
  JsonAnswer ListTasks(const Identity& caller, const std::string& id,
                       const TaskQuery& query = {},
                       const std::string& if_none_match = "") const;
  JsonAnswer GetResults(const Identity& caller, const std::string& id,
                        const std::string& if_none_match = "") const;
  // `ids` empty: the newest SUCCEEDED evaluations the caller may read (at
  // most max_leaderboard_evaluations, looked for among the newest 2000).
  JsonAnswer Leaderboard(const Identity& caller,
                         const std::vector<std::string>& ids) const;
  JsonAnswer ListServers(const Identity& caller) const;
  JsonAnswer Cancel(const Identity& caller, const std::string& id) const;

  // OK when `caller` may read the logs of task `task_id` (the log tail,
  // console_log.h, streams them).
  absl::Status AuthorizeTaskLog(const Identity& caller,
                                const std::string& task_id) const;

  store::Store* store() const { return options_.store; }

 private:
  // The evaluation, with its owner filled in, if `caller` may `action` it.
  absl::StatusOr<ocx::v1::Evaluation> Readable(const Identity& caller,
                                               const std::string& id,
                                               absl::string_view action,
                                               bool with_spec = true) const;
  // 304 when `caller` may `action` evaluation `id` and `if_none_match`
  // holds a current tag of `variant`; nullopt when the answer must be read
  // (an error answer when the caller may not).
  std::optional<JsonAnswer> NotModified(const Identity& caller,
                                        const std::string& id,
                                        absl::string_view action,
                                        absl::string_view variant,
                                        const std::string& if_none_match) const;

  const ConsoleOptions options_;
  const EventTags tags_;
};

// The HTTP status of an absl status code (NOT_FOUND 404, PERMISSION_DENIED
// 403, UNAUTHENTICATED 401, INVALID_ARGUMENT 400, FAILED_PRECONDITION and
// ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, else 500).
int HttpStatusOf(absl::StatusCode code);

// The error body of `status` with its HTTP status.
JsonAnswer ErrorAnswer(const absl::Status& status);

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_CONSOLE_API_H_
