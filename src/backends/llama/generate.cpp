// Local sampling through llama.h: the prompt (and a forced response prefix) is decoded into
// sequence 0; each sample copies it into sequence 1 and extends it token by token.
//
// Sequence 0 is kept between calls: a call whose prompt + prefix tokens start with those of the
// previous call decodes only the tail after the last whole n_batch batch they share (rdpt_plant
// writes a response sentence by sentence, each call continuing the previous one's text): the
// same batches in the same KV cells as a decode from scratch, so the same logits to the bit. A
// call with the very same prompt + prefix reuses the last logits.
//
// A drawn token is kept only if the text stays valid UTF-8 (an incomplete last character
// allowed) and, with retokenize_safe, tokenizing prefix + generated text gives back exactly
// the prefix's tokens followed by the generated ones (NOTES.md: text generated token by token
// does not always re-tokenize to the same tokens, and a random model's probabilities of its
// own text collapse after such a divergence). A rejected token is banned for that step and the
// draw repeated (at most max_resample times). With retokenize_window = W > 0 a draw is checked
// on the text of the last W tokens only (tokenizers split text into words first, and a word's
// tokens do not depend on the words before it, so this is the whole-text answer unless one word
// spans more than W tokens); a draw the window rejects is checked on the whole text before it
// is rejected, and a finished sample whose whole text does not re-tokenize to its tokens is
// generated again with whole-text checks. Either way the returned text re-tokenizes to exactly
// its tokens.
#include <llama.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>
#include <unordered_set>

#include "backends/llama/llama_internal.h"
#include "core/rng.h"
#include "rdpt/error.h"
#include "rdpt/generator.h"
#include "rdpt/scorer.h"
#include "rdpt/utf8.h"

namespace rdpt {

namespace {

using Rng = detail::SplitMix64;

// Draws from softmax(logits / T) restricted to the top_p nucleus, skipping banned ids.
int32_t draw(const std::vector<float>& logits, double temp, double top_p, const std::unordered_set<int32_t>& banned,
             Rng& rng) {
  const int32_t n = int32_t(logits.size());
  int32_t best = -1;
  for (int32_t i = 0; i < n; ++i)
    if (!banned.count(i) && (best < 0 || logits[i] > logits[best])) best = i;
  if (best < 0 || temp <= 0) return best;
  const double mx = logits[best];
  std::vector<double> w(size_t(n), 0.0);
  double total = 0;
  for (int32_t i = 0; i < n; ++i)
    if (!banned.count(i)) total += (w[i] = std::exp((logits[i] - mx) / temp));
  std::vector<int32_t> order;
  if (top_p < 1.0) {
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return w[a] > w[b] || (w[a] == w[b] && a < b); });
    double acc = 0;
    size_t keep = 0;
    while (keep < order.size() && w[order[keep]] > 0) {
      acc += w[order[keep++]];
      if (acc >= top_p * total) break;
    }
    order.resize(std::max<size_t>(keep, 1));
    total = acc;
  }
  double u = rng.uniform() * total;
  if (top_p < 1.0) {
    for (int32_t i : order)
      if ((u -= w[i]) <= 0) return i;
    return order.back();
  }
  for (int32_t i = 0; i < n; ++i)
    if (w[i] > 0 && (u -= w[i]) <= 0) return i;
  return best;
}

class LlamaGenerator final : public Generator {
 public:
  LlamaGenerator(const std::string& path, const LlamaOptions& o) : path_(path), opt_(o) {
    if (!std::filesystem::is_regular_file(path)) throw Error("model file not found: '" + path + "'");
    if (o.n_batch == 0) throw UsageError("n_batch must be > 0");
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = o.n_gpu_layers;
    model_ = llama_detail::load_model(path, mp, o.log);
    vocab_ = llama_model_get_vocab(model_);
    const uint32_t n_train = uint32_t(std::max(0, llama_model_n_ctx_train(model_)));
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = o.n_ctx ? o.n_ctx : std::min<uint32_t>(n_train ? n_train : 4096, 8192);
    cp.n_batch = o.n_batch;
    cp.n_ubatch = std::min(o.n_ubatch ? o.n_ubatch : o.n_batch, o.n_batch);
    cp.n_seq_max = 2;
    cp.kv_unified = true;
    const int nt = o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
    cp.n_threads = cp.n_threads_batch = nt;
    cp.no_perf = true;
    ctx_ = llama_init_from_model(model_, cp);
    if (!ctx_) {
      llama_model_free(model_);
      throw BackendError("llama.cpp could not create a context for '" + path + "'");
    }
    n_ctx_ = llama_n_ctx(ctx_);
    batch_ = llama_batch_init(int32_t(o.n_batch), 0, 1);
    prompter_ = Prompter(o.prompt_format, llama_detail::model_chat_template(model_, path, o.template_name, o.jinja),
                         llama_detail::apply_chat_template, "model '" + path + "'");
  }
  ~LlamaGenerator() override {
    llama_batch_free(batch_);
    llama_free(ctx_);
    llama_model_free(model_);
  }

  ModelInfo describe() const override {
    return describe_model({.backend = "llama",
                           .path = path_,
                           .file_fingerprint = gguf_fingerprint(path_),
                           .tokenizer = llama_detail::tokenizer_description(model_),
                           .chat_template = prompter_.describe()});
  }

  std::string format_prompt(std::string_view question, std::string_view system) const override {
    return prompter_(question, system);
  }

  std::vector<Generation> generate(const std::string& prompt, const GenerateOptions& o) override;

 private:
  std::vector<int32_t> tokenize(std::string_view text, bool add_special) const {
    int32_t n = llama_tokenize(vocab_, text.data(), int32_t(text.size()), nullptr, 0, add_special, true);
    std::vector<int32_t> ids(size_t(n < 0 ? -n : n));
    if (!ids.empty())
      n = llama_tokenize(vocab_, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), add_special, true);
    ids.resize(size_t(std::max(n, 0)));
    return ids;
  }

  void decode(const int32_t* toks, size_t n, int32_t pos0, int32_t seq) {
    for (size_t b = 0; b < n; b += opt_.n_batch) {
      const size_t e = std::min(n, b + opt_.n_batch);
      batch_.n_tokens = 0;
      for (size_t k = b; k < e; ++k) {
        const int32_t i = batch_.n_tokens++;
        batch_.token[i] = toks[k];
        batch_.pos[i] = pos0 + int32_t(k);
        batch_.n_seq_id[i] = 1;
        batch_.seq_id[i][0] = seq;
        batch_.logits[i] = k + 1 == n;
      }
      if (llama_decode(ctx_, batch_) != 0)
        throw BackendError("llama_decode failed while generating with '" + path_ + "'");
    }
  }

  std::string path_;
  LlamaOptions opt_;
  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  llama_batch batch_{};
  uint32_t n_ctx_ = 0;
  Prompter prompter_;
  std::vector<int32_t> cached_ids_;  // prompt + prefix tokens decoded into sequence 0
  std::vector<float> cached_logits_;  // the logits after the last of them
};

std::vector<Generation> LlamaGenerator::generate(const std::string& prompt, const GenerateOptions& o) {
  if (o.n == 0) throw UsageError("n must be > 0");
  if (!(o.temperature >= 0)) throw UsageError("temperature must be >= 0, got " + std::to_string(o.temperature));
  if (!(o.top_p > 0 && o.top_p <= 1)) throw UsageError("top_p must be in (0, 1], got " + std::to_string(o.top_p));
  for (const auto& s : o.stop)
    if (s.empty()) throw UsageError("empty stop string");
  std::vector<int32_t> ctx_ids = tokenize(prompt, prompter_.tokenize_with_special());
  if (ctx_ids.empty()) {
    const llama_token bos = llama_vocab_bos(vocab_);
    if (bos == LLAMA_TOKEN_NULL) throw UsageError("empty prompt and the vocabulary has no BOS token");
    ctx_ids.push_back(bos);
  }
  const std::vector<int32_t> prefix_ids = o.prefix.empty() ? std::vector<int32_t>{} : tokenize(o.prefix, false);
  ctx_ids.insert(ctx_ids.end(), prefix_ids.begin(), prefix_ids.end());
  if (ctx_ids.size() + 1 >= n_ctx_)
    throw UsageError("prompt + prefix (" + std::to_string(ctx_ids.size()) + " tokens) do not fit the context of " +
                     std::to_string(n_ctx_) + " tokens");
  const int64_t n_vocab = llama_vocab_n_tokens(vocab_);
  llama_memory_t mem = llama_get_memory(ctx_);
  llama_memory_seq_rm(mem, 1, -1, -1);
  if (ctx_ids != cached_ids_) {
    // Keep the cached head of sequence 0 that this prompt + prefix shares, in whole batches of
    // n_batch tokens, and decode the rest: the same batches, in the same KV cells, as a decode
    // from scratch, so the same logits to the bit (other batch boundaries give other f32
    // rounding, which changes greedy text at near ties).
    size_t keep = 0;
    while (keep < cached_ids_.size() && keep + 1 < ctx_ids.size() && cached_ids_[keep] == ctx_ids[keep]) ++keep;
    keep -= keep % opt_.n_batch;
    cached_ids_.clear();  // until the decode succeeds
    if (keep == 0 || !llama_memory_seq_rm(mem, 0, llama_pos(keep), -1)) {
      keep = 0;
      llama_memory_clear(mem, true);
    }
    decode(ctx_ids.data() + keep, ctx_ids.size() - keep, int32_t(keep), 0);
    const float* row = llama_get_logits_ith(ctx_, -1);
    cached_logits_.assign(row, row + n_vocab);
    cached_ids_ = ctx_ids;
  }
  const std::vector<float>& base = cached_logits_;

  // Byte offsets of the prefix's tokens in o.prefix, where its pieces spell it exactly (byte-
  // level BPE); otherwise windows start inside the generated text only.
  std::vector<uint32_t> prefix_off;
  {
    std::string spelled;
    for (int32_t id : prefix_ids) {
      prefix_off.push_back(uint32_t(spelled.size()));
      spelled += llama_detail::token_piece(vocab_, id);
    }
    if (spelled != o.prefix) prefix_off.clear();
  }

  std::vector<Generation> out(o.n);
  for (uint32_t s = 0; s < o.n; ++s) {
    for (uint32_t window = o.retokenize_safe ? o.retokenize_window : 0;; window = 0) {
      Generation& g = out[s];
      g = Generation{};
      Rng rng{o.seed * 0x9E3779B97F4A7C15ull + s + 1};
      rng.next();
      llama_memory_seq_rm(mem, 1, -1, -1);
      llama_memory_seq_cp(mem, 0, 1, -1, -1);
      std::vector<float> logits = base;
      std::vector<int32_t> all = prefix_ids;  // prefix + generated tokens
      std::vector<size_t> piece_len;
      std::string text = o.prefix;  // prefix + generated bytes
      int32_t pos = int32_t(ctx_ids.size());
      bool window_used = false;
      g.finish_reason = "length";
      // Does cand = text + piece of c re-tokenize to `all` + c? Checked on the text of the last
      // `window` tokens when there are more; a rejection there is checked on the whole text.
      auto retokenizes = [&](const std::string& cand, int32_t c) {
        size_t w = window == 0 || all.size() <= window ? 0 : all.size() - window;
        if (w > 0 && w < prefix_ids.size() && prefix_off.empty()) w = prefix_ids.size();
        if (w > 0 && w < all.size()) {
          const size_t off = w < prefix_ids.size() ? prefix_off[w] : g.tokens[w - prefix_ids.size()].offset;
          std::vector<int32_t> want(all.begin() + std::ptrdiff_t(w), all.end());
          want.push_back(c);
          window_used = true;
          if (tokenize(std::string_view(cand).substr(off), false) == want) return true;
        }
        std::vector<int32_t> want = all;
        want.push_back(c);
        return tokenize(cand, false) == want;
      };
      while (g.tokens.size() < o.max_tokens) {
        if (uint32_t(pos) + 1 >= n_ctx_) break;
        const double lse = llama_detail::logsumexp(logits.data(), n_vocab);
        std::unordered_set<int32_t> banned;
        int32_t id = -1;
        std::string piece;
        for (uint32_t attempt = 0; attempt <= o.max_resample; ++attempt) {
          const int32_t c = draw(logits, o.temperature, o.top_p, banned, rng);
          if (c < 0) break;
          if (llama_vocab_is_eog(vocab_, c)) {
            id = c;
            break;
          }
          std::string p = llama_detail::token_piece(vocab_, c);
          std::string cand = text + p;
          bool ok = !p.empty() && utf8_ok_but_tail(cand);
          if (ok && o.retokenize_safe) ok = retokenizes(cand, c);
          if (ok) {
            id = c;
            piece = std::move(p);
            break;
          }
          banned.insert(c);
          ++g.n_rejected;
        }
        if (id < 0) {
          g.finish_reason = "retokenize";
          break;
        }
        if (llama_vocab_is_eog(vocab_, id)) {
          g.finish_reason = "eos";
          break;
        }
        g.tokens.push_back({uint32_t(text.size()), double(logits[id]) - lse});
        all.push_back(id);
        piece_len.push_back(piece.size());
        text += piece;
        // Stop strings: keep only whole tokens that end before the first match.
        const size_t gen_begin = o.prefix.size();
        size_t cut = std::string::npos;
        for (const auto& st : o.stop) {
          const size_t gen_size = text.size() - gen_begin;
          const size_t from = gen_size > piece.size() + st.size() ? gen_size - piece.size() - st.size() : 0;
          const size_t f = text.find(st, gen_begin + from);
          if (f != std::string::npos) cut = std::min(cut, f - gen_begin);
        }
        if (cut != std::string::npos) {
          while (!piece_len.empty() && text.size() - gen_begin > cut) {
            text.resize(text.size() - piece_len.back());
            all.pop_back();
            piece_len.pop_back();
            g.tokens.pop_back();
          }
          g.finish_reason = "stop";
          break;
        }
        decode(&id, 1, pos++, 1);
        const float* r = llama_get_logits_ith(ctx_, -1);
        std::copy(r, r + n_vocab, logits.begin());
      }
      // Never end inside a character: drop the tokens of an incomplete tail.
      while (!piece_len.empty() && find_invalid_utf8(text) != std::string_view::npos) {
        text.resize(text.size() - piece_len.back());
        all.pop_back();
        piece_len.pop_back();
        g.tokens.pop_back();
      }
      g.response = std::move(text);
      // Window checks are exact unless a word outgrows the window: then the whole text may not
      // re-tokenize to the generated tokens, and the sample is generated again, checking the
      // whole text at every step.
      if (!window_used || tokenize(g.response, false) == all) break;
    }
  }
  llama_memory_seq_rm(mem, 1, -1, -1);
  return out;
}

}  // namespace

std::unique_ptr<Generator> make_llama_generator(const std::string& path, const LlamaOptions& options) {
  return std::make_unique<LlamaGenerator>(path, options);
}

}  // namespace rdpt
