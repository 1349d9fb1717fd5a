// Local sampling on fixture models: seeded determinism, tokens that re-tokenize to themselves
// (their log-probs equal scoring the text), forced prefixes, stop strings, bad options, and the
// fast paths (prompt + prefix kept in the KV cache between calls, re-tokenization checks on a
// window) giving exactly the text and log-probs of a fresh generator checking the whole text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "rdpt/error.h"
#include "rdpt/generator.h"
#include "rdpt/scorer.h"

namespace rdpt {
namespace {

std::string fixture(const std::string& vocab, uint64_t seed) {
  namespace fs = std::filesystem;
  const std::string dir = std::string(RDPT_FIXTURE_DIR) + "/gen";
  fs::create_directories(dir);
  const std::string path = dir + "/" + vocab + "_s" + std::to_string(seed) + ".gguf";
  if (!fs::exists(path)) {
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    const std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + RDPT_LLAMA_SOURCE_DIR +
                            "/models/ggml-vocab-" + vocab + ".gguf --out " + tmp + " --seed " + std::to_string(seed) +
                            " --scale 0.5 --threads 1 > /dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture failed: " + cmd);
    fs::rename(tmp, path);  // atomic: parallel test processes never see half a file
  }
  return path;
}

LlamaOptions opts() {
  LlamaOptions o;
  o.prompt_format = "Question: {question}\nAnswer:";
  o.n_threads = 1;
  o.n_ctx = 1024;
  return o;
}

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(fixture("qwen2", 11));
    gen_ = make_llama_generator(*path_, opts()).release();
  }
  static void TearDownTestSuite() {
    delete gen_;
    delete path_;
  }
  static Generator* gen_;
  static std::string* path_;
};
Generator* GenerateTest::gen_ = nullptr;
std::string* GenerateTest::path_ = nullptr;

TEST_F(GenerateTest, SameSeedSameTextOtherSeedOtherText) {
  GenerateOptions o;
  o.n = 2;
  o.max_tokens = 24;
  o.seed = 42;
  const std::string p = gen_->format_prompt("What is 6 x 7?", "");
  auto a = gen_->generate(p, o);
  auto b = gen_->generate(p, o);
  ASSERT_EQ(a.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(a[k].response, b[k].response);
    ASSERT_EQ(a[k].tokens.size(), b[k].tokens.size());
    for (size_t t = 0; t < a[k].tokens.size(); ++t) EXPECT_EQ(a[k].tokens[t].logprob, b[k].tokens[t].logprob);
  }
  EXPECT_NE(a[0].response, a[1].response);  // samples of one call differ
  o.seed = 43;
  auto c = gen_->generate(p, o);
  EXPECT_NE(a[0].response, c[0].response);
}

TEST_F(GenerateTest, TokensRetokenizeToThemselvesAndScoreTheSame) {
  GenerateOptions o;
  o.n = 3;
  o.max_tokens = 40;
  o.seed = 7;
  o.temperature = 1.0;
  const std::string p = gen_->format_prompt("Name a colour.", "");
  auto outs = gen_->generate(p, o);
  auto sc = make_llama_scorer(*path_, opts());
  std::vector<ScoreItem> items;
  for (auto& g : outs) {
    ASSERT_TRUE(g.ok());
    ASSERT_FALSE(g.tokens.empty());
    EXPECT_LE(g.tokens.size(), 40u);
    items.push_back({p, g.response, "q"});
  }
  auto res = sc->score(items);
  for (size_t k = 0; k < outs.size(); ++k) {
    ASSERT_TRUE(res[k].ok()) << res[k].error;
    ASSERT_EQ(res[k].tokens.size(), outs[k].tokens.size()) << outs[k].response;
    for (size_t t = 0; t < outs[k].tokens.size(); ++t) {
      EXPECT_EQ(res[k].tokens[t].offset, outs[k].tokens[t].offset);
      // One-token decodes (generation) and batched decodes (scoring) take different f32
      // kernels; on this peaked random model they differ by up to ~0.01 nats.
      EXPECT_NEAR(res[k].tokens[t].logprob, outs[k].tokens[t].logprob, 0.02 + 2e-3 * std::fabs(res[k].tokens[t].logprob));
    }
  }
}

TEST_F(GenerateTest, ForcedPrefixIsContinued) {
  GenerateOptions o;
  o.max_tokens = 16;
  o.seed = 3;
  o.prefix = "<think>\nFirst, the sum.";
  const std::string p = gen_->format_prompt("Add 2 and 3.", "");
  auto g = gen_->generate(p, o)[0];
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g.response.rfind(o.prefix, 0), 0u);
  ASSERT_FALSE(g.tokens.empty());
  EXPECT_EQ(g.tokens[0].offset, o.prefix.size());
  for (size_t t = 1; t < g.tokens.size(); ++t) EXPECT_LT(g.tokens[t - 1].offset, g.tokens[t].offset);
  EXPECT_LT(g.tokens.back().offset, g.response.size());
  // Scoring the whole response gives the generated tokens after the prefix's.
  auto sc = make_llama_scorer(*path_, opts());
  std::vector<ScoreItem> items = {{p, g.response, "q"}};
  auto r = sc->score(items)[0];
  ASSERT_TRUE(r.ok());
  ASSERT_GE(r.tokens.size(), g.tokens.size());
  const size_t skip = r.tokens.size() - g.tokens.size();
  for (size_t t = 0; t < g.tokens.size(); ++t) EXPECT_EQ(r.tokens[skip + t].offset, g.tokens[t].offset);
}

TEST_F(GenerateTest, StopStringEndsTheCompletionBeforeIt) {
  GenerateOptions o;
  o.temperature = 0;  // greedy: the same text twice
  o.max_tokens = 30;
  const std::string p = gen_->format_prompt("Count.", "");
  auto full = gen_->generate(p, o)[0];
  ASSERT_GE(full.tokens.size(), 6u);
  const size_t at = full.tokens[4].offset;
  const std::string stop = full.response.substr(at, full.tokens[5].offset - at);
  o.stop = {stop};
  auto cut = gen_->generate(p, o)[0];
  EXPECT_EQ(cut.finish_reason, "stop");
  EXPECT_EQ(cut.response.find(stop), std::string::npos);
  EXPECT_EQ(full.response.rfind(cut.response, 0), 0u);  // a prefix of the greedy text
}

TEST_F(GenerateTest, BadOptionsAreUsageErrors) {
  GenerateOptions o;
  o.n = 0;
  EXPECT_THROW(gen_->generate("x", o), UsageError);
  o.n = 1;
  o.top_p = 0;
  EXPECT_THROW(gen_->generate("x", o), UsageError);
  o.top_p = 1;
  o.temperature = -1;
  EXPECT_THROW(gen_->generate("x", o), UsageError);
  o.temperature = 1;
  o.stop = {""};
  EXPECT_THROW(gen_->generate("x", o), UsageError);
  EXPECT_THROW(make_llama_generator("/nonexistent.gguf", opts()), Error);  // a missing file: exit 1, not 2
}

TEST_F(GenerateTest, TopPNarrowsTheDraws) {
  GenerateOptions o;
  o.n = 4;
  o.max_tokens = 8;
  o.seed = 9;
  o.top_p = 1e-9;  // only the most likely token survives: greedy
  const std::string p = gen_->format_prompt("Hi.", "");
  auto nucleus = gen_->generate(p, o);
  o.temperature = 0;
  o.top_p = 1;
  auto greedy = gen_->generate(p, o);
  for (size_t k = 0; k < 4; ++k) EXPECT_EQ(nucleus[k].response, greedy[0].response);
}

void expect_same(const std::vector<Generation>& a, const std::vector<Generation>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].response, b[k].response) << "sample " << k;
    EXPECT_EQ(a[k].finish_reason, b[k].finish_reason);
    EXPECT_EQ(a[k].n_rejected, b[k].n_rejected);
    ASSERT_EQ(a[k].tokens.size(), b[k].tokens.size());
    for (size_t t = 0; t < a[k].tokens.size(); ++t) {
      EXPECT_EQ(a[k].tokens[t].offset, b[k].tokens[t].offset);
      EXPECT_EQ(a[k].tokens[t].logprob, b[k].tokens[t].logprob);  // bit for bit
    }
  }
}

// rdpt_plant's pattern: each call continues the previous call's text. A generator that kept
// the earlier prompt + prefix in its KV cache (small batches, so that whole batches are reused)
// gives what a fresh generator gives for the last call, greedy and sampled, and so does a
// repeat of the same call (which reuses the cached logits).
TEST_F(GenerateTest, CachedPrefixGivesTheSameTextAsAFreshGenerator) {
  LlamaOptions lo = opts();
  lo.n_batch = 8;
  auto warm = make_llama_generator(*path_, lo);
  const std::string p = warm->format_prompt("Find the sum of 12 and 30.", "");
  GenerateOptions o;
  o.temperature = 0;
  o.max_tokens = 30;
  o.prefix = "<think>\nSo";
  std::string response;
  for (const char* start : {" Then", " Next", " Wait"}) {
    response = warm->generate(p, o)[0].response + ".";
    o.prefix = response + start;
  }
  ASSERT_GT(response.size(), 60u);
  auto cold = make_llama_generator(*path_, lo);
  for (double temp : {0.0, 1.0}) {
    o.temperature = temp;
    o.n = temp > 0 ? 3 : 1;
    o.seed = 5;
    auto a = warm->generate(p, o);
    auto b = cold->generate(p, o);
    expect_same(a, b);
    expect_same(warm->generate(p, o), b);  // the very same call again
  }
  // A shorter prefix after a longer one (the cache is cut back) and another prompt.
  o.prefix = "<think>\nSo";
  expect_same(warm->generate(p, o), make_llama_generator(*path_, lo)->generate(p, o));
  const std::string q = warm->format_prompt("Name a prime.", "");
  expect_same(warm->generate(q, o), make_llama_generator(*path_, lo)->generate(q, o));
}

// The re-tokenization check on the last N tokens' text gives what checking the whole text
// gives, also with a window of a few tokens and with sampled (less regular) text.
TEST_F(GenerateTest, WindowedRetokenizeCheckGivesTheWholeTextResult) {
  const std::string p = gen_->format_prompt("What is 7 x 8?", "");
  for (uint64_t seed : {1, 2, 3}) {
    GenerateOptions o;
    o.n = 2;
    o.seed = seed;
    o.temperature = seed == 1 ? 0.0 : 1.5;
    o.max_tokens = 60;
    o.prefix = "<think>\nFirst, multiply.";
    o.retokenize_window = 0;
    auto whole = gen_->generate(p, o);
    for (uint32_t w : {4u, 64u}) {
      o.retokenize_window = w;
      auto win = gen_->generate(p, o);
      expect_same(win, whole);
    }
  }
}

}  // namespace
}  // namespace rdpt
