// plain_openai_client: the baseline of bench_infer.sh. A minimal concurrent
// client of an OpenAI-compatible /v1/completions endpoint (libcurl multi,
// one keep-alive connection per slot), sharing no code with ocx-task: it
// sends every prompt of a JSONL file once and prints the throughput.
//
//   plain_openai_client --base-url http://127.0.0.1:PORT/v1 --data FILE.jsonl
//       [--column prompt] [--model NAME] [--concurrency 8] [--max-tokens 16]
//
// Output: one `RESULT requests=N failed=F completion_tokens=T seconds=S
// tokens_per_s=X cpu_ms_per_request=C` line (CPU = this process's user+sys).
#include <curl/curl.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace {

struct Options {
  std::string base_url;
  std::string data;
  std::string column = "prompt";
  std::string model;
  int concurrency = 8;
  int max_tokens = 16;
};

struct Slot {
  CURL* curl = nullptr;
  std::string body;
  std::string response;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "plain_openai_client: %s\nusage: plain_openai_client "
               "--base-url URL --data FILE.jsonl [--column prompt] "
               "[--model NAME] [--concurrency N] [--max-tokens N]\n",
               msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--base-url")
      opt.base_url = v;
    else if (a == "--data")
      opt.data = v;
    else if (a == "--column")
      opt.column = v;
    else if (a == "--model")
      opt.model = v;
    else if (a == "--concurrency")
      opt.concurrency = std::atoi(v.c_str());
    else if (a == "--max-tokens")
      opt.max_tokens = std::atoi(v.c_str());
    else
      Usage(("unknown argument " + a).c_str());
  }
  if (opt.base_url.empty() || opt.data.empty() || opt.concurrency < 1) {
    Usage("--base-url and --data are required, --concurrency >= 1");
  }

  // Request bodies are built before the clock starts.
  std::vector<std::string> bodies;
  std::ifstream in(opt.data);
  if (!in) Usage(("cannot read " + opt.data).c_str());
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    google::protobuf::Struct row;
    if (!google::protobuf::util::JsonStringToMessage(line, &row).ok() ||
        !row.fields().count(opt.column)) {
      Usage(("bad line or no column in " + opt.data).c_str());
    }
    google::protobuf::Struct req;
    auto& f = *req.mutable_fields();
    f["prompt"] = row.fields().at(opt.column);
    f["max_tokens"].set_number_value(opt.max_tokens);
    f["temperature"].set_number_value(0);
    if (!opt.model.empty()) f["model"].set_string_value(opt.model);
    std::string body;
    (void)google::protobuf::util::MessageToJsonString(req, &body);
    bodies.push_back(std::move(body));
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  const std::string url = opt.base_url + "/completions";
  curl_slist* headers =
      curl_slist_append(nullptr, "Content-Type: application/json");
  std::vector<Slot> slots(opt.concurrency);
  std::vector<Slot*> idle;
  for (Slot& s : slots) {
    s.curl = curl_easy_init();
    curl_easy_setopt(s.curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(s.curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(s.curl, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(s.curl, CURLOPT_WRITEDATA, &s.response);
    curl_easy_setopt(s.curl, CURLOPT_PRIVATE, &s);
    curl_easy_setopt(s.curl, CURLOPT_NOSIGNAL, 1L);
    idle.push_back(&s);
  }

  size_t next = 0;
  size_t done = 0;
  long failed = 0;
  long completion_tokens = 0;
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  auto start_one = [&](Slot* s) {
    s->body = bodies[next++];
    s->response.clear();
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, s->body.c_str());
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(s->body.size()));
    curl_multi_add_handle(multi, s->curl);
  };
  while (done < bodies.size()) {
    while (!idle.empty() && next < bodies.size()) {
      start_one(idle.back());
      idle.pop_back();
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    bool finished_any = false;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Slot* s = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
      long status = 0;
      curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
      google::protobuf::Struct resp;
      if (msg->data.result != CURLE_OK || status != 200 ||
          !google::protobuf::util::JsonStringToMessage(s->response, &resp)
               .ok()) {
        ++failed;
        if (failed <= 3) {
          std::fprintf(stderr, "request failed: %s, HTTP %ld: %.200s\n",
                       curl_easy_strerror(msg->data.result), status,
                       s->response.c_str());
        }
      } else {
        completion_tokens += static_cast<long>(resp.fields()
                                                   .at("usage")
                                                   .struct_value()
                                                   .fields()
                                                   .at("completion_tokens")
                                                   .number_value());
      }
      curl_multi_remove_handle(multi, s->curl);
      idle.push_back(s);
      ++done;
      finished_any = true;
    }
    // A finished slot is refilled at once; waiting here would idle it.
    if (!finished_any && done < bodies.size()) {
      curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  const double cpu = CpuSeconds() - cpu0;
  for (Slot& s : slots) curl_easy_cleanup(s.curl);
  curl_slist_free_all(headers);
  curl_multi_cleanup(multi);
  std::printf(
      "RESULT requests=%zu failed=%ld completion_tokens=%ld seconds=%.3f "
      "tokens_per_s=%.1f cpu_ms_per_request=%.3f\n",
      bodies.size(), failed, completion_tokens, seconds,
      completion_tokens / seconds, 1000.0 * cpu / bodies.size());
  return failed == 0 ? 0 : 1;
}
