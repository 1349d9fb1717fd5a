// HTTP backend: token-string matching, the engines' formats, and scoring against the fake
// engine (tests/tools/fake_engine.*) with and without injected faults.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "backends/http/http_internal.h"
#include "rdpt/error.h"
#include "rdpt/http.h"
#include "rdpt/scorer.h"
#include "rdpt/segment.h"
#include "rdpt/token_text.h"
#include "tools/fake_engine.h"

namespace rdpt {
namespace {

using http_detail::match_token_strings;
using testing::FakeApi;
using testing::FakeEngine;
using testing::Faults;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kVocab = std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/ggml-vocab-qwen2.gguf";
const std::string kFFFD = "\xEF\xBF\xBD";

// ---- token strings ---------------------------------------------------------------------

TEST(TextMatch, PlainTokensGetTheirByteOffsets) {
  std::vector<std::string> t = {"Hello", ",", " wor", "ld"};
  EXPECT_EQ(match_token_strings("Hello, world", t), (std::vector<uint32_t>{0, 5, 6, 10}));
}

TEST(TextMatch, MultiByteCharactersCountBytesNotCharacters) {
  // "é" is 2 bytes: vLLM's text_offset would say 1 for the next token, we say 2.
  std::vector<std::string> t = {"é", "t", "é"};
  EXPECT_EQ(match_token_strings("été", t), (std::vector<uint32_t>{0, 2, 3}));
}

TEST(TextMatch, TokensSplittingACharacterDecodeToReplacementAndSnapToTheCharacter) {
  // "日本" = E6 97 A5 E6 9C AC split as [E6 97][A5 E6][9C AC]: each decodes to U+FFFD.
  std::string text = "a日本b";
  std::vector<std::string> t = {"a", kFFFD, kFFFD, kFFFD, "b"};
  auto off = match_token_strings(text, t);
  ASSERT_EQ(off.size(), 5u);
  EXPECT_EQ(off[0], 0u);
  EXPECT_EQ(off[1], 1u);
  EXPECT_EQ(off[4], 7u);
  for (size_t k = 1; k < 4; ++k) {
    EXPECT_TRUE(off[k] == 1u || off[k] == 4u) << k << ": " << off[k];  // a character start
    EXPECT_LE(off[k - 1], off[k]);
  }
}

TEST(TextMatch, ReplacementNextToLiteralText) {
  std::string text = "x\xF0\x9F\xA6\x9C!";  // x + parrot emoji + !
  std::vector<std::string> t = {"x" + kFFFD, kFFFD + "!"};
  auto off = match_token_strings(text, t);
  EXPECT_EQ(off[0], 0u);
  EXPECT_EQ(off[1], 1u);  // starts inside the emoji: snapped to its first byte
}

TEST(TextMatch, LiteralReplacementCharacterInTheText) {
  std::string text = "a" + kFFFD + "b";
  std::vector<std::string> t = {"a", kFFFD, "b"};
  EXPECT_EQ(match_token_strings(text, t), (std::vector<uint32_t>{0, 1, 4}));
}

TEST(TextMatch, LeadingSpecialTokenIsZeroWidth) {
  std::vector<std::string> t = {"<|begin_of_text|>", "Hi", " there"};
  EXPECT_EQ(match_token_strings("Hi there", t), (std::vector<uint32_t>{0, 0, 2}));
}

TEST(TextMatch, MismatchThrowsNamingTheToken) {
  std::vector<std::string> t = {"Hello", " there", " world"};
  try {
    match_token_strings("Hello world", t, 0);
    FAIL() << "no throw";
  } catch (const DataError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("token 1"));
  }
  std::vector<std::string> short_t = {"Hello"};
  EXPECT_THROW(match_token_strings("Hello world", short_t, 0), DataError);
  std::vector<std::string> ascii_wild = {"a", kFFFD};
  EXPECT_THROW(match_token_strings("ab", ascii_wild, 0), DataError);  // U+FFFD never stands for ASCII
}

TEST(TextMatch, BytesEscapedTokensMatchTheirBytes) {
  // "日" = E6 97 A5 split as [E6 97][A5 'b'], each sent as "bytes:" and its bytes escaped.
  std::vector<std::string> t = {"a", "bytes:\\xe6\\x97", "bytes:\\xA5\\x62"};
  EXPECT_EQ(match_token_strings("a日b", t), (std::vector<uint32_t>{0, 1, 1}));
  // The escaped bytes of U+FFFD (a server that escapes its replacement character) are a wildcard.
  std::vector<std::string> f = {"a", "bytes:\\xef\\xbf\\xbd", "bytes:\\xef\\xbf\\xbd\\x62"};
  EXPECT_EQ(match_token_strings("a日b", f), (std::vector<uint32_t>{0, 1, 1}));
  EXPECT_EQ(token_bytes_escape("bytes:\\x41\\xc3"), std::optional<std::string>("A\xC3"));
  for (const char* lit : {"bytes:", "bytes:\\x4", "bytes:\\x41b", "bytes:\\xg1", "Bytes:\\x41", "bytes:x41\\"})
    EXPECT_FALSE(token_bytes_escape(lit).has_value()) << lit;
  std::vector<std::string> plain = {"bytes:", "x"};  // not an escape: matches itself
  EXPECT_EQ(match_token_strings("bytes:x", plain, 0), (std::vector<uint32_t>{0, 6}));
}

TEST(TextMatch, FailureNamesTheTokenAndTheByte) {
  std::vector<std::string> t = {"Hello", " there", " world"};
  TokenMatch m = place_token_strings("Hello world", t);
  EXPECT_FALSE(m.ok);
  EXPECT_EQ(m.bad_token, 1u);
  EXPECT_EQ(m.bad_at, 5u);
  std::vector<std::string> short_t = {"Hello", " wor"};
  m = place_token_strings("Hello world", short_t);
  EXPECT_FALSE(m.ok);
  EXPECT_EQ(m.bad_token, 2u);  // the tokens end before the text
  EXPECT_EQ(m.bad_at, 9u);
  m = place_token_strings("Hello world", short_t, 0, /*allow_prefix=*/true);
  ASSERT_TRUE(m.ok);
  EXPECT_EQ(m.end, 9u);
  EXPECT_EQ(m.offsets, (std::vector<uint32_t>{0, 5}));
  std::vector<std::string> bos = {"<s>", "Hello", " world"};
  m = place_token_strings("Hello world", bos, 1);
  ASSERT_TRUE(m.ok);
  EXPECT_EQ(m.n_skipped, 1u);
  EXPECT_EQ(m.offsets, (std::vector<uint32_t>{0, 0, 5}));
}

TEST(Logprob, FiniteAndAtMostZeroWithRoundingSlack) {
  EXPECT_EQ(as_logprob(-2.5), -2.5);
  EXPECT_EQ(as_logprob(0.0), 0.0);
  EXPECT_EQ(as_logprob(kLogprobSlack), 0.0);
  EXPECT_FALSE(as_logprob(3.49).has_value());
  EXPECT_FALSE(as_logprob(2 * kLogprobSlack).has_value());
  EXPECT_FALSE(as_logprob(-INFINITY).has_value());
  EXPECT_FALSE(as_logprob(NAN).has_value());
}

TEST(Utf8, ValidPrefixAndIncompleteTail) {
  EXPECT_EQ(http_detail::valid_utf8_prefix("ab\xE6\x97"), 2u);
  EXPECT_TRUE(http_detail::utf8_ok_but_tail("ab\xE6\x97"));
  EXPECT_FALSE(http_detail::utf8_ok_but_tail("ab\x97x"));
  EXPECT_FALSE(http_detail::utf8_ok_but_tail("\xC0\x80"));  // overlong
  EXPECT_TRUE(http_detail::utf8_ok_but_tail("日本"));
}

// ---- specs -----------------------------------------------------------------------------

TEST(HttpSpec, ParsesEndpointsModelAndApi) {
  auto o = parse_http_spec("http://a:8000/v1/,https://b:8000/v1#deepseek-r1");
  EXPECT_EQ(o.endpoints, (std::vector<std::string>{"http://a:8000/v1", "https://b:8000/v1"}));
  EXPECT_EQ(o.served_model, "deepseek-r1");
  EXPECT_EQ(o.api, HttpApi::OpenAI);
  auto s = parse_http_spec("sglang+http://h:30000");
  EXPECT_EQ(s.api, HttpApi::SGLang);
  EXPECT_EQ(s.endpoints, (std::vector<std::string>{"http://h:30000"}));
  EXPECT_TRUE(s.served_model.empty());
  EXPECT_THROW(parse_http_spec("ftp://x"), UsageError);
  EXPECT_THROW(parse_http_spec("http://x#"), UsageError);
  EXPECT_THROW(parse_http_spec("sglang+http://a,http://b"), UsageError);
  EXPECT_TRUE(is_http_spec("https://x/v1"));
  EXPECT_FALSE(is_http_spec("model.gguf"));
}

// ---- formats ---------------------------------------------------------------------------

TEST(Formats, OpenAIPromptLogprobsAreCheckedById) {
  std::vector<int32_t> ids = {1, 10, 11, 12};
  std::vector<uint32_t> offs = {0, 3};
  std::string body = R"({"choices":[{"prompt_logprobs":[null,{"10":{"logprob":-1.0}},{"11":{"logprob":-2.0,"rank":3}},{"12":{"logprob":-0.5}}]}]})";
  auto p = http_detail::parse_openai_score(body, ids, 2, offs);
  ASSERT_TRUE(p.error.empty()) << p.error;
  ASSERT_EQ(p.tokens.size(), 2u);
  EXPECT_EQ(p.tokens[0].offset, 0u);
  EXPECT_DOUBLE_EQ(p.tokens[0].logprob, -2.0);
  EXPECT_DOUBLE_EQ(p.tokens[1].logprob, -0.5);
  EXPECT_FALSE(p.has_ranks);  // token 12 has none
  EXPECT_EQ(p.tokens[0].rank, 3u);
  EXPECT_EQ(p.tokens[1].rank, 0u);
  std::string ranked = R"({"choices":[{"prompt_logprobs":[null,{"10":{"logprob":-1.0}},{"11":{"logprob":-2.0,"rank":3}},{"12":{"logprob":-0.5,"rank":1}}]}]})";
  auto pr = http_detail::parse_openai_score(ranked, ids, 2, offs);
  EXPECT_TRUE(pr.has_ranks);
  EXPECT_EQ(pr.tokens[1].rank, 1u);
  for (const char* bad : {"0", "-2", "1.5", "\"3\""}) {
    std::string b = R"({"choices":[{"prompt_logprobs":[null,{"10":{"logprob":-1.0}},{"11":{"logprob":-2.0,"rank":)" +
                    std::string(bad) + R"(}},{"12":{"logprob":-0.5,"rank":1}}]}]})";
    const auto pb = http_detail::parse_openai_score(b, ids, 2, offs);
    EXPECT_THAT(pb.error, HasSubstr("prompt_logprobs[2] has rank")) << bad;
    EXPECT_TRUE(pb.permanent) << "asking again gives the same answer: not retried";
  }
  std::string wrong_id = R"({"choices":[{"prompt_logprobs":[null,{"10":{"logprob":-1.0}},{"99":{"logprob":-2.0}},{"12":{"logprob":-0.5}}]}]})";
  EXPECT_THAT(http_detail::parse_openai_score(wrong_id, ids, 2, offs).error, HasSubstr("token id 11"));
  std::string short_body = R"({"choices":[{"prompt_logprobs":[null,{"10":{"logprob":-1.0}},{"11":{"logprob":-2.0}}]}]})";
  EXPECT_THAT(http_detail::parse_openai_score(short_body, ids, 2, offs).error, HasSubstr("3 entries for 4"));
  std::string plain = R"({"choices":[{"logprobs":{"tokens":["a","b","c","d"],"token_logprobs":[null,-1,-2,-3]}}]})";
  auto q = http_detail::parse_openai_score(plain, ids, 2, offs);
  ASSERT_TRUE(q.error.empty());
  EXPECT_DOUBLE_EQ(q.tokens[1].logprob, -3.0);
  EXPECT_THROW(http_detail::parse_openai_score("{\"choices\":[", ids, 2, offs), DataError);
  EXPECT_FALSE(http_detail::parse_openai_score(R"({"choices":[]})", ids, 2, offs).error.empty());
}

TEST(Formats, SGLangTakesTrailingEntriesAndChecksIds) {
  std::vector<int32_t> ids = {1, 10, 11, 12};
  std::vector<uint32_t> offs = {0, 3};
  // From logprob_start_len = 1: entries for positions 1..3, the first without a value.
  std::string body = R"({"text":"","meta_info":{"input_token_logprobs":[[null,10,null],[-2.0,11,null],[-0.5,12,null]]}})";
  auto p = http_detail::parse_sglang_score(body, ids, 2, offs);
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_DOUBLE_EQ(p.tokens[0].logprob, -2.0);
  EXPECT_DOUBLE_EQ(p.tokens[1].logprob, -0.5);
  std::string bad = R"({"meta_info":{"input_token_logprobs":[[null,10,null],[null,11,null],[-0.5,12,null]]}})";
  EXPECT_THAT(http_detail::parse_sglang_score(bad, ids, 2, offs).error, HasSubstr("no log-prob"));
  std::string swapped = R"({"meta_info":{"input_token_logprobs":[[-1,10,null],[-2.0,12,null],[-0.5,11,null]]}})";
  EXPECT_FALSE(http_detail::parse_sglang_score(swapped, ids, 2, offs).error.empty());
  std::string none = R"({"text":""})";
  EXPECT_THAT(http_detail::parse_sglang_score(none, ids, 2, offs).error, HasSubstr("meta_info"));
}

TEST(Formats, LogprobsMustBeFiniteAndAtMostZero) {
  std::vector<int32_t> ids = {1, 10, 11, 12};
  std::vector<uint32_t> offs = {0, 3};
  // Rounding above 0 by up to 1e-3 reads as 0; a clearly positive value is not a log-prob.
  std::string tiny = R"({"meta_info":{"input_token_logprobs":[[null,10,null],[0.0000004,11,null],[-0.5,12,null]]}})";
  auto p = http_detail::parse_sglang_score(tiny, ids, 2, offs);
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.tokens[0].logprob, 0.0);
  std::string positive = R"({"meta_info":{"input_token_logprobs":[[null,10,null],[0.7,11,null],[-0.5,12,null]]}})";
  EXPECT_THAT(http_detail::parse_sglang_score(positive, ids, 2, offs).error,
              HasSubstr("input_token_logprobs[1] has no log-prob (a finite number <= 0)"));
  std::string big = R"({"choices":[{"logprobs":{"token_logprobs":[null,-1,2.5,-3]}}]})";
  EXPECT_THAT(http_detail::parse_openai_score(big, ids, 2, offs).error, HasSubstr("token_logprobs[2] is not a log-prob"));
  std::string vllm = R"({"choices":[{"prompt_logprobs":[null,{"10":-1.0},{"11":{"logprob":1.5}},{"12":-0.5}]}]})";
  EXPECT_THAT(http_detail::parse_openai_score(vllm, ids, 2, offs).error, HasSubstr("no log-prob for token id 11"));
  // Text mode: a logprobs object without "tokens" is an error, not a lookup of a missing key.
  std::string no_tokens = R"({"choices":[{"logprobs":{"token_logprobs":[-1]}}]})";
  EXPECT_THAT(http_detail::parse_openai_score_text(no_tokens, "Q", "A").error, HasSubstr("logprobs.tokens"));
}

TEST(Formats, ScoreRequestsAskForPromptLogprobsWithoutGeneration) {
  std::vector<int32_t> ids = {5, 6, 7};
  auto j = nlohmann::json::parse(http_detail::openai_score_request("m", ids));
  EXPECT_EQ(j["prompt"], nlohmann::json({5, 6, 7}));
  EXPECT_EQ(j["max_tokens"], 0);
  EXPECT_EQ(j["echo"], true);
  EXPECT_EQ(j["logprobs"], 0);
  EXPECT_EQ(j["prompt_logprobs"], 0);
  EXPECT_EQ(j["model"], "m");
  auto s = nlohmann::json::parse(http_detail::sglang_score_request(ids, 2));
  EXPECT_EQ(s["input_ids"], nlohmann::json({5, 6, 7}));
  EXPECT_EQ(s["sampling_params"]["max_new_tokens"], 0);
  EXPECT_EQ(s["logprob_start_len"], 1);
  EXPECT_EQ(s["return_logprob"], true);
}

// ---- against the fake engine -----------------------------------------------------------

struct Corpus {
  std::vector<ScoreItem> items;
};

Corpus make_corpus(size_t n) {
  const char* responses[] = {
      "<think>\nLet me compute. 6 x 7 = 42.</think> The answer is \\boxed{42}.",
      "<think>\nÉtude: naïve café. Wait, check again.</think> Done.",
      "<think>\n日本語のテキスト。 Then 🦜 parrots 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 here.</think> OK.",
      "Short.",
      "<think>\nAlternatively, x = 3. Verify: 3 + 3 = 6. Yes.</think>\nSo x = 3.",
  };
  Corpus c;
  for (size_t i = 0; i < n; ++i) {
    ScoreItem it;
    it.prompt = "Q: question " + std::to_string(i % 7) + "?\nA: ";
    it.response = responses[i % 5] + std::string(i % 3 == 0 ? " Extra sentence number " + std::to_string(i) + "." : "");
    it.group = "q" + std::to_string(i % 7);
    c.items.push_back(it);
  }
  return c;
}

class HttpScorerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = testing::make_hash_model(kVocab).release(); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static HttpOptions options(const FakeEngine& e, bool tokenizer = true) {
    HttpOptions o = parse_http_spec(e.base_url() + "#fake-model");
    if (e.base_url().find("/v1") == std::string::npos) o.api = HttpApi::SGLang;
    if (tokenizer) o.tokenizer = kVocab;
    o.prompt_format = "Q: {question}\nA: ";
    o.retry_base_s = 0.001;
    o.retry_max_s = 0.01;
    o.jitter_seed = 7;
    o.concurrency = 8;
    return o;
  }
  // Expected log-probs straight from the model: prompt and response tokenized separately.
  static std::vector<TokenLogprob> expected(const ScoreItem& it) {
    static auto tok = http_detail::open_tokenizer(kVocab);
    auto p = tok->tokenize(it.prompt, true);
    auto r = tok->tokenize(it.response, false);
    std::vector<int32_t> ids = p.ids;
    ids.insert(ids.end(), r.ids.begin(), r.ids.end());
    auto lp = model_->score(ids);
    std::vector<TokenLogprob> out;
    for (size_t k = 0; k < r.ids.size(); ++k) out.push_back({r.offsets[k], lp[p.ids.size() + k]});
    return out;
  }
  static std::vector<ActionScore> by_action(const std::string& response, const std::vector<TokenLogprob>& toks) {
    return align_tokens(segment(response), toks);
  }
  static testing::FakeModel* model_;
};
testing::FakeModel* HttpScorerTest::model_ = nullptr;

void expect_same_tokens(const std::vector<TokenLogprob>& got, const std::vector<TokenLogprob>& want, double tol,
                        const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_EQ(got[k].offset, want[k].offset) << what << " token " << k;
    EXPECT_NEAR(got[k].logprob, want[k].logprob, tol) << what << " token " << k;
  }
}

TEST_F(HttpScorerTest, IdsModeMatchesTheModelForEveryEngineFormat) {
  Corpus c = make_corpus(10);
  for (FakeApi api : {FakeApi::VLLM, FakeApi::OpenAIPlain, FakeApi::SGLang}) {
    FakeEngine eng(*model_, api);
    HttpOptions o = options(eng);
    if (api == FakeApi::SGLang) o.api = HttpApi::SGLang;
    auto sc = make_http_scorer(o);
    auto res = sc->score(c.items);
    ASSERT_EQ(res.size(), c.items.size());
    for (size_t i = 0; i < res.size(); ++i) {
      ASSERT_TRUE(res[i].ok()) << int(api) << " item " << i << ": " << res[i].error;
      expect_same_tokens(res[i].tokens, expected(c.items[i]), 1e-9, "api " + std::to_string(int(api)));
      EXPECT_EQ(res[i].n_tokens_total, res[i].tokens.size());
      EXPECT_GT(res[i].n_prompt_tokens, 0u);
    }
    EXPECT_EQ(eng.n_requests.load(), c.items.size());
  }
}

// Each result reaches the caller's hook once, as its request finishes, and equals the returned one;
// an item failing before any request (an empty prompt) is handed over too.
TEST_F(HttpScorerTest, ResultsAreHandedOverAsEachFinishes) {
  Corpus c = make_corpus(12);
  c.items.push_back({"", "No prompt.", "g"});
  FakeEngine eng(*model_, FakeApi::VLLM);
  auto sc = make_http_scorer(options(eng));
  struct Count : Progress {
    uint64_t done = 0;
    void update(uint64_t d, uint64_t) override { done = d; }
  } progress;
  std::vector<uint64_t> done_at;
  std::map<size_t, ScoreResult> seen;
  const auto res = sc->score(c.items, progress, [&](size_t i, const ScoreResult& r) {
    EXPECT_TRUE(seen.emplace(i, r).second) << "item " << i << " handed over twice";
    done_at.push_back(progress.done);
  });
  ASSERT_EQ(res.size(), c.items.size());
  ASSERT_EQ(seen.size(), c.items.size());
  for (size_t k = 0; k < done_at.size(); ++k) EXPECT_EQ(done_at[k], k);  // before its own progress update
  EXPECT_FALSE(res.back().ok());
  for (size_t i = 0; i < res.size(); ++i) {
    EXPECT_EQ(seen[i].error, res[i].error) << i;
    expect_same_tokens(seen[i].tokens, res[i].tokens, 0, "item " + std::to_string(i));
  }
}

// --ranks: vLLM's rank of every response token, clipped; an answer without ranks fails the item
// (not retried); modes whose answers carry no ranks are refused up front.
TEST_F(HttpScorerTest, RanksComeFromVllmPromptLogprobsClipped) {
  Corpus c = make_corpus(6);
  FakeEngine eng(*model_, FakeApi::VLLM);
  HttpOptions o = options(eng);
  o.rank_clip = 100;
  auto sc = make_http_scorer(o);
  EXPECT_EQ(sc->capabilities().rank_clip, 100u);
  auto res = sc->score(c.items);
  size_t n = 0, n_clipped = 0;
  for (size_t i = 0; i < res.size(); ++i) {
    ASSERT_TRUE(res[i].ok()) << res[i].error;
    const auto want = expected(c.items[i]);
    ASSERT_EQ(res[i].tokens.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k, ++n) {
      EXPECT_EQ(res[i].tokens[k].rank, std::min<uint32_t>(testing::fake_rank(want[k].logprob), 100)) << i << " " << k;
      n_clipped += res[i].tokens[k].rank == 100;
    }
  }
  EXPECT_GT(n_clipped, 0u);
  EXPECT_LT(n_clipped, n);

  FakeEngine plain(*model_, FakeApi::OpenAIPlain);  // echo + logprobs: no ranks
  HttpOptions op = options(plain);
  op.rank_clip = 100;
  auto r2 = make_http_scorer(op)->score(c.items);
  EXPECT_THAT(r2[0].error, HasSubstr("carries no token ranks"));
  EXPECT_EQ(plain.n_requests.load(), c.items.size()) << "not retried";

  FakeEngine sg(*model_, FakeApi::SGLang);
  HttpOptions os = options(sg);
  os.api = HttpApi::SGLang;
  os.rank_clip = 100;
  EXPECT_THROW(make_http_scorer(os), UsageError);
  HttpOptions ot = options(eng, /*tokenizer=*/false);  // text mode
  ot.rank_clip = 100;
  EXPECT_THROW(make_http_scorer(ot), UsageError);
}

TEST_F(HttpScorerTest, SomeTokensSplitACharacter) {
  // The corpus exercises tokens that start inside a multi-byte character.
  Corpus c = make_corpus(5);
  auto want = expected(c.items[2]);
  bool inside = false;
  for (auto& t : want) inside |= (static_cast<unsigned char>(c.items[2].response[t.offset]) & 0xC0) == 0x80;
  EXPECT_TRUE(inside) << "vocabulary no longer splits the test characters; pick rarer ones";
}

TEST_F(HttpScorerTest, TextModeGivesTheSameActionScores) {
  Corpus c = make_corpus(10);
  for (FakeApi api : {FakeApi::VLLM, FakeApi::SGLang}) {
    FakeEngine eng(*model_, api);
    HttpOptions o = options(eng, /*tokenizer=*/false);
    if (api == FakeApi::SGLang) o.api = HttpApi::SGLang;
    auto sc = make_http_scorer(o);
    EXPECT_EQ(sc->describe().tokenizer, "server");
    // Text mode tokenizes prompt + response together: with a prompt ending in a newline the
    // boundary does not merge tokens, so the result equals separate tokenization.
    for (auto& it : c.items) it.prompt.back() = '\n';
    auto res = sc->score(c.items);
    for (size_t i = 0; i < res.size(); ++i) {
      ASSERT_TRUE(res[i].ok()) << res[i].error;
      auto want = expected(c.items[i]);
      ASSERT_EQ(res[i].tokens.size(), want.size()) << "item " << i;
      EXPECT_EQ(by_action(c.items[i].response, res[i].tokens), by_action(c.items[i].response, want)) << "item " << i;
    }
  }
}

TEST_F(HttpScorerTest, FaultsEndScoredOrFailedAndARerunCompletesToTheFaultFreeResult) {
  Corpus c = make_corpus(60);
  c.items[17].response += " POISON";
  FakeEngine eng(*model_, FakeApi::VLLM);
  ::setenv("RDPT_TEST_HTTP_KEY", "sk-secret-123456", 1);
  eng.set_required_key("sk-secret-123456");
  Faults f;
  f.p_500 = 0.08;
  f.p_429 = 0.08;
  f.p_malformed = 0.05;
  f.p_wrong_length = 0.05;
  f.p_drop = 0.05;
  f.p_slow = 0.03;
  f.slow_s = 0.02;
  f.poison = "POISON";
  f.seed = 3;
  eng.set_faults(f);
  HttpOptions o = options(eng);
  o.api_key_env = "RDPT_TEST_HTTP_KEY";
  o.max_retries = 4;
  std::vector<std::string> logged;
  o.log = [&](LogLevel, std::string_view m) { logged.emplace_back(m); };
  auto sc = make_http_scorer(o);
  auto first = sc->score(c.items);
  ASSERT_EQ(first.size(), c.items.size());
  size_t n_failed = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    if (first[i].ok()) {
      expect_same_tokens(first[i].tokens, expected(c.items[i]), 1e-9, "item " + std::to_string(i));
    } else {
      ++n_failed;
      EXPECT_TRUE(first[i].tokens.empty());
      EXPECT_THAT(first[i].error, Not(HasSubstr("sk-secret")));
    }
  }
  EXPECT_FALSE(first[17].ok());
  EXPECT_THAT(first[17].error, HasSubstr("HTTP 500"));
  EXPECT_GT(eng.n_faults.load(), 5u);
  EXPECT_GE(n_failed, 1u);
  EXPECT_FALSE(logged.empty());
  for (const auto& l : logged) EXPECT_THAT(l, Not(HasSubstr("sk-secret")));
  // Five retries are shown one by one, the rest counted in one line (not a line per retry).
  size_t one_by_one = 0, counted = 0;
  for (const auto& l : logged) {
    one_by_one += l.starts_with("retrying in ");
    counted += l.find(" more retries (") != std::string::npos;
  }
  EXPECT_EQ(one_by_one, 5u);
  EXPECT_EQ(counted, 1u);
  EXPECT_THAT(logged[4], HasSubstr("further retries are counted once a minute"));
  EXPECT_THAT(sc->describe().info_json, Not(HasSubstr("sk-secret")));

  // Rerun the failed ones without faults: the union equals a fault-free run.
  eng.set_faults(Faults{});
  std::vector<ScoreItem> again;
  std::vector<size_t> where;
  for (size_t i = 0; i < first.size(); ++i)
    if (!first[i].ok()) {
      again.push_back(c.items[i]);
      where.push_back(i);
    }
  auto second = sc->score(again);
  for (size_t k = 0; k < second.size(); ++k) {
    ASSERT_TRUE(second[k].ok()) << second[k].error;
    first[where[k]] = second[k];
  }
  auto clean = sc->score(c.items);
  for (size_t i = 0; i < clean.size(); ++i) {
    ASSERT_TRUE(clean[i].ok());
    expect_same_tokens(first[i].tokens, clean[i].tokens, 0.0, "item " + std::to_string(i));
  }
}

TEST_F(HttpScorerTest, TimeoutsAreRetriedThenReported) {
  Corpus c = make_corpus(2);
  FakeEngine eng(*model_, FakeApi::VLLM);
  Faults f;
  f.p_slow = 1.0;
  f.slow_s = 0.6;
  eng.set_faults(f);
  HttpOptions o = options(eng);
  o.timeout_s = 0.15;
  o.max_retries = 1;
  auto res = make_http_scorer(o)->score(c.items);
  for (auto& r : res) {
    EXPECT_FALSE(r.ok());
    EXPECT_THAT(r.error, HasSubstr("imeout"));
    EXPECT_THAT(r.error, HasSubstr("after 2 attempts"));
  }
}

TEST_F(HttpScorerTest, ClientErrorsAreNotRetriedAndTheKeyIsNotShown) {
  Corpus c = make_corpus(3);
  FakeEngine eng(*model_, FakeApi::VLLM);
  eng.set_required_key("the-right-key");
  ::setenv("RDPT_TEST_HTTP_KEY2", "wrong-key-98765", 1);
  HttpOptions o = options(eng);
  o.api_key_env = "RDPT_TEST_HTTP_KEY2";
  auto res = make_http_scorer(o)->score(c.items);
  for (auto& r : res) {
    EXPECT_THAT(r.error, HasSubstr("HTTP 401"));
    EXPECT_THAT(r.error, Not(HasSubstr("wrong-key")));
  }
  EXPECT_EQ(eng.n_requests.load(), 3u);  // no retries
  ::unsetenv("RDPT_TEST_HTTP_UNSET");
  o.api_key_env = "RDPT_TEST_HTTP_UNSET";
  EXPECT_THROW(make_http_scorer(o), UsageError);
}

TEST_F(HttpScorerTest, RefusedConnectionsFailEveryItem) {
  Corpus c = make_corpus(3);
  HttpOptions o;
  o.endpoints = {"http://127.0.0.1:1"};
  o.max_retries = 1;
  o.retry_base_s = 0.001;
  o.prompt_format = "{question}";
  auto res = make_http_scorer(o)->score(c.items);
  for (auto& r : res) EXPECT_THAT(r.error, HasSubstr("127.0.0.1:1"));
}

TEST_F(HttpScorerTest, SeveralEndpointsShareTheWork) {
  Corpus c = make_corpus(20);
  FakeEngine a(*model_, FakeApi::VLLM), b(*model_, FakeApi::VLLM);
  HttpOptions o = options(a);
  o.endpoints.push_back(b.base_url());
  auto sc = make_http_scorer(o);
  auto res = sc->score(c.items);
  for (auto& r : res) EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(a.n_requests + b.n_requests, 20u);
  EXPECT_GE(a.n_requests.load(), 5u);
  EXPECT_GE(b.n_requests.load(), 5u);
  // The fingerprint names endpoints (sorted), model and tokenizer; no secrets.
  auto m = sc->describe();
  EXPECT_THAT(m.fingerprint, HasSubstr("#fake-model"));
  EXPECT_THAT(m.fingerprint, HasSubstr("gguf:"));
  EXPECT_EQ(m.backend, "http-openai");
  // A generator of the same served model describes it alike (one rdpt::describe_model), whatever
  // the endpoints' order.
  HttpOptions reversed = o;
  std::reverse(reversed.endpoints.begin(), reversed.endpoints.end());
  const ModelInfo g = make_http_generator(reversed)->describe();
  EXPECT_EQ(g.backend, m.backend);
  EXPECT_EQ(g.location, m.location);
  EXPECT_EQ(g.fingerprint, m.fingerprint);
  EXPECT_EQ(g.tokenizer, m.tokenizer);
}

TEST_F(HttpScorerTest, EmptyResponseAndEmptyBatch) {
  FakeEngine eng(*model_, FakeApi::VLLM);
  auto sc = make_http_scorer(options(eng));
  EXPECT_TRUE(sc->score(std::vector<ScoreItem>{}).empty());
  std::vector<ScoreItem> items = {{"Q: x?\nA: ", "", "g"}};
  auto res = sc->score(items);
  ASSERT_TRUE(res[0].ok()) << res[0].error;
  EXPECT_TRUE(res[0].tokens.empty());
}

TEST_F(HttpScorerTest, GeneratorReturnsPrefixedResponsesWithTokenOffsets) {
  for (FakeApi api : {FakeApi::VLLM, FakeApi::SGLang}) {
    FakeEngine eng(*model_, api);
    HttpOptions o = options(eng, false);
    if (api == FakeApi::SGLang) o.api = HttpApi::SGLang;
    auto gen = make_http_generator(o);
    GenerateOptions g;
    g.n = 3;
    g.max_tokens = 12;
    g.seed = 5;
    g.prefix = "Sure. ";
    auto outs = gen->generate(gen->format_prompt("What is 6 x 7?", ""), g);
    ASSERT_EQ(outs.size(), 3u);
    for (auto& s : outs) {
      ASSERT_TRUE(s.ok()) << s.error;
      EXPECT_EQ(s.response.rfind("Sure. ", 0), 0u);
      ASSERT_FALSE(s.tokens.empty());
      EXPECT_EQ(s.tokens[0].offset, 6u);
      for (size_t k = 1; k < s.tokens.size(); ++k) EXPECT_LE(s.tokens[k - 1].offset, s.tokens[k].offset);
      EXPECT_LT(s.tokens.back().offset, s.response.size());
      EXPECT_EQ(s.finish_reason, "length");
    }
  }
}

// A real (tiny) model served over HTTP scores like the same model scored locally.
// A tiny qwen2 fixture model (built once, shared by the tests that serve it).
std::string served_fixture() {
  namespace fs = std::filesystem;
  fs::create_directories(RDPT_FIXTURE_DIR);
  const std::string path = std::string(RDPT_FIXTURE_DIR) + "/served_qwen2_s5.gguf";
  if (!fs::exists(path)) {
    const std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + kVocab + " --out " + path + ".tmp" +
                            std::to_string(::getpid()) + " --seed 5 --scale 0.5 --threads 1 > /dev/null 2>&1 && mv " +
                            path + ".tmp" + std::to_string(::getpid()) + " " + path;  // per-process part, atomic mv
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  return path;
}

TEST_F(HttpScorerTest, ServedFixtureModelMatchesLocalLlamaScoring) {
  const std::string path = served_fixture();
  auto served = testing::make_llama_model(path);
  FakeEngine eng(*served, FakeApi::VLLM);
  HttpOptions o = options(eng);
  o.tokenizer = path;  // a full GGUF also works as the vocabulary
  auto remote = make_http_scorer(o);
  LlamaOptions lo;
  lo.prompt_format = "Q: {question}\nA: ";
  lo.n_threads = 1;
  lo.n_ctx = 2048;
  auto local = make_llama_scorer(path, lo);
  Corpus c = make_corpus(5);
  auto r = remote->score(c.items);
  auto l = local->score(c.items);
  for (size_t i = 0; i < c.items.size(); ++i) {
    ASSERT_TRUE(r[i].ok()) << r[i].error;
    ASSERT_TRUE(l[i].ok()) << l[i].error;
    // Different batch layouts on the two sides round differently in f32 (peaked logits of
    // magnitude ~30): compare with a relative tolerance.
    ASSERT_EQ(r[i].tokens.size(), l[i].tokens.size());
    for (size_t k = 0; k < r[i].tokens.size(); ++k) {
      EXPECT_EQ(r[i].tokens[k].offset, l[i].tokens[k].offset);
      EXPECT_NEAR(r[i].tokens[k].logprob, l[i].tokens[k].logprob, 2e-3 + 1e-3 * std::fabs(l[i].tokens[k].logprob));
    }
  }
  EXPECT_EQ(remote->format_prompt("hi", ""), local->format_prompt("hi", ""));
}

// A served model with --tokenizer renders its prompt with the chat template (here QwQ-32B's,
// from llama.cpp's models/templates/) and sends token ids: the ids the server receives are the
// local scorer's prompt tokens followed by the response's, and both render the same text.
TEST_F(HttpScorerTest, TokenIdsSentEqualTheLocalRendering) {
  const std::string path = served_fixture();
  std::ifstream in(std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/templates/Qwen-QwQ-32B.jinja", std::ios::binary);
  JinjaOptions jinja;
  jinja.text.assign(std::istreambuf_iterator<char>(in), {});
  jinja.origin = "file 'Qwen-QwQ-32B.jinja'";
  jinja.kwargs = R"({"enable_thinking": true})";
  ASSERT_FALSE(jinja.text.empty());
  auto served = testing::make_llama_model(path);
  FakeEngine eng(*served, FakeApi::VLLM);
  HttpOptions o = options(eng);
  o.tokenizer = path;
  o.prompt_format.reset();  // options() gives a raw format; this test renders the template
  o.jinja = jinja;
  auto remote = make_http_scorer(o);
  LlamaOptions lo;
  lo.jinja = jinja;
  lo.n_threads = 1;
  lo.n_ctx = 2048;
  auto local = make_llama_scorer(path, lo);
  const std::string prompt = local->format_prompt("What is 1+1? Réponds.", "Be brief.");
  EXPECT_EQ(remote->format_prompt("What is 1+1? Réponds.", "Be brief."), prompt);
  EXPECT_TRUE(prompt.ends_with("<|im_start|>assistant\n<think>\n")) << prompt;
  EXPECT_EQ(remote->describe().chat_template, local->describe().chat_template);
  std::vector<ScoreItem> items = {{prompt, "Okay, two.", ""}};
  auto r = remote->score(items);
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  auto vocab = testing::make_llama_model(path);
  std::vector<int32_t> want = vocab->tokenize(prompt, true);
  const std::vector<int32_t> resp = vocab->tokenize("Okay, two.", false);
  want.insert(want.end(), resp.begin(), resp.end());
  const auto bodies = eng.bodies();
  ASSERT_FALSE(bodies.empty());
  const nlohmann::json sent = nlohmann::json::parse(bodies.back());
  ASSERT_TRUE(sent.at("prompt").is_array()) << bodies.back().substr(0, 200);
  EXPECT_EQ(sent.at("prompt").get<std::vector<int32_t>>(), want);
  EXPECT_EQ(r[0].n_prompt_tokens, vocab->tokenize(prompt, true).size());
}

// Without a tokenizer and without a prompt choice, the served model renders its own prompt
// (vLLM's /tokenize with the messages): rdpt sends those ids followed by the response's, and
// scores like the same model scored locally on the same rendering.
TEST_F(HttpScorerTest, ServerRendersThePromptWhenNoTokenizerIsGiven) {
  const std::string path = served_fixture();
  auto served = testing::make_llama_model(path);
  FakeEngine eng(*served, FakeApi::VLLM);
  HttpOptions o = options(eng, /*tokenizer=*/false);
  o.prompt_format.reset();
  o.jinja.kwargs = R"({"enable_thinking": true})";
  auto remote = make_http_scorer(o);
  const std::string prompt = remote->format_prompt("What is 1+1?", "Be brief.");
  EXPECT_EQ(prompt,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
            "<think>\n");
  EXPECT_EQ(remote->describe().chat_template, R"(server:vllm /tokenize kwargs={"enable_thinking":true})");
  LlamaOptions lo;
  lo.prompt_format = PromptFormat(prompt);  // the same text, tokenized locally
  lo.n_threads = 1;
  lo.n_ctx = 2048;
  auto local = make_llama_scorer(path, lo);
  std::vector<ScoreItem> items = {{prompt, "Okay, one plus one is two. Réponse : 2.", ""}};
  auto r = remote->score(items);
  auto l = local->score(items);
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  ASSERT_TRUE(l[0].ok()) << l[0].error;
  EXPECT_EQ(r[0].n_prompt_tokens, l[0].n_prompt_tokens);
  ASSERT_EQ(r[0].tokens.size(), l[0].tokens.size());
  for (size_t k = 0; k < r[0].tokens.size(); ++k) {
    EXPECT_EQ(r[0].tokens[k].offset, l[0].tokens[k].offset);
    EXPECT_NEAR(r[0].tokens[k].logprob, l[0].tokens[k].logprob, 2e-3 + 1e-3 * std::fabs(l[0].tokens[k].logprob));
  }
  // The ids sent are the server's rendering followed by the response's own tokens.
  bool saw_tokenize = false;
  for (const auto& b : eng.bodies()) saw_tokenize = saw_tokenize || b.find("\"messages\"") != std::string::npos;
  EXPECT_TRUE(saw_tokenize);
  // A prompt this scorer did not render fails its pair, never a silent guess.
  auto bad = remote->score(std::vector<ScoreItem>{{"Q: x\nA: ", "y", ""}});
  EXPECT_FALSE(bad[0].ok());
  EXPECT_NE(bad[0].error.find("not rendered by this scorer"), std::string::npos) << bad[0].error;
  // SGLang has no /tokenize: without a tokenizer or a prompt choice the server model has no prompt.
  FakeEngine sg(*served, FakeApi::SGLang);
  HttpOptions so = options(sg, /*tokenizer=*/false);
  so.prompt_format.reset();
  auto sgl = make_http_scorer(so);
  EXPECT_THROW(sgl->format_prompt("q", ""), UsageError);
}

// Rendering the prompt on the server: a server that answers without vLLM's /tokenize gets the hint
// to give a tokenizer or a prompt; a server that does not answer at all is said to be unreachable.
TEST_F(HttpScorerTest, ServerRenderingFailuresSayWhatToCheck) {
  auto message = [](const HttpOptions& o) -> std::string {
    try {
      make_http_scorer(o)->format_prompt("q", "");
    } catch (const BackendError& e) {
      return e.what();
    }
    return "(no error)";
  };
  FakeEngine plain(*model_, FakeApi::OpenAIPlain);  // /tokenize: HTTP 404
  HttpOptions o = options(plain, /*tokenizer=*/false);
  o.prompt_format.reset();
  std::string m = message(o);
  EXPECT_NE(m.find("HTTP 404"), std::string::npos) << m;
  EXPECT_NE(m.find("needs --tokenizer NAME=vocab.gguf"), std::string::npos) << m;
  EXPECT_EQ(m.find("no answer from the server"), std::string::npos) << m;
  std::string base;
  {
    FakeEngine gone(*model_, FakeApi::VLLM);  // a port nothing listens on once it is closed
    base = gone.base_url();
  }
  HttpOptions g = parse_http_spec(base + "#fake-model");
  g.retry_base_s = 0.001;
  g.retry_max_s = 0.01;
  g.max_retries = 1;
  m = message(g);
  EXPECT_NE(m.find("no answer from the server: check the host and port, and that it is up"), std::string::npos) << m;
  EXPECT_EQ(m.find("--tokenizer"), std::string::npos) << m;
}

}  // namespace
}  // namespace rdpt
