// A model server hung on every completion, for the stall and endpoint
// e2e tests: it lists one model (so ocxd's endpoint check before launch
// passes, docs/endpoints.md) and holds every other request open without an
// answer until Release() (then they and all later ones get HTTP 500) or
// until it is destroyed.
#ifndef OCX_TESTS_E2E_SILENT_ENDPOINT_H_
#define OCX_TESTS_E2E_SILENT_ENDPOINT_H_

#include <httplib.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ocx::testing {

class SilentEndpoint {
 public:
  explicit SilentEndpoint(const std::string& model = "hung") {
    server_.Get(
        "/v1/models", [model](const httplib::Request&, httplib::Response& res) {
          res.set_content(absl::StrCat(R"({"object":"list","data":[{"id":")",
                                       model, R"("}]})"),
                          "application/json");
        });
    server_.Post(".*", [this](const httplib::Request&, httplib::Response& res) {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&released_));
      res.status = 500;
      res.set_content(R"({"error":{"message":"released by the test"}})",
                      "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~SilentEndpoint() {
    Release();
    server_.stop();
    thread_.join();
  }
  // Answers the held requests, and every later one, with HTTP 500.
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }
  std::string base_url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/v1");
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  absl::Mutex mu_;
  bool released_ = false;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace ocx::testing

#endif  // OCX_TESTS_E2E_SILENT_ENDPOINT_H_
