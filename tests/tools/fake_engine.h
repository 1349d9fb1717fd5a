// A fake serving engine for tests and benchmarks: an HTTP/1.1 server on 127.0.0.1 (ephemeral
// port) that answers vLLM's /v1/completions and SGLang's /generate in their documented formats
// (see src/backends/http/formats.cpp for the sources), with log-probs from a FakeModel, and
// misbehaves on demand (HTTP 500/429, malformed JSON, wrong lengths, slow answers, dropped
// connections, a poisoned prompt that always fails).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rdpt::testing {

// What the engine serves: a tokenizer and per-token log-probs.
class FakeModel {
 public:
  virtual ~FakeModel() = default;
  virtual std::vector<int32_t> tokenize(std::string_view text, bool add_bos) = 0;
  virtual std::string piece(int32_t id) = 0;  // the token's bytes (may be part of a character)
  // lp[k] = log p(ids[k] | ids[0..k)); lp[0] is unused (NaN).
  virtual std::vector<double> score(std::span<const int32_t> ids) = 0;
};

// Log-probs from a hash of (previous token, token, position): deterministic, context
// dependent, no weights. Tokenizer: a vocab-only GGUF (llama.cpp).
std::unique_ptr<FakeModel> make_hash_model(const std::string& vocab_gguf);
// Log-probs from a real GGUF model through llama.cpp (single-threaded, serialised).
std::unique_ptr<FakeModel> make_llama_model(const std::string& model_gguf);

// The rank the fake vLLM reports with each prompt log-prob: a function of the log-prob that falls
// as it rises (1 for a log-prob near 0), so that tests can recompute it.
inline uint32_t fake_rank(double logprob) { return 1 + uint32_t(-logprob * 20.0); }

struct Faults {
  double p_500 = 0, p_429 = 0;      // error statuses
  double p_malformed = 0;           // HTTP 200 with a truncated JSON body
  double p_wrong_length = 0;        // one log-prob entry missing
  double p_drop = 0;                // connection closed without an answer
  double p_slow = 0;                // answer delayed by slow_s
  double slow_s = 0.3;
  std::string poison;               // bodies containing this string always get HTTP 500
  uint64_t seed = 1;
};

enum class FakeApi { VLLM, OpenAIPlain, SGLang };  // OpenAIPlain: echo+logprobs, no prompt_logprobs

class FakeEngine {
 public:
  FakeEngine(FakeModel& model, FakeApi api);
  ~FakeEngine();
  FakeEngine(const FakeEngine&) = delete;
  FakeEngine& operator=(const FakeEngine&) = delete;

  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:PORT/v1" (OpenAI) or "http://127.0.0.1:PORT" (SGLang)
  void set_faults(const Faults& f);
  void set_required_key(const std::string& key);  // 401 unless "Authorization: Bearer <key>"
  std::string served_model = "fake-model";

  std::atomic<uint64_t> n_requests{0};  // requests answered or dropped
  std::vector<std::string> bodies() const;  // the request bodies received, in arrival order
  std::atomic<uint64_t> n_faults{0};    // of which misbehaved
  std::atomic<uint64_t> n_scored_tokens{0};

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdpt::testing
