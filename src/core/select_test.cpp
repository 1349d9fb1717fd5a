#include "rdpt/select.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "rdpt/error.h"

namespace rdpt {
namespace {

Candidate cand(uint64_t order, uint32_t n_actions, uint32_t n_scored, uint32_t n_teacher, double lp = NAN) {
  return {order, n_actions, n_scored, n_teacher, lp};
}

// q1: strategies disagree; q2: ties everywhere.
void add_groups(Selector& s) {
  s.add("q1", cand(0, 10, 10, 3, -1.0));
  s.add("q1", cand(1, 12, 12, 3, -0.5));
  s.add("q1", cand(2, 12, 10, 5, -2.0));
  s.add("q1", cand(3, 8, 8, 1, -0.5));
  s.add("q2", cand(4, 10, 10, 2, -1.0));
  s.add("q2", cand(5, 12, 12, 2, -1.0));
  s.add("q2", cand(6, 12, 12, 2, -1.0));
}

std::vector<uint64_t> run(Strategy st, uint32_t k = 1, uint64_t budget = 0, SelectSummary* sum = nullptr) {
  Selector s({.strategy = st, .per_question = k, .budget = budget});
  add_groups(s);
  return s.select(sum);
}

using V = std::vector<uint64_t>;

TEST(Select, EachStrategyOnHandBuiltGroups) {
  // teacher-count: q1 -> 2 (5 Teacher); q2 all 2 Teacher -> more actions (5, 6) -> earlier 5.
  EXPECT_EQ(run(Strategy::TeacherCount), (V{2, 5}));
  // teacher-ratio: q1 0.3, 0.25, 0.5, 0.125 -> 2; q2 0.2, 1/6, 1/6 -> 4.
  EXPECT_EQ(run(Strategy::TeacherRatio), (V{2, 4}));
  // longest: q1 12 actions tie between 1 and 2 -> earlier 1; q2 -> 5.
  EXPECT_EQ(run(Strategy::Longest), (V{1, 5}));
  // min-teacher-count: q1 -> 3; q2 tie -> more actions -> 5.
  EXPECT_EQ(run(Strategy::MinTeacherCount), (V{3, 5}));
  // grape: q1 -0.5 tie between 1 (12 actions) and 3 (8) -> 1; q2 all -1 -> 5.
  EXPECT_EQ(run(Strategy::Grape), (V{1, 5}));
}

// RSR by hand: per-token clipped ranks and log-probs, summed, then ranks / surprisal; lowest wins.
TEST(Select, RankSurprisalRatioByHandAndLowestFirst) {
  // Tokens (rank, log p): (1, -0.1), (3, -1.2), (100, -6.0), (2, -0.7): 106 / 8.0 = 13.25.
  const uint32_t ranks[] = {1, 3, 100, 2};
  const double lps[] = {-0.1, -1.2, -6.0, -0.7};
  uint64_t rs = 0;
  double ls = 0;
  for (int k = 0; k < 4; ++k) rs += ranks[k], ls += lps[k];
  EXPECT_DOUBLE_EQ(rank_surprisal_ratio(rs, ls, 4), 106.0 / 8.0);
  EXPECT_DOUBLE_EQ(rank_surprisal_ratio(1, 0.0, 1), 1e12);  // a sure token: surprisal floored at 1e-12
  EXPECT_TRUE(std::isnan(rank_surprisal_ratio(0, 0.0, 0)));
  auto with_rsr = [](uint64_t order, uint32_t n_actions, double rsr) {
    Candidate c = cand(order, n_actions, n_actions, 0, -1.0);
    c.rsr = rsr;
    return c;
  };
  Selector s({.strategy = Strategy::Rsr, .per_question = 1});
  s.add("q1", with_rsr(0, 5, 13.25));
  s.add("q1", with_rsr(1, 5, 2.5));   // lowest in q1
  s.add("q1", with_rsr(2, 9, NAN));   // no ranks: ineligible however long
  s.add("q2", with_rsr(3, 4, 7.0));
  s.add("q2", with_rsr(4, 6, 7.0));   // tie: more actions first
  SelectSummary sum;
  EXPECT_EQ(s.select(&sum), (V{1, 4}));
  EXPECT_EQ(sum.n_ineligible, 1u);
  EXPECT_EQ(parse_strategy("rsr"), Strategy::Rsr);
  EXPECT_STREQ(strategy_name(Strategy::Rsr), "rsr");
}

TEST(Select, TeacherRatioIsExactOnEqualFractions) {
  Selector s({.strategy = Strategy::TeacherRatio});
  s.add("g", cand(0, 4, 4, 1));    // 1/4
  s.add("g", cand(1, 9, 8, 2));    // 2/8: equal share, more actions -> wins
  s.add("g", cand(2, 3, 3, 0));
  EXPECT_EQ(s.select(), (V{1}));
}

TEST(Select, PerQuestionAndBudget) {
  // K = 2: q1 2 then 0 or 1 (3 Teacher each; 1 has more actions) -> {2, 1}; q2 {5, 6}.
  EXPECT_EQ(run(Strategy::TeacherCount, 2), (V{1, 2, 5, 6}));
  // Budget 3 with K = 2: round 1 = {2 (5 T), 5 (2 T)}, round 2 ranked: 1 (3 T) before 6 (2 T).
  EXPECT_EQ(run(Strategy::TeacherCount, 2, 3), (V{1, 2, 5}));
  // Budget 1: the better first pick across groups.
  EXPECT_EQ(run(Strategy::TeacherCount, 2, 1), (V{2}));
  // K larger than a group keeps the whole group.
  EXPECT_EQ(run(Strategy::Longest, 10).size(), 7u);
  EXPECT_THROW(Selector({.per_question = 0}), UsageError);
}

TEST(Select, SummaryAndIneligible) {
  Selector s({.strategy = Strategy::TeacherCount});
  s.add("a", cand(0, 4, 4, 2, -1));  // share 0.5
  s.add("a", cand(1, 4, 0, 0));      // unscored: ineligible
  s.add("b", cand(2, 4, 4, 0, -1));  // share 0
  SelectSummary sum;
  EXPECT_EQ(s.select(&sum), (V{0, 2}));
  EXPECT_EQ(sum.n_groups, 2u);
  EXPECT_EQ(sum.n_candidates, 3u);
  EXPECT_EQ(sum.n_ineligible, 1u);
  EXPECT_EQ(sum.n_chosen, 2u);
  EXPECT_DOUBLE_EQ(sum.mean_teacher_share_before, 0.25);
  EXPECT_DOUBLE_EQ(sum.mean_teacher_share_after, 0.25);
  // grape needs the student's log-prob; longest does not need scores.
  Selector g({.strategy = Strategy::Grape});
  g.add("a", cand(0, 4, 4, 2));
  g.add("a", cand(1, 2, 0, 0, -3));
  EXPECT_EQ(g.select(), (V{1}));
  Selector l({.strategy = Strategy::Longest});
  l.add("a", cand(0, 4, 0, 0));
  EXPECT_EQ(l.select(), (V{0}));
}

TEST(Select, RandomIsSeededAndUniform) {
  auto pick = [](uint64_t seed) {
    Selector s({.strategy = Strategy::Random, .seed = seed});
    for (uint64_t k = 0; k < 3; ++k) s.add("g", cand(100 + k, 5, 5, 1));
    return s.select().at(0);
  };
  EXPECT_EQ(pick(7), pick(7));
  std::map<uint64_t, int> n;
  for (uint64_t seed = 0; seed < 3000; ++seed) n[pick(seed)]++;
  ASSERT_EQ(n.size(), 3u);
  for (auto [k, c] : n) EXPECT_NEAR(c, 1000, 120) << "candidate " << k;
}

TEST(Select, ParseStrategy) {
  EXPECT_EQ(parse_strategy("teacher-count"), Strategy::TeacherCount);
  EXPECT_EQ(parse_strategy("grape"), Strategy::Grape);
  EXPECT_STREQ(strategy_name(Strategy::MinTeacherCount), "min-teacher-count");
  try {
    parse_strategy("best");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("teacher-ratio"), std::string::npos);
  }
}

}  // namespace
}  // namespace rdpt
