// Fake vLLM / SGLang server for tests (see fake_engine.h). One thread accepts, one thread per
// connection serves keep-alive HTTP/1.1 requests with Content-Length bodies.
#include "fake_engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>

#ifdef RDPT_WITH_LLAMA
#include <llama.h>

#include "backends/llama/llama_internal.h"
#endif

namespace rdpt::testing {

using nlohmann::json;

namespace {

// A token decoded alone, as Python servers do: invalid UTF-8 runs become one U+FFFD each.
std::string decode_alone(std::string_view b) {
  std::string out;
  size_t i = 0;
  bool last_bad = false;
  while (i < b.size()) {
    const unsigned char c = b[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= b.size();
    for (size_t k = 1; ok && k < len; ++k) ok = ((unsigned char)b[i + k] & 0xC0) == 0x80;
    if (ok) {
      out.append(b.substr(i, len));
      i += len;
      last_bad = false;
    } else {
      if (!last_bad) out += "\xEF\xBF\xBD";
      last_bad = true;
      ++i;
    }
  }
  return out;
}

size_t py_len(std::string_view s) {  // characters, as Python's len()
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

#ifdef RDPT_WITH_LLAMA
void llama_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_backend_init();
    llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
  });
}

std::vector<int32_t> llama_tok(const llama_vocab* v, std::string_view text, bool bos) {
  int32_t n = llama_tokenize(v, text.data(), int32_t(text.size()), nullptr, 0, bos, true);
  std::vector<int32_t> ids(size_t(n < 0 ? -n : n));
  if (!ids.empty()) n = llama_tokenize(v, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), bos, true);
  ids.resize(size_t(std::max(n, 0)));
  return ids;
}

class HashModel final : public FakeModel {
 public:
  explicit HashModel(const std::string& path) {
    llama_init_once();
    auto mp = llama_model_default_params();
    mp.vocab_only = true;
    model_ = llama_model_load_from_file(path.c_str(), mp);
    if (!model_) throw std::runtime_error("cannot load vocabulary " + path);
    vocab_ = llama_model_get_vocab(model_);
  }
  ~HashModel() override { llama_model_free(model_); }
  std::vector<int32_t> tokenize(std::string_view text, bool bos) override { return llama_tok(vocab_, text, bos); }
  std::string piece(int32_t id) override { return llama_detail::token_piece(vocab_, id); }
  std::vector<double> score(std::span<const int32_t> ids) override {
    std::vector<double> lp(ids.size(), NAN);
    for (size_t k = 1; k < ids.size(); ++k) {
      uint64_t h = uint64_t(ids[k - 1]) * 0x9E3779B97F4A7C15ull ^ uint64_t(ids[k]) * 0xC2B2AE3D27D4EB4Full ^ k;
      h ^= h >> 29;
      h *= 0xBF58476D1CE4E5B9ull;
      h ^= h >> 32;
      lp[k] = -0.01 - double(h % 1200) / 100.0;
    }
    return lp;
  }

 private:
  llama_model* model_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
};

class LlamaModel final : public FakeModel {
 public:
  explicit LlamaModel(const std::string& path) {
    llama_init_once();
    model_ = llama_model_load_from_file(path.c_str(), llama_model_default_params());
    if (!model_) throw std::runtime_error("cannot load model " + path);
    vocab_ = llama_model_get_vocab(model_);
    auto cp = llama_context_default_params();
    cp.n_ctx = 4096;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    cp.n_threads = cp.n_threads_batch = 1;
    cp.no_perf = true;
    ctx_ = llama_init_from_model(model_, cp);
    if (!ctx_) throw std::runtime_error("cannot create a context for " + path);
  }
  ~LlamaModel() override {
    llama_free(ctx_);
    llama_model_free(model_);
  }
  std::vector<int32_t> tokenize(std::string_view text, bool bos) override { return llama_tok(vocab_, text, bos); }
  std::string piece(int32_t id) override { return llama_detail::token_piece(vocab_, id); }
  std::vector<double> score(std::span<const int32_t> ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<double> lp(ids.size(), NAN);
    llama_memory_clear(llama_get_memory(ctx_), true);
    const int64_t nv = llama_vocab_n_tokens(vocab_);
    llama_batch b = llama_batch_init(512, 0, 1);
    for (size_t s = 0; s < ids.size(); s += 512) {
      const size_t e = std::min(ids.size(), s + 512);
      b.n_tokens = 0;
      for (size_t k = s; k < e; ++k) {
        const int32_t i = b.n_tokens++;
        b.token[i] = ids[k];
        b.pos[i] = int32_t(k);
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = true;
      }
      if (llama_decode(ctx_, b) != 0) {
        llama_batch_free(b);
        throw std::runtime_error("llama_decode failed");
      }
      for (size_t k = s; k < e; ++k)
        if (k + 1 < ids.size())
          lp[k + 1] = llama_detail::target_logprob(llama_get_logits_ith(ctx_, int32_t(k - s)), nv, ids[k + 1]);
    }
    llama_batch_free(b);
    return lp;
  }

 private:
  std::mutex mu_;
  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
};
#endif

json lp_value(double v) { return std::isnan(v) ? json(nullptr) : json(std::max(v, -9999.0)); }

}  // namespace

std::unique_ptr<FakeModel> make_hash_model(const std::string& vocab_gguf) {
#ifdef RDPT_WITH_LLAMA
  return std::make_unique<HashModel>(vocab_gguf);
#else
  throw std::runtime_error("fake engine: no llama.cpp in this build");
#endif
}

std::unique_ptr<FakeModel> make_llama_model(const std::string& model_gguf) {
#ifdef RDPT_WITH_LLAMA
  return std::make_unique<LlamaModel>(model_gguf);
#else
  throw std::runtime_error("fake engine: no llama.cpp in this build");
#endif
}

struct FakeEngine::Impl {
  FakeEngine* self = nullptr;
  FakeModel* model = nullptr;
  FakeApi api = FakeApi::VLLM;
  int listen_fd = -1;
  int port = 0;
  std::atomic<bool> stop{false};
  std::thread acceptor;
  mutable std::mutex mu;  // guards conns, faults, rng, key, bodies
  std::vector<std::string> bodies;
  std::vector<std::pair<int, std::thread>> conns;
  Faults faults;
  std::mt19937_64 rng{1};
  std::string key;

  enum class Fault { None, E500, E429, Malformed, WrongLength, Drop, Slow };

  // The request's text (token ids decoded), for the poison check.
  std::string request_text(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (!j.is_object()) return body;
    for (const char* k : {"prompt", "input_ids", "text"}) {
      auto it = j.find(k);
      if (it == j.end()) continue;
      if (it->is_string()) return it->get<std::string>();
      if (it->is_array()) {
        std::string s;
        for (const auto& v : *it)
          if (v.is_number_integer()) s += model->piece(v.get<int32_t>());
        return s;
      }
    }
    return body;
  }

  Fault draw(const std::string& body) {
    std::string poison;
    {
      std::lock_guard<std::mutex> lock(mu);
      poison = faults.poison;
    }
    if (!poison.empty() && request_text(body).find(poison) != std::string::npos) return Fault::E500;
    std::lock_guard<std::mutex> lock(mu);
    std::uniform_real_distribution<double> u(0, 1);
    const double x = u(rng);
    double acc = 0;
    const std::pair<double, Fault> table[] = {{faults.p_500, Fault::E500},           {faults.p_429, Fault::E429},
                                              {faults.p_malformed, Fault::Malformed}, {faults.p_wrong_length, Fault::WrongLength},
                                              {faults.p_drop, Fault::Drop},           {faults.p_slow, Fault::Slow}};
    for (auto [p, f] : table) {
      acc += p;
      if (x < acc) return f;
    }
    return Fault::None;
  }

  // Token strings and the concatenated text of ids (as a server detokenizes).
  std::string text_of(std::span<const int32_t> ids, size_t from) {
    std::string bytes;
    for (size_t k = from; k < ids.size(); ++k) bytes += model->piece(ids[k]);
    return decode_alone(bytes);
  }

  // vLLM's /tokenize: a chat (messages rendered as ChatML, the served model's "template"; with
  // chat_template_kwargs.enable_thinking the generation prompt also opens the thought) or a
  // text; add_special_tokens as vLLM defaults it (false for a chat, true for a text).
  json tokenize_answer(const json& req) {
    std::vector<int32_t> ids;
    if (req.contains("messages")) {
      std::string text;
      for (const auto& m : req.at("messages"))
        text += "<|im_start|>" + m.at("role").get<std::string>() + "\n" + m.at("content").get<std::string>() +
                "<|im_end|>\n";
      if (req.value("add_generation_prompt", true)) text += "<|im_start|>assistant\n";
      if (req.contains("chat_template_kwargs") && req["chat_template_kwargs"].value("enable_thinking", false))
        text += "<think>\n";
      ids = model->tokenize(text, req.value("add_special_tokens", false));
    } else {
      ids = model->tokenize(req.at("prompt").get<std::string>(), req.value("add_special_tokens", true));
    }
    return {{"count", ids.size()}, {"max_model_len", 32768}, {"tokens", ids}};
  }
  json detokenize_answer(const json& req) {
    const std::vector<int32_t> ids = req.at("tokens").get<std::vector<int32_t>>();
    return {{"prompt", text_of(ids, 0)}};
  }

  json openai_answer(const json& req, bool wrong_length) {
    std::vector<int32_t> ids;
    const json& prompt = req.at("prompt");
    if (prompt.is_string()) ids = model->tokenize(prompt.get<std::string>(), true);
    else ids = prompt.get<std::vector<int32_t>>();
    const bool echo = req.value("echo", false);
    const int max_tokens = req.value("max_tokens", 16);
    const int n = req.value("n", 1);
    json choices = json::array();
    if (echo && max_tokens == 0) {
      std::vector<double> lp = model->score(ids);
      n_scored_tokens_add(ids.size());
      json tokens = json::array(), tlp = json::array(), off = json::array(), top = json::array(), plp = json::array();
      size_t chars = 0;
      for (size_t k = 0; k < ids.size(); ++k) {
        std::string t = decode_alone(model->piece(ids[k]));
        tokens.push_back(t);
        tlp.push_back(lp_value(lp[k]));
        off.push_back(chars);
        chars += py_len(t);
        top.push_back(k == 0 ? json(nullptr) : json{{t, lp_value(lp[k])}});
        plp.push_back(k == 0 ? json(nullptr)
                             : json{{std::to_string(ids[k]), {{"logprob", lp_value(lp[k])}, {"rank", fake_rank(lp[k])}, {"decoded_token", t}}}});
      }
      if (wrong_length) {
        tlp.erase(tlp.end() - 1);
        plp.erase(plp.end() - 1);
      }
      json c = {{"index", 0},
                {"text", text_of(ids, 0)},
                {"logprobs", {{"text_offset", off}, {"token_logprobs", tlp}, {"tokens", tokens}, {"top_logprobs", top}}},
                {"finish_reason", "length"},
                {"stop_reason", nullptr}};
      if (api == FakeApi::VLLM && req.contains("prompt_logprobs")) c["prompt_logprobs"] = plp;
      choices.push_back(c);
    } else {  // generation: a fixed continuation, rotated by seed and choice index
      const std::vector<int32_t> pool = model->tokenize(" Let me think. Wait, 7 x 6 = 42. So the answer is \\boxed{42}.", false);
      const uint64_t seed = req.value("seed", uint64_t(0));
      for (int i = 0; i < n; ++i) {
        std::vector<int32_t> ctx = ids, gen;
        const size_t rot = size_t((seed + uint64_t(i)) % 3);
        for (size_t k = 0; k < pool.size() && gen.size() < size_t(max_tokens); ++k) gen.push_back(pool[(k + rot * 4) % pool.size()]);
        ctx.insert(ctx.end(), gen.begin(), gen.end());
        std::vector<double> lp = model->score(ctx);
        json tokens = json::array(), tlp = json::array();
        for (size_t k = 0; k < gen.size(); ++k) {
          tokens.push_back(decode_alone(model->piece(gen[k])));
          tlp.push_back(lp_value(lp[ids.size() + k]));
        }
        choices.push_back({{"index", i},
                           {"text", text_of(gen, 0)},
                           {"logprobs", {{"tokens", tokens}, {"token_logprobs", tlp}}},
                           {"finish_reason", gen.size() < size_t(max_tokens) ? "stop" : "length"},
                           {"stop_reason", nullptr}});
      }
    }
    return {{"id", "cmpl-fake"}, {"object", "text_completion"}, {"created", 0}, {"model", self->served_model},
            {"choices", choices}, {"usage", {{"prompt_tokens", ids.size()}}}};
  }

  json sglang_answer(const json& req, bool wrong_length) {
    std::vector<int32_t> ids;
    if (req.contains("input_ids")) ids = req["input_ids"].get<std::vector<int32_t>>();
    else ids = model->tokenize(req.at("text").get<std::string>(), true);
    const json sp = req.value("sampling_params", json::object());
    const int max_new = sp.value("max_new_tokens", 128);
    const bool want_text = req.value("return_text_in_logprobs", false);
    const int64_t start = req.value("logprob_start_len", int64_t(-1));
    json meta = {{"prompt_tokens", ids.size()}, {"id", "fake"}};
    if (max_new == 0) {
      std::vector<double> lp = model->score(ids);
      n_scored_tokens_add(ids.size());
      json il = json::array();
      for (size_t k = size_t(std::max<int64_t>(start, 0)); k < ids.size(); ++k) {
        // SGLang gives no value for the first returned position.
        const bool first = int64_t(k) == std::max<int64_t>(start, 0);
        il.push_back({first ? json(nullptr) : lp_value(lp[k]), ids[k],
                      want_text ? json(decode_alone(model->piece(ids[k]))) : json(nullptr)});
      }
      if (wrong_length && !il.empty()) il.erase(il.begin() + long(il.size() / 2));
      meta["input_token_logprobs"] = il;
      meta["output_token_logprobs"] = json::array();
      meta["finish_reason"] = {{"type", "length"}, {"length", 0}};
      return {{"text", ""}, {"meta_info", meta}};
    }
    const std::vector<int32_t> pool = model->tokenize(" Let me think. So the answer is 42.", false);
    const uint64_t seed = sp.value("sampling_seed", uint64_t(0));
    std::vector<int32_t> gen;
    for (size_t k = 0; k < pool.size() && gen.size() < size_t(max_new); ++k) gen.push_back(pool[(k + seed % 3) % pool.size()]);
    std::vector<int32_t> ctx = ids;
    ctx.insert(ctx.end(), gen.begin(), gen.end());
    std::vector<double> lp = model->score(ctx);
    json ol = json::array();
    for (size_t k = 0; k < gen.size(); ++k)
      ol.push_back({lp_value(lp[ids.size() + k]), gen[k], want_text ? json(decode_alone(model->piece(gen[k]))) : json(nullptr)});
    meta["output_token_logprobs"] = ol;
    meta["finish_reason"] = gen.size() < size_t(max_new) ? json{{"type", "stop"}, {"matched", 151643}}
                                                         : json{{"type", "length"}, {"length", max_new}};
    return {{"text", text_of(gen, 0)}, {"meta_info", meta}};
  }

  void n_scored_tokens_add(size_t n) { self->n_scored_tokens += n; }

  static bool send_all(int fd, std::string_view s) {
    while (!s.empty()) {
      ssize_t w = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (w <= 0) return false;
      s.remove_prefix(size_t(w));
    }
    return true;
  }

  static std::string response(int status, const std::string& body) {
    const char* reason = status == 200 ? "OK" : status == 401 ? "Unauthorized" : status == 404 ? "Not Found"
                       : status == 429 ? "Too Many Requests" : status == 400 ? "Bad Request" : "Internal Server Error";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  void serve(int fd) {
    std::string buf;
    char tmp[65536];
    while (!stop) {
      size_t hdr_end;
      while ((hdr_end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) return;
        buf.append(tmp, size_t(r));
      }
      const std::string head = buf.substr(0, hdr_end);
      size_t clen = 0;
      std::string auth;
      {
        size_t p = 0;
        while (p < head.size()) {
          size_t e = head.find("\r\n", p);
          if (e == std::string::npos) e = head.size();
          std::string line = head.substr(p, e - p);
          std::string lower = line;
          for (auto& c : lower) c = char(std::tolower((unsigned char)c));
          if (lower.rfind("content-length:", 0) == 0) clen = std::stoul(line.substr(15));
          if (lower.rfind("authorization:", 0) == 0) {
            auth = line.substr(14);
            while (!auth.empty() && auth.front() == ' ') auth.erase(0, 1);
          }
          p = e + 2;
        }
      }
      while (buf.size() < hdr_end + 4 + clen) {
        ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) return;
        buf.append(tmp, size_t(r));
      }
      const std::string body = buf.substr(hdr_end + 4, clen);
      buf.erase(0, hdr_end + 4 + clen);
      const std::string path = head.substr(head.find(' ') + 1, head.find(' ', head.find(' ') + 1) - head.find(' ') - 1);
      ++self->n_requests;
      std::string req_key;
      {
        std::lock_guard<std::mutex> lock(mu);
        req_key = key;
        bodies.push_back(body);
      }
      if (!req_key.empty() && auth != "Bearer " + req_key) {
        if (!send_all(fd, response(401, R"({"error":"unauthorized"})"))) return;
        continue;
      }
      const Fault f = draw(body);
      if (f != Fault::None) ++self->n_faults;
      if (f == Fault::Drop) return;
      if (f == Fault::E500) {
        if (!send_all(fd, response(500, R"({"object":"error","message":"injected failure","code":500})"))) return;
        continue;
      }
      if (f == Fault::E429) {
        if (!send_all(fd, response(429, R"({"object":"error","message":"too many requests","code":429})"))) return;
        continue;
      }
      if (f == Fault::Slow) {
        double s;
        {
          std::lock_guard<std::mutex> lock(mu);
          s = faults.slow_s;
        }
        std::this_thread::sleep_for(std::chrono::duration<double>(s));
      }
      std::string out;
      int status = 200;
      try {
        json req = json::parse(body);
        const bool openai = api != FakeApi::SGLang;
        if (openai && path == "/v1/completions") out = openai_answer(req, f == Fault::WrongLength).dump();
        else if (api == FakeApi::VLLM && path == "/tokenize") out = tokenize_answer(req).dump();
        else if (api == FakeApi::VLLM && path == "/detokenize") out = detokenize_answer(req).dump();
        else if (!openai && path == "/generate") out = sglang_answer(req, f == Fault::WrongLength).dump();
        else {
          status = 404;
          out = R"({"error":"not found"})";
        }
      } catch (const std::exception& e) {
        status = 400;
        out = json{{"object", "error"}, {"message", e.what()}}.dump();
      }
      if (f == Fault::Malformed) out = out.substr(0, out.size() / 2);
      if (!send_all(fd, response(status, out))) return;
    }
  }
};

FakeEngine::FakeEngine(FakeModel& model, FakeApi api) : impl_(std::make_unique<Impl>()) {
  impl_->self = this;
  impl_->model = &model;
  impl_->api = api;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 512) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->listen_fd = fd;
  impl_->port = ntohs(addr.sin_port);
  impl_->acceptor = std::thread([this] {
    Impl& I = *impl_;
    while (!I.stop) {
      int c = ::accept(I.listen_fd, nullptr, nullptr);
      if (c < 0) {
        if (I.stop) break;
        continue;
      }
      int one = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard<std::mutex> lock(I.mu);
      I.conns.emplace_back(c, std::thread([&I, c] {
                             I.serve(c);
                             ::shutdown(c, SHUT_RDWR);
                           }));
    }
  });
}

FakeEngine::~FakeEngine() {
  impl_->stop = true;
  ::shutdown(impl_->listen_fd, SHUT_RDWR);
  ::close(impl_->listen_fd);
  impl_->acceptor.join();
  std::vector<std::pair<int, std::thread>> conns;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    conns.swap(impl_->conns);
  }
  for (auto& [fd, th] : conns) ::shutdown(fd, SHUT_RDWR);
  for (auto& [fd, th] : conns) {
    th.join();
    ::close(fd);
  }
}

std::vector<std::string> FakeEngine::bodies() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->bodies;
}

int FakeEngine::port() const { return impl_->port; }

std::string FakeEngine::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + (impl_->api == FakeApi::SGLang ? "" : "/v1");
}

void FakeEngine::set_faults(const Faults& f) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults = f;
  impl_->rng.seed(f.seed);
}

void FakeEngine::set_required_key(const std::string& key) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->key = key;
}

}  // namespace rdpt::testing
