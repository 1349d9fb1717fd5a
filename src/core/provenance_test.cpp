#include "rdpt/provenance.h"

#include <gtest/gtest.h>

#include "rdpt/error.h"

namespace rdpt {
namespace {

TEST(Provenance, FourWayOrderAndBoundaries) {
  // Dyadic values: every difference is exact in double.
  const double a = 0.125, b = 0.25;
  // All three differences exactly at alpha -> Shared.
  EXPECT_EQ(type_four_way(0.5, 0.5, 0.375, a, b), ActionType::Shared);
  EXPECT_EQ(type_four_way(0.625, 0.5, 0.5, a, b), ActionType::Shared);  // dTS = dTD = alpha
  // One difference just past alpha -> not Shared; dTS = 0 -> Boosted.
  EXPECT_EQ(type_four_way(0.5, 0.5, 0.37, a, b), ActionType::Boosted);
  // dTS exactly beta is not Teacher ("> beta"), it is Boosted.
  EXPECT_EQ(type_four_way(0.75, 0.5, 0.0, a, b), ActionType::Boosted);
  EXPECT_EQ(type_four_way(0.7500001, 0.5, 0.0, a, b), ActionType::Teacher);
  // -dTS exactly beta -> Boosted; past it -> Student.
  EXPECT_EQ(type_four_way(0.5, 0.75, 0.0, a, b), ActionType::Boosted);
  EXPECT_EQ(type_four_way(0.5, 0.7500001, 0.0, a, b), ActionType::Student);
  // Shared is tested first: with alpha > beta a Teacher-sized dTS inside the band is Shared.
  EXPECT_EQ(type_four_way(0.75, 0.5, 0.625, 0.5, 0.125), ActionType::Shared);
  // Teacher before Student cannot both hold; Teacher wins over Boosted.
  EXPECT_EQ(type_four_way(1.0, 0.0, 0.5, 0.1, 0.1), ActionType::Teacher);
  EXPECT_EQ(type_four_way(0.0, 1.0, 0.5, 0.1, 0.1), ActionType::Student);
}

TEST(Provenance, FloatingPointIsPlainIeee) {
  // 0.3 - 0.2 = 0.09999999999999998 <= 0.1: Shared at alpha = 0.1 with no epsilon.
  EXPECT_EQ(type_four_way(0.3, 0.3, 0.2, 0.1, 0.1), ActionType::Shared);
  // 0.7 - 0.6 = 0.09999999999999998, not > 0.1 -> Common.
  EXPECT_EQ(type_three_way(0.7, 0.6, 0.1), ActionType::Common);
  // 0.4 - 0.1 = 0.30000000000000004 > 0.3 -> Teacher.
  EXPECT_EQ(type_three_way(0.4, 0.1, 0.3), ActionType::Teacher);
}

TEST(Provenance, UnscoredGetsNoType) {
  EXPECT_FALSE(type_four_way(NAN, 0.5, 0.5, 0.1, 0.1));
  EXPECT_FALSE(type_four_way(0.5, NAN, 0.5, 0.1, 0.1));
  EXPECT_FALSE(type_four_way(0.5, 0.5, NAN, 0.1, 0.1));
  EXPECT_FALSE(type_three_way(0.5, NAN, 0.1));
  EXPECT_TRUE(type_three_way(0.5, 0.5, 0.1));
}

// Property: on a grid of exact probabilities k/32 and thresholds m/32, the result equals a
// reference computed in integers, and the four types partition the input in docs/method.md order.
TEST(Provenance, FourWayPartitionsGridExactly) {
  int n_by_type[kNumActionTypes] = {};
  for (int t = 0; t <= 32; t += 2)
    for (int s = 0; s <= 32; s += 3)
      for (int d = 0; d <= 32; d += 4)
        for (int al = 0; al <= 8; al += 2)
          for (int be = 0; be <= 8; be += 2) {
            auto got = type_four_way(t / 32.0, s / 32.0, d / 32.0, al / 32.0, be / 32.0);
            ASSERT_TRUE(got);
            bool shared = std::abs(s - d) <= al && std::abs(t - d) <= al && std::abs(t - s) <= al;
            bool teacher = !shared && t - s > be;
            bool student = !shared && !teacher && s - t > be;
            bool boosted = !shared && !teacher && !student;
            ASSERT_EQ(int(shared) + int(teacher) + int(student) + int(boosted), 1);
            if (boosted) { ASSERT_LE(std::abs(t - s), be); }
            ActionType want = shared    ? ActionType::Shared
                              : teacher ? ActionType::Teacher
                              : student ? ActionType::Student
                                        : ActionType::Boosted;
            ASSERT_EQ(*got, want) << "pT=" << t << "/32 pS=" << s << "/32 pD=" << d << "/32 alpha=" << al
                                  << "/32 beta=" << be << "/32";
            n_by_type[type_index(want)]++;
          }
  // The grid reaches every type, so the partition is exercised.
  for (ActionType t : scheme_types(TypeScheme::FourWay)) EXPECT_GT(n_by_type[type_index(t)], 0) << type_name(t);
}

TEST(Provenance, ThreeWayPartitionsGridExactly) {
  for (int t = 0; t <= 32; ++t)
    for (int s = 0; s <= 32; ++s)
      for (int be = 0; be <= 10; ++be) {
        auto got = type_three_way(t / 32.0, s / 32.0, be / 32.0);
        ActionType want = std::abs(t - s) <= be ? ActionType::Common
                          : t - s > be          ? ActionType::Teacher
                                                : ActionType::Student;
        ASSERT_EQ(*got, want) << t << " " << s << " " << be;
      }
}

TEST(Provenance, ActionProbsAndCounts) {
  std::vector<ActionScore> sc = {{2, std::log(0.25) * 2}, {0, 0.0}, {1, std::log(0.5)}};
  std::vector<double> p;
  action_probs(sc, 3, p, "r1");
  EXPECT_DOUBLE_EQ(p[0], 0.25);
  EXPECT_TRUE(std::isnan(p[1]));
  EXPECT_DOUBLE_EQ(p[2], 0.5);
  action_probs({}, 2, p, "r1");
  EXPECT_EQ(p.size(), 2u);
  EXPECT_TRUE(std::isnan(p[0]) && std::isnan(p[1]));
  EXPECT_THROW(action_probs(sc, 4, p, "r1"), DataError);
  try {
    action_probs(sc, 4, p, "rec-7");
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("rec-7"), std::string::npos);
  }

  std::vector<double> pT = {0.9, 0.5, NAN, 0.1, 0.35}, pS = {0.1, 0.5, 0.5, 0.9, 0.3}, pD = {0.5, 0.5, 0.5, 0.5, 0.9};
  std::vector<std::optional<ActionType>> types;
  TypeCounts c = type_actions(TypeScheme::FourWay, pT, pS, pD, {0.1, 0.1}, &types);
  EXPECT_EQ(c.n_actions, 5u);
  EXPECT_EQ(c.n_scored, 4u);
  EXPECT_EQ(c.count(ActionType::Teacher), 1u);
  EXPECT_EQ(c.count(ActionType::Shared), 1u);
  EXPECT_EQ(c.count(ActionType::Student), 1u);
  EXPECT_EQ(c.count(ActionType::Boosted), 1u);  // dTS = 0.05, |dSD| = 0.6
  EXPECT_FALSE(types[2]);
  EXPECT_DOUBLE_EQ(c.proportion(ActionType::Teacher), 0.25);
  TypeCounts three = type_actions(TypeScheme::ThreeWay, pT, pS, {}, {0.1, 0.1});
  EXPECT_EQ(three.n_scored, 4u);
  EXPECT_EQ(three.count(ActionType::Common), 2u);
  EXPECT_EQ(three.count(ActionType::Teacher), 1u);
  EXPECT_EQ(three.count(ActionType::Student), 1u);
  EXPECT_TRUE(std::isnan(TypeCounts{}.proportion(ActionType::Teacher)));
  EXPECT_THROW(type_actions(TypeScheme::FourWay, pT, pS, {}, {0.1, 0.1}), UsageError);
}

TEST(Provenance, ThresholdsAreChecked) {
  EXPECT_NO_THROW(check_thresholds({0, 0}));
  EXPECT_THROW(check_thresholds({-0.1, 0.1}), UsageError);
  EXPECT_THROW(check_thresholds({0.1, NAN}), UsageError);
  EXPECT_THROW(check_thresholds({INFINITY, 0.1}), UsageError);
  EXPECT_NO_THROW(check_thresholds({1, 1}));  // the training search's last candidate is 1.00
  try {
    check_thresholds({0.1, 1.5});
    FAIL() << "beta 1.5 accepted";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "beta must be a number in [0, 1] (probability differences lie in [-1, 1]), got 1.5");
  }
  EXPECT_THROW(check_thresholds({1.01, 0.1}), UsageError);
}

}  // namespace
}  // namespace rdpt
