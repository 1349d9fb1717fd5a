#include "rdpt/align.h"

#include <gtest/gtest.h>

#include "rdpt/error.h"

namespace rdpt {
namespace {

TEST(Align, TokenBelongsToTheActionHoldingItsFirstByte) {
  // "Ab. Cd." -> actions [0,3) "Ab." and [3,7) " Cd."
  std::string s = "Ab. Cd.";
  auto acts = segment(s);
  ASSERT_EQ(acts.size(), 2u);
  // Tokens: "Ab" [0], ". C" [2] straddles the boundary (first byte in action 0), "d." [5].
  std::vector<TokenLogprob> toks = {{0, -1.0}, {2, -2.0}, {5, -0.5}};
  auto sc = align_tokens(acts, toks);
  EXPECT_EQ(sc[0].n_tokens, 2u);
  EXPECT_DOUBLE_EQ(sc[0].logprob_sum, -3.0);
  EXPECT_EQ(sc[1].n_tokens, 1u);
  EXPECT_DOUBLE_EQ(sc[1].logprob_sum, -0.5);
  EXPECT_DOUBLE_EQ(sc[0].p(), std::exp(-1.5));
  EXPECT_DOUBLE_EQ(sc[0].logprob_mean(), -1.5);
}

TEST(Align, MultiByteCharacterSplitAcrossTokens) {
  // "\xE4\xB8\xAD" (a 3-byte character) at the start of action 1, split into two byte tokens.
  std::string s = "Ok. \xE4\xB8\xAD. Yes.";
  auto acts = segment(s);
  ASSERT_EQ(acts.size(), 2u);  // "Ok. <zh>." (bytes 0-8; not cut before the character, not A-Z) and " Yes."
  ASSERT_EQ(acts[1].begin, 8u);
  // Byte tokens 4 and 6 split the character (bytes 4-6); token 7 is "." and 8 " Yes".
  std::vector<TokenLogprob> toks = {{0, -1}, {3, -1}, {4, -2}, {6, -3}, {7, -1}, {8, -1}, {9, -1}};
  auto sc = align_tokens(acts, toks);
  EXPECT_EQ(sc[0].n_tokens, 5u);
  EXPECT_DOUBLE_EQ(sc[0].logprob_sum, -8.0);
  EXPECT_EQ(sc[1].n_tokens, 2u);
  // A token starting in the middle of the character belongs where that byte is.
  std::string t = "A. \xE4\xB8\xAD";
  auto a2 = segment(t);
  ASSERT_EQ(a2.size(), 1u);
}

TEST(Align, UnscoredActionsAndEmptyInput) {
  std::string s = "<think>A. B.</think>";
  auto acts = segment(s);
  ASSERT_EQ(acts.size(), 4u);
  std::vector<TokenLogprob> toks = {{0, -0.1}, {7, -1.0}, {8, -1.0}};  // "<think>" one token, "A" ".": nothing later
  auto sc = align_tokens(acts, toks);
  EXPECT_TRUE(sc[0].scored());
  EXPECT_EQ(sc[1].n_tokens, 2u);
  EXPECT_FALSE(sc[2].scored());
  EXPECT_TRUE(std::isnan(sc[2].p()));
  EXPECT_EQ(align_tokens({}, {}).size(), 0u);
}

TEST(Align, BadOffsetsAreErrors) {
  std::string s = "Ab. Cd.";
  auto acts = segment(s);
  std::vector<TokenLogprob> out_of_range = {{0, -1}, {7, -1}};
  EXPECT_THROW(align_tokens(acts, out_of_range), DataError);
  std::vector<TokenLogprob> decreasing = {{3, -1}, {2, -1}};
  try {
    align_tokens(acts, decreasing);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("token 1"), std::string::npos) << e.what();
  }
  std::vector<TokenLogprob> none_allowed = {{0, -1}};
  EXPECT_THROW(align_tokens({}, none_allowed), DataError);
}

// A cut at byte 5 (inside action 1, " Cd.") leaves action 0 whole and unscores action 1,
// which had only its first token, and everything after it.
TEST(Align, DropCutActionsUnscoresTheCutActionAndWhatFollows) {
  std::string s = "Ab. Cd. Ef.";
  auto acts = segment(s);
  ASSERT_EQ(acts.size(), 3u);
  std::vector<TokenLogprob> toks = {{0, -1.0}, {2, -2.0}, {3, -0.5}};  // the token at 5 was not scored
  auto sc = align_tokens(acts, toks);
  ASSERT_EQ(sc[1].n_tokens, 1u);
  EXPECT_EQ(drop_cut_actions(acts, sc, 5), 2u);
  EXPECT_EQ(sc[0].n_tokens, 2u);
  EXPECT_FALSE(sc[1].scored());
  EXPECT_FALSE(sc[2].scored());
  // A cut exactly where an action starts keeps the one before it.
  sc = align_tokens(acts, std::vector<TokenLogprob>{{0, -1.0}, {2, -2.0}});
  EXPECT_EQ(drop_cut_actions(acts, sc, 3), 2u);
  EXPECT_EQ(sc[0].n_tokens, 2u);
}

}  // namespace
}  // namespace rdpt
