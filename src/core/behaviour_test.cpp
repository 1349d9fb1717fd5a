#include "rdpt/behaviour.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "rdpt/error.h"

namespace rdpt {
namespace {

using B = Behaviour;

TEST(Behaviour, SealRules) {
  EXPECT_EQ(classify_behaviour("Wait, that is wrong."), B::Reflection);
  EXPECT_EQ(classify_behaviour("\n\n  wait a moment"), B::Reflection);  // leading whitespace stripped
  EXPECT_EQ(classify_behaviour("Waiter"), B::Reflection);               // prefix, as upstream
  EXPECT_EQ(classify_behaviour(" Then we wait."), B::Execution);        // "wait" only as a prefix
  EXPECT_EQ(classify_behaviour(" Let me VERIFY this."), B::Reflection);
  EXPECT_EQ(classify_behaviour(" That's correct."), B::Reflection);
  EXPECT_EQ(classify_behaviour(" That's incorrect."), B::Reflection);
  EXPECT_EQ(classify_behaviour(" LET ME CHECK."), B::Reflection);
  EXPECT_EQ(classify_behaviour(" This seems right."), B::Reflection);
  EXPECT_EQ(classify_behaviour(" Hold on."), B::Reflection);
  EXPECT_EQ(classify_behaviour(" Alternatively, use induction."), B::Transition);
  EXPECT_EQ(classify_behaviour(" Try another approach."), B::Transition);
  EXPECT_EQ(classify_behaviour(" Another technique works."), B::Transition);
  EXPECT_EQ(classify_behaviour(" x = 2."), B::Execution);
  EXPECT_EQ(classify_behaviour(""), B::Execution);
  // Reflection is tested first.
  EXPECT_EQ(classify_behaviour("Wait, another way"), B::Reflection);
  EXPECT_EQ(classify_behaviour("Alternatively, verify this"), B::Reflection);
  // A typographic apostrophe is not the keyword's ASCII one.
  EXPECT_EQ(classify_behaviour(" That\xE2\x80\x99s correct."), B::Execution);
}

TEST(Behaviour, UpstreamTypoAndCorrectedList) {
  EXPECT_EQ(classify_behaviour(" Let us think differenly."), B::Transition);
  EXPECT_EQ(classify_behaviour(" Let us think differently."), B::Execution);
  EXPECT_EQ(classify_behaviour(" Let us think differenly.", KeywordList::Corrected), B::Execution);
  EXPECT_EQ(classify_behaviour(" Let us think differently.", KeywordList::Corrected), B::Transition);
  EXPECT_EQ(parse_keyword_list("corrected"), KeywordList::Corrected);
  EXPECT_THROW(parse_keyword_list("fixed"), UsageError);
}

TEST(Behaviour, TableShares) {
  BehaviourTable t;
  t.add(ActionType::Teacher, B::Reflection);
  t.add(ActionType::Teacher, B::Execution);
  t.add(ActionType::Teacher, B::Execution);
  t.add(ActionType::Teacher, B::Transition);
  EXPECT_EQ(t.total(ActionType::Teacher), 4u);
  EXPECT_DOUBLE_EQ(t.share(ActionType::Teacher, B::Execution), 0.5);
  EXPECT_TRUE(std::isnan(t.share(ActionType::Student, B::Execution)));
}

}  // namespace
}  // namespace rdpt

// The one-scan classifier against the rule written out plainly (SEAL's: a reflection prefix or
// keyword wins, then transition), on random texts made of keyword pieces, cases and spaces.
namespace {
rdpt::Behaviour reference_behaviour(std::string_view text, rdpt::KeywordList list) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  size_t b = 0, e = text.size();
  while (b < e && ws(text[b])) ++b;
  while (e > b && ws(text[e - 1])) --e;
  std::string v(text.substr(b, e - b));
  for (char& c : v)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  auto has = [&](std::string_view w) { return v.find(w) != std::string::npos; };
  if (v.starts_with("wait")) return rdpt::Behaviour::Reflection;
  for (auto w : {"verify", "make sure", "hold on", "think again", "'s correct", "'s incorrect", "let me check",
                 "seems right"})
    if (has(w)) return rdpt::Behaviour::Reflection;
  if (v.starts_with("alternatively")) return rdpt::Behaviour::Transition;
  if (has(list == rdpt::KeywordList::Upstream ? "think differenly" : "think differently"))
    return rdpt::Behaviour::Transition;
  for (auto w : {"another way", "another approach", "another method", "another solution", "another strategy",
                 "another technique"})
    if (has(w)) return rdpt::Behaviour::Transition;
  return rdpt::Behaviour::Execution;
}
}  // namespace

TEST(Behaviour, OneScanAgreesWithThePlainRule) {
  static const std::string long_run(600, 'a');  // longer than the classifier's stack buffer
  const char* pieces[] = {"Wait", "wait", " ", "\n", "Verify", "make", " sure", "HOLD ON", "think", " again",
                          " differenly", " differently", "'s", " correct", " incorrect", "Let me", " check",
                          "seems", " right", "Alternatively", "another", " way", " approach", " method",
                          " solution", " strategy", " technique", "x", "So", "anoth", "er", "thin", "k", ".",
                          long_run.c_str(),
                          // Bytes that the vector screen's OR 0x20 maps onto a keyword's start
                          // ('\x07' -> '\'', 'V' -> 'v', '@' -> '`'), mixed case, non-ASCII.
                          "\x07s", "VeRiFy", "'S CORRECT", "@", "\xc3\xa9", "\xe2\x80\x99s", "0123456789abcdef"};
  std::mt19937_64 rng(3);
  int n_kinds[3] = {0, 0, 0};
  for (int i = 0; i < 20000; ++i) {
    std::string t;
    const int len = int(rng() % 10);  // up to ~60 bytes without the long run: several 16-byte blocks
    for (int k = 0; k < len; ++k) t += pieces[rng() % std::size(pieces)];
    for (auto list : {rdpt::KeywordList::Upstream, rdpt::KeywordList::Corrected}) {
      const rdpt::Behaviour got = rdpt::classify_behaviour(t, list);
      ASSERT_EQ(got, reference_behaviour(t, list)) << "'" << t << "'";
      ++n_kinds[size_t(got)];
    }
  }
  for (int k : n_kinds) EXPECT_GT(k, 500);  // each outcome well represented
}
