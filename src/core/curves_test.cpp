#include "rdpt/curves.h"

#include <gtest/gtest.h>

#include "rdpt/error.h"

namespace rdpt {
namespace {

// Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10 (hybrid score).
TEST(Wilson, DifferenceIntervalKnownValues) {
  Interval d = difference_interval(56, 70, 48, 80);  // 0.8 - 0.6
  EXPECT_NEAR(d.lo, 0.0524, 5e-4);
  EXPECT_NEAR(d.hi, 0.3339, 5e-4);
  d = difference_interval(0, 10, 0, 10);  // no difference, nothing seen
  EXPECT_NEAR(d.lo, -0.2775, 5e-4);
  EXPECT_NEAR(d.hi, 0.2775, 5e-4);
  d = difference_interval(48, 80, 56, 70);  // swapped: mirrored
  EXPECT_NEAR(d.lo, -0.3339, 5e-4);
  EXPECT_NEAR(d.hi, -0.0524, 5e-4);
  EXPECT_TRUE(std::isnan(difference_interval(1, 2, 0, 0).lo));
  EXPECT_THROW(difference_interval(3, 2, 1, 2), UsageError);
}

TEST(Wilson, KnownValues) {
  // Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> 0.2553 to 0.3662.
  Interval i = wilson_interval(81, 263);
  EXPECT_NEAR(i.lo, 0.2553, 5e-5);
  EXPECT_NEAR(i.hi, 0.3662, 5e-5);
  i = wilson_interval(5, 10);
  EXPECT_NEAR(i.lo, 0.2366, 5e-5);
  EXPECT_NEAR(i.hi, 0.7634, 5e-5);
  i = wilson_interval(0, 10);
  EXPECT_DOUBLE_EQ(i.lo, 0.0);
  EXPECT_NEAR(i.hi, 0.2775, 5e-5);
  i = wilson_interval(10, 10);
  EXPECT_NEAR(i.lo, 0.7225, 5e-5);
  EXPECT_LE(i.hi, 1.0);
  i = wilson_interval(0, 0);
  EXPECT_TRUE(std::isnan(i.lo) && std::isnan(i.hi));
  EXPECT_THROW(wilson_interval(3, 2), UsageError);
}

using T = ActionType;
constexpr auto kNone = std::nullopt;

TEST(Curves, HandBuiltCase) {
  CurveAccumulator acc({.scheme = TypeScheme::FourWay});
  std::vector<std::optional<T>> r1 = {T::Teacher, T::Student, kNone, T::Boosted};
  std::vector<uint32_t> t1 = {10, 20, 0, 5000};
  std::vector<std::optional<T>> r2 = {T::Teacher, T::Teacher};
  std::vector<uint32_t> t2 = {100, 4000};
  std::vector<std::optional<T>> r3 = {T::Student};
  std::vector<uint32_t> t3 = {8};
  acc.add(r1, t1, true);
  acc.add(r2, t2, false);
  acc.add(r3, t3, std::nullopt);
  Curves c = acc.result();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c.n_responses, 3u);
  EXPECT_EQ(c.n_responses_by_subset[size_t(Subset::Correct)], 1u);
  // j = 1
  EXPECT_EQ(c.n_at(1, Subset::All), 3u);
  EXPECT_EQ(c.count_at(1, Subset::All, T::Teacher), 2u);
  EXPECT_DOUBLE_EQ(c.fraction(1, Subset::All, T::Student), 1.0 / 3);
  EXPECT_EQ(c.n_at(1, Subset::Correct), 1u);
  EXPECT_EQ(c.n_at(1, Subset::Incorrect), 1u);
  EXPECT_DOUBLE_EQ(c.fraction(1, Subset::Incorrect, T::Teacher), 1.0);
  // j = 2
  EXPECT_EQ(c.n_at(2, Subset::All), 2u);
  EXPECT_DOUBLE_EQ(c.fraction(2, Subset::Correct, T::Student), 1.0);
  EXPECT_DOUBLE_EQ(c.fraction(2, Subset::Correct, T::Teacher), 0.0);
  // j = 3: the only response with an action there has it unscored
  EXPECT_EQ(c.n_at(3, Subset::All), 0u);
  EXPECT_TRUE(std::isnan(c.fraction(3, Subset::All, T::Teacher)));
  EXPECT_TRUE(std::isnan(c.mean_cum_tokens[2]));
  // j = 4
  EXPECT_EQ(c.count_at(4, Subset::Correct, T::Boosted), 1u);
  // Tokens: mean cumulative counts over the responses scored at j.
  EXPECT_DOUBLE_EQ(c.mean_cum_tokens[0], (10 + 100 + 8) / 3.0);
  EXPECT_DOUBLE_EQ(c.mean_cum_tokens[1], (30 + 4100) / 2.0);
  EXPECT_DOUBLE_EQ(c.mean_cum_tokens[3], 5030.0);
  ASSERT_EQ(c.marks.size(), 1u);
  EXPECT_EQ(c.marks[0].tokens, 4096u);
  EXPECT_EQ(c.marks[0].position, 4u);
  Interval i = c.interval(1, Subset::All, T::Teacher);
  Interval w = wilson_interval(2, 3);
  EXPECT_DOUBLE_EQ(i.lo, w.lo);
  EXPECT_DOUBLE_EQ(i.hi, w.hi);
  // Correct minus incorrect Teacher share: j1 1-1, j2 0-1.
  EXPECT_DOUBLE_EQ(summed_correct_minus_incorrect(c, T::Teacher), -1.0);
  EXPECT_DOUBLE_EQ(summed_correct_minus_incorrect(c, T::Teacher, 1), 0.0);
}

// By normalised position, 2 bins: r1 (4 actions at 1/8, 3/8, 5/8, 7/8) puts Teacher, Student in
// bin 0 and (unscored), Boosted in bin 1; r2 (2 actions at 1/4, 3/4) Teacher in each; r3 (1 action
// at 1/2) Student in bin 1.
TEST(Curves, ByNormalisedPositionHandBuilt) {
  CurveAccumulator acc({.scheme = TypeScheme::FourWay, .max_positions = 1, .norm_bins = 2});
  std::vector<std::optional<T>> r1 = {T::Teacher, T::Student, kNone, T::Boosted};
  std::vector<std::optional<T>> r2 = {T::Teacher, T::Teacher};
  std::vector<std::optional<T>> r3 = {T::Student};
  acc.add(r1, {}, true);
  acc.add(r2, {}, false);
  acc.add(r3, {}, std::nullopt);
  const NormCurves n = acc.result().norm;
  ASSERT_EQ(n.bins, 2u);
  // Bin 0, all: r1 (T 1/2, S 1/2) and r2 (T 1): Teacher mean 3/4, Student 1/4.
  EXPECT_EQ(n.m[0][size_t(Subset::All)], 2u);
  EXPECT_DOUBLE_EQ(n.mean(0, Subset::All, T::Teacher), 0.75);
  EXPECT_DOUBLE_EQ(n.mean(0, Subset::All, T::Student), 0.25);
  // sd of Teacher {0.5, 1} = sqrt(0.125); half = z sqrt(0.125 / 2) = z / 4.
  const Interval iv = n.interval(0, Subset::All, T::Teacher);
  EXPECT_NEAR(iv.lo, 0.75 - kZ95 / 4, 1e-12);
  EXPECT_DOUBLE_EQ(iv.hi, 1.0);  // clamped
  // Bin 1, all: r1 (B 1), r2 (T 1), r3 (S 1): a third each; correct: r1 only.
  EXPECT_EQ(n.m[1][size_t(Subset::All)], 3u);
  EXPECT_DOUBLE_EQ(n.mean(1, Subset::All, T::Boosted), 1.0 / 3);
  EXPECT_EQ(n.m[1][size_t(Subset::Correct)], 1u);
  EXPECT_DOUBLE_EQ(n.mean(1, Subset::Correct, T::Boosted), 1.0);
  EXPECT_TRUE(std::isnan(n.interval(1, Subset::Correct, T::Boosted).lo));  // one response: no interval
  EXPECT_EQ(n.m[0][size_t(Subset::Incorrect)], 1u);
  EXPECT_TRUE(std::isnan(n.mean(0, Subset::Correct, T::Shared)) == false);  // r1 is in bin 0: mean 0
  EXPECT_DOUBLE_EQ(n.mean(0, Subset::Correct, T::Shared), 0.0);
  // The type means of a bin sum to 1.
  double sum = 0;
  for (T t : {T::Shared, T::Teacher, T::Student, T::Boosted}) sum += n.mean(1, Subset::All, t);
  EXPECT_DOUBLE_EQ(sum, 1.0);
  EXPECT_EQ(CurveAccumulator({.norm_bins = 0}).result().norm.bins, 0u);
}

TEST(Curves, MarksEveryMultipleAndLimits) {
  CurveAccumulator acc({.max_positions = 2, .token_mark = 100});
  std::vector<std::optional<T>> r = {T::Shared, T::Shared, T::Shared};
  std::vector<uint32_t> t = {50, 250, 1000};
  acc.add(r, t, true);
  Curves c = acc.result();
  ASSERT_EQ(c.size(), 2u);  // max_positions
  ASSERT_EQ(c.marks.size(), 3u);  // 100, 200, 300 all first reached at j = 2 (300 tokens)
  EXPECT_EQ(c.marks[2].tokens, 300u);
  EXPECT_EQ(c.marks[0].position, 2u);
  std::vector<uint32_t> bad = {1};
  EXPECT_THROW(acc.add(r, bad, true), UsageError);
  // No token counts: means stay NaN and there are no marks.
  CurveAccumulator acc2;
  acc2.add(r, {}, false);
  EXPECT_TRUE(acc2.result().marks.empty());
  EXPECT_TRUE(std::isnan(acc2.result().mean_cum_tokens[0]));
}

}  // namespace
}  // namespace rdpt
