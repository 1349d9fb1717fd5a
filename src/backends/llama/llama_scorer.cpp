// The llama.cpp scorer: per-token log-probs of responses under a GGUF model, through llama.h.
//
// Per group of items sharing a prompt: the prompt is decoded once into sequence 0 (its last
// row gives the first response token's log-prob); each response gets a sequence slot that
// starts as a copy of sequence 0 (llama_memory_seq_cp: the prompt's KV cells are shared), and
// the responses' tokens are packed into batches of n_batch tokens across slots. Each output row
// is reduced to its target's log-softmax either inside llama.cpp's graph on the device
// (DeviceLogprob: n_batch floats come back per decode) or right after llama_decode on
// n_threads host threads from the logits llama.cpp copied back (n_batch rows at most).
#include <llama.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"
#include "rdpt/scorer.h"

namespace rdpt {

namespace {

using llama_detail::TokenizedText;

std::mutex g_log_mutex;
LogSink g_log_sink;

// Error lines llama.cpp logged, counted; the first after a mark tells why a load failed
// ("invalid magic characters", "failed to read key-value pairs", ...).
uint64_t g_n_errors = 0;
uint64_t g_mark = 0;
std::string g_first_error;

void log_callback(ggml_log_level level, const char* text, void*) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  if (level == GGML_LOG_LEVEL_ERROR && text) {
    if (++g_n_errors == g_mark + 1) {
      g_first_error = text;
      while (!g_first_error.empty() && std::isspace((unsigned char)g_first_error.back())) g_first_error.pop_back();
    }
  }
  if (!g_log_sink) return;
  if (level == GGML_LOG_LEVEL_WARN) g_log_sink(LogLevel::Warn, text);
  else if (level == GGML_LOG_LEVEL_ERROR) g_log_sink(LogLevel::Error, text);
}

void init_backend_once(const LogSink& sink) {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_log_set(log_callback, nullptr);
    llama_backend_init();
  });
  std::lock_guard<std::mutex> lock(g_log_mutex);
  if (sink) g_log_sink = sink;
}

}  // namespace

namespace llama_detail {

llama_model* load_model(const std::string& path, const llama_model_params& params, const LogSink& log) {
  init_backend_once(log);
  {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_mark = g_n_errors;
    g_first_error.clear();
  }
  if (llama_model* m = llama_model_load_from_file(path.c_str(), params)) return m;
  std::string why;
  {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_n_errors > g_mark) why = ": " + g_first_error;
  }
  throw BackendError("llama.cpp could not load " + std::string(params.vocab_only ? "the vocabulary of " : "model ") +
                     "'" + path + "'" + why + " (a truncated file, or not a GGUF model llama.cpp supports?)");
}

std::string tokenizer_description(const llama_model* model) {
  static const char* kTypes[] = {"none", "spm", "bpe", "wpm", "ugm", "rwkv", "plamo2"};
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int vt = int(llama_vocab_type(vocab));
  char pre[128] = "";
  llama_model_meta_val_str(model, "tokenizer.ggml.pre", pre, sizeof pre);
  return std::string(vt >= 0 && vt < 7 ? kTypes[vt] : "?") + ":" + pre + ":" +
         std::to_string(llama_vocab_n_tokens(vocab));
}

}  // namespace llama_detail

namespace {

// Reduces rows to target log-probs on up to n_threads threads.
struct RowJob {
  int32_t batch_index;  // row in the batch's outputs
  int32_t target;       // token whose log-prob is wanted
  double* out;          // where to write it
  uint32_t* rank;       // where to write its clipped rank (null: no ranks)
};

// rank_clip 0: no ranks.
void reduce_rows(llama_context* ctx, int64_t n_vocab, std::vector<RowJob>& jobs, int n_threads, uint32_t rank_clip) {
  if (jobs.empty()) return;
  // Fetch row pointers first (llama_get_logits_ith is not documented as thread-safe).
  std::vector<const float*> rows(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    rows[i] = llama_get_logits_ith(ctx, jobs[i].batch_index);
    if (!rows[i]) throw BackendError("llama.cpp returned no logits for batch row " + std::to_string(jobs[i].batch_index));
  }
  auto work = [&](size_t a, size_t b) {
    for (size_t i = a; i < b; ++i) {
      if (rank_clip) {
        uint32_t above = 0;
        *jobs[i].out = llama_detail::target_logprob_count(rows[i], n_vocab, jobs[i].target, &above);
        *jobs[i].rank = llama_detail::clipped_rank(above, rank_clip);
      } else {
        *jobs[i].out = llama_detail::target_logprob(rows[i], n_vocab, jobs[i].target);
      }
    }
  };
  const size_t nt = std::min<size_t>(std::max(1, n_threads), (jobs.size() + 7) / 8);
  if (nt <= 1) return work(0, jobs.size());
  std::vector<std::thread> pool;
  const size_t per = (jobs.size() + nt - 1) / nt;
  for (size_t t = 0; t < nt; ++t) {
    size_t a = t * per, b = std::min(jobs.size(), a + per);
    if (a < b) pool.emplace_back(work, a, b);
  }
  for (auto& th : pool) th.join();
}

class LlamaScorer final : public Scorer {
 public:
  LlamaScorer(const std::string& path, const LlamaOptions& o) : path_(path), opt_(o) {
    if (!std::filesystem::is_regular_file(path)) throw Error("model file not found: '" + path + "'");
    if (o.n_batch == 0) throw UsageError("n_batch must be > 0");
    if (o.rank_clip > kMaxRankClip)
      throw UsageError("rank clip must be in 1.." + std::to_string(kMaxRankClip) + ", got " + std::to_string(o.rank_clip));
    if (o.n_seq_max == 0 || o.n_seq_max + 1 > llama_max_parallel_sequences())
      throw UsageError("n_seq_max must be in 1.." + std::to_string(llama_max_parallel_sequences() - 1) + ", got " +
                       std::to_string(o.n_seq_max));
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = o.n_gpu_layers;
    model_ = llama_detail::load_model(path, mp, o.log);
    vocab_ = llama_model_get_vocab(model_);
    n_vocab_ = llama_vocab_n_tokens(vocab_);
    const uint32_t n_train = uint32_t(std::max(0, llama_model_n_ctx_train(model_)));
    n_ctx_ = o.n_ctx ? o.n_ctx : std::min<uint32_t>(n_train ? n_train : 4096, 32768);
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx_;
    cp.n_batch = o.n_batch;
    cp.n_ubatch = std::min(o.n_ubatch ? o.n_ubatch : o.n_batch, o.n_batch);
    cp.n_seq_max = o.n_seq_max + 1;
    cp.kv_unified = true;  // one cell pool: the prompt's cells are shared by all slots
    const int nt = o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()));
    n_threads_ = nt;
    cp.n_threads = nt;
    cp.n_threads_batch = nt;
    // CPU flash attention changes results with the batch shape (up to 2e-2 nats seen): off there.
    cp.flash_attn_type = o.flash_attn < 0 ? (o.n_gpu_layers != 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED)
                         : o.flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    if (o.kv_f32) cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.no_perf = true;
    // Device reduction: one ubatch per decode (its targets are the decode's) and n_batch <= n_vocab.
    const uint32_t n_batch_eff = std::min(o.n_batch, cp.n_ctx);
    // llama.cpp reserves output rows for max(the batch's outputs, n_seq_max) and asserts that
    // this fits n_outputs_max (default: n_batch, itself capped at n_ctx), so --batch or --ctx
    // at or below --parallel aborted the process. Size the outputs for both.
    cp.n_outputs_max = std::max(n_batch_eff, cp.n_seq_max);
    // With ranks each output row hands back two floats: n_batch <= n_vocab / 2.
    const uint32_t per_row = o.rank_clip ? 2 : 1;
    const bool device_ok = cp.n_ubatch == o.n_batch && uint64_t(n_batch_eff) * per_row <= uint64_t(n_vocab_);
    if (o.reduce_on_device == 1 && !device_ok) {
      llama_model_free(model_);
      throw UsageError("reducing log-probs on the device needs --ubatch equal to --batch and --batch <= the "
                       "vocabulary size" + std::string(o.rank_clip ? " / 2 (with --ranks)" : "") + " (" +
                       std::to_string(n_vocab_) + "); got batch " + std::to_string(o.n_batch) + ", ubatch " +
                       std::to_string(cp.n_ubatch));
    }
    // auto: the device only where the output layer runs on a GPU (llama.cpp offloads it first:
    // any --ngl but 0 with a GPU build). On the CPU it saved little time for much memory
    // (llama.cpp's host output buffer grows to 4 x n_batch x n_vocab floats; docs/score.md).
    const bool output_on_gpu = o.n_gpu_layers != 0 && llama_supports_gpu_offload();
    if (o.reduce_on_device == 1 || (o.reduce_on_device < 0 && device_ok && output_on_gpu)) {
      std::vector<int32_t> seqs;
      for (uint32_t s = 1; s <= o.n_seq_max; ++s) seqs.push_back(int32_t(s));  // 0 (the prompt) stays on the host
      device_ = std::make_unique<llama_detail::DeviceLogprob>(n_vocab_, seqs, o.rank_clip != 0);
      cp.n_outputs_max_per_seq = 0;  // every token of a response is an output (llama.cpp's default is 1)
      cp.samplers = device_->configs().data();
      cp.n_samplers = device_->configs().size();
    }
    ctx_ = llama_init_from_model(model_, cp);
    // auto, and the output layer landed on the CPU after all (no GPU device found): the host.
    const bool cpu_after_all = o.reduce_on_device < 0 && device_ && device_->on_cpu();
    if (ctx_ && device_ && (!device_->supported() || cpu_after_all)) {
      if (o.log && !cpu_after_all)
        o.log(LogLevel::Warn, "rdpt: the output device lacks " + device_->unsupported_op() +
                                  "; log-probs are reduced on the host\n");
      device_->detach(ctx_);
      llama_free(ctx_);
      device_.reset();
      cp.samplers = nullptr;
      cp.n_samplers = 0;
      ctx_ = llama_init_from_model(model_, cp);
    }
    if (!ctx_) {
      device_.reset();
      llama_model_free(model_);
      throw BackendError("llama.cpp could not create a context for '" + path + "' (n_ctx " + std::to_string(n_ctx_) +
                         ", n_batch " + std::to_string(o.n_batch) + "; out of memory?)");
    }
    n_ctx_ = std::min(n_ctx_, llama_n_ctx(ctx_));  // llama.cpp may round the context up; keep the asked limit
    n_batch_ = llama_n_batch(ctx_);  // llama.cpp caps n_batch at n_ctx
    batch_ = llama_batch_init(int32_t(n_batch_), 0, 1);
    prompter_ = Prompter(o.prompt_format, llama_detail::model_chat_template(model_, path, o.template_name, o.jinja),
                         llama_detail::apply_chat_template, "model '" + path + "'");
  }

  ~LlamaScorer() override {
    llama_batch_free(batch_);
    llama_free(ctx_);
    device_.reset();  // the sampler chains outlive the context that uses them
    llama_model_free(model_);
  }

  ModelInfo describe() const override {
    if (fingerprint_.empty()) fingerprint_ = gguf_fingerprint(path_);
    ModelFacts f{.backend = "llama",
                 .path = path_,
                 .file_fingerprint = fingerprint_,
                 .tokenizer = llama_detail::tokenizer_description(model_),
                 .chat_template = prompter_.describe()};
    char desc[256] = "";
    llama_model_desc(model_, desc, sizeof desc);
    nlohmann::json j = {{"desc", desc},
                        {"n_params", llama_model_n_params(model_)},
                        {"n_ctx_train", llama_model_n_ctx_train(model_)},
                        {"n_ctx", n_ctx_},
                        {"n_gpu_layers", opt_.n_gpu_layers},
                        {"reduce", device_ ? "device" : "host"},
                        // what changes the last digits of the log-probs (rdpt merge warns when
                        // they differ): the KV cache's type, the batch shape, flash attention
                        {"kv", opt_.kv_f32 ? "f32" : "f16"},
                        {"n_batch", n_batch_},
                        {"n_ubatch", llama_n_ubatch(ctx_)},
                        {"flash_attn", opt_.flash_attn},
                        {"llama_cpp", llama_version()}};
    f.info_json = j.dump();
    return describe_model(f);
  }

  std::string format_prompt(std::string_view question, std::string_view system) const override {
    return prompter_(question, system);
  }

  std::vector<std::pair<int32_t, std::string>> tokens_of(std::string_view text, bool prompt) const override {
    std::vector<std::pair<int32_t, std::string>> out;
    for (int32_t id : llama_detail::tokenize_with_offsets(vocab_, text, prompt).ids)
      out.emplace_back(id, llama_detail::token_piece(vocab_, id));
    return out;
  }

  ScorerCapabilities capabilities() const override {
    ScorerCapabilities c;
    c.n_ctx = n_ctx_;
    c.n_ctx_train = uint32_t(std::max(0, llama_model_n_ctx_train(model_)));
    c.n_vocab = uint32_t(n_vocab_);
    c.n_seq_max = opt_.n_seq_max;
    c.gpu_offload = opt_.n_gpu_layers != 0 && llama_supports_gpu_offload();
    c.kv_prefix_sharing = opt_.share_prompt;
    c.device_reduction = device_ != nullptr;
    c.rank_clip = opt_.rank_clip;
    return c;
  }

  using Scorer::score;
  std::vector<ScoreResult> score(std::span<const ScoreItem> items, Progress& progress,
                                 const ResultFn& on_result) override;

 private:
  struct Work {
    size_t item;                  // index into items
    TokenizedText resp;           // response tokens and offsets
    uint32_t n_scored = 0;        // response tokens to score
    uint32_t n_decoded = 0;       // response tokens already decoded
    std::vector<double> lp;       // log-probs of the scored tokens
    std::vector<uint32_t> rk;     // their clipped ranks (rank_clip > 0)
    int slot = -1;                // sequence id while active
  };

  uint32_t* rank_at(Work& w, uint32_t k) { return w.rk.empty() ? nullptr : &w.rk[k]; }

  void decode_or_throw(const char* what) {
    int32_t rc = llama_decode(ctx_, batch_);
    if (rc != 0)
      throw BackendError(std::string("llama_decode failed while decoding the ") + what + " (code " + std::to_string(rc) +
                         (rc == 1 ? ": no KV cache slot; lower --batch or raise --ctx" : "") + "), model '" + path_ + "'");
  }

  void batch_add(int32_t tok, int32_t pos, int32_t seq, bool logits) {
    const int32_t i = batch_.n_tokens++;
    batch_.token[i] = tok;
    batch_.pos[i] = pos;
    batch_.n_seq_id[i] = 1;
    batch_.seq_id[i][0] = seq;
    batch_.logits[i] = logits;
  }

  void score_group(const std::vector<int32_t>& prompt, std::vector<Work>& works, std::vector<ScoreResult>& results,
                   Progress& progress, uint64_t& done_items, uint64_t& done_tokens);

  std::string path_;
  LlamaOptions opt_;
  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  llama_batch batch_{};
  int32_t n_vocab_ = 0;
  uint32_t n_ctx_ = 0;
  uint32_t n_batch_ = 0;
  int n_threads_ = 1;
  Prompter prompter_;
  mutable std::string fingerprint_;
  std::unique_ptr<llama_detail::DeviceLogprob> device_;  // null: reduce on the host
  const ResultFn* on_result_ = nullptr;  // during score(): the caller's hook
  // Item i's result is final: the caller's hook (it keeps the result), then progress (which may
  // raise, e.g. Python's KeyboardInterrupt, and must not lose the finished item).
  void item_done(Progress& progress, uint64_t& done_items, uint64_t done_tokens, size_t i, const ScoreResult& r) {
    if (on_result_ && *on_result_) (*on_result_)(i, r);
    progress.update(++done_items, done_tokens);
  }
};

std::vector<ScoreResult> LlamaScorer::score(std::span<const ScoreItem> items, Progress& progress,
                                           const ResultFn& on_result) {
  on_result_ = &on_result;
  struct Reset {
    const ResultFn*& p;
    ~Reset() { p = nullptr; }
  } reset{on_result_};
  std::vector<ScoreResult> results(items.size());
  // Groups keyed by (group, prompt) in first-seen order.
  std::map<std::pair<std::string, std::string>, size_t> group_index;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!opt_.share_prompt) {
      groups.push_back({i});
      continue;
    }
    auto [it, fresh] = group_index.try_emplace({items[i].group, items[i].prompt}, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  uint64_t done_items = 0, done_tokens = 0;
  for (const auto& g : groups) {
    const std::string& prompt_text = items[g.front()].prompt;
    TokenizedText prompt;
    std::string prompt_error;
    try {
      // BOS as the prompt's maker wants it (Prompter::tokenize_with_special); an empty prompt gets
      // BOS anyway below.
      prompt = llama_detail::tokenize_with_offsets(vocab_, prompt_text, prompter_.tokenize_with_special());
    } catch (const Error& e) {
      prompt_error = std::string("prompt: ") + e.what();
    }
    if (prompt_error.empty() && prompt.ids.empty()) {
      const llama_token bos = llama_vocab_bos(vocab_);
      if (bos != LLAMA_TOKEN_NULL) prompt.ids.push_back(bos);
      else prompt_error = "empty prompt and the vocabulary has no BOS token: the first response token has no context";
    }
    if (prompt_error.empty() && prompt.ids.size() >= n_ctx_)
      prompt_error = "prompt of " + std::to_string(prompt.ids.size()) + " tokens does not fit the context of " +
                     std::to_string(n_ctx_) + " tokens";
    std::vector<Work> works;
    for (size_t i : g) {
      ScoreResult& r = results[i];
      r.n_prompt_tokens = uint32_t(prompt.ids.size());
      if (!prompt_error.empty()) {
        r.error = prompt_error;
        continue;
      }
      Work w;
      w.item = i;
      try {
        w.resp = llama_detail::tokenize_with_offsets(vocab_, items[i].response, /*add_special=*/false);
      } catch (const Error& e) {
        r.error = std::string("response: ") + e.what();
        continue;
      }
      r.n_tokens_total = uint32_t(w.resp.ids.size());
      const size_t room = n_ctx_ - prompt.ids.size();
      if (w.resp.ids.size() > room) {
        if (!opt_.truncate) {
          r.error = "prompt (" + std::to_string(prompt.ids.size()) + " tokens) + response (" +
                    std::to_string(w.resp.ids.size()) + " tokens) exceed the context of " + std::to_string(n_ctx_) +
                    " tokens (raise --ctx, or --truncate to score up to the limit)";
          continue;
        }
        r.truncated = true;
        r.cut_offset = w.resp.offsets[room];  // room < the response's token count here
      }
      w.n_scored = uint32_t(std::min(w.resp.ids.size(), room));
      w.lp.assign(w.n_scored, NAN);
      w.rk.assign(opt_.rank_clip ? w.n_scored : 0, 0);
      works.push_back(std::move(w));
    }
    for (size_t i : g)
      if (!results[i].ok()) item_done(progress, done_items, done_tokens, i, results[i]);
    if (!works.empty()) score_group(prompt.ids, works, results, progress, done_items, done_tokens);
  }
  return results;
}

void LlamaScorer::score_group(const std::vector<int32_t>& prompt, std::vector<Work>& works,
                              std::vector<ScoreResult>& results, Progress& progress, uint64_t& done_items,
                              uint64_t& done_tokens) {
  llama_memory_t mem = llama_get_memory(ctx_);
  llama_memory_clear(mem, true);
  const int32_t n_p = int32_t(prompt.size());
  // 1. The prompt into sequence 0; only its last row is kept (it predicts response token 0).
  for (int32_t b = 0; b < n_p; b += int32_t(n_batch_)) {
    batch_.n_tokens = 0;
    const int32_t e = std::min<int32_t>(n_p, b + int32_t(n_batch_));
    for (int32_t k = b; k < e; ++k) batch_add(prompt[k], k, 0, k == n_p - 1);
    decode_or_throw("prompt");
  }
  {
    std::vector<RowJob> jobs;
    for (auto& w : works)
      if (w.n_scored > 0) jobs.push_back({batch_.n_tokens - 1, w.resp.ids[0], &w.lp[0], rank_at(w, 0)});
    reduce_rows(ctx_, n_vocab_, jobs, n_threads_, opt_.rank_clip);
  }
  auto finish = [&](Work& w) {
    ScoreResult& r = results[w.item];
    r.tokens.resize(w.n_scored);
    for (uint32_t k = 0; k < w.n_scored; ++k) r.tokens[k] = {w.resp.offsets[k], w.lp[k], w.rk.empty() ? 0 : w.rk[k]};
    done_tokens += w.n_scored;
    item_done(progress, done_items, done_tokens, w.item, r);
  };
  // 2. Responses in slots 1..n_seq_max; token k (k < n_scored-1) is decoded at position
  // n_p + k and its row gives the log-prob of token k+1.
  std::vector<size_t> pending;
  for (size_t i = 0; i < works.size(); ++i) {
    if (works[i].n_scored <= 1) finish(works[i]);
    else pending.push_back(i);
  }
  std::reverse(pending.begin(), pending.end());  // pop_back takes them in order
  std::vector<size_t> active;
  std::vector<int> free_slots;
  for (int s = int(opt_.n_seq_max); s >= 1; --s) free_slots.push_back(s);
  uint64_t cells_used = uint64_t(n_p);
  std::vector<RowJob> jobs;
  while (!pending.empty() || !active.empty()) {
    // Admit responses while a slot and KV cells are free.
    while (!pending.empty() && !free_slots.empty()) {
      Work& w = works[pending.back()];
      const uint64_t need = w.n_scored - 1;
      if (!active.empty() && cells_used + need > n_ctx_) break;
      w.slot = free_slots.back();
      free_slots.pop_back();
      llama_memory_seq_cp(mem, 0, w.slot, -1, -1);
      cells_used += need;
      active.push_back(pending.back());
      pending.pop_back();
    }
    // Pack a batch across the active slots, in order.
    batch_.n_tokens = 0;
    jobs.clear();
    for (size_t a : active) {
      Work& w = works[a];
      const uint32_t n_dec = w.n_scored - 1;
      while (w.n_decoded < n_dec && batch_.n_tokens < int32_t(n_batch_)) {
        const uint32_t k = w.n_decoded++;
        jobs.push_back({batch_.n_tokens, w.resp.ids[k + 1], &w.lp[k + 1], rank_at(w, k + 1)});
        batch_add(w.resp.ids[k], n_p + int32_t(k), w.slot, true);
      }
      if (batch_.n_tokens >= int32_t(n_batch_)) break;
    }
    if (jobs.empty()) throw BackendError("internal: empty response batch");
    if (device_) {
      std::vector<int32_t> targets(jobs.size());
      for (size_t j = 0; j < jobs.size(); ++j) targets[j] = jobs[j].target;
      device_->set_targets(std::move(targets));
      decode_or_throw("response");
      const float* lp = device_->results(ctx_, jobs.front().batch_index, jobs.size());
      for (size_t j = 0; j < jobs.size(); ++j) *jobs[j].out = double(lp[j]);
      if (opt_.rank_clip) {
        const float* cnt = lp + jobs.size();
        for (size_t j = 0; j < jobs.size(); ++j)
          *jobs[j].rank = llama_detail::clipped_rank(uint64_t(cnt[j]), opt_.rank_clip);
      }
    } else {
      decode_or_throw("response");
      reduce_rows(ctx_, n_vocab_, jobs, n_threads_, opt_.rank_clip);
    }
    // Retire the finished ones.
    for (size_t j = 0; j < active.size();) {
      Work& w = works[active[j]];
      if (w.n_decoded == w.n_scored - 1) {
        llama_memory_seq_rm(mem, w.slot, -1, -1);
        free_slots.push_back(w.slot);
        cells_used -= w.n_scored - 1;
        finish(w);
        active.erase(active.begin() + std::ptrdiff_t(j));
      } else {
        ++j;
      }
    }
  }
}

}  // namespace

std::unique_ptr<Scorer> make_llama_scorer(const std::string& path, const LlamaOptions& options) {
  return std::make_unique<LlamaScorer>(path, options);
}

}  // namespace rdpt
