#include "rdpt/beta.h"

#include <gtest/gtest.h>

#include "rdpt/error.h"

namespace rdpt {
namespace {

// One response whose actions have dTS = pT - pS as given (pS = 0.5 so pT stays a probability
// for |d| <= 0.5; differences are chosen away from the candidate betas).
struct Resp {
  std::vector<double> pT, pS, pD;
};
Resp three_way(std::vector<double> d) {
  Resp r;
  for (double x : d) {
    r.pS.push_back(0.5);
    r.pT.push_back(0.5 + x);
  }
  return r;
}
// Four-way: pS = 0.6, pD = 0 (never Shared), pT = 0.6 + d.
Resp four_way(std::vector<double> d) {
  Resp r;
  for (double x : d) {
    r.pS.push_back(0.6);
    r.pD.push_back(0.0);
    r.pT.push_back(0.6 + x);
  }
  return r;
}
std::vector<double> rep(double x, int n, std::vector<double> tail = {}) {
  std::vector<double> v(n, x);
  v.insert(v.end(), tail.begin(), tail.end());
  return v;
}

TEST(Beta, Bins) {
  EXPECT_EQ(proportion_bin(0, 7), 0);
  EXPECT_EQ(proportion_bin(7, 7), 19);
  EXPECT_EQ(proportion_bin(1, 20), 1);  // 0.05 starts bin 1, exactly
  EXPECT_EQ(proportion_bin(19, 20), 19);
  EXPECT_EQ(proportion_bin(1, 3), 6);
  EXPECT_EQ(proportion_bin(1, 2), 10);
  Histogram a{}, b{};
  a[0] = 0.5, a[10] = 0.5;
  b[10] = 0.25, b[19] = 0.75;
  EXPECT_DOUBLE_EQ(histogram_overlap(a, a), 1.0);
  EXPECT_DOUBLE_EQ(histogram_overlap(a, b), 0.25);
}

TEST(Beta, DefaultCandidates) {
  auto an = default_beta_candidates(BetaProcedure::Analysis);
  ASSERT_EQ(an.size(), 4u);
  EXPECT_EQ(an[2], 0.15);
  auto tr = default_beta_candidates(BetaProcedure::Training);
  ASSERT_EQ(tr.size(), 20u);
  EXPECT_EQ(tr.front(), 0.05);
  EXPECT_EQ(tr[1], 0.1);
  EXPECT_EQ(tr.back(), 1.0);
}

// Training data where the stop rule matters: at beta 0.1 Teacher and Common proportions share a
// bin (O = 1); at 0.2 (and 0.3) O = 0.5 and mean Common > mean Teacher, so the search stops at
// 0.2; at 0.4 O would be 0, but it is never considered.
TEST(Beta, TrainingStopsAfterCommonExceedsTeacher) {
  BetaSearch s({.procedure = BetaProcedure::Training, .candidates = {0.1, 0.2, 0.3, 0.4}});
  Resp x = three_way(rep(0.15, 5, rep(0.0, 5))), y = three_way(rep(0.35, 5, rep(0.0, 5)));
  s.add(x.pT, x.pS, {});
  s.add(y.pT, y.pS, {});
  BetaResult r = s.result();
  ASSERT_EQ(r.candidates.size(), 4u);
  EXPECT_DOUBLE_EQ(r.candidates[0].overlap, 1.0);
  EXPECT_DOUBLE_EQ(r.candidates[0].overlap_common_teacher, 1.0);
  EXPECT_DOUBLE_EQ(r.candidates[0].overlap_student_common, 0.0);
  EXPECT_FALSE(r.candidates[0].stopped_here);  // means 0.5 and 0.5: not ">"
  EXPECT_DOUBLE_EQ(r.candidates[1].overlap, 0.5);
  EXPECT_TRUE(r.candidates[1].stopped_here);
  EXPECT_DOUBLE_EQ(r.candidates[1].mean_proportion[type_index(ActionType::Common)], 0.75);
  EXPECT_FALSE(r.candidates[2].considered);
  EXPECT_DOUBLE_EQ(r.candidates[3].overlap, 0.0);
  EXPECT_FALSE(r.candidates[3].considered);
  EXPECT_EQ(r.pick, 1u);
  EXPECT_EQ(r.beta, 0.2);
  // Histograms are normalised and exact.
  const auto& hT = r.candidates[1].histogram[type_index(ActionType::Teacher)];
  EXPECT_DOUBLE_EQ(hT[0], 0.5);
  EXPECT_DOUBLE_EQ(hT[10], 0.5);
  double sum = 0;
  for (double v : r.candidates[1].histogram[type_index(ActionType::Common)]) sum += v;
  EXPECT_DOUBLE_EQ(sum, 1.0);
}

TEST(Beta, TiesKeepTheEarlierCandidate) {
  BetaSearch s({.procedure = BetaProcedure::Training, .candidates = {0.2, 0.3}});
  Resp z = three_way(rep(0.45, 6, rep(0.0, 4)));
  s.add(z.pT, z.pS, {});
  BetaResult r = s.result();
  EXPECT_EQ(r.candidates[0].overlap, r.candidates[1].overlap);
  EXPECT_EQ(r.pick, 0u);
}

// Analysis: Teacher and Student proportions coincide at 0.05 and 0.10 (overlap 1); at 0.15 half
// the responses turn Boosted so Student (most frequent) and Teacher overlap 0.5; at 0.20 Student
// and Boosted coincide again. The known answer is 0.15.
TEST(Beta, AnalysisPicksLeastOverlapOfTwoMostFrequent) {
  BetaSearch s({.procedure = BetaProcedure::Analysis});
  Resp x = four_way(rep(0.12, 5, rep(-0.5, 5))), y = four_way(rep(0.17, 5, rep(-0.5, 5)));
  s.add(x.pT, x.pS, x.pD);
  s.add(y.pT, y.pS, y.pD);
  BetaResult r = s.result();
  ASSERT_EQ(r.candidates.size(), 4u);
  EXPECT_EQ(r.candidates[0].first, ActionType::Teacher);
  EXPECT_EQ(r.candidates[0].second, ActionType::Student);
  EXPECT_DOUBLE_EQ(r.candidates[0].overlap, 1.0);
  EXPECT_DOUBLE_EQ(r.candidates[1].overlap, 1.0);
  EXPECT_EQ(r.candidates[2].first, ActionType::Student);
  EXPECT_EQ(r.candidates[2].second, ActionType::Teacher);  // tie with Boosted: METHOD.md order
  EXPECT_DOUBLE_EQ(r.candidates[2].overlap, 0.5);
  EXPECT_EQ(r.candidates[3].second, ActionType::Boosted);
  EXPECT_DOUBLE_EQ(r.candidates[3].overlap, 1.0);
  EXPECT_EQ(r.beta, 0.15);
  EXPECT_EQ(r.candidates[2].n_actions[type_index(ActionType::Boosted)], 5u);
}

TEST(Beta, UnscoredResponsesAreSkippedAndEmptyInputThrows) {
  BetaSearch s({.procedure = BetaProcedure::Training});
  std::vector<double> nan2 = {NAN, NAN}, half = {0.5, 0.5};
  s.add(nan2, half, {});
  EXPECT_THROW(s.result(), DataError);
  s.add(half, half, {});
  BetaResult r = s.result();
  EXPECT_EQ(r.n_responses, 1u);
  EXPECT_EQ(r.n_skipped, 1u);
  EXPECT_THROW(BetaSearch({.candidates = {-0.1}}), UsageError);
  EXPECT_THROW(parse_procedure("both"), UsageError);
}

}  // namespace
}  // namespace rdpt
