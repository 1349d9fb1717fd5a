// The HTTP scorer: one request per item (prompt + response), many in flight, answers checked
// against the request (lengths, token ids) before they count.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>

#include "backends/http/http_internal.h"
#include "rdpt/error.h"

namespace rdpt {

using namespace http_detail;

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

class HttpScorer final : public Scorer, private HttpModelBase {
 public:
  explicit HttpScorer(const HttpOptions& o)
      : HttpModelBase(o, "scorer"),
        // No local tokenizer and no prompt chosen: vLLM renders the prompt with the served
        // model's own template (/tokenize with messages) and rdpt sends ids, never a guess.
        server_render_(!tok_ && !o.prompt_format && o.template_name.empty() && o.jinja.text.empty() &&
                       o.api == HttpApi::OpenAI) {
    if (o.rank_clip && (o.api != HttpApi::OpenAI || (!tok_ && !server_render_)))
      throw UsageError(std::string("--ranks with a server model needs vLLM's OpenAI API in a token-id mode (--tokenizer, "
                                   "or no prompt option so that vLLM renders the prompt): ") +
                       (o.api != HttpApi::OpenAI ? "SGLang's answer" : "text mode's answer") + " carries no token ranks");
  }

  ModelInfo describe() const override {
    ModelFacts f = model_facts();
    f.chat_template = server_render_ ? "server:vllm /tokenize kwargs=" + nlohmann::json::parse(opt_.jinja.kwargs).dump()
                                     : http_prompter(opt_, tok_.get()).describe();
    nlohmann::json j = {{"api", opt_.api == HttpApi::SGLang ? "sglang" : "openai"},
                        {"endpoints", opt_.endpoints},
                        {"served_model", opt_.served_model},
                        {"mode", tok_ ? "token-ids" : server_render_ ? "server-rendered-ids" : "text"}};
    if (!opt_.tokenizer.empty()) j["tokenizer_file"] = opt_.tokenizer;
    f.info_json = j.dump();
    return describe_model(f);
  }

  std::string format_prompt(std::string_view question, std::string_view system) const override {
    if (server_render_) return render_on_server(question, system);
    return http_prompter(opt_, tok_.get())(question, system);
  }

  ScorerCapabilities capabilities() const override {
    ScorerCapabilities c;
    c.n_seq_max = opt_.concurrency;
    c.kv_prefix_sharing = true;  // servers cache shared prompt prefixes themselves
    c.rank_clip = opt_.rank_clip;
    return c;
  }

  using Scorer::score;
  std::vector<ScoreResult> score(std::span<const ScoreItem> items, Progress& progress,
                                 const ResultFn& on_result) override;

 private:
  // One request, run now; its body, or a BackendError naming what failed.
  std::string run_one(const HttpRequest& req, const char* what) const {
    std::lock_guard<std::mutex> client_lock(client_mu_);  // the client runs one batch at a time
    std::string body, error;
    client_->run(std::span<const HttpRequest>(&req, 1),
                 [&](size_t, const HttpAttempt& at) -> Judgement {
                   body = at.body;
                   return {Verdict::Ok, ""};
                 },
                 [&](size_t, const std::string& err) { error = err; });
    if (!error.empty()) {
      // The server answered (an HTTP status): it may lack vLLM's /tokenize. No answer at all: say
      // so first, a hint about /tokenize would mislead.
      const bool answered = error.find(": HTTP ") != std::string::npos;
      throw BackendError(std::string("server model: ") + what + " failed (" + error + "); " +
                         (answered ? "a server without vLLM's /tokenize needs --tokenizer NAME=vocab.gguf, --template "
                                     "or --prompt-format"
                                   : "no answer from the server: check the host and port, and that it is up"));
    }
    return body;
  }

  // The served model's own rendering: /tokenize with the messages, then /detokenize for the text.
  std::string render_on_server(std::string_view question, std::string_view system) const {
    const std::string key = std::string(system) + '\0' + std::string(question);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = rendered_.find(key); it != rendered_.end()) return it->second;
    }
    ParsedIds ids = parse_vllm_tokenize(run_one(
        {"/tokenize", vllm_tokenize_chat_request(opt_.served_model, question, system, opt_.jinja.kwargs), true},
        "rendering the prompt with /tokenize"));
    if (!ids.error.empty()) throw BackendError("server model: " + ids.error);
    if (ids.ids.empty()) throw BackendError("server model: /tokenize rendered an empty prompt");
    ParsedIds text = parse_vllm_detokenize(
        run_one({"/detokenize", vllm_detokenize_request(opt_.served_model, ids.ids), true}, "/detokenize"));
    if (!text.error.empty()) throw BackendError("server model: " + text.error);
    std::lock_guard<std::mutex> lock(mu_);
    prompt_ids_[text.text] = ids.ids;
    rendered_[key] = text.text;
    return text.text;
  }

  const bool server_render_;
  mutable std::mutex client_mu_;  // client_->run: from format_prompt (server rendering) and score()
  mutable std::mutex mu_;
  mutable std::map<std::string, std::string> rendered_;             // system \0 question -> prompt text
  mutable std::map<std::string, std::vector<int32_t>> prompt_ids_;  // prompt text -> the server's ids
};

std::vector<ScoreResult> HttpScorer::score(std::span<const ScoreItem> items, Progress& progress,
                                          const ResultFn& on_result) {
  std::lock_guard<std::mutex> client_lock(client_mu_);
  const size_t n = items.size();
  std::vector<ScoreResult> results(n);
  // Requests for the items that tokenize; the others fail now.
  struct Job {
    size_t item;
    std::vector<int32_t> ids;       // ids mode: prompt ++ response
    size_t n_prompt = 0;
    std::vector<uint32_t> offsets;  // ids mode: response token offsets
  };
  std::vector<Job> jobs;
  std::vector<HttpRequest> reqs;
  jobs.reserve(n);
  reqs.reserve(n);
  const std::string path = opt_.api == HttpApi::SGLang ? "/generate" : "/completions";
  uint64_t done_items = 0, done_tokens = 0;
  // Item i's result is final: the caller's hook (it keeps the result), then progress (which may
  // raise, e.g. Python's KeyboardInterrupt, and must not lose the finished item).
  auto item_done = [&](size_t i) {
    if (on_result) on_result(i, results[i]);
    progress.update(++done_items, done_tokens);
  };
  std::map<std::string, Tokenized> prompt_cache;
  // BOS as the prompt's maker wants it (a Jinja rendering holds its own; Prompter::tokenize_with_special).
  const bool prompt_special = !tok_ || http_prompter(opt_, tok_.get()).tokenize_with_special();
  // Server-rendered prompts: the responses' ids from /tokenize first (no special tokens).
  std::vector<std::optional<std::vector<int32_t>>> resp_ids(server_render_ ? n : 0);
  if (server_render_) {
    std::vector<HttpRequest> treqs;
    for (size_t i = 0; i < n; ++i)
      treqs.push_back({"/tokenize", vllm_tokenize_text_request(opt_.served_model, items[i].response), true});
    client_->run(
        treqs,
        [&](size_t r, const HttpAttempt& at) -> Judgement {
          ParsedIds p = parse_vllm_tokenize(at.body);
          if (!p.error.empty()) return {Verdict::Retry, p.error};
          resp_ids[r] = std::move(p.ids);
          return {Verdict::Ok, ""};
        },
        [&](size_t r, const std::string& err) {
          if (!err.empty()) results[r].error = "tokenizing the response with /tokenize: " + err;
        });
  }
  for (size_t i = 0; i < n; ++i) {
    Job job;
    job.item = i;
    if (server_render_) {
      if (!results[i].error.empty()) {
        item_done(i);
        continue;
      }
      std::vector<int32_t> pids;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = prompt_ids_.find(items[i].prompt);
        if (it != prompt_ids_.end()) pids = it->second;
      }
      if (pids.empty()) {
        results[i].error = "the prompt was not rendered by this scorer's format_prompt (server-rendered prompts)";
        item_done(i);
        continue;
      }
      job.n_prompt = pids.size();
      job.ids = std::move(pids);
      job.ids.insert(job.ids.end(), resp_ids[i]->begin(), resp_ids[i]->end());
      results[i].n_prompt_tokens = uint32_t(job.n_prompt);
      results[i].n_tokens_total = uint32_t(job.ids.size() - job.n_prompt);
      reqs.push_back({path, openai_score_request(opt_.served_model, job.ids)});
    } else if (tok_) {
      try {
        auto it = prompt_cache.find(items[i].prompt);
        if (it == prompt_cache.end())
          it = prompt_cache.emplace(items[i].prompt, tok_->tokenize(items[i].prompt, prompt_special)).first;
        Tokenized r = tok_->tokenize(items[i].response, false);
        if (it->second.ids.empty()) throw DataError("empty prompt: the first response token has no context");
        job.n_prompt = it->second.ids.size();
        job.ids = it->second.ids;
        job.ids.insert(job.ids.end(), r.ids.begin(), r.ids.end());
        job.offsets = std::move(r.offsets);
      } catch (const Error& e) {
        results[i].error = std::string("tokenizing: ") + e.what();
        item_done(i);
        continue;
      }
      results[i].n_prompt_tokens = uint32_t(job.n_prompt);
      results[i].n_tokens_total = uint32_t(job.ids.size() - job.n_prompt);
      reqs.push_back({path, opt_.api == HttpApi::SGLang ? sglang_score_request(job.ids, job.n_prompt)
                                                         : openai_score_request(opt_.served_model, job.ids)});
    } else {
      const std::string text = items[i].prompt + items[i].response;
      reqs.push_back({path, opt_.api == HttpApi::SGLang ? sglang_score_request_text(text)
                                                         : openai_score_request_text(opt_.served_model, text)});
    }
    jobs.push_back(std::move(job));
  }
  auto judge = [&](size_t r, const HttpAttempt& at) -> Judgement {
    const Job& job = jobs[r];
    const ScoreItem& it = items[job.item];
    ParsedTokens p;
    try {
      if (server_render_)
        p = parse_openai_score_placed(at.body, job.ids, job.n_prompt, it.response);
      else if (tok_)
        p = opt_.api == HttpApi::SGLang ? parse_sglang_score(at.body, job.ids, job.n_prompt, job.offsets)
                                        : parse_openai_score(at.body, job.ids, job.n_prompt, job.offsets);
      else
        p = opt_.api == HttpApi::SGLang ? parse_sglang_score_text(at.body, it.prompt, it.response)
                                        : parse_openai_score_text(at.body, it.prompt, it.response);
    } catch (const Error& e) {
      return {Verdict::Retry, e.what()};
    }
    if (!p.error.empty()) return {p.permanent ? Verdict::Fail : Verdict::Retry, p.error};
    if (opt_.rank_clip) {
      if (!p.has_ranks && !p.tokens.empty())
        return {Verdict::Fail, "the answer carries no token ranks (--ranks needs vLLM's prompt_logprobs with \"rank\")"};
      for (auto& t : p.tokens) t.rank = std::min(t.rank, opt_.rank_clip);
    }
    ScoreResult& res = results[job.item];
    res.tokens = std::move(p.tokens);
    if (!tok_ && !server_render_) {
      res.n_prompt_tokens = p.n_prompt_tokens;
      res.n_tokens_total = uint32_t(res.tokens.size());
    }
    return {Verdict::Ok, ""};
  };
  auto done = [&](size_t r, const std::string& err) {
    ScoreResult& res = results[jobs[r].item];
    if (!err.empty()) {
      res.tokens.clear();
      res.error = err;
    } else {
      done_tokens += res.tokens.size();
    }
    item_done(jobs[r].item);
  };
  client_->run(reqs, judge, done);
  return results;
}

}  // namespace

bool is_http_spec(std::string_view spec) {
  return starts_with(spec, "http://") || starts_with(spec, "https://") || starts_with(spec, "sglang+http");
}

HttpOptions parse_http_spec(std::string_view spec) {
  HttpOptions o;
  std::string_view urls = spec;
  if (auto h = spec.find('#'); h != std::string_view::npos) {
    o.served_model = std::string(spec.substr(h + 1));
    urls = spec.substr(0, h);
    if (o.served_model.empty()) throw UsageError("model spec '" + std::string(spec) + "': empty served model name after '#'");
  }
  int n_sglang = 0;
  size_t p = 0;
  while (p <= urls.size()) {
    size_t q = urls.find(',', p);
    if (q == std::string_view::npos) q = urls.size();
    std::string u(urls.substr(p, q - p));
    if (starts_with(u, "sglang+")) {
      u = u.substr(7);
      ++n_sglang;
    }
    if (!starts_with(u, "http://") && !starts_with(u, "https://"))
      throw UsageError("model spec '" + std::string(spec) + "': endpoint '" + u + "' is not an http(s):// URL");
    while (!u.empty() && u.back() == '/') u.pop_back();
    o.endpoints.push_back(u);
    p = q + 1;
  }
  if (n_sglang != 0 && n_sglang != int(o.endpoints.size()))
    throw UsageError("model spec '" + std::string(spec) + "': mixes sglang+ and OpenAI endpoints");
  o.api = n_sglang ? HttpApi::SGLang : HttpApi::OpenAI;
  return o;
}

std::unique_ptr<Scorer> make_http_scorer(const HttpOptions& options) { return std::make_unique<HttpScorer>(options); }

}  // namespace rdpt
