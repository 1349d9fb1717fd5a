// Text generation: N sampled completions of one prompt, with the sampled tokens' byte offsets
// into the response and their log-probs, so that a sampling model need not score its own
// responses again (`rdpt sample` writes them; `rdpt import --logprobs` reads them).
//
// Example:
//   rdpt::LlamaOptions lo;  lo.prompt_format = "Q: {question}\nA:";
//   auto gen = rdpt::make_llama_generator("model.gguf", lo);
//   rdpt::GenerateOptions o;  o.n = 4;  o.temperature = 0.7;  o.max_tokens = 256;  o.seed = 1;
//   auto outs = gen->generate(gen->format_prompt("What is 2+2?", ""), o);
//   // outs[k].response == o.prefix + generated text; outs[k].tokens: {offset into response, logprob}
//
// Contract: generate() returns exactly o.n Generations, in sample-index order. A per-sample
// problem (server error after retries) is reported in that sample's `error`; bad options throw
// UsageError, a failure that affects every sample (model cannot load) throws BackendError.
// Log-probs are the model's own distribution at temperature 1 without truncation (docs/method.md
// section 2), not the tempered/top-p distribution that was sampled from, so they equal what
// scoring the response would give (for local models, exactly; see docs/http.md for servers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/align.h"
#include "rdpt/model_info.h"

namespace rdpt {

struct GenerateOptions {
  uint32_t n = 1;                  // completions per prompt
  double temperature = 1.0;        // 0 = greedy (argmax)
  double top_p = 1.0;              // nucleus mass kept before sampling; 1 = no truncation
  uint32_t max_tokens = 256;       // generated tokens per completion (the prefix not counted)
  uint64_t seed = 0;               // sample k of a call uses a stream derived from (seed, k)
  std::vector<std::string> stop;   // stop strings: the completion ends before the first one
  std::string prefix;              // forced start of the response: generation continues it
  bool retokenize_safe = true;     // local models: keep only tokens that re-tokenize to themselves
  uint32_t max_resample = 16;      // local models: rejected draws per step before giving up
  uint32_t retokenize_window = 64; // local models: check a draw on the last N tokens' text (0 = all
                                   // the text; same result unless a word spans > N tokens)
};

struct Generation {
  std::string response;                 // prefix + generated text (valid UTF-8)
  std::vector<TokenLogprob> tokens;     // generated tokens: byte offset into response, log-prob
  std::string finish_reason;            // "eos", "length", "stop", "retokenize" (no safe token left)
  uint32_t n_rejected = 0;              // draws rejected by the re-tokenization/UTF-8 checks
  std::string error;                    // non-empty: this sample failed, the rest is empty
  bool ok() const { return error.empty(); }
};

class Generator {
 public:
  virtual ~Generator() = default;
  // Identity for records and stores (backend, location, fingerprint, tokenizer, template).
  virtual ModelInfo describe() const = 0;
  // The exact prompt text the model sees for a question (chat template or raw format).
  virtual std::string format_prompt(std::string_view question, std::string_view system) const = 0;
  virtual std::vector<Generation> generate(const std::string& prompt, const GenerateOptions& options) = 0;
};

struct LlamaOptions;  // rdpt/scorer.h
// A llama.cpp generator over a GGUF file (only LlamaOptions' n_ctx, n_batch, n_threads,
// n_gpu_layers, prompt_format, template_name and log are used). Throws like make_llama_scorer.
std::unique_ptr<Generator> make_llama_generator(const std::string& path, const LlamaOptions& options);

}  // namespace rdpt
