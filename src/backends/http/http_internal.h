// Pieces of the HTTP backend that tests check directly: the request engine (curl multi with
// retries), the engines' request/response formats, the token-string matcher and the local
// tokenizer. Not a public API.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/error.h"
#include "rdpt/http.h"
#include "rdpt/token_text.h"
#include "rdpt/vocab.h"

namespace rdpt::http_detail {

// ---- request engine ----------------------------------------------------------------------

struct HttpRequest {
  std::string path;  // appended to the endpoint's base URL, e.g. "/completions"
  std::string body;  // JSON
  bool server_root = false;  // path is under the server's root: a base URL's trailing "/v1" is dropped
};

struct HttpAttempt {
  long status = 0;              // HTTP status, 0 when the transfer failed
  std::string body;             // response body
  std::string transport_error;  // non-empty when the transfer failed (timeout, reset, refused)
  std::string url;              // where it went (no credentials)
};

enum class Verdict { Ok, Retry, Fail };
struct Judgement {
  Verdict verdict = Verdict::Ok;
  std::string error;  // why (Retry, Fail)
};

struct ClientStats {
  uint64_t n_requests = 0;   // logical requests
  uint64_t n_attempts = 0;   // HTTP attempts (retries included)
  uint64_t n_retries = 0;
  uint64_t n_failed = 0;     // requests that failed for good
  uint64_t bytes_sent = 0, bytes_received = 0;
};

// Runs requests with at most `concurrency` in flight over the endpoints (round robin),
// retrying 429, 5xx, transport failures and answers that `judge` calls Retry, with
// exponential backoff and full jitter. `judge` sees every HTTP-200 attempt (on the calling
// thread); `done(index, error)` is called once per request (error empty = success).
class HttpClient {
 public:
  HttpClient(const HttpOptions& options, std::string api_key);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  void run(std::span<const HttpRequest> requests,
           const std::function<Judgement(size_t index, const HttpAttempt&)>& judge,
           const std::function<void(size_t index, const std::string& error)>& done);
  const ClientStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads the API key from the named environment variable ("" when name is empty). Throws
// UsageError naming the variable (never its value) when it is unset or empty.
std::string api_key_from_env(const std::string& name);

// ---- token strings -> byte offsets -------------------------------------------------------

// Byte offset in `text` of each token whose decoded string is tokens[k], by
// rdpt::place_token_strings (include/rdpt/token_text.h: U+FFFD and "bytes:\xNN" strings for
// tokens holding part of a character, offsets snapped to the character's first byte), with up
// to `max_leading_skip` leading tokens that match nothing (BOS rendered as "<s>") zero-width
// at 0. Throws DataError naming the first token that cannot be placed.
std::vector<uint32_t> match_token_strings(std::string_view text, std::span<const std::string> tokens,
                                          size_t max_leading_skip = 2);

using rdpt::utf8_ok_but_tail;
using rdpt::valid_utf8_prefix;

// ---- formats -----------------------------------------------------------------------------

struct ParsedTokens {
  std::vector<TokenLogprob> tokens;  // response tokens with offsets into the response
  bool has_ranks = false;            // every token carries the server's rank (vLLM prompt_logprobs "rank"), unclipped
  bool permanent = false;            // the error will not go away by asking again (not retried)
  uint32_t n_prompt_tokens = 0;
  std::string error;                 // non-empty: the answer does not fit the request
};

// Score requests. With ids: prompt_ids ++ response_ids are sent. Without: prompt+response text.
std::string openai_score_request(const std::string& model, std::span<const int32_t> ids);
std::string openai_score_request_text(const std::string& model, const std::string& text);
std::string sglang_score_request(std::span<const int32_t> ids, size_t n_prompt);
std::string sglang_score_request_text(const std::string& text);

// Parse score answers. Ids mode: `ids` is what was sent, the first n_prompt belong to the
// prompt, `offsets` are the response tokens' offsets (local tokenization). Text mode: the
// prompt's byte length splits the text. Throws DataError for malformed JSON.
ParsedTokens parse_openai_score(std::string_view body, std::span<const int32_t> ids, size_t n_prompt,
                                std::span<const uint32_t> offsets);
ParsedTokens parse_openai_score_text(std::string_view body, std::string_view prompt, std::string_view response);
ParsedTokens parse_sglang_score(std::string_view body, std::span<const int32_t> ids, size_t n_prompt,
                                std::span<const uint32_t> offsets);
ParsedTokens parse_sglang_score_text(std::string_view body, std::string_view prompt, std::string_view response);

// vLLM's tokenizer endpoints (at the server's root, not under /v1): the chat rendering of one
// question (messages, add_generation_prompt, chat_template_kwargs) as token ids; a text's ids
// without special tokens; and the text of ids. Parsers throw nothing: errors come back in `error`.
std::string vllm_tokenize_chat_request(const std::string& model, std::string_view question, std::string_view system,
                                       const std::string& kwargs_json);
std::string vllm_tokenize_text_request(const std::string& model, std::string_view text);
std::string vllm_detokenize_request(const std::string& model, std::span<const int32_t> ids);
struct ParsedIds {
  std::vector<int32_t> ids;
  std::string text;   // detokenize: the prompt
  std::string error;
};
ParsedIds parse_vllm_tokenize(std::string_view body);
ParsedIds parse_vllm_detokenize(std::string_view body);
// Ids sent without local offsets: the response tokens' decoded strings in the answer
// (prompt_logprobs' "decoded_token", else logprobs.tokens) are placed on the response text.
ParsedTokens parse_openai_score_placed(std::string_view body, std::span<const int32_t> ids, size_t n_prompt,
                                       std::string_view response);

// ---- local tokenizer (vocab-only GGUF through llama.cpp; absent without RDPT_WITH_LLAMA) ----

// The llama backend's Vocabulary (rdpt/vocab.h): its public door, so that this backend needs
// neither llama.h nor llama_detail.
using Tokenized = TokenizedText;
using LocalTokenizer = Vocabulary;
// Throws UsageError (missing file, no llama.cpp in this build), BackendError (cannot load).
std::unique_ptr<LocalTokenizer> open_tokenizer(const std::string& path);
// The prompt of a server model from HttpOptions: --prompt-format, else --template, else the
// Jinja template (--chat-template-file, else the tokenizer GGUF's), rendered by llama.cpp; a
// Jinja template needs the tokenizer (its BOS/EOS texts), a build without llama.cpp none.
Prompter http_prompter(const HttpOptions& o, const LocalTokenizer* tok);

// What an HTTP scorer and an HTTP generator both hold: the options, the API key (read from the
// environment), the served model's local tokenizer when one is given, and the request engine.
class HttpModelBase {
 protected:
  HttpModelBase(const HttpOptions& o, const char* what) : opt_(o) {
    if (o.endpoints.empty()) throw UsageError(std::string("HTTP ") + what + ": no endpoint");
    key_ = api_key_from_env(o.api_key_env);
    if (!o.tokenizer.empty()) tok_ = open_tokenizer(o.tokenizer);
    client_ = std::make_unique<HttpClient>(o, key_);
  }
  std::string backend_name() const { return opt_.api == HttpApi::SGLang ? "http-sglang" : "http-openai"; }
  // What describe_model() needs of the served model; the scorer and the generator add the prompt.
  ModelFacts model_facts() const {
    return {.backend = backend_name(),
            .endpoints = opt_.endpoints,
            .served_model = opt_.served_model,
            .file_fingerprint = tok_ ? tok_->fingerprint() : "",
            .tokenizer = tok_ ? tok_->description() : "server"};
  }

  HttpOptions opt_;
  std::string key_;
  std::unique_ptr<LocalTokenizer> tok_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace rdpt::http_detail
