// Pieces of the llama.cpp backend shared by the scorer, the generator and the vocabulary
// (vocab.cpp: the public rdpt/vocab.h other backends use), or checked by tests directly: model loading, tokenization with byte offsets, the
// per-row log-softmax reduction, and the file fingerprint. Not a public API.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <llama.h>

#include "rdpt/progress.h"
#include "rdpt/prompt.h"

namespace rdpt::llama_detail {

// Initialises llama.cpp once, routes its warnings and errors to `log` (a null sink keeps the
// one set before; none at all is silent) and loads the GGUF at `path`. Throws BackendError
// naming the file and llama.cpp's first logged error ("invalid magic characters", "failed to
// read key-value pairs", ...) when it cannot be loaded.
llama_model* load_model(const std::string& path, const llama_model_params& params, const LogSink& log);

// "bpe:qwen2:151936": the vocabulary's type, pre-tokenizer and size.
std::string tokenizer_description(const llama_model* model);

struct TokenizedText {
  std::vector<int32_t> ids;        // llama_token ids
  std::vector<uint32_t> offsets;   // byte offset of each token's first byte in the text
};

// Tokenizes `text` (special tokens parsed as special; BOS/EOS added only with add_special) and
// maps each token to the byte where it starts, by matching each token's piece against the
// text. Exact for BPE and SPM vocabularies (SPM: the space llama.cpp inserts before each
// stretch of text, at the start and after each special token, is removed from the stretch's
// first piece; whitespace a special token's LSTRIP/RSTRIP drops belongs to no token);
// WPM/UGM vocabularies, whose normalisation is lossy, match modulo ASCII case and whitespace.
// Throws DataError naming the token index, id, piece and byte offset when pieces do not
// reproduce the text.
TokenizedText tokenize_with_offsets(const llama_vocab* vocab, std::string_view text, bool add_special);
// The byte offset of each of `ids` on `text`, by the same rule (tokenize_with_offsets is this on
// llama_tokenize's ids): DataError naming the first token that does not fit, an id outside the
// vocabulary, or (without allow_prefix) tokens that end before the text does.
std::vector<uint32_t> place_token_ids(const llama_vocab* vocab, std::span<const int32_t> ids, std::string_view text,
                                      bool add_special, bool allow_prefix);

// A chat template applied to one user turn (and a system turn when `system` is not empty), the
// assistant turn opened: a Jinja template on llama.cpp's Jinja runtime, a built-in name through
// llama_chat_apply_template (chat_template.cpp says how). UsageError naming the template's origin
// and line when it fails. rdpt::Prompter calls it (rdpt/prompt.h).
std::string apply_chat_template(const ChatTemplate& tmpl, std::string_view question, std::string_view system);

// The chat template of a model: the built-in `template_name` when given; else jinja.text (from
// --chat-template-file) or the GGUF's tokenizer.chat_template, as a Jinja template with the
// vocabulary's BOS/EOS texts; else Kind::None.
ChatTemplate model_chat_template(const llama_model* model, const std::string& path, const std::string& template_name,
                                 const JinjaOptions& jinja);

// The piece of one token as llama.cpp renders it (special tokens rendered).
std::string token_piece(const llama_vocab* vocab, int32_t token);

// log-softmax of row[0..n) at `target`: row[target] - logsumexp(row). Vectorisable; exact to
// about 1e-6 relative.
double target_logprob(const float* row, int64_t n, int32_t target);
// logsumexp(row[0..n)).
double logsumexp(const float* row, int64_t n);
// Entries of row[0..n) strictly greater than x (a token's rank is this + 1; ties do not count,
// as in the rank-surprisal ratio's reference).
uint32_t count_greater(const float* row, int64_t n, float x);
// target_logprob, and count_greater(row, n, row[target]) from the same pass over the row.
double target_logprob_count(const float* row, int64_t n, int32_t target, uint32_t* count);
// A token's rank 1 + count, clipped at `clip` (>= 1).
inline uint32_t clipped_rank(uint64_t count, uint32_t clip) { return count + 1 < clip ? uint32_t(count + 1) : clip; }

// Target log-probs reduced on the device inside llama.cpp's graph (device_logprob.cpp says
// how). Construct with the sequence ids that decode response tokens, pass configs() to
// llama_context_params.samplers, then check supported(). Before each llama_decode, set_targets
// (one per output row, in batch order); after it, results() gives the rows' log-probs.
class DeviceLogprob {
 public:
  struct State;
  // ranks: the reduction also counts, per row, the logits strictly greater than the target's;
  // on the CPU backend with one fused custom op (Auto), or with the ops a GPU runs (Generic).
  enum class RankOps { Auto, Generic };
  DeviceLogprob(int32_t n_vocab, const std::vector<int32_t>& seq_ids, bool ranks = false,
                RankOps rank_ops = RankOps::Auto);
  ~DeviceLogprob();  // after the context is freed or detach()ed
  DeviceLogprob(const DeviceLogprob&) = delete;
  DeviceLogprob& operator=(const DeviceLogprob&) = delete;

  std::vector<llama_sampler_seq_config>& configs() { return configs_; }
  bool supported() const;                    // every op runs on the output layer's device
  const std::string& unsupported_op() const;  // else the first op that does not ("ARGMAX on CUDA0")
  bool on_cpu() const;                        // the output layer's device is the CPU
  void detach(llama_context* ctx);            // back to raw logits for every sequence
  void set_targets(std::vector<int32_t> targets);
  // The log-probs of the n output rows of the last decode, followed (ranks) by the n rows'
  // counts of greater logits; first_output is the batch index of its first output row. Throws
  // BackendError if llama.cpp returned fewer.
  const float* results(llama_context* ctx, int32_t first_output, size_t n) const;

 private:
  std::shared_ptr<State> state_;
  std::vector<llama_sampler*> chains_;
  std::vector<llama_sampler_seq_config> configs_;
};

}  // namespace rdpt::llama_detail
