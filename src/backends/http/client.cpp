// The request engine: libcurl's multi interface on the calling thread, `concurrency` transfers
// in flight, endpoints in round robin, retries with exponential backoff and full jitter
// (delay = uniform(0, min(cap, base * 2^attempt)); AWS architecture blog, "Exponential
// Backoff And Jitter"). Retried: HTTP 429 and 5xx, transport failures (refused, reset,
// timeout, empty reply) and answers the caller's judge marks Retry (malformed JSON).
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <queue>
#include <random>

#include "backends/http/http_internal.h"
#include "rdpt/error.h"

namespace rdpt::http_detail {

namespace {

using Clock = std::chrono::steady_clock;

void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t write_cb(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

bool retryable_transport(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

std::string snippet(std::string_view body, size_t max = 200) {
  std::string s;
  for (char c : body.substr(0, max)) s += (c == '\n' || c == '\r') ? ' ' : c;
  if (body.size() > max) s += "...";
  return s;
}

}  // namespace

std::string api_key_from_env(const std::string& name) {
  if (name.empty()) return "";
  const char* v = std::getenv(name.c_str());
  if (!v || !*v) throw UsageError("API key variable " + name + " is not set (or empty)");
  return v;
}

struct HttpClient::Impl {
  HttpOptions opt;
  std::string key;
  ClientStats stats;
  std::mt19937_64 rng;
  uint64_t rr = 0;  // round-robin counter
  // Retries are logged one by one for the first few; after that one line at most a minute counts
  // them (a flaky server must not bury a job's log under thousands of lines).
  static constexpr uint64_t kRetriesShown = 5;
  uint64_t n_retries_shown = 0, n_retries_pending = 0;
  std::chrono::steady_clock::time_point last_retry_summary{};
  void log_retry(const std::string& line) {
    if (!opt.log) return;
    if (n_retries_shown < kRetriesShown) {
      ++n_retries_shown;
      opt.log(LogLevel::Warn, redact(line) + (n_retries_shown == kRetriesShown
                                                  ? " (further retries are counted once a minute, not shown one by one)"
                                                  : ""));
      last_retry_summary = std::chrono::steady_clock::now();
      return;
    }
    ++n_retries_pending;
    if (std::chrono::steady_clock::now() - last_retry_summary >= std::chrono::seconds(60)) flush_retries();
  }
  void flush_retries() {
    if (!opt.log || !n_retries_pending) return;
    opt.log(LogLevel::Warn, std::to_string(n_retries_pending) + " more retries (" + std::to_string(stats.n_retries) +
                                " in all, " + std::to_string(stats.n_failed) + " requests failed for good so far)");
    n_retries_pending = 0;
    last_retry_summary = std::chrono::steady_clock::now();
  }

  struct Slot {
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string response;
    size_t index = 0;
    std::string url;
    bool busy = false;
  };
  std::vector<Slot> slots;

  std::string redact(std::string s) const {
    if (key.size() >= 4)
      for (size_t p = 0; (p = s.find(key, p)) != std::string::npos;) s.replace(p, key.size(), "***");
    return s;
  }

  double backoff(uint32_t attempt) {
    const double cap = std::min(opt.retry_max_s, opt.retry_base_s * std::ldexp(1.0, int(std::min<uint32_t>(attempt, 30))));
    return std::uniform_real_distribution<double>(0.0, std::max(0.0, cap))(rng);
  }
};

HttpClient::HttpClient(const HttpOptions& options, std::string api_key) : impl_(std::make_unique<Impl>()) {
  curl_global_once();
  impl_->opt = options;
  impl_->key = std::move(api_key);
  if (options.endpoints.empty()) throw UsageError("HTTP backend: no endpoint given");
  if (options.concurrency == 0) throw UsageError("HTTP backend: concurrency must be > 0");
  impl_->rng.seed(options.jitter_seed ? options.jitter_seed
                                      : uint64_t(Clock::now().time_since_epoch().count()));
}

HttpClient::~HttpClient() {
  for (auto& s : impl_->slots) {
    if (s.easy) curl_easy_cleanup(s.easy);
    if (s.headers) curl_slist_free_all(s.headers);
  }
}

const ClientStats& HttpClient::stats() const { return impl_->stats; }

void HttpClient::run(std::span<const HttpRequest> requests,
                     const std::function<Judgement(size_t, const HttpAttempt&)>& judge,
                     const std::function<void(size_t, const std::string&)>& done) {
  Impl& I = *impl_;
  const size_t n = requests.size();
  if (n == 0) return;
  I.stats.n_requests += n;
  const size_t conc = std::min<size_t>(I.opt.concurrency, n);
  if (I.slots.size() < conc) I.slots.resize(conc);

  CURLM* multi = curl_multi_init();
  if (!multi) throw BackendError("curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, long(conc));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, long(conc + 4));

  std::deque<size_t> ready;
  for (size_t i = 0; i < n; ++i) ready.push_back(i);
  using Due = std::pair<Clock::time_point, size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> waiting;
  std::vector<uint32_t> attempts(n, 0);
  size_t finished = 0, in_flight = 0;

  auto start = [&](size_t idx) {
    auto it = std::find_if(I.slots.begin(), I.slots.end(), [](const Impl::Slot& s) { return !s.busy; });
    Impl::Slot& s = *it;
    if (!s.easy) {
      s.easy = curl_easy_init();
      if (!s.easy) throw BackendError("curl_easy_init failed");
      s.headers = curl_slist_append(s.headers, "Content-Type: application/json");
      s.headers = curl_slist_append(s.headers, "Expect:");  // no 100-continue round trip for large bodies
      if (!I.key.empty()) s.headers = curl_slist_append(s.headers, ("Authorization: Bearer " + I.key).c_str());
    }
    const std::string& base = I.opt.endpoints[I.rr++ % I.opt.endpoints.size()];
    std::string_view root = base;
    if (requests[idx].server_root) {
      while (root.ends_with("/")) root.remove_suffix(1);
      if (root.ends_with("/v1")) root.remove_suffix(3);
    }
    s.url = std::string(root) + requests[idx].path;
    s.response.clear();
    s.index = idx;
    s.busy = true;
    CURL* e = s.easy;
    curl_easy_setopt(e, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.headers);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, requests[idx].body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(requests[idx].body.size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s.response);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &s);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(I.opt.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(I.opt.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // gzip if the server offers it
    curl_multi_add_handle(multi, e);
    ++attempts[idx];
    ++I.stats.n_attempts;
    I.stats.bytes_sent += requests[idx].body.size();
    ++in_flight;
  };

  auto finish = [&](size_t idx, const std::string& err) {
    ++finished;
    if (!err.empty()) ++I.stats.n_failed;
    done(idx, I.redact(err));
  };

  auto retry_or_fail = [&](size_t idx, const std::string& why, uint32_t max_retries) {
    const uint32_t a = attempts[idx];  // attempts made so far
    if (a > max_retries) {
      finish(idx, why + " (after " + std::to_string(a) + " attempts)");
      return;
    }
    ++I.stats.n_retries;
    const double d = I.backoff(a - 1);
    I.log_retry("retrying in " + std::to_string(d).substr(0, 5) + " s: " + why);
    waiting.push({Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(d)), idx});
  };

  try {
    while (finished < n) {
      const auto now = Clock::now();
      while (!waiting.empty() && waiting.top().first <= now) {
        ready.push_back(waiting.top().second);
        waiting.pop();
      }
      while (in_flight < conc && !ready.empty()) {
        size_t idx = ready.front();
        ready.pop_front();
        start(idx);
      }
      int running = 0;
      curl_multi_perform(multi, &running);
      int msgs = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &msgs)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* e = m->easy_handle;
        Impl::Slot* s = nullptr;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &s);
        curl_multi_remove_handle(multi, e);
        --in_flight;
        s->busy = false;
        const size_t idx = s->index;
        HttpAttempt at;
        at.url = s->url;
        I.stats.bytes_received += s->response.size();
        const CURLcode rc = m->data.result;
        if (rc != CURLE_OK) {
          at.transport_error = curl_easy_strerror(rc);
          const std::string why = "POST " + at.url + ": " + at.transport_error;
          if (retryable_transport(rc)) retry_or_fail(idx, why, I.opt.max_retries);
          else finish(idx, why);
          continue;
        }
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &at.status);
        at.body = std::move(s->response);
        s->response.clear();
        if (at.status == 429 || at.status >= 500) {
          retry_or_fail(idx, "POST " + at.url + ": HTTP " + std::to_string(at.status) + " " + snippet(at.body),
                        I.opt.max_retries);
          continue;
        }
        if (at.status != 200) {
          finish(idx, "POST " + at.url + ": HTTP " + std::to_string(at.status) + " " + snippet(at.body));
          continue;
        }
        Judgement j = judge(idx, at);
        if (j.verdict == Verdict::Ok) finish(idx, "");
        else if (j.verdict == Verdict::Fail) finish(idx, "POST " + at.url + ": " + j.error);
        else retry_or_fail(idx, "POST " + at.url + ": " + j.error, std::min<uint32_t>(I.opt.max_retries, 2));
      }
      if (finished >= n) break;
      // Sleep until a socket is ready, a retry is due, or 50 ms pass.
      int wait_ms = 50;
      if (in_flight == 0 && !waiting.empty()) {
        auto d = std::chrono::duration_cast<std::chrono::milliseconds>(waiting.top().first - Clock::now()).count();
        wait_ms = int(std::clamp<long long>(d, 0, 1000));
      } else if (!waiting.empty()) {
        auto d = std::chrono::duration_cast<std::chrono::milliseconds>(waiting.top().first - Clock::now()).count();
        wait_ms = int(std::clamp<long long>(d, 0, 50));
      }
      if (in_flight > 0 || wait_ms > 0) curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    }
  } catch (...) {
    for (auto& s : I.slots)
      if (s.busy) {
        curl_multi_remove_handle(multi, s.easy);
        s.busy = false;
      }
    curl_multi_cleanup(multi);
    throw;
  }
  curl_multi_cleanup(multi);
  I.flush_retries();  // the retries not shown one by one, counted at the end of each run
}

}  // namespace rdpt::http_detail
