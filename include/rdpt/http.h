// Serving engines over HTTP: scoring and sampling against vLLM (OpenAI-compatible
// /v1/completions) and SGLang (native /generate). docs/http.md has the server flags.
//
// Example:
//   rdpt::HttpOptions o = rdpt::parse_http_spec("http://gpu1:8000/v1,http://gpu2:8000/v1#deepseek-r1");
//   o.tokenizer = "deepseek-r1.vocab.gguf";   // vocab-only GGUF of the served model (recommended)
//   o.api_key_env = "VLLM_API_KEY";
//   auto sc = rdpt::make_http_scorer(o);      // implements rdpt::Scorer (rdpt/scorer.h)
//   auto res = sc->score(items);              // one ScoreResult per item, failed ones carry `error`
//
// With a tokenizer, prompt and response are tokenized locally (separately, like the llama
// backend), token ids are sent, and offsets come from the local tokenization (exact bytes).
// Without one, text is sent and the server's token strings are matched against the bytes.
// Contract: score() never throws for a per-item failure (server errors after retries, answers
// that do not match the request): that item's ScoreResult has `error` set and no tokens. The
// API key is read from the environment variable named by api_key_env and never appears in
// errors, logs or describe().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/generator.h"
#include "rdpt/progress.h"
#include "rdpt/prompt.h"
#include "rdpt/scorer.h"

namespace rdpt {

enum class HttpApi {
  OpenAI,  // POST <base>/completions (vLLM, or any OpenAI-compatible server with echo + logprobs)
  SGLang,  // POST <base>/generate (SGLang's native API)
};

struct HttpOptions {
  std::vector<std::string> endpoints;  // base URLs, e.g. "http://host:8000/v1" (OpenAI) or "http://host:30000" (SGLang)
  std::string served_model;            // the "model" field (vLLM --served-model-name); empty = omitted
  HttpApi api = HttpApi::OpenAI;       // request/response format
  std::string tokenizer;               // vocab-only GGUF of the served model; empty = text mode (server offsets)
  std::string api_key_env;             // environment variable holding the API key ("Authorization: Bearer"); empty = none
  uint32_t concurrency = 64;           // requests in flight over all endpoints
  uint32_t max_retries = 6;            // retries of one request on 429/5xx/timeouts/dropped connections
  double retry_base_s = 0.5;           // first backoff; doubles per retry, with full jitter
  double retry_max_s = 30.0;           // backoff cap
  double timeout_s = 900.0;            // whole-request timeout (long traces take long); 0 = none
  double connect_timeout_s = 10.0;     // TCP connect timeout
  uint64_t jitter_seed = 0;            // seed of the backoff jitter (tests); 0 = from the clock
  // Prompt: prompt_format ({question}, {system}) wins over template_name (a llama.cpp built-in
  // name); neither: the Jinja template jinja.text (--chat-template-file) or else the tokenizer
  // GGUF's tokenizer.chat_template.
  std::optional<PromptFormat> prompt_format;  // rdpt/prompt.h; unset = none given
  std::string template_name;
  JinjaOptions jinja;
  LogSink log;                         // retries and warnings (Warn); null = silent
  // Token ranks (LlamaOptions::rank_clip): 0 = off; else vLLM's prompt_logprobs "rank" of each
  // token, clipped at this. Needs the OpenAI API in a token-id mode (--tokenizer, or vLLM
  // rendering the prompt); text mode and SGLang return no ranks (UsageError).
  uint32_t rank_clip = 0;
};

// Parses "URL[,URL...][#served-model]"; a URL starting "sglang+" selects HttpApi::SGLang
// (the prefix is dropped), e.g. "sglang+http://host:30000#qwen". Throws UsageError.
HttpOptions parse_http_spec(std::string_view spec);
// True when a --model value names a server ("http://", "https://", "sglang+http...").
bool is_http_spec(std::string_view spec);

// Throws UsageError for bad options (no endpoint, unset key variable), Error for a missing tokenizer file,
// BackendError when the tokenizer cannot be loaded.
std::unique_ptr<Scorer> make_http_scorer(const HttpOptions& options);

// Sampling from a server: OpenAI completions with n/temperature/top_p/seed/stop and
// logprobs 0, or SGLang /generate with return_logprob. Tokens and offsets come from the
// server's token strings matched against the returned text (see docs/http.md).
std::unique_ptr<Generator> make_http_generator(const HttpOptions& options);

}  // namespace rdpt
