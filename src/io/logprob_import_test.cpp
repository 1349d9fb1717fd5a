// The log-prob line formats of rdpt import, parsed directly (the CLI tests run them end to end).
#include "rdpt/logprob_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rdpt/token_text.h"

namespace rdpt {
namespace {

using ::testing::HasSubstr;

std::vector<uint32_t> offsets(const ImportedTokens& t) {
  std::vector<uint32_t> out;
  for (const auto& x : t.tokens) out.push_back(x.offset);
  return out;
}

// The reason and message of the error a line raises (placed on `response`).
std::pair<std::string, std::string> error_of(const std::string& line, const std::string& response = "",
                                             OffsetUnit unit = OffsetUnit::Auto) {
  try {
    LogprobLine(line).tokens(response, unit);
  } catch (const LogprobLineError& e) {
    return {e.reason, e.what()};
  }
  return {};
}

TEST(LogprobLine, Ids) {
  EXPECT_EQ(LogprobLine(R"({"id": "a-1"})").id(), "a-1");
  EXPECT_EQ(LogprobLine(R"({"id": 17})").id(), "17");
  EXPECT_EQ(error_of("{").first, "invalid JSON");
  EXPECT_EQ(error_of("[1]").first, "not an object");
  EXPECT_EQ(error_of(R"({"x": 1})").first, "missing field 'id'");
  EXPECT_EQ(error_of(R"({"id": [1]})").first, "bad field 'id'");
}

TEST(LogprobLine, TokenTexts) {
  LogprobLine l(R"({"id": "a", "tokens": ["Hi", " th", "ere", "!"], "logprobs": [-0.5, -1, 0.0004, -2]})");
  ImportedTokens t = l.tokens("Hi there!");
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 2, 5, 8}));
  EXPECT_DOUBLE_EQ(t.tokens[2].logprob, 0.0);  // within kLogprobSlack of 0
  EXPECT_FALSE(t.truncated);
  EXPECT_EQ(t.unit_used, OffsetUnit::Bytes);
  EXPECT_FALSE(t.n_tokens_total);
}

// A token holding part of a character comes as U+FFFD (vLLM) or "bytes:\xNN" (OpenAI); both
// are placed as the HTTP backend places them (one matcher, rdpt::place_token_strings).
TEST(LogprobLine, SplitCharacterAsTheHttpBackendPlacesIt) {
  const std::string response = "Caf\xC3\xA9 ok";
  const std::vector<std::string> toks = {"Caf", "\xEF\xBF\xBD", "\xEF\xBF\xBD", " ok"};
  LogprobLine l(R"({"id": "a", "tokens": ["Caf", "\ufffd", "bytes:\\xa9", " ok"], "logprobs": [-1, -2, -3, -4]})");
  ImportedTokens t = l.tokens(response);
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 3, 3, 5}));
  EXPECT_EQ(offsets(t), place_token_strings(response, toks).offsets);
}

// /v1/chat/completions log-probs (vLLM, OpenAI): each entry's "bytes" are the token's exact
// bytes (its "token" reads U+FFFD for part of a character); without them, the token string.
TEST(LogprobLine, ChatCompletionsShape) {
  const std::string response = "Caf\xC3\xA9 ok";
  LogprobLine l(R"({"id": "a", "logprobs": {"content": [)"
                R"({"token": "Caf", "logprob": -1, "bytes": [67, 97, 102], "top_logprobs": []},)"
                R"({"token": "\ufffd", "logprob": -2, "bytes": [195]},)"
                R"({"token": "\ufffd", "logprob": -3, "bytes": [169]},)"
                R"({"token": " ok", "logprob": -4, "bytes": null}]}})");
  ImportedTokens t = l.tokens(response);
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 3, 3, 5}));
  EXPECT_DOUBLE_EQ(t.tokens[3].logprob, -4.0);
  EXPECT_THAT(error_of(R"({"id": "a", "logprobs": {"content": [{"token": "x"}]}})", "x").second,
              HasSubstr("logprobs.content[0] must be an object with 'token' and 'logprob'"));
  EXPECT_THAT(error_of(R"({"id": "a", "logprobs": {"content": [{"token": "Cab", "logprob": -1}]}})", "Caf").second,
              HasSubstr("does not match the response at byte 0"));
}

// A sampler whose prompt opened the thought (R1, QwQ) never produced the stored "<think>": its
// tokens are placed after it (and after the whitespace that follows it), the tag left unscored.
TEST(LogprobLine, TokensAfterAThoughtThePromptOpened) {
  LogprobLine l(R"({"id": "a", "tokens": ["Hm", ".", "</think>", "2"], "logprobs": [-1, -2, -3, -4]})");
  EXPECT_EQ(offsets(l.tokens("<think>Hm.</think>2")), (std::vector<uint32_t>{7, 9, 10, 18}));
  EXPECT_EQ(offsets(l.tokens("<think>\nHm.</think>2")), (std::vector<uint32_t>{8, 10, 11, 19}));
  LogprobLine nl(R"({"id": "a", "tokens": ["\n", "Hm", ".", "</think>", "2"], "logprobs": [-1, -2, -3, -4, -5]})");
  EXPECT_EQ(offsets(nl.tokens("<think>\nHm.</think>2")), (std::vector<uint32_t>{7, 8, 10, 11, 19}));
  // A prompt ending "<think>\n" before a response "<think>\n\n...": the tokens start at the second newline.
  EXPECT_EQ(offsets(nl.tokens("<think>\n\nHm.</think>2")), (std::vector<uint32_t>{8, 9, 11, 12, 20}));
  // Once the first token fits after the tag, the line's own errors are reported, not a mismatch at byte 0.
  EXPECT_THAT(error_of(R"({"id": "a", "tokens": ["Hm", ".", "</think>", "2"], "logprobs": [-1, 5, -1, -1]})",
                       "<think>Hm.</think>2")
                  .second,
              HasSubstr("logprobs[1] = 5 is not a log-prob"));
  // Byte numbers are the whole response's, and the message says where the tokens were placed.
  EXPECT_THAT(error_of(R"({"id": "a", "tokens": ["Hm", ".", "X", "</think>"], "logprobs": [-1, -1, -1, -1]})",
                       "<think>Hm. Ok.</think>")
                  .second,
              HasSubstr("token 2 \"X\" does not match the response at byte 10 (which has \" \") (placed after the "
                        "response's leading <think> and 0 bytes of whitespace"));
  EXPECT_THAT(error_of(R"({"id": "a", "tokens": ["Hm", ".", " Ok", "."], "logprobs": [-1, -1, -1, -1]})",
                       "<think>Hm. Ok.</think>")
                  .second,
              HasSubstr("the tokens end at byte 14 of the 22-byte response"));
  // A first token standing for part of a character, or a BOS matching nothing, still finds its start.
  LogprobLine part(R"({"id": "a", "tokens": ["\ufffd", "\ufffd", " ok"], "logprobs": [-1, -2, -3]})");
  EXPECT_EQ(offsets(part.tokens("<think>\n\xC3\xA9 ok")), (std::vector<uint32_t>{8, 8, 10}));
  LogprobLine bos(R"({"id": "a", "logprobs": {"tokens": ["<s>", "Hm", "."], "token_logprobs": [null, -1, -2]}})");
  ImportedTokens b = bos.tokens("<think>\nHm.");
  EXPECT_EQ(offsets(b), (std::vector<uint32_t>{8, 10}));
  EXPECT_EQ(b.n_prompt, 1u);
  // Only a leading "<think>" is passed over: other mismatches stay errors.
  EXPECT_EQ(error_of(R"({"id": "a", "tokens": ["Hm"], "logprobs": [-1]})", "<answer>Hm").first, "token text mismatch");
  EXPECT_EQ(error_of(R"({"id": "a", "tokens": ["Ho"], "logprobs": [-1]})", "<think>Hm").first, "token text mismatch");
}

TEST(LogprobLine, PromptTokensDropped) {
  LogprobLine l(R"({"id": "a", "prompt": "Q? ", "tokens": ["Q", "? ", "A", "."], "logprobs": [null, -1, -2, -3]})");
  ImportedTokens t = l.tokens("A.");
  EXPECT_EQ(t.n_prompt, 2u);
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 1}));
  // Only prompt tokens may lack a log-prob.
  auto [reason, msg] = error_of(R"({"id": "a", "tokens": ["A", "."], "logprobs": [-1, null]})", "A.");
  EXPECT_EQ(reason, "null log-prob");
  EXPECT_THAT(msg, HasSubstr("logprobs[1] is null for a token of the response (byte 1)"));
}

TEST(LogprobLine, TokenTextMismatch) {
  auto [reason, msg] = error_of(R"({"id": "a", "tokens": ["Hi", " yo"], "logprobs": [-1, -1]})", "Hi there");
  EXPECT_EQ(reason, "token text mismatch");
  EXPECT_THAT(msg, HasSubstr("token 1 \" yo\" does not match the response at byte 2"));
  // Tokens ending early: only a truncated line may.
  std::tie(reason, msg) = error_of(R"({"id": "a", "tokens": ["Hi"], "logprobs": [-1]})", "Hi there");
  EXPECT_THAT(msg, HasSubstr("the tokens end at byte 2 of the 8-byte response"));
  ImportedTokens t = LogprobLine(R"({"id": "a", "tokens": ["Hi"], "logprobs": [-1], "truncated": true,
                                     "n_tokens_total": 9})")
                         .tokens("Hi there");
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.covered_end, 2u);
  EXPECT_EQ(t.n_tokens_total, 9u);
}

TEST(LogprobLine, Offsets) {
  const std::string response = "\xC3\xA9t\xC3\xA9";  // "été": 5 bytes, 3 characters
  ImportedTokens t = LogprobLine(R"({"id": "a", "offsets": [0, 2], "logprobs": [-1, -2]})").tokens(response);
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(t.unit_used, OffsetUnit::Bytes);
  t = LogprobLine(R"({"id": "a", "offsets": [0, 1, 2], "logprobs": [-1, -2, -3]})").tokens(response, OffsetUnit::Chars);
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(t.unit_used, OffsetUnit::Chars);
  auto [reason, msg] = error_of(R"({"id": "a", "offsets": [1], "logprobs": [-1]})", response);
  EXPECT_EQ(reason, "offset inside a character");
  EXPECT_THAT(msg, HasSubstr("offsets[0] = 1 points inside a multi-byte UTF-8 character (byte 1 of the response)"));
  std::tie(reason, msg) = error_of(R"({"id": "a", "offsets": [9], "logprobs": [-1]})", response);
  EXPECT_EQ(reason, "offset out of range");
  std::tie(reason, msg) = error_of(R"({"id": "a", "offsets": [0, 1], "logprobs": [-1]})", response);
  EXPECT_EQ(reason, "length mismatch");
  std::tie(reason, msg) = error_of(R"({"id": "a", "offsets": [0], "logprobs": [0.5]})", response);
  EXPECT_EQ(reason, "bad log-prob");
}

TEST(LogprobLine, OpenAiShape) {
  // text_offset counts characters by default, from the start of "text" (prompt + response).
  const std::string line =
      R"({"id": "a", "text": "Q: \u00e9t\u00e9", "logprobs": {"token_logprobs": [null, -1, -2],)"
      R"( "text_offset": [0, 3, 4]}})";
  ImportedTokens t = LogprobLine(line).tokens("\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(t.n_prompt, 1u);
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(t.unit_used, OffsetUnit::Chars);
  // With tokens, the texts are placed and text_offset is not read.
  t = LogprobLine(R"({"id": "a", "logprobs": {"tokens": ["<s>", "ab", "c"], "token_logprobs": [null, -1, -2],)"
                  R"( "text_offset": [7, 7, 7]}})")
          .tokens("abc");
  EXPECT_EQ(t.n_prompt, 1u);  // the leading BOS matches nothing
  EXPECT_EQ(offsets(t), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(error_of(R"({"id": "a", "text": "x", "logprobs": {"token_logprobs": []}})", "abc").first,
            "text mismatch");
  EXPECT_EQ(error_of(R"({"id": "a", "something": 1})").first, "unknown shape");
}

// "ranks": one per log-prob entry, kept for the response's tokens (prompt entries may be null);
// every shape reads them, under a renamed field too.
TEST(LogprobLine, RanksGoWithTheirTokens) {
  ImportedTokens t = LogprobLine(R"({"id": "a", "prompt": "Q? ", "tokens": ["Q", "? ", "A", "."],)"
                                 R"( "logprobs": [null, -1, -2, -3], "ranks": [null, 4, 1, 250]})")
                         .tokens("A.");
  ASSERT_TRUE(t.has_ranks);
  ASSERT_EQ(t.tokens.size(), 2u);
  EXPECT_EQ(t.tokens[0].rank, 1u);
  EXPECT_EQ(t.tokens[1].rank, 250u);  // unclipped here; the import clips
  t = LogprobLine(R"({"id": "a", "offsets": [0, 1], "logprobs": [-1, -2], "ranks": [3, 2]})").tokens("A.");
  EXPECT_EQ(t.tokens[1].rank, 2u);
  t = LogprobLine(R"({"id": "a", "logprobs": {"token_logprobs": [-1, -2], "text_offset": [0, 1]}, "ranks": [7, 9]})")
          .tokens("A.");
  EXPECT_EQ(t.tokens[0].rank, 7u);
  LogprobFieldNames f;
  f.ranks = "rank_list";
  t = LogprobLine(R"({"id": "a", "offsets": [0, 1], "logprobs": [-1, -2], "rank_list": [5, 6]})", f).tokens("A.");
  EXPECT_TRUE(t.has_ranks);
  EXPECT_EQ(t.tokens[0].rank, 5u);
  EXPECT_FALSE(LogprobLine(R"({"id": "a", "offsets": [0, 1], "logprobs": [-1, -2]})").tokens("A.").has_ranks);
  // Bad ranks name the entry.
  auto [reason, msg] = error_of(R"({"id": "a", "offsets": [0, 1], "logprobs": [-1, -2], "ranks": [3]})", "A.");
  EXPECT_EQ(reason, "length mismatch");
  EXPECT_THAT(msg, HasSubstr("'ranks' has 1 entries, the log-probs 2"));
  for (const char* bad : {"0", "-1", "2.5", "null", "\"3\""}) {
    auto [r2, m2] = error_of(std::string(R"({"id": "a", "offsets": [0, 1], "logprobs": [-1, -2], "ranks": [3, )") + bad +
                                 "]}",
                             "A.");
    EXPECT_EQ(r2, "bad rank") << bad;
    EXPECT_THAT(m2, HasSubstr("ranks[1] = ")) << bad;
  }
  EXPECT_EQ(error_of(R"({"id": "a", "offsets": [0], "logprobs": [-1], "ranks": 3})", "A.").first, "bad rank");
}

}  // namespace
}  // namespace rdpt
