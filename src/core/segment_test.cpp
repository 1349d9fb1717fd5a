#include "rdpt/segment.h"

#include <gtest/gtest.h>

#include <random>

#include "rdpt/error.h"

namespace rdpt {
namespace {

std::vector<std::string> texts(std::string_view s, const std::vector<Action>& acts) {
  std::vector<std::string> out;
  for (const auto& a : acts) out.emplace_back(action_text(s, a));
  return out;
}

using V = std::vector<std::string>;

TEST(Segment, ThinkTagsAreActionsAndWhitespaceGoesToTheNextAction) {
  std::string s = "<think>\nOkay, let me see. The sum is 4.</think>\n\nThe answer is 4.";
  auto acts = segment(s);
  EXPECT_EQ(texts(s, acts), (V{"<think>", "\nOkay, let me see.", " The sum is 4.", "</think>", "\n\nThe answer is 4."}));
  EXPECT_TRUE(acts[0].special);
  EXPECT_FALSE(acts[1].special);
  EXPECT_TRUE(acts[3].special);
}

TEST(Segment, PaperRuleCutsAfterPunctuationBeforeWhitespaceAndUppercase) {
  std::string s = "So \\boxed{12}. Then we check} Wait] Really?! Yes... okay. no cut.";
  EXPECT_EQ(texts(s, segment(s)), (V{"So \\boxed{12}.", " Then we check}", " Wait]", " Really?!", " Yes... okay. no cut."}));
}

TEST(Segment, AbbreviationsAndDecimals) {
  std::string s = "Use e.g. The hammer. The value 3.5 The end.";
  // "e.g. The" is cut (the rule knows no abbreviations); "3.5 The" is not (no whitespace after '.').
  EXPECT_EQ(texts(s, segment(s)), (V{"Use e.g.", " The hammer.", " The value 3.5 The end."}));
}

TEST(Segment, WhitespaceOnlyPiecesAttach) {
  std::string s = "<think>\n\n</think>\n\nAnswer. Okay.<|im_end|>\n";
  auto acts = segment(s);
  EXPECT_EQ(texts(s, acts), (V{"<think>", "\n\n</think>", "\n\nAnswer.", " Okay.", "<|im_end|>\n"}));
  EXPECT_TRUE(acts[1].special);  // a special-token action carrying leading whitespace
}

TEST(Segment, EmptyAndWhitespaceOnlyResponses) {
  EXPECT_TRUE(segment("").empty());
  auto acts = segment(" \n ");
  ASSERT_EQ(acts.size(), 1u);
  EXPECT_EQ(acts[0], (Action{0, 3, false}));
}

TEST(Segment, MarkersAndConfigurableSpecials) {
  std::string s = "<|begin_of_thought|>A. B.<|x y|> C.";
  // "<|x y|>" holds a space, so it is no marker; '>' is no cut punctuation.
  EXPECT_EQ(texts(s, segment(s)), (V{"<|begin_of_thought|>", "A.", " B.<|x y|> C."}));
  SegmentOptions o;
  o.angle_bar_markers = false;
  EXPECT_EQ(texts(s, segment(s, o)), (V{"<|begin_of_thought|>A.", " B.<|x y|> C."}));
  o.special_tokens.push_back("<|x y|>");
  EXPECT_EQ(texts(s, segment(s, o)), (V{"<|begin_of_thought|>A.", " B.", "<|x y|>", " C."}));
  o.special_tokens = {};
  std::string t = "<think>A. B.</think>";
  EXPECT_EQ(texts(t, segment(t, o)), (V{"<think>A.", " B.</think>"}));
}

// A marker's inside is 1 to 60 bytes (docs/segment.md), in bytes also for non-ASCII insides and
// for DeepSeek's full-width bars.
TEST(Segment, MarkerInsideLengthLimit) {
  const std::string a60(60, 'a'), a61(61, 'a');
  std::string s = "Hi.<|" + a60 + "|>x";
  EXPECT_EQ(texts(s, segment(s)), (V{"Hi.", "<|" + a60 + "|>", "x"}));
  s = "Hi.<|" + a61 + "|>x";
  EXPECT_EQ(texts(s, segment(s)), (V{s}));
  EXPECT_EQ(texts("<||>", segment("<||>")), (V{"<||>"}));  // an empty inside is no marker
  // 20 three-byte characters are 60 bytes; 21 are too many.
  std::string w20, w21;
  for (int k = 0; k < 20; ++k) w20 += "\xE2\x96\x81";  // U+2581, as in DeepSeek's markers
  w21 = w20 + "\xE2\x96\x81";
  const std::string open = "<\xEF\xBD\x9C", close = "\xEF\xBD\x9C>";
  s = open + w20 + close + "x";
  EXPECT_EQ(texts(s, segment(s)), (V{open + w20 + close, "x"}));
  s = open + w21 + close + "x";
  EXPECT_EQ(texts(s, segment(s)), (V{s}));
}

// Special tokens you add need not start with '<'.
TEST(Segment, SpecialTokensOfAnyFirstByte) {
  SegmentOptions o;
  o.special_tokens.push_back("[END]");
  std::string s = "foo[END]bar";
  EXPECT_EQ(texts(s, segment(s, o)), (V{"foo", "[END]", "bar"}));
}

TEST(Segment, NonAsciiIsNotWhitespaceOrUppercase) {
  std::string s = "x.\u00a0Next. \u00c9clair. Done.";  // NBSP is not ASCII whitespace; E-acute is not A-Z
  EXPECT_EQ(texts(s, segment(s)), (V{"x.\u00a0Next. \u00c9clair.", " Done."}));
}

TEST(Segment, InvalidUtf8IsAnErrorNamingTheRecord) {
  std::string s = "Fine. Bad \xC3\x28 here.";
  try {
    segment(s, {}, "rec-7");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("rec-7"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("byte 10"), std::string::npos) << e.what();
  }
  EXPECT_EQ(find_invalid_utf8("\xE0\x80\x80"), 0u);      // overlong
  EXPECT_EQ(find_invalid_utf8("ab\xED\xA0\x80"), 2u);    // surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok \xF0\x9F\x98\x80"), std::string_view::npos);
  SegmentOptions o;
  o.check_utf8 = false;
  EXPECT_EQ(segment(s, o).size(), 2u);
}

// Invariants on random text built from the characters that matter to the rule.
TEST(Segment, RandomTextInvariants) {
  const std::vector<std::string> atoms = {"a", "B", "Z", ".", "?", "!", "}", "]", " ", "\n", "\t", "\r",
                                          "<think>", "</think>", "<|im_end|>", "<|", "|>", "\u00e9", "\u4e2d", "x"};
  std::mt19937 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    int n = rng() % 40;
    for (int k = 0; k < n; ++k) s += atoms[rng() % atoms.size()];
    auto acts = segment(s);
    std::string joined;
    uint32_t pos = 0;
    for (const auto& a : acts) {
      ASSERT_EQ(a.begin, pos) << s;
      ASSERT_LT(a.begin, a.end) << s;
      joined += action_text(s, a);
      pos = a.end;
      std::string_view t = action_text(s, a);
      bool ws_only = t.find_first_not_of(" \t\n\r\f\v") == std::string_view::npos;
      if (ws_only) { ASSERT_EQ(acts.size(), 1u) << "whitespace-only action in " << s; }
    }
    ASSERT_EQ(joined, s);
  }
}

TEST(Segment, LongInputIsLinear) {
  std::string s;
  for (int k = 0; k < 200000; ++k) s += "Word. ";
  EXPECT_EQ(segment(s).size(), 200000u);
}

}  // namespace
}  // namespace rdpt
