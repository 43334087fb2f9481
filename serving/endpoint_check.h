// CheckEndpoint: is a user-given OpenAI-compatible endpoint (a model's
// openai_api_base, docs/endpoints.md) answering, and which models does it
// serve? One GET <base>/models, the list every OpenAI-compatible server
// (vLLM, llama.cpp's llama-server, SGLang, LMDeploy, TGI's Messages API)
// offers: the base URL already ends in the API's root (".../v1"), so the
// list is beside /chat/completions, where the tasks send their requests.
//
// Thread-compatible: a check uses the caller's HttpProbe.
#ifndef OCX_SERVING_ENDPOINT_CHECK_H_
#define OCX_SERVING_ENDPOINT_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ocx/v1/spec.pb.h"
#include "serving/http_probe.h"

namespace ocx::serving {

struct EndpointCheck {
  std::string base_url;
  // The server answered in a way tasks can use: any HTTP status but 5xx
  // (a server still loading its model answers 503).
  bool reachable = false;
  // The model list was read (HTTP 200 with {"data": [{"id": ...}]}). A
  // server that wants an API key (401/403, ocxd does not hold the key) or
  // has no list is reachable but not listed: tasks find out the rest.
  bool listed = false;
  std::vector<std::string> models;
  // Why not reachable or not listed: "connection refused", "HTTP 503",
  // "HTTP 401 (needs the API key; model list not checked)".
  std::string detail;
  int64_t latency_ms = 0;
};

// The endpoint a model's infer tasks send requests to, without a trailing
// "/"; "" when ocx does not check it: no openai_api_base, or a managed
// server (serve), which the replica health prober watches.
std::string UserEndpointOf(const ocx::v1::ModelConfig& model);
// The model name the tasks ask the server for: path, else abbr (as
// task/model/openai_model.cc sends it).
std::string RequestedModelOf(const ocx::v1::ModelConfig& model);

// GET <base_url>/models within `timeout_ms`.
EndpointCheck CheckEndpoint(HttpProbe& http, const std::string& base_url,
                            int timeout_ms);

// Why `model` cannot be served at a listed endpoint ("model \"x\" is not
// served at http://h/v1, which serves: a, b"); "" when it is listed or the
// list was not read.
std::string ModelMissing(const EndpointCheck& check, const std::string& model);

}  // namespace ocx::serving

#endif  // OCX_SERVING_ENDPOINT_CHECK_H_
