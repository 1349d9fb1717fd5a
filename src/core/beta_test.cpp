#include "rdpt/beta.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

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
  EXPECT_EQ(r.candidates[2].second, ActionType::Teacher);  // tie with Boosted: docs/method.md order
  EXPECT_DOUBLE_EQ(r.candidates[2].overlap, 0.5);
  EXPECT_EQ(r.candidates[3].second, ActionType::Boosted);
  EXPECT_DOUBLE_EQ(r.candidates[3].overlap, 1.0);
  EXPECT_EQ(r.beta, 0.15);
  EXPECT_EQ(r.candidates[2].n_actions[type_index(ActionType::Boosted)], 5u);
}

// "The two most frequent types" are those with the highest mean per-response proportion, not the
// most actions pooled over responses (docs/method.md section 5). Three responses (four-way; pS =
// 0.6, pD = 0 except the Shared action, where pT = pS = pD = 0.5):
//   R1: dTS 0.3, 0.12, 0.12, 0.12   R2: dTS 0.3, 0.17   R3: one Shared action.
// R3 is 1 of the 7 actions but a third of the mean, so Shared is among the two most frequent types
// by mean at 0.15 and 0.20, never by pooled counts:
//   beta  types (R1 | R2 | R3)     pooled T/B/Sh  pooled pair, overlap   mean T/B/Sh    mean pair, overlap
//   0.05  T 1 | T 1 | Sh 1        6/0/1          T,Sh 2/3              8/12,0,4/12    T,Sh 2/3
//   0.10  (same)
//   0.15  T 1/4 B 3/4 | T 1 | Sh  3/3/1          T,B 1/3               5/12,3/12,4/12 T,Sh 2/3
//   0.20  T 1/4 B 3/4 | T,B 1/2 | Sh 2/4/1       B,T 2/3               3/12,5/12,4/12 B,Sh 1/3
// Pooled counts would pick 0.15; the spec picks 0.20.
TEST(Beta, AnalysisTwoMostFrequentByMeanProportionNotPooledCounts) {
  BetaSearch s({.procedure = BetaProcedure::Analysis});
  Resp r1 = four_way({0.3, 0.12, 0.12, 0.12}), r2 = four_way({0.3, 0.17});
  std::vector<double> half = {0.5};
  s.add(r1.pT, r1.pS, r1.pD);
  s.add(r2.pT, r2.pS, r2.pD);
  s.add(half, half, half);
  BetaResult r = s.result();
  ASSERT_EQ(r.candidates.size(), 4u);
  const auto& c15 = r.candidates[2];
  const auto& c20 = r.candidates[3];
  EXPECT_EQ(c15.n_actions[type_index(ActionType::Teacher)], 3u);
  EXPECT_EQ(c15.n_actions[type_index(ActionType::Boosted)], 3u);
  EXPECT_DOUBLE_EQ(c15.mean_proportion[type_index(ActionType::Shared)], 1.0 / 3);
  EXPECT_EQ(r.candidates[0].first, ActionType::Teacher);
  EXPECT_EQ(r.candidates[0].second, ActionType::Shared);
  EXPECT_DOUBLE_EQ(r.candidates[0].overlap, 2.0 / 3);
  EXPECT_EQ(c15.first, ActionType::Teacher);
  EXPECT_EQ(c15.second, ActionType::Shared);
  EXPECT_DOUBLE_EQ(c15.overlap, 2.0 / 3);
  EXPECT_EQ(c20.first, ActionType::Boosted);
  EXPECT_EQ(c20.second, ActionType::Shared);
  EXPECT_DOUBLE_EQ(c20.overlap, 1.0 / 3);
  EXPECT_EQ(r.pick, 3u);
  EXPECT_EQ(r.beta, 0.20);
}

// Ties in mean proportion go in the order Shared, Teacher, Student, Boosted, also when the means
// are equal only mathematically (sums of fractions in another order round differently).
TEST(Beta, TwoMostFrequentTiesInMethodOrder) {
  std::array<double, kNumActionTypes> m{};
  m[type_index(ActionType::Boosted)] = 0.4;
  m[type_index(ActionType::Student)] = 0.4;
  m[type_index(ActionType::Teacher)] = 0.2;
  EXPECT_EQ(two_most_frequent(TypeScheme::FourWay, m), std::make_pair(ActionType::Student, ActionType::Boosted));
  m[type_index(ActionType::Shared)] = 0.4;
  EXPECT_EQ(two_most_frequent(TypeScheme::FourWay, m), std::make_pair(ActionType::Shared, ActionType::Student));
  m = {};
  EXPECT_EQ(two_most_frequent(TypeScheme::FourWay, m), std::make_pair(ActionType::Shared, ActionType::Teacher));
  // 0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1 in doubles; as mean proportions they tie.
  m[type_index(ActionType::Boosted)] = (0.1 + 0.2 + 0.3) / 3;
  m[type_index(ActionType::Student)] = (0.3 + 0.2 + 0.1) / 3;
  ASSERT_NE(m[type_index(ActionType::Boosted)], m[type_index(ActionType::Student)]);
  EXPECT_EQ(two_most_frequent(TypeScheme::FourWay, m), std::make_pair(ActionType::Student, ActionType::Boosted));
  m[type_index(ActionType::Boosted)] += 1e-9;  // a real difference
  EXPECT_EQ(two_most_frequent(TypeScheme::FourWay, m), std::make_pair(ActionType::Boosted, ActionType::Student));
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

// BetaSearch::add types each action once for all candidates; this holds it to the plain rule
// (type_actions once per candidate, as docs/method.md states it) on random responses whose
// probabilities sit on the thresholds' edges, with unscored actions, for both procedures.
TEST(Beta, OneTypingPerActionEqualsTypingPerCandidate) {
  std::mt19937_64 rng(11);
  const std::vector<double> grid = {0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.9, 1.0};
  for (BetaProcedure proc : {BetaProcedure::Analysis, BetaProcedure::Training}) {
    const bool four = proc == BetaProcedure::Analysis;
    BetaSearch fast({.procedure = proc, .alpha = 0.1});
    const std::vector<double> cands = default_beta_candidates(proc);
    std::vector<std::array<std::array<uint64_t, kHistBins>, kNumActionTypes>> bins(cands.size());
    std::vector<std::array<uint64_t, kNumActionTypes>> n_act(cands.size());
    uint64_t n_resp = 0, n_skip = 0;
    for (int r = 0; r < 400; ++r) {
      const size_t n = rng() % 12;
      std::vector<double> pT(n), pS(n), pD(n);
      auto draw = [&] {
        if (rng() % 10 == 0) return double(NAN);
        // Grid points and sums of them land exactly on, or an ulp off, alpha and the betas.
        return rng() % 2 ? grid[rng() % grid.size()] : std::uniform_real_distribution<double>(0, 1)(rng);
      };
      for (size_t k = 0; k < n; ++k) pT[k] = draw(), pS[k] = draw(), pD[k] = draw();
      fast.add(pT, pS, four ? pD : std::vector<double>{});
      bool counted = false;
      for (size_t c = 0; c < cands.size(); ++c) {
        TypeCounts tc = type_actions(procedure_scheme(proc), pT, pS, four ? pD : pT, {0.1, cands[c]});
        if (tc.n_scored == 0) break;
        counted = true;
        for (ActionType t : scheme_types(procedure_scheme(proc))) {
          bins[c][type_index(t)][proportion_bin(tc.n[type_index(t)], tc.n_scored)]++;
          n_act[c][type_index(t)] += tc.n[type_index(t)];
        }
      }
      counted ? ++n_resp : ++n_skip;
    }
    const BetaResult got = fast.result();
    EXPECT_EQ(got.n_responses, n_resp);
    EXPECT_EQ(got.n_skipped, n_skip);
    for (size_t c = 0; c < cands.size(); ++c)
      for (ActionType t : scheme_types(procedure_scheme(proc))) {
        const size_t i = type_index(t);
        EXPECT_EQ(got.candidates[c].n_actions[i], n_act[c][i]) << procedure_name(proc) << " beta " << cands[c];
        for (int b = 0; b < kHistBins; ++b)
          EXPECT_EQ(got.candidates[c].histogram[i][b], double(bins[c][i][b]) / double(n_resp));
      }
  }
}

TEST(Beta, CodesGiveTheTypeAtEveryCandidateAsTheTypingFunctions) {
  // Unsorted candidates with a duplicate and 0; probabilities on the grid land exactly on alpha
  // and the candidates (and an ulp off), plus 0 differences of either sign, inf - inf and NaN.
  std::mt19937_64 rng(29);
  const std::vector<double> cands = {0.2, 0.05, 0.0, 0.2, 0.9, 0.15};
  const std::vector<double> grid = {0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.9, 1.0, -0.0};
  for (BetaProcedure proc : {BetaProcedure::Analysis, BetaProcedure::Training}) {
    const bool four = proc == BetaProcedure::Analysis;
    BetaSearch coded({.procedure = proc, .alpha = 0.1, .candidates = cands});
    BetaSearch plain({.procedure = proc, .alpha = 0.1, .candidates = cands});
    ASSERT_TRUE(coded.codable());
    size_t n_checked = 0;
    for (int r = 0; r < 300; ++r) {
      const size_t n = rng() % 10;
      std::vector<double> pT(n), pS(n), pD(n);
      auto draw = [&] {
        const uint64_t w = rng() % 20;
        if (w == 0) return double(NAN);
        if (w == 1) return double(INFINITY);
        double x = rng() % 2 ? grid[rng() % grid.size()] : std::uniform_real_distribution<double>(0, 1)(rng);
        if (w == 2) x = std::nextafter(x, 2.0);
        return x;
      };
      for (size_t k = 0; k < n; ++k) pT[k] = draw(), pS[k] = draw(), pD[k] = draw();
      std::vector<uint8_t> codes = {7};  // appended to
      coded.add(pT, pS, four ? pD : std::vector<double>{}, &codes);
      plain.add(pT, pS, four ? pD : std::vector<double>{});
      ASSERT_EQ(codes.size(), n + 1);
      EXPECT_EQ(codes[0], 7);
      for (size_t c = 0; c < cands.size(); ++c)
        for (size_t k = 0; k < n; ++k, ++n_checked) {
          const auto want = four ? type_four_way(pT[k], pS[k], pD[k], 0.1, cands[c]) : type_three_way(pT[k], pS[k], cands[c]);
          EXPECT_EQ(coded.type_of(codes[k + 1], c), want)
              << procedure_name(proc) << " beta " << cands[c] << " pT " << pT[k] << " pS " << pS[k] << " pD " << pD[k];
        }
    }
    EXPECT_GT(n_checked, 5000u);
    // Coding does not change the search.
    const BetaResult a = coded.result(), b = plain.result();
    EXPECT_EQ(a.pick, b.pick);
    EXPECT_EQ(a.n_responses, b.n_responses);
    for (size_t c = 0; c < cands.size(); ++c) EXPECT_EQ(a.candidates[c].n_actions, b.candidates[c].n_actions);
  }
  std::vector<double> many;
  for (size_t k = 0; k <= BetaSearch::kMaxCodedCandidates; ++k) many.push_back(double(k) / 1000);
  BetaSearch too_many({.procedure = BetaProcedure::Training, .candidates = many});
  EXPECT_FALSE(too_many.codable());
  std::vector<uint8_t> codes;
  const std::vector<double> half = {0.5};
  EXPECT_THROW(too_many.add(half, half, {}, &codes), UsageError);
  EXPECT_THROW(too_many.type_of(0, 0), UsageError);
  EXPECT_THROW(BetaSearch({.procedure = BetaProcedure::Training}).type_of(0, 20), UsageError);
}

TEST(Beta, AddSkippedCountsResponsesWithoutScores) {
  BetaSearch s({.procedure = BetaProcedure::Training});
  std::vector<double> half = {0.5, 0.5};
  s.add(half, half, {});
  s.add_skipped(3);
  EXPECT_EQ(s.result().n_skipped, 3u);
  EXPECT_EQ(s.result().n_responses, 1u);
}

}  // namespace
}  // namespace rdpt
