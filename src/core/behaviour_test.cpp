#include "rdpt/behaviour.h"

#include <gtest/gtest.h>

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
