// Scoring backends: the log-probability of every token of a response under one model, given
// the model's prompt (docs/method.md section 2). Backends implement Scorer; make_llama_scorer()
// builds the llama.cpp one (GGUF files). No backend types leak into this header.
//
// Example:
//   rdpt::LlamaOptions o;  o.n_threads = 4;
//   auto sc = rdpt::make_llama_scorer("teacher.gguf", o);
//   std::string prompt = sc->format_prompt("What is 2+2?", "");
//   std::vector<rdpt::ScoreItem> items = {{prompt, "<think>\nEasy.</think> 4", "q1"}};
//   auto res = sc->score(items);   // res[0].tokens: one {offset, logprob} per response token
//
// Contract: score() returns exactly one ScoreResult per item, in order. A per-item problem (too
// long, tokenization that does not round-trip) is reported in that item's `error`; only
// problems that affect every item (model failure) throw BackendError.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rdpt/align.h"
#include "rdpt/progress.h"
#include "rdpt/prompt.h"
#include "rdpt/model_info.h"

namespace rdpt {

struct ScoreItem {
  std::string prompt;    // exact prompt text (format_prompt's output), tokenized with BOS if the model adds one
  std::string response;  // response text; tokenized separately, special tokens parsed as special
  std::string group;     // items with the same group AND prompt share the prompt's KV cache
};

struct ScoreResult {
  std::vector<TokenLogprob> tokens;  // scored response tokens: offset into the response, log-prob
  uint32_t n_tokens_total = 0;       // response tokens in all (> tokens.size() when truncated)
  uint32_t n_prompt_tokens = 0;      // prompt tokens (BOS included)
  bool truncated = false;            // the context ended before the response did
  uint32_t cut_offset = 0;           // truncated: byte offset of the first unscored token (drop_cut_actions)
  std::string error;                 // non-empty: this item failed, tokens is empty
  bool ok() const { return error.empty(); }
};

struct ScorerCapabilities {
  uint32_t n_ctx = 0;           // context length in tokens (prompt + response must fit)
  uint32_t n_ctx_train = 0;     // the model's training context
  uint32_t n_vocab = 0;         // vocabulary size
  uint32_t n_seq_max = 1;       // responses decoded side by side
  bool gpu_offload = false;     // some layers run on a GPU
  bool kv_prefix_sharing = false;  // responses of one group reuse the prompt's KV cache
  bool device_reduction = false;   // log-softmax taken on the model's device, not the host
  uint32_t rank_clip = 0;          // tokens carry ranks clipped at this (0: no ranks)
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  // Identity for the store: backend, location, fingerprint, tokenizer, chat_template
  // (name and mid are left for the caller).
  virtual ModelInfo describe() const = 0;
  // The exact prompt text the model sees for a question (chat template, or the raw format).
  virtual std::string format_prompt(std::string_view question, std::string_view system) const = 0;
  // Called on the thread that called score, once per item, as soon as the item's result is final
  // (before score returns), so that a caller keeps each result as it comes: rdpt score writes each
  // pair then, and a run stopped mid-batch loses only the items still in flight.
  using ResultFn = std::function<void(size_t item, const ScoreResult& result)>;
  // Scores a batch; see the contract above. As each item finishes, `on_result` (if set) gets it,
  // then `progress.update(done_items, done_tokens)` is called (totals are the caller's business).
  virtual std::vector<ScoreResult> score(std::span<const ScoreItem> items, Progress& progress,
                                         const ResultFn& on_result) = 0;
  std::vector<ScoreResult> score(std::span<const ScoreItem> items, Progress& progress) {
    return score(items, progress, ResultFn{});
  }
  std::vector<ScoreResult> score(std::span<const ScoreItem> items) { return score(items, null_progress(), ResultFn{}); }
  virtual ScorerCapabilities capabilities() const = 0;
  // The tokens the model sees for `text` (prompt: with BOS as scoring adds it), as (id, piece),
  // for `--show-prompt`; empty when the backend has no local tokenizer.
  virtual std::vector<std::pair<int32_t, std::string>> tokens_of(std::string_view text, bool prompt) const {
    (void)text, (void)prompt;
    return {};
  }
};

inline constexpr uint32_t kMaxRankClip = 1u << 20;  // ranks above it are of no use; keeps f32 counts exact

struct LlamaOptions {
  uint32_t n_ctx = 0;          // context length; 0 = min(model's training context, 32768)
  uint32_t n_batch = 512;      // tokens per llama_decode (logits of n_batch rows are held at once)
  uint32_t n_ubatch = 512;     // physical micro-batch; 0 = n_batch
  uint32_t n_seq_max = 8;      // responses decoded side by side (plus one slot for the prompt)
  int n_threads = 0;           // CPU threads for the model and the log-softmax; 0 = hardware threads
  int n_gpu_layers = 0;        // layers offloaded to a GPU (-1 = all); needs a CUDA build of llama.cpp
  int flash_attn = -1;         // flash attention: 1 on, 0 off, -1 = off on the CPU, llama.cpp's choice with -ngl
  bool kv_f32 = false;         // keep the KV cache in f32 (exact, twice the memory) instead of f16
  // Where each output row is reduced to its target's log-softmax: 1 = inside llama.cpp's graph
  // on the device holding the output layer (a GPU with -ngl, else ggml's CPU threads; only
  // n_batch floats come back per decode, not n_batch x n_vocab logits; needs n_ubatch ==
  // n_batch <= n_vocab; llama.cpp's host output buffer grows to 4 x n_batch x n_vocab floats),
  // 0 = on the host from copied logits (n_threads threads), -1 = 1 when its needs are met and
  // the output layer runs on a GPU (n_gpu_layers != 0 with a GPU build), else 0.
  int reduce_on_device = -1;
  bool truncate = false;       // score a too-long response up to the context limit (else an error)
  bool share_prompt = true;    // reuse the prompt's KV cache for responses of one group
  // Token ranks (rank-surprisal ratio, docs/analytics.md): 0 = off; else each scored token also
  // gets its rank 1 + (vocabulary entries with a strictly larger logit), clipped at rank_clip
  // (1..kMaxRankClip; rdpt score --ranks uses 100), computed where the log-probs are reduced.
  uint32_t rank_clip = 0;
  // Prompt: exactly one of these is used, in this order of precedence:
  // A raw format with {question} and {system} (rdpt/prompt.h), e.g. "Q: {question}\nA: "; unset =
  // none given. An empty format is a valid (empty) prompt.
  std::optional<PromptFormat> prompt_format;
  std::string template_name;   // a llama.cpp built-in template name (chatml, llama3, ...)
  // Neither: the model's Jinja template, jinja.text (--chat-template-file) or else the GGUF's
  // tokenizer.chat_template, rendered with jinja.kwargs and jinja.date; none is a UsageError.
  JinjaOptions jinja;
  LogSink log;                 // llama.cpp's log lines (Warn and Error only); null = silent
};

// Opens a GGUF model. Throws Error for a missing file, UsageError for a bad option, BackendError when
// llama.cpp cannot load the model or create a context.
std::unique_ptr<Scorer> make_llama_scorer(const std::string& path, const LlamaOptions& options = {});

// Fingerprint of a GGUF file: "gguf:" + 32 hex digits of a 128-bit non-cryptographic hash of
// every byte (metadata, tokenizer, tensors). Reads the whole file once.
std::string gguf_fingerprint(const std::string& path);

}  // namespace rdpt
