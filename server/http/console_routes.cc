#include "server/http/console_routes.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/loopback.h"
#include "httplib.h"
#include "server/http/console_assets.h"
#include "server/http/console_log.h"
#include "server/http/http_tls.h"

namespace ocx::server {
namespace {

using httplib::Request;
using httplib::Response;

constexpr char kJson[] = "application/json; charset=utf-8";
constexpr char kBearer[] = "Bearer realm=\"ocxd\"";

void Send(const JsonAnswer& answer, Response& res) {
  res.status = answer.status;
  // HTTP's 401 names a scheme; a browser shows no prompt for this one.
  if (answer.status == 401) res.set_header("WWW-Authenticate", kBearer);
  // The page asks again with If-None-Match itself; no cache keeps answers.
  res.set_header("Cache-Control", "no-store");
  if (!answer.etag.empty()) res.set_header("ETag", answer.etag);
  if (answer.status != 304) res.set_content(answer.body, kJson);
}

std::string IfNoneMatch(const Request& req) {
  return req.get_header_value("If-None-Match");
}

const char* ContentType(absl::string_view path) {
  if (absl::EndsWith(path, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(path, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(path, ".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// The host part of a Host header: "127.0.0.1:8080" -> "127.0.0.1",
// "[::1]:8080" -> "::1".
std::string HostOf(absl::string_view host_header) {
  if (absl::StartsWith(host_header, "[")) {
    size_t close = host_header.find(']');
    if (close == absl::string_view::npos) return "";
    return std::string(host_header.substr(1, close - 1));
  }
  return std::string(host_header.substr(0, host_header.find(':')));
}

// Whether a state-changing request comes from the console's own page.
absl::Status CheckSameOrigin(const Request& req, bool tls) {
  if (req.get_header_value(kConsoleHeader) != "1") {
    return absl::PermissionDeniedError(absl::StrCat(
        "a request that changes state needs the header ", kConsoleHeader,
        ": 1 (the console's pages send it; other sites cannot)"));
  }
  if (req.has_header("Origin") &&
      req.get_header_value("Origin") !=
          absl::StrCat(tls ? "https://" : "http://",
                       req.get_header_value("Host"))) {
    return absl::PermissionDeniedError(
        absl::StrCat("origin ", req.get_header_value("Origin"),
                     " may not change state here; use the console's page"));
  }
  return absl::OkStatus();
}

int IntParam(const Request& req, const char* name) {
  int value = 0;
  if (!absl::SimpleAtoi(req.get_param_value(name), &value)) return 0;
  return value;
}

// Shared by the handlers.
struct State {
  ConsoleRoutesOptions options;
  std::atomic<int> log_streams{0};

  absl::StatusOr<Identity> Caller(const Request& req) const {
    return options.caller(PeerOf(req, options.bound_port->load()));
  }
};

using Reply = std::function<JsonAnswer(const ConsoleApi&, const Identity&,
                                       const Request&)>;

// A JSON route: identify the caller, then answer.
httplib::Server::Handler Route(std::shared_ptr<State> state, bool writes,
                               Reply reply) {
  return [state, writes, reply = std::move(reply)](const Request& req,
                                                   Response& res) {
    if (writes) {
      absl::Status same = CheckSameOrigin(req, state->options.tls);
      if (!same.ok()) return Send(ErrorAnswer(same), res);
    }
    absl::StatusOr<Identity> caller = state->Caller(req);
    if (!caller.ok()) return Send(ErrorAnswer(caller.status()), res);
    Send(reply(*state->options.api, *caller, req), res);
  };
}

// GET /api/tasks/ID/log?attempt=N&offset=B: the log tail as server-sent
// events, on this request's thread until the stream ends, the browser
// leaves, or the listener stops.
void ServeLog(std::shared_ptr<State> state, const Request& req, Response& res) {
  absl::StatusOr<Identity> caller = state->Caller(req);
  const std::string task_id = req.matches[1];
  absl::Status may =
      caller.ok() ? state->options.api->AuthorizeTaskLog(*caller, task_id)
                  : caller.status();
  if (!may.ok()) return Send(ErrorAnswer(may), res);
  if (state->log_streams.fetch_add(1) >= state->options.max_log_streams) {
    state->log_streams.fetch_sub(1);
    return Send(
        ErrorAnswer(absl::UnavailableError(absl::StrCat(
            "too many log tails are open (", state->options.max_log_streams,
            "); close some console tabs"))),
        res);
  }
  auto tail = std::make_shared<LogTail>(state->options.api->store(), task_id,
                                        IntParam(req, "attempt"),
                                        IntParam(req, "offset"));
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "text/event-stream",
      [state, tail](size_t, httplib::DataSink& sink) {
        int idle_ms = 0;
        while (!*state->options.stopping) {
          bool done = false;
          absl::StatusOr<std::string> events = tail->Poll(&done);
          if (!events.ok()) {
            events = absl::StrCat("event: error\ndata: ",
                                  ErrorAnswer(events.status()).body, "\n\n");
            done = true;
          }
          // A comment now and then finds a browser that has left.
          if (events->empty() && idle_ms >= 15000) *events = ": idle\n\n";
          if (!events->empty()) {
            idle_ms = 0;
            if (!sink.write(events->data(), events->size())) break;
          }
          if (done) break;
          if (events->empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            idle_ms += 250;
          }
        }
        sink.done();
        return true;
      },
      [state](bool) { state->log_streams.fetch_sub(1); });
}

// Whether a Host header may name `host` (DNS rebinding, above).
bool KnownHost(const ConsoleRoutesOptions& options, std::string host) {
  if (IsLoopbackHost(host)) return true;
  if (!options.tls) return false;
  absl::AsciiStrToLower(&host);
  return std::find(options.server_names.begin(), options.server_names.end(),
                   host) != options.server_names.end();
}

std::string UnknownHostMessage(const ConsoleRoutesOptions& options,
                               const std::string& host) {
  if (!options.tls) {
    return absl::StrCat("Host \"", host,
                        "\" is not a loopback name; open the console at "
                        "http://127.0.0.1:PORT/ or http://localhost:PORT/");
  }
  return absl::StrCat(
      "Host \"", host,
      "\" is neither a loopback name nor a name of this listener's TLS "
      "certificate (",
      absl::StrJoin(options.server_names, ", "),
      "); open the console at https://NAME:PORT/ with one of them");
}

void AddAssets(httplib::Server* server) {
  for (const ConsoleAsset& asset : ConsoleAssets()) {
    std::string body(reinterpret_cast<const char*>(asset.data), asset.size);
    const char* type = ContentType(asset.path);
    auto serve = [body, type](const Request&, Response& res) {
      res.set_content(body, type);
    };
    server->Get(asset.path, serve);
    if (std::string(asset.path) == "/index.html") server->Get("/", serve);
  }
}

}  // namespace

HttpPeer PeerOf(const Request& req, int bound_port) {
  HttpPeer peer;
  peer.ip = req.remote_addr;
  peer.port = req.remote_port;
  peer.local_port = req.local_port > 0 ? req.local_port : bound_port;
  peer.tls = req.ssl != nullptr;
  peer.certificate_user = VerifiedClientName(req.ssl);
  if (req.has_header("Authorization")) {
    peer.authorization = req.get_header_value("Authorization");
  }
  return peer;
}

void AddConsoleRoutes(httplib::Server* server, ConsoleRoutesOptions options) {
  auto state = std::make_shared<State>();
  state->options = std::move(options);
  // DNS rebinding: a page of another site that reaches us under its own
  // name carries that name in Host.
  // /metrics and /healthz skip this check, since a scraper names the host
  // as it reaches it: they serve nothing of any one user (over TLS
  // /metrics still needs an identified caller, http_server.h).
  server->set_pre_routing_handler([state](const Request& req, Response& res) {
    if (req.path == "/metrics" || req.path == "/healthz" ||
        KnownHost(state->options, HostOf(req.get_header_value("Host")))) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    Send(ErrorAnswer(absl::PermissionDeniedError(
             UnknownHostMessage(state->options, req.get_header_value("Host")))),
         res);
    return httplib::Server::HandlerResponse::Handled;
  });
  server->set_default_headers(
      {{"Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'none'; base-uri 'none'"},
       {"X-Content-Type-Options", "nosniff"},
       {"X-Frame-Options", "DENY"},
       {"Referrer-Policy", "no-referrer"}});
  AddAssets(server);
  server->Get("/api/evaluations",
              Route(state, false, [](auto& api, auto& caller, auto& req) {
                return api.ListEvaluations(caller, req.get_param_value("owner"),
                                           req.get_param_value("page_token"));
              }));
  server->Get(R"(/api/evaluations/([^/]+))",
              Route(state, false, [](auto& api, auto& caller, auto& req) {
                return api.GetEvaluation(caller, req.matches[1],
                                         req.get_param_value("spec") != "0",
                                         IfNoneMatch(req));
              }));
  server->Get(R"(/api/evaluations/([^/]+)/tasks)",
              Route(state, false, [](auto& api, auto& caller, auto& req) {
                TaskQuery query{req.get_param_value("stage"),
                                req.get_param_value("state"),
                                req.get_param_value("page_size"),
                                req.get_param_value("page_token")};
                return api.ListTasks(caller, req.matches[1], query,
                                     IfNoneMatch(req));
              }));
  server->Get(R"(/api/evaluations/([^/]+)/results)",
              Route(state, false, [](auto& api, auto& caller, auto& req) {
                return api.GetResults(caller, req.matches[1], IfNoneMatch(req));
              }));
  server->Post(R"(/api/evaluations/([^/]+)/cancel)",
               Route(state, true, [](auto& api, auto& caller, auto& req) {
                 return api.Cancel(caller, req.matches[1]);
               }));
  server->Get("/api/leaderboard",
              Route(state, false, [](auto& api, auto& caller, auto& req) {
                std::vector<std::string> ids;
                for (absl::string_view id : absl::StrSplit(
                         req.get_param_value("ids"), ',', absl::SkipEmpty())) {
                  ids.emplace_back(id);
                }
                return api.Leaderboard(caller, ids);
              }));
  server->Get("/api/servers",
              Route(state, false, [](auto& api, auto& caller, auto&) {
                return api.ListServers(caller);
              }));
  server->Get(R"(/api/tasks/([^/]+)/log)",
              [state](const Request& req, Response& res) {
                ServeLog(state, req, res);
              });
}

}  // namespace ocx::server
