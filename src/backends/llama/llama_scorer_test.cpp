// Tests of the llama.cpp scorer against a one-position-at-a-time reference, with fixture
// models built by tests/tools/rdpt_fixture and real tokenizers from llama.cpp's source.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <llama.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <unistd.h>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"
#include "rdpt/generator.h"
#include "rdpt/record.h"
#include "rdpt/scorer.h"

namespace fs = std::filesystem;
using rdpt::llama_detail::tokenize_with_offsets;
using rdpt::llama_detail::token_piece;

namespace {

std::string vocab_path(const std::string& name) {
  return std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/ggml-vocab-" + name + ".gguf";
}

// Builds (once per options) a fixture model in the build tree and returns its path.
std::string fixture(const std::string& vocab, uint64_t seed, double scale, const std::string& extra = "") {
  fs::create_directories(RDPT_FIXTURE_DIR);
  char name[256];
  std::snprintf(name, sizeof name, "%s-s%llu-x%g%s.gguf", vocab.c_str(), (unsigned long long)seed, scale,
                extra.empty() ? "" : ("-" + std::to_string(std::hash<std::string>{}(extra) % 100000)).c_str());
  std::string out = std::string(RDPT_FIXTURE_DIR) + "/" + name;
  if (fs::exists(out)) return out;
  // ctest runs test processes side by side: each writes its own part file, and the rename
  // is atomic (the same seed gives the same bytes, so the last rename wins harmlessly).
  const std::string part = out + ".part" + std::to_string(::getpid());
  std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + vocab_path(vocab) + " --out " + part + " --seed " +
                    std::to_string(seed) + " --scale " + std::to_string(scale) + " --threads 2 " + extra + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture tool failed: " + cmd);
  fs::rename(part, out);
  return out;
}

void quiet_log(ggml_log_level, const char*, void*) {}

// A vocabulary loaded alone (llama.cpp's vocab_only), freed with the object.
struct VocabOnly {
  llama_model* model = nullptr;
  const llama_vocab* vocab = nullptr;
  explicit VocabOnly(const std::string& name) {
    llama_log_set(quiet_log, nullptr);
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    model = llama_model_load_from_file(vocab_path(name).c_str(), mp);
    if (model) vocab = llama_model_get_vocab(model);
  }
  ~VocabOnly() { llama_model_free(model); }
  VocabOnly(const VocabOnly&) = delete;
  VocabOnly& operator=(const VocabOnly&) = delete;
};

// A token's unclipped rank under logits that may differ from the scorer's by rounding: the
// count of logits above the target's by more than eps, and above it by more than -eps.
struct RankBand {
  uint32_t lo = 0, hi = 0;  // 1 + those counts
};

// The straightforward reference: decode prompt then response one token at a time, full
// log-softmax in double at every position (and, with bands, each token's rank band).
std::vector<double> reference_logprobs(const std::string& model_path, const std::string& prompt,
                                       const std::string& response, std::vector<RankBand>* bands = nullptr) {
  llama_log_set(quiet_log, nullptr);
  llama_backend_init();
  llama_model* model = llama_model_load_from_file(model_path.c_str(), llama_model_default_params());
  EXPECT_NE(model, nullptr);
  const llama_vocab* vocab = llama_model_get_vocab(model);
  auto tok = [&](const std::string& s, bool add) {
    std::vector<llama_token> ids(s.size() + 8);
    int n = llama_tokenize(vocab, s.data(), int(s.size()), ids.data(), int(ids.size()), add, true);
    EXPECT_GE(n, 0);
    ids.resize(size_t(n));
    return ids;
  };
  std::vector<llama_token> p = tok(prompt, true), r = tok(response, false);
  if (p.empty()) p.push_back(llama_vocab_bos(vocab));
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = uint32_t(p.size() + r.size() + 16);
  cp.n_batch = 1;
  cp.n_ubatch = 1;
  cp.n_threads = cp.n_threads_batch = 1;
  cp.type_k = cp.type_v = GGML_TYPE_F32;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  llama_context* ctx = llama_init_from_model(model, cp);
  EXPECT_NE(ctx, nullptr);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  std::vector<llama_token> all = p;
  all.insert(all.end(), r.begin(), r.end());
  std::vector<double> out;
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    llama_token t = all[i];
    EXPECT_EQ(llama_decode(ctx, llama_batch_get_one(&t, 1)), 0);
    if (i + 1 < p.size()) continue;
    const float* row = llama_get_logits_ith(ctx, -1);
    double mx = -INFINITY;
    for (int v = 0; v < n_vocab; ++v) mx = std::max(mx, double(row[v]));
    double s = 0;
    for (int v = 0; v < n_vocab; ++v) s += std::exp(double(row[v]) - mx);
    out.push_back(double(row[all[i + 1]]) - mx - std::log(s));
    if (bands) {
      const float t = row[all[i + 1]], eps = 2e-3f;
      RankBand b{1, 1};
      for (int v = 0; v < n_vocab; ++v) b.lo += row[v] > t + eps, b.hi += row[v] > t - eps && v != all[i + 1];
      bands->push_back(b);
    }
  }
  llama_free(ctx);
  llama_model_free(model);
  return out;
}

std::vector<rdpt::Record> read_traces(const std::string& file, size_t n, size_t max_bytes) {
  rdpt::RecordReader rr(std::string(RDPT_TEST_DATA) + "/traces/" + file);
  std::vector<rdpt::Record> out;
  rdpt::Record r;
  while (out.size() < n && rr.next(r)) {
    if (r.response.size() > max_bytes) {
      size_t cut = max_bytes;  // cut at a UTF-8 boundary
      while (cut > 0 && (static_cast<unsigned char>(r.response[cut]) & 0xC0) == 0x80) --cut;
      r.response.resize(cut);
    }
    out.push_back(r);
  }
  return out;
}

class LlamaScorerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    teacher_ = fixture("qwen2", 1, 0.1, "--output-scale 0.6");
    student_ = fixture("qwen2", 2, 0.1, "--output-scale 0.6");
  }
  static std::string teacher_, student_;

  static std::vector<rdpt::ScoreItem> sample_items() {
    auto recs = read_traces("r1distill_thought_anchors.jsonl.zst", 2, 600);
    std::vector<rdpt::ScoreItem> items;
    const std::string p1 = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
    items.push_back({p1, "<think>\nTwo plus two. That is 4.</think> The answer is \\boxed{4}.<|im_end|>", "g1"});
    items.push_back({p1, "It is 4, of course. Wait, let me check: 2+2=4.", "g1"});
    items.push_back({"Q: " + recs[0].question.substr(0, 200) + "\nA: ", recs[0].response, "g2"});
    items.push_back({p1, "", "g1"});  // empty response
    items.push_back({p1, "4", "g1"});  // one token
    items.push_back({"Q: " + recs[1].question.substr(0, 200) + "\nA: ", recs[1].response, "g3"});
    return items;
  }
};
std::string LlamaScorerTest::teacher_, LlamaScorerTest::student_;

// Both reductions: on the host from the copied logits, and inside llama.cpp's graph (the
// backend-sampling path a GPU uses; here it runs on ggml's CPU backend).
class ReferenceTest : public LlamaScorerTest, public ::testing::WithParamInterface<int> {};

TEST_P(ReferenceTest, MatchesOnePositionAtATimeReference) {
  rdpt::LlamaOptions o;
  o.n_batch = 64;
  o.n_seq_max = 3;
  o.n_threads = 2;
  o.kv_f32 = true;
  o.flash_attn = 0;
  o.reduce_on_device = GetParam();
  auto sc = rdpt::make_llama_scorer(teacher_, o);
  EXPECT_EQ(sc->capabilities().device_reduction, GetParam() == 1);
  auto items = sample_items();
  auto res = sc->score(items);
  ASSERT_EQ(res.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE("item " + std::to_string(i));
    ASSERT_TRUE(res[i].ok()) << res[i].error;
    auto ref = reference_logprobs(teacher_, items[i].prompt, items[i].response);
    ASSERT_EQ(res[i].tokens.size(), ref.size());
    EXPECT_EQ(res[i].n_tokens_total, ref.size());
    EXPECT_FALSE(res[i].truncated);
    for (size_t k = 0; k < ref.size(); ++k)
      ASSERT_NEAR(res[i].tokens[k].logprob, ref[k], 1e-3) << "token " << k;
  }
  EXPECT_TRUE(res[3].tokens.empty());
  EXPECT_EQ(res[4].tokens.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Reduce, ReferenceTest, ::testing::Values(0, 1),
                         [](const auto& info) { return info.param ? std::string("Device") : std::string("Host"); });

// Same logits, two reductions: what is left is the reduction's own rounding.
TEST_F(LlamaScorerTest, DeviceAndHostReductionsAgreeClosely) {
  auto items = sample_items();
  std::vector<std::vector<rdpt::ScoreResult>> runs;
  for (int device : {0, 1}) {
    rdpt::LlamaOptions o;
    o.n_batch = 48;
    o.n_seq_max = 2;
    o.n_threads = 2;
    o.reduce_on_device = device;
    runs.push_back(rdpt::make_llama_scorer(student_, o)->score(items));
  }
  double worst = 0;
  size_t n = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(runs[1][i].ok()) << runs[1][i].error;
    ASSERT_EQ(runs[1][i].tokens.size(), runs[0][i].tokens.size());
    for (size_t k = 0; k < runs[0][i].tokens.size(); ++k, ++n)
      worst = std::max(worst, std::fabs(runs[1][i].tokens[k].logprob - runs[0][i].tokens[k].logprob));
  }
  EXPECT_GT(n, 300u);
  EXPECT_LT(worst, 1e-4) << "over " << n << " tokens";
  std::printf("device vs host reduction: max |diff| %.3g nats over %zu tokens\n", worst, n);
}

// Ranks: the scorer's per-token ranks, reduced on the host and on the device, are the same
// integers (the same logits, counted twice), and each lies in the one-position reference's band
// (logits within its rounding of the target's may fall either side), clipped.
TEST_F(LlamaScorerTest, RanksOfBothReductionsAgreeExactlyAndMatchTheReference) {
  auto items = sample_items();
  items.resize(2);
  {  // the teacher's own samples: tokens it ranks high (real text is noise to a random model)
    rdpt::LlamaOptions go;
    go.n_threads = 2;
    auto gen = rdpt::make_llama_generator(teacher_, go);
    rdpt::GenerateOptions g;
    g.n = 2;
    g.temperature = 1.0;
    g.max_tokens = 80;
    g.seed = 3;
    for (const auto& out : gen->generate(items[0].prompt, g)) items.push_back({items[0].prompt, out.response, "g1"});
  }
  std::vector<std::vector<rdpt::ScoreResult>> runs;
  const uint32_t clip = 60;
  for (int device : {0, 1}) {
    rdpt::LlamaOptions o;
    o.n_batch = 64;
    o.n_seq_max = 3;
    o.n_threads = 2;
    o.kv_f32 = true;
    o.flash_attn = 0;
    o.reduce_on_device = device;
    o.rank_clip = clip;
    auto sc = rdpt::make_llama_scorer(teacher_, o);
    EXPECT_EQ(sc->capabilities().rank_clip, clip);
    EXPECT_EQ(sc->capabilities().device_reduction, device == 1);
    runs.push_back(sc->score(items));
  }
  size_t n = 0, n_exact = 0, n_clipped = 0, n_top = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE("item " + std::to_string(i));
    std::vector<RankBand> bands;
    reference_logprobs(teacher_, items[i].prompt, items[i].response, &bands);
    ASSERT_TRUE(runs[0][i].ok() && runs[1][i].ok());
    ASSERT_EQ(runs[0][i].tokens.size(), bands.size());
    ASSERT_EQ(runs[1][i].tokens.size(), bands.size());
    for (size_t k = 0; k < bands.size(); ++k, ++n) {
      const uint32_t host = runs[0][i].tokens[k].rank, dev = runs[1][i].tokens[k].rank;
      ASSERT_EQ(host, dev) << "token " << k;
      ASSERT_GE(host, std::min(bands[k].lo, clip)) << "token " << k;
      ASSERT_LE(host, std::min(bands[k].hi, clip)) << "token " << k;
      n_exact += std::min(bands[k].lo, clip) == std::min(bands[k].hi, clip);  // the band decides the rank
      n_clipped += host == clip;
      n_top += host == 1;
    }
  }
  // The check has teeth: most bands decide the clipped rank, and ranks are neither all clipped nor all 1.
  EXPECT_GT(n_exact, n * 9 / 10) << n;
  EXPECT_GT(n_clipped, 0u);
  EXPECT_GT(n - n_clipped, n / 10);
  EXPECT_LT(n_top, n);
  std::printf("ranks: %zu tokens, %zu exact bands, %zu clipped at %u, %zu rank 1\n", n, n_exact, n_clipped, clip, n_top);
}

// The device reduction's counts against a plain count over the same logits: two contexts with
// the same settings decode the same batch, one with the rank-counting sampler, one without. Both
// graphs: the CPU's fused count and the ops a GPU runs (sub, step, sum_rows) on the CPU backend.
TEST_F(LlamaScorerTest, DeviceRankCountsEqualAFullLogitsCount) {
  llama_log_set(quiet_log, nullptr);
  llama_backend_init();
  llama_model* model = llama_model_load_from_file(student_.c_str(), llama_model_default_params());
  ASSERT_NE(model, nullptr);
  const int32_t n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  using Ops = rdpt::llama_detail::DeviceLogprob::RankOps;
  for (Ops ops : {Ops::Auto, Ops::Generic}) {
    SCOPED_TRACE(ops == Ops::Auto ? "fused" : "generic");
    rdpt::llama_detail::DeviceLogprob dev(n_vocab, {1}, /*ranks=*/true, ops);
    auto make_ctx = [&](bool with_sampler) {
      llama_context_params cp = llama_context_default_params();
      cp.n_ctx = 128;
      cp.n_batch = cp.n_ubatch = 32;
      cp.n_seq_max = 2;
      cp.kv_unified = true;
      cp.n_threads = cp.n_threads_batch = 2;
      cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
      cp.n_outputs_max_per_seq = 0;
      if (with_sampler) {
        cp.samplers = dev.configs().data();
        cp.n_samplers = dev.configs().size();
      }
      return llama_init_from_model(model, cp);
    };
    llama_context* cd = make_ctx(true);
    llama_context* ch = make_ctx(false);
    ASSERT_TRUE(cd && ch);
    ASSERT_TRUE(dev.supported());
    llama_batch b = llama_batch_init(32, 0, 1);
    std::vector<int32_t> toks, targets;
    for (int32_t k = 0; k < 32; ++k) toks.push_back(1000 + 37 * k);
    for (int32_t k = 0; k < 32; ++k) targets.push_back(k % 4 == 0 ? toks[(k + 1) % 32] : (k * 7919) % n_vocab);
    for (int32_t k = 0; k < 32; ++k) {
      b.token[k] = toks[k], b.pos[k] = k, b.n_seq_id[k] = 1, b.seq_id[k][0] = 1, b.logits[k] = true;
    }
    b.n_tokens = 32;
    dev.set_targets(targets);
    ASSERT_EQ(llama_decode(cd, b), 0);
    ASSERT_EQ(llama_decode(ch, b), 0);
    const float* got = dev.results(cd, 0, 32);
    std::set<uint32_t> distinct;
    for (int32_t k = 0; k < 32; ++k) {
      const float* row = llama_get_logits_ith(ch, k);
      uint32_t count = 0;
      for (int32_t v = 0; v < n_vocab; ++v) count += row[v] > row[targets[k]];
      EXPECT_EQ(uint32_t(got[32 + k]), count) << "row " << k;
      EXPECT_EQ(float(uint32_t(got[32 + k])), got[32 + k]) << "an integer";
      EXPECT_NEAR(got[k], rdpt::llama_detail::target_logprob(row, n_vocab, targets[k]), 1e-4) << "row " << k;
      distinct.insert(count);
    }
    EXPECT_GT(distinct.size(), 10u);
    llama_batch_free(b);
    llama_free(cd);
    llama_free(ch);
  }
  llama_model_free(model);
}

// A decode whose row 0 belongs to a sequence without the sampler (the scorer never makes one)
// gets no device log-probs: results() says so instead of returning garbage or aborting.
TEST_F(LlamaScorerTest, DeviceReductionMissingRowsAreAnError) {
  llama_log_set(quiet_log, nullptr);
  llama_backend_init();
  llama_model* model = llama_model_load_from_file(teacher_.c_str(), llama_model_default_params());
  ASSERT_NE(model, nullptr);
  const int32_t n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  {
    rdpt::llama_detail::DeviceLogprob dev(n_vocab, {1, 2});
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 64;
    cp.n_batch = cp.n_ubatch = 16;
    cp.n_seq_max = 3;
    cp.kv_unified = true;
    cp.n_outputs_max_per_seq = 0;
    cp.samplers = dev.configs().data();
    cp.n_samplers = dev.configs().size();
    llama_context* ctx = llama_init_from_model(model, cp);
    ASSERT_NE(ctx, nullptr);
    EXPECT_TRUE(dev.supported());
    llama_batch b = llama_batch_init(16, 0, 1);
    auto add = [&](int32_t tok, int32_t pos, int32_t seq, bool out) {
      const int32_t i = b.n_tokens++;
      b.token[i] = tok, b.pos[i] = pos, b.n_seq_id[i] = 1, b.seq_id[i][0] = seq, b.logits[i] = out;
    };
    for (int32_t k = 0; k < 4; ++k) add(100 + k, k, 0, k == 3);  // row 0: sequence 0, no sampler
    for (int32_t k = 0; k < 4; ++k) add(200 + k, k, 1, true);    // rows 1-4: sequence 1
    dev.set_targets({1, 2, 3, 4, 5});
    ASSERT_EQ(llama_decode(ctx, b), 0);
    EXPECT_THROW(dev.results(ctx, 3, 5), rdpt::BackendError);
    // Sequence 1 alone: row 0 is its own, and four log-probs come back (their values are checked
    // against the host reduction and the one-position reference by the scorer tests above).
    b.n_tokens = 0;
    for (int32_t k = 4; k < 8; ++k) add(200 + k, k, 1, true);
    dev.set_targets({300, 301, 302, 303});
    ASSERT_EQ(llama_decode(ctx, b), 0);
    const float* lp = dev.results(ctx, 0, 4);
    for (int k = 0; k < 4; ++k) EXPECT_TRUE(std::isfinite(lp[k]) && lp[k] < 0) << k;
    llama_batch_free(b);
    llama_free(ctx);
  }
  llama_model_free(model);
}

TEST_F(LlamaScorerTest, DeviceReductionNeedsOneUbatchPerDecode) {
  rdpt::LlamaOptions o;
  o.reduce_on_device = 1;
  o.n_batch = 64;
  o.n_ubatch = 32;
  try {
    rdpt::make_llama_scorer(teacher_, o);
    FAIL() << "expected a UsageError";
  } catch (const rdpt::UsageError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("--ubatch equal to --batch"));
  }
  o.reduce_on_device = -1;  // auto: the host reduces when the ubatch differs from the batch
  auto split = rdpt::make_llama_scorer(teacher_, o);
  EXPECT_FALSE(split->capabilities().device_reduction);
  EXPECT_THAT(split->describe().info_json, ::testing::HasSubstr("\"reduce\":\"host\""));
  // the settings that change the last digits are recorded (rdpt merge warns when they differ)
  EXPECT_THAT(split->describe().info_json, ::testing::HasSubstr("\"kv\":\"f16\""));
  EXPECT_THAT(split->describe().info_json, ::testing::HasSubstr("\"n_batch\":64"));
  EXPECT_THAT(split->describe().info_json, ::testing::HasSubstr("\"n_ubatch\":32"));
  o.kv_f32 = true;
  EXPECT_THAT(rdpt::make_llama_scorer(teacher_, o)->describe().info_json, ::testing::HasSubstr("\"kv\":\"f32\""));
  o.kv_f32 = false;
  o.n_ubatch = 64;  // explicit device with equal batch and ubatch: the device, on the CPU too
  o.reduce_on_device = 1;
  auto whole = rdpt::make_llama_scorer(teacher_, o);
  EXPECT_TRUE(whole->capabilities().device_reduction);
  EXPECT_THAT(whole->describe().info_json, ::testing::HasSubstr("\"reduce\":\"device\""));
}

// auto picks the host wherever the output layer runs on the CPU (no --ngl, or a build without
// a GPU): there the device path cost 2.6x the peak memory for about the same speed
// (docs/score.md). With --ngl and a GPU it picks the device.
TEST_F(LlamaScorerTest, AutoReductionIsTheHostOnTheCpu) {
  rdpt::LlamaOptions o;
  o.n_batch = o.n_ubatch = 64;
  o.reduce_on_device = -1;
  auto cpu = rdpt::make_llama_scorer(teacher_, o);
  EXPECT_FALSE(cpu->capabilities().device_reduction);
  EXPECT_THAT(cpu->describe().info_json, ::testing::HasSubstr("\"reduce\":\"host\""));
  o.n_gpu_layers = -1;
  auto offloaded = rdpt::make_llama_scorer(teacher_, o);
  EXPECT_EQ(offloaded->capabilities().device_reduction, llama_supports_gpu_offload() && offloaded->capabilities().gpu_offload)
      << offloaded->describe().info_json;
}

// Batch size, parallel sequences, prompt KV sharing and threads change nothing beyond 1e-3,
// with an f32 KV cache and with the defaults (f16 KV cache, no flash attention on the CPU;
// llama.cpp's CPU flash attention moved log-probs by up to 2e-2 between batch shapes here).
void check_invariance(const std::string& model, const std::vector<rdpt::ScoreItem>& items, bool exact, double tol) {
  std::vector<std::vector<rdpt::ScoreResult>> runs;
  struct Cfg {
    uint32_t batch, seqs;
    int threads;
    bool share;
    int device = 0;
  };
  for (Cfg c : {Cfg{512, 8, 2, true}, Cfg{7, 1, 1, false}, Cfg{33, 2, 2, true}, Cfg{5, 4, 1, true},
                Cfg{512, 8, 2, true, 1}, Cfg{7, 3, 1, true, 1}, Cfg{33, 2, 2, false, 1}}) {
    rdpt::LlamaOptions o;
    o.reduce_on_device = c.device;
    o.n_batch = c.batch;
    o.n_seq_max = c.seqs;
    o.n_threads = c.threads;
    o.share_prompt = c.share;
    if (exact) {
      o.kv_f32 = true;
      o.flash_attn = 0;
    }
    runs.push_back(rdpt::make_llama_scorer(model, o)->score(items));
  }
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t i = 0; i < items.size(); ++i) {
      ASSERT_EQ(runs[r][i].tokens.size(), runs[0][i].tokens.size()) << "run " << r << " item " << i;
      for (size_t k = 0; k < runs[0][i].tokens.size(); ++k) {
        EXPECT_EQ(runs[r][i].tokens[k].offset, runs[0][i].tokens[k].offset);
        ASSERT_NEAR(runs[r][i].tokens[k].logprob, runs[0][i].tokens[k].logprob, tol)
            << "run " << r << " item " << i << " token " << k;
      }
    }
}

TEST_F(LlamaScorerTest, BatchingKvReuseAndThreadsChangeNothing) { check_invariance(teacher_, sample_items(), true, 1e-3); }

TEST_F(LlamaScorerTest, DefaultSettingsStayClose) { check_invariance(teacher_, sample_items(), false, 1e-3); }

// --batch or --ctx at or below --parallel: llama.cpp reserved output rows for n_seq_max
// (parallel + 1) against n_outputs_max = n_batch and aborted (GGML_ASSERT, exit 134) with
// either reduction. Now the same numbers as a roomy batch, or per-item context errors.
TEST_F(LlamaScorerTest, BatchOrContextAtOrBelowParallelDoesNotAbort) {
  auto all = sample_items();
  const std::vector<rdpt::ScoreItem> items = {all[0], all[1], all[3], all[4]};  // the short ones
  rdpt::LlamaOptions base;
  base.n_threads = 2;
  base.kv_f32 = true;  // as the exact invariance test: batch 1 vs 64 moved an f16 cache's log-probs by 1.2e-3
  base.flash_attn = 0;
  base.n_batch = base.n_ubatch = 64;
  base.n_seq_max = 8;
  base.reduce_on_device = 0;
  auto ref = rdpt::make_llama_scorer(teacher_, base)->score(items);
  struct Cfg {
    uint32_t batch, ubatch, seqs;
    int device;
  };
  for (Cfg c : {Cfg{8, 8, 8, 0}, Cfg{8, 8, 8, 1}, Cfg{1, 1, 8, 0}, Cfg{3, 3, 8, 1}, Cfg{7, 2, 64, 0}, Cfg{2, 2, 255, 1}}) {
    SCOPED_TRACE("batch " + std::to_string(c.batch) + " ubatch " + std::to_string(c.ubatch) + " parallel " +
                 std::to_string(c.seqs) + " device " + std::to_string(c.device));
    rdpt::LlamaOptions o = base;
    o.n_batch = c.batch;
    o.n_ubatch = c.ubatch;
    o.n_seq_max = c.seqs;
    o.reduce_on_device = c.device;
    auto sc = rdpt::make_llama_scorer(teacher_, o);
    EXPECT_EQ(sc->capabilities().device_reduction, c.device == 1);
    auto res = sc->score(items);
    ASSERT_EQ(res.size(), ref.size());
    for (size_t i = 0; i < res.size(); ++i) {
      ASSERT_TRUE(res[i].ok()) << res[i].error;
      ASSERT_EQ(res[i].tokens.size(), ref[i].tokens.size()) << "item " << i;
      for (size_t k = 0; k < res[i].tokens.size(); ++k)
        ASSERT_NEAR(res[i].tokens[k].logprob, ref[i].tokens[k].logprob, 1e-3) << "item " << i << " token " << k;
    }
  }
  // A context of 8 tokens (n_batch is capped at it): every prompt here is longer, each item
  // says so.
  for (int device : {0, 1}) {
    rdpt::LlamaOptions o = base;
    o.n_ctx = 8;
    o.reduce_on_device = device;
    auto res = rdpt::make_llama_scorer(teacher_, o)->score(items);
    for (const auto& r : res) EXPECT_THAT(r.error, ::testing::HasSubstr("does not fit the context of 8 tokens"));
  }
}

TEST_F(LlamaScorerTest, TooLongResponseIsAnErrorOrTruncated) {
  auto items = sample_items();
  std::vector<rdpt::ScoreItem> one = {items[2]};
  rdpt::LlamaOptions o;
  o.n_ctx = 96;
  o.kv_f32 = true;
  o.flash_attn = 0;
  auto strict = rdpt::make_llama_scorer(teacher_, o)->score(one);
  ASSERT_FALSE(strict[0].ok());
  EXPECT_THAT(strict[0].error, ::testing::HasSubstr("exceed the context of 96 tokens"));
  EXPECT_TRUE(strict[0].tokens.empty());
  o.truncate = true;
  auto cut = rdpt::make_llama_scorer(teacher_, o)->score(one);
  ASSERT_TRUE(cut[0].ok()) << cut[0].error;
  EXPECT_TRUE(cut[0].truncated);
  EXPECT_EQ(cut[0].tokens.size() + cut[0].n_prompt_tokens, 96u);
  EXPECT_GT(cut[0].n_tokens_total, cut[0].tokens.size());
  // cut_offset: where the first unscored token starts (drop_cut_actions unscores from there).
  EXPECT_GT(cut[0].cut_offset, cut[0].tokens.back().offset);
  o.n_ctx = 0;
  o.truncate = false;
  auto full = rdpt::make_llama_scorer(teacher_, o)->score(one);
  ASSERT_TRUE(full[0].ok());
  EXPECT_EQ(full[0].n_tokens_total, cut[0].n_tokens_total);
  for (size_t k = 0; k < cut[0].tokens.size(); ++k)
    ASSERT_NEAR(cut[0].tokens[k].logprob, full[0].tokens[k].logprob, 1e-3) << k;
  EXPECT_EQ(cut[0].cut_offset, full[0].tokens[cut[0].tokens.size()].offset);
  // A prompt that alone fills the context.
  std::vector<rdpt::ScoreItem> big = {{std::string(2000, 'x'), "y", "g"}};
  o.n_ctx = 96;
  auto r = rdpt::make_llama_scorer(teacher_, o)->score(big);
  EXPECT_THAT(r[0].error, ::testing::HasSubstr("does not fit the context"));
}

// Each result is handed to the caller's hook as soon as it is final, once per item, before the
// batch ends (rdpt score writes each pair then): the hook's results are the returned ones, and the
// first comes while items are still pending.
TEST_F(LlamaScorerTest, ResultsAreHandedOverAsEachFinishes) {
  auto items = sample_items();
  items.push_back({items[0].prompt, std::string(3000, 'z') + ".", "too-long"});  // fails: context
  rdpt::LlamaOptions o;
  o.n_ctx = 512;
  o.n_seq_max = 2;
  o.kv_f32 = true;
  o.flash_attn = 0;
  auto sc = rdpt::make_llama_scorer(teacher_, o);
  struct Count : rdpt::Progress {
    uint64_t done = 0;
    void update(uint64_t d, uint64_t) override { done = d; }
  } progress;
  std::vector<size_t> order;
  std::vector<uint64_t> done_at;
  std::map<size_t, rdpt::ScoreResult> seen;
  const auto res = sc->score(items, progress, [&](size_t i, const rdpt::ScoreResult& r) {
    order.push_back(i);
    done_at.push_back(progress.done);
    seen[i] = r;
  });
  ASSERT_EQ(res.size(), items.size());
  ASSERT_EQ(order.size(), items.size());
  EXPECT_EQ(seen.size(), items.size());  // each item once
  // Each hook comes before its own progress update (a progress that raises loses no finished item)
  // and after the previous one's: results are handed over as they come, not at the end.
  for (size_t k = 0; k < done_at.size(); ++k) EXPECT_EQ(done_at[k], k) << "hook before its progress update";
  EXPECT_FALSE(res.back().ok());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(seen[i].error, res[i].error) << i;
    ASSERT_EQ(seen[i].tokens.size(), res[i].tokens.size()) << i;
    for (size_t k = 0; k < res[i].tokens.size(); ++k) {
      EXPECT_EQ(seen[i].tokens[k].offset, res[i].tokens[k].offset);
      EXPECT_EQ(seen[i].tokens[k].logprob, res[i].tokens[k].logprob);
    }
  }
}

TEST_F(LlamaScorerTest, PeakedModelsOfDifferentSeedsDisagree) {
  // Greedy continuation under the teacher, kept while it re-tokenizes to the same tokens.
  llama_log_set(quiet_log, nullptr);
  llama_model* m = llama_model_load_from_file(teacher_.c_str(), llama_model_default_params());
  ASSERT_NE(m, nullptr);
  const llama_vocab* vocab = llama_model_get_vocab(m);
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 256;
  llama_context* ctx = llama_init_from_model(m, cp);
  const std::string prompt = "Q: what is the sum of the first ten primes?\nA:";
  std::vector<llama_token> ids(256);
  ids.resize(size_t(llama_tokenize(vocab, prompt.data(), int(prompt.size()), ids.data(), 256, true, true)));
  ASSERT_EQ(llama_decode(ctx, llama_batch_get_one(ids.data(), int(ids.size()))), 0);
  std::string text;
  std::vector<llama_token> gen;
  for (int step = 0; step < 24; ++step) {
    const float* row = llama_get_logits_ith(ctx, -1);
    llama_token best = 0;
    for (int v = 1; v < llama_vocab_n_tokens(vocab); ++v)
      if (row[v] > row[best]) best = v;
    std::string next = text + token_piece(vocab, best);
    auto re = tokenize_with_offsets(vocab, next, false);
    gen.push_back(best);
    if (re.ids != std::vector<int32_t>(gen.begin(), gen.end()) || llama_vocab_is_eog(vocab, best)) {
      gen.pop_back();
      break;
    }
    text = next;
    ASSERT_EQ(llama_decode(ctx, llama_batch_get_one(&best, 1)), 0);
  }
  llama_free(ctx);
  llama_model_free(m);
  ASSERT_GE(gen.size(), 5u) << text;
  std::vector<rdpt::ScoreItem> items = {{prompt, text, "g"}};
  auto t = rdpt::make_llama_scorer(teacher_)->score(items);
  auto s = rdpt::make_llama_scorer(student_)->score(items);
  ASSERT_TRUE(t[0].ok() && s[0].ok());
  auto mean = [](const rdpt::ScoreResult& r) {
    double sum = 0;
    for (auto& tk : r.tokens) sum += tk.logprob;
    return sum / double(r.tokens.size());
  };
  EXPECT_GT(mean(t[0]), std::log(0.05)) << "teacher on its own greedy text";
  EXPECT_LT(mean(s[0]), mean(t[0]) - 3.0) << "student should find the teacher's text unlikely";
}

TEST_F(LlamaScorerTest, PromptFormatsAndDescribe) {
  rdpt::LlamaOptions o;
  o.template_name = "chatml";
  auto sc = rdpt::make_llama_scorer(teacher_, o);
  EXPECT_EQ(sc->format_prompt("Hi?", ""), "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(sc->format_prompt("Hi?", "Be brief."),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n");
  o.prompt_format = "[{system}] Q: {question}\nA: ";
  EXPECT_EQ(rdpt::make_llama_scorer(teacher_, o)->format_prompt("1+1", "S"), "[S] Q: 1+1\nA: ");
  // The format is substituted in one pass: a system text holding "{question}" stays as it is.
  EXPECT_EQ(rdpt::make_llama_scorer(teacher_, o)->format_prompt("1+1", "{question}"), "[{question}] Q: 1+1\nA: ");
  // An explicit empty format is the empty prompt (not "no format": the template would be used).
  o.prompt_format = "";
  auto empty = rdpt::make_llama_scorer(teacher_, o);
  EXPECT_EQ(empty->format_prompt("1+1", "S"), "");
  EXPECT_EQ(empty->describe().chat_template, "format:");
  o = {};
  o.template_name = "no-such-template-xyz";
  EXPECT_THROW(rdpt::make_llama_scorer(teacher_, o)->format_prompt("q", ""), rdpt::UsageError);
  auto info = sc->describe();
  EXPECT_EQ(info.backend, "llama");
  EXPECT_EQ(info.fingerprint, rdpt::gguf_fingerprint(teacher_));
  EXPECT_NE(info.fingerprint, rdpt::gguf_fingerprint(student_));
  EXPECT_THAT(info.tokenizer, ::testing::StartsWith("bpe:qwen2:151936"));
  EXPECT_EQ(sc->capabilities().n_vocab, 151936u);
}

TEST_F(LlamaScorerTest, BadInputs) {
  EXPECT_THROW(rdpt::make_llama_scorer("/nonexistent/model.gguf"), rdpt::Error);  // a missing file: exit 1, not 2
  std::string junk = std::string(RDPT_FIXTURE_DIR) + "/junk.gguf";
  { FILE* f = std::fopen(junk.c_str(), "wb"); std::fputs("not a gguf file", f); std::fclose(f); }
  EXPECT_THROW(rdpt::make_llama_scorer(junk), rdpt::BackendError);
  rdpt::LlamaOptions o;
  o.n_seq_max = 0;
  EXPECT_THROW(rdpt::make_llama_scorer(teacher_, o), rdpt::UsageError);
  auto sc = rdpt::make_llama_scorer(teacher_);
  EXPECT_TRUE(sc->score({}).empty());
}

// Special tokens inside a response are parsed as special (one token each), with offsets.
TEST(LlamaTokenize, SpecialTokensInResponseAreSpecial) {
  VocabOnly vo("qwen2");
  ASSERT_NE(vo.model, nullptr);
  const llama_vocab* v = vo.vocab;
  std::string text = "Done.<|im_end|>\nNext";
  auto t = tokenize_with_offsets(v, text, false);
  bool found = false;
  for (size_t k = 0; k < t.ids.size(); ++k)
    if (token_piece(v, t.ids[k]) == "<|im_end|>") {
      found = true;
      EXPECT_EQ(t.offsets[k], 5u);
      EXPECT_TRUE(llama_vocab_get_attr(v, t.ids[k]) & LLAMA_TOKEN_ATTR_CONTROL);
    }
  EXPECT_TRUE(found);
}

// Offsets round-trip on real traces for four vocabularies: each token's piece is found at its
// offset (SPM: after the inserted leading space), offsets are non-decreasing and in range.
class VocabRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabRoundTrip, OffsetsReproduceRealTraces) {
  llama_log_set(quiet_log, nullptr);
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* m = llama_model_load_from_file(vocab_path(GetParam()).c_str(), mp);
  ASSERT_NE(m, nullptr);
  const llama_vocab* v = llama_model_get_vocab(m);
  std::vector<rdpt::Record> recs;
  for (auto [file, n] : {std::pair{"r1distill_thought_anchors.jsonl.zst", 6}, {"qwen25math_cot_8samples.jsonl.zst", 6},
                         {"skyt1_distilled.part1.jsonl.zst", 3}, {"overthinking_debug.jsonl.zst", 2}}) {
    auto r = read_traces(file, size_t(n), 6000);
    recs.insert(recs.end(), r.begin(), r.end());
  }
  ASSERT_GE(recs.size(), 15u);
  size_t n_tokens = 0;
  for (const auto& rec : recs) {
    SCOPED_TRACE(rec.id);
    auto t = tokenize_with_offsets(v, rec.response, false);
    ASSERT_EQ(t.ids.size(), t.offsets.size());
    std::string rebuilt;
    const bool spm = llama_vocab_type(v) == LLAMA_VOCAB_TYPE_SPM;
    auto special = [&](int32_t id) {
      return (llama_vocab_get_attr(v, id) &
              (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED | LLAMA_TOKEN_ATTR_UNKNOWN)) != 0;
    };
    for (size_t k = 0; k < t.ids.size(); ++k) {
      ASSERT_LT(t.offsets[k], rec.response.size());
      if (k) { ASSERT_GE(t.offsets[k], t.offsets[k - 1]); }
      std::string piece = token_piece(v, t.ids[k]);
      // SPM: one inserted space on the first piece of each stretch of text, nowhere else.
      if (spm && !special(t.ids[k]) && (k == 0 || special(t.ids[k - 1]))) {
        ASSERT_EQ(piece.substr(0, 1), " ") << "token " << k;
        piece.erase(0, 1);
      }
      // Exact: every token with text starts where the text rebuilt so far ends.
      if (!piece.empty()) { ASSERT_EQ(t.offsets[k], rebuilt.size()) << "token " << k << " piece '" << piece << "'"; }
      rebuilt += piece;
    }
    ASSERT_EQ(rebuilt, rec.response);
    n_tokens += t.ids.size();
  }
  EXPECT_GT(n_tokens, 1000u);
  llama_model_free(m);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, VocabRoundTrip, ::testing::Values("qwen2", "llama-spm", "llama-bpe", "gpt-2", "phi-3"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& c : s) if (c == '-') c = '_';
                           return s;
                         });

// SPM vocabularies: llama.cpp inserts one space before each stretch of text (at the start and
// after each special token); it merges with real spaces (" x" gives the piece "  x" or "  " +
// "x"). Exactly one space comes off the first piece of each stretch, so offsets are exact:
// walking the tokens, each starts where the text rebuilt so far ends, and the pieces rebuild
// the text, less the whitespace a special token's LSTRIP/RSTRIP drops (phi-3's do).
class SpmSpaces : public ::testing::TestWithParam<std::string> {};

TEST_P(SpmSpaces, OffsetsAreExactAroundSpacesAndSpecialTokens) {
  llama_log_set(quiet_log, nullptr);
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* m = llama_model_load_from_file(vocab_path(GetParam()).c_str(), mp);
  ASSERT_NE(m, nullptr);
  const llama_vocab* v = llama_model_get_vocab(m);
  ASSERT_EQ(llama_vocab_type(v), LLAMA_VOCAB_TYPE_SPM);
  const std::string eos = token_piece(v, llama_vocab_eos(v));  // "</s>" or "<|endoftext|>"
  const std::vector<std::string> texts = {
      " \nHello.", " ", "  ", "Hi." + eos + " ", "Hi." + eos + "  Next", "A" + eos + " B" + eos + "\n\n C",
      eos + " x", eos, "x " + eos + "   ", "  two spaces first", "\tTab" + eos + "\t y", "a" + eos + eos + " b",
      "plain text", " one space", "Done.</s> \nAnd then.", "<s> x"};
  auto special = [&](int32_t id) {
    return (llama_vocab_get_attr(v, id) &
            (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED | LLAMA_TOKEN_ATTR_UNKNOWN)) != 0;
  };
  size_t n_stripped = 0, n_merged = 0;
  for (const std::string& text : texts) {
    SCOPED_TRACE("'" + text + "'");
    rdpt::llama_detail::TokenizedText t;
    try {
      t = tokenize_with_offsets(v, text, false);
    } catch (const rdpt::DataError& e) {
      ADD_FAILURE() << e.what();  // and go on with the next text
      continue;
    }
    ASSERT_EQ(t.ids.size(), t.offsets.size());
    std::string rebuilt;
    bool exact = true;
    for (size_t k = 0; k < t.ids.size() && exact; ++k) {
      SCOPED_TRACE("token " + std::to_string(k));
      std::string piece = token_piece(v, t.ids[k]);
      if (!special(t.ids[k]) && (k == 0 || special(t.ids[k - 1]))) {
        ASSERT_EQ(piece.substr(0, 1), " ") << "a stretch's first piece carries the inserted space";
        n_merged += piece.size() > 1 && piece[1] == ' ';
        piece.erase(0, 1);
      }
      const size_t at = rebuilt.size();
      if (piece.empty()) {
        EXPECT_EQ(t.offsets[k], std::min(at, text.size() - 1));
        continue;
      }
      EXPECT_EQ(t.offsets[k], at) << "piece '" << piece << "'";
      exact = text.compare(at, piece.size(), piece) == 0;
      EXPECT_TRUE(exact) << "piece '" << piece << "' at " << at;
      rebuilt += piece;
      if (special(t.ids[k]) && (llama_vocab_get_attr(v, t.ids[k]) & LLAMA_TOKEN_ATTR_RSTRIP))
        while (rebuilt.size() < text.size() && std::isspace((unsigned char)text[rebuilt.size()])) {
          rebuilt += text[rebuilt.size()];
          ++n_stripped;
        }
    }
    EXPECT_EQ(rebuilt, text);
  }
  EXPECT_GT(n_merged, 3u) << "the inserted space merged with real spaces in several texts";
  std::printf("%s: %zu first pieces held the inserted space and a real one; %zu whitespace bytes dropped by RSTRIP\n",
              GetParam().c_str(), n_merged, n_stripped);
  llama_model_free(m);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, SpmSpaces, ::testing::Values("llama-spm", "phi-3"), [](const auto& info) {
  std::string s = info.param;
  for (auto& c : s) if (c == '-') c = '_';
  return s;
});

// A BOS/EOS token written in the text (R1-Distill's template renders bos_token, which for a
// Qwen vocabulary is "<|endoftext|>", a vocabulary that adds no BOS itself) is a token of the
// text, not a textless added one: the prompts of real templates tokenize with exact offsets.
TEST(LlamaTokenize, BosWrittenInTheTextIsMatchedWhenTheVocabularyAddsNone) {
  VocabOnly vo("qwen2");
  ASSERT_NE(vo.model, nullptr);
  const llama_vocab* v = vo.vocab;
  ASSERT_FALSE(llama_vocab_get_add_bos(v));
  const std::string text = std::string(llama_vocab_get_text(v, llama_vocab_bos(v))) + "\xEF\xBD\x9CUser";
  const auto t = tokenize_with_offsets(v, text, /*add_special=*/true);
  ASSERT_GE(t.ids.size(), 2u);
  EXPECT_EQ(t.ids[0], llama_vocab_bos(v));
  EXPECT_EQ(t.offsets[0], 0u);
  EXPECT_EQ(t.offsets[1], std::string(llama_vocab_get_text(v, llama_vocab_bos(v))).size());
}

TEST(LlamaTokenize, MismatchIsADataError) {
  VocabOnly vo("llama-spm");
  ASSERT_NE(vo.model, nullptr);
  const llama_vocab* v = vo.vocab;
  auto t = tokenize_with_offsets(v, "Hello world", false);
  ASSERT_FALSE(t.ids.empty());
  EXPECT_EQ(t.offsets[0], 0u);  // " Hello" (inserted space) starts at byte 0
  // Invalid UTF-8 cannot round-trip through SPM (byte tokens are fine, but check no crash).
  EXPECT_NO_THROW(tokenize_with_offsets(v, "caf\xc3\xa9 ok", false));
}

TEST(LogSoftmax, CountGreaterIsAStrictCountAndRanksClip) {
  std::vector<float> row(100003);
  uint64_t s = 11;
  for (auto& x : row) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = float(int64_t(s >> 40) % 400) / 10.0f - 20.0f;  // many exact ties
  }
  for (size_t t : {size_t(0), size_t(5), size_t(99999), size_t(100002)}) {
    for (int64_t n : {int64_t(row.size()), int64_t(7), int64_t(1)}) {
      if (int64_t(t) >= n) continue;
      uint32_t naive = 0;
      for (int64_t v = 0; v < n; ++v) naive += row[size_t(v)] > row[t];
      EXPECT_EQ(rdpt::llama_detail::count_greater(row.data(), n, row[t]), naive) << t << " " << n;
    }
  }
  for (int32_t t : {0, 17, 50000, 100002}) {  // the fused pass gives the same log-prob and count
    uint32_t c = 0;
    EXPECT_EQ(rdpt::llama_detail::target_logprob_count(row.data(), int64_t(row.size()), t, &c),
              rdpt::llama_detail::target_logprob(row.data(), int64_t(row.size()), t));
    EXPECT_EQ(c, rdpt::llama_detail::count_greater(row.data(), int64_t(row.size()), row[size_t(t)]));
  }
  std::vector<float> ties = {1.0f, 2.0f, 2.0f, 0.5f, 2.0f};
  EXPECT_EQ(rdpt::llama_detail::count_greater(ties.data(), 5, 2.0f), 0u);  // ties do not count
  EXPECT_EQ(rdpt::llama_detail::count_greater(ties.data(), 5, 1.0f), 3u);
  EXPECT_EQ(rdpt::llama_detail::clipped_rank(0, 100), 1u);
  EXPECT_EQ(rdpt::llama_detail::clipped_rank(98, 100), 99u);
  EXPECT_EQ(rdpt::llama_detail::clipped_rank(99, 100), 100u);
  EXPECT_EQ(rdpt::llama_detail::clipped_rank(150000, 100), 100u);
  EXPECT_EQ(rdpt::llama_detail::clipped_rank(5, 1), 1u);
}

TEST(LogSoftmax, MatchesDoublePrecision) {
  std::vector<float> row(100003);
  uint64_t s = 7;
  for (auto& x : row) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = float(int64_t(s >> 40) % 4000) / 100.0f - 20.0f;
  }
  row[17] = 35.0f;
  double mx = 35.0, sum = 0;
  for (float x : row) sum += std::exp(double(x) - mx);
  const double ref = double(row[17]) - mx - std::log(sum);
  EXPECT_NEAR(rdpt::llama_detail::target_logprob(row.data(), int64_t(row.size()), 17), ref, 1e-5);
  EXPECT_NEAR(rdpt::llama_detail::target_logprob(row.data(), int64_t(row.size()), 3), double(row[3]) - mx - std::log(sum), 1e-5);
  std::vector<float> tiny = {-1000.0f, 0.0f, -1000.0f};  // very negative logits underflow cleanly
  EXPECT_NEAR(rdpt::llama_detail::target_logprob(tiny.data(), 3, 1), 0.0, 1e-6);
}

}  // namespace
