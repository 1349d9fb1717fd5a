// Teacher-guided data selection (docs/method.md section 7).
//
// Each candidate response is summarised by its three-way type counts (teacher vs student,
// section 4) and, for GRAPE, its mean token log-prob under the student. Per question (group)
// the strategy ranks the candidates and the best per_question are kept:
//   teacher-count      most Teacher actions (the paper's method, default)
//   teacher-ratio      highest Teacher share of the scored actions (compared exactly, in integers)
//   longest            most actions
//   min-teacher-count  fewest Teacher actions (negative control)
//   random             uniform: each candidate gets a key from (seed, input order); lowest key wins
//   grape              highest mean token log-prob under the student (GRAPE, arXiv 2502.04194:
//                      the response with the highest length-normalised probability under the
//                      target model), i.e. sum of token log-probs / number of tokens
//   rsr                lowest rank-surprisal ratio under the student (arXiv 2601.14249):
//                      sum of clipped token ranks / sum of token surprisals (-log p), the
//                      surprisal sum floored at 1e-12 as in the reference rsr_cal.py
// Ties: more actions first, then the earlier record. Candidates the strategy cannot rank are
// ineligible: no scored action (teacher-count, teacher-ratio, min-teacher-count), no student
// tokens (grape), no student tokens with ranks (rsr); longest and random rank every candidate.
// Global budget (optional): picks are taken in rounds (every group's first pick, then every
// group's second pick, ...); within a round, by the same ranking across groups; stop at budget.
// Example:
//   rdpt::Selector sel({.strategy = rdpt::Strategy::TeacherCount});
//   sel.add("q1", {.order = 0, .n_actions = 10, .n_scored = 10, .n_teacher = 4});
//   std::vector<uint64_t> chosen = sel.select();   // input orders, ascending
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rdpt {

enum class Strategy { TeacherCount, TeacherRatio, Longest, MinTeacherCount, Random, Grape, Rsr };
Strategy parse_strategy(std::string_view s);  // throws UsageError listing the names
const char* strategy_name(Strategy s);
const std::vector<std::string>& strategy_names();

struct Candidate {
  uint64_t order = 0;                 // 0-based position in the input (the last tie-break)
  uint32_t n_actions = 0;             // all actions of the response
  uint32_t n_scored = 0;              // actions with a three-way type
  uint32_t n_teacher = 0;             // Teacher actions
  double student_logprob_mean = NAN;  // GRAPE score; NaN when the student has no tokens
  double rsr = NAN;                   // rank-surprisal ratio; NaN without student tokens with ranks
};

// The rank-surprisal ratio of a response from its tokens' clipped rank sum and log-prob sum:
// rank_sum / max(-logprob_sum, 1e-12); NaN for no tokens.
double rank_surprisal_ratio(uint64_t rank_sum, double logprob_sum, uint64_t n_tokens);

// Whether strategy s can rank c.
bool eligible(Strategy s, const Candidate& c);
// True when a ranks strictly before b under s (both eligible); `seed` is used by random.
bool ranks_before(Strategy s, const Candidate& a, const Candidate& b, uint64_t seed);

struct SelectOptions {
  Strategy strategy = Strategy::TeacherCount;
  uint32_t per_question = 1;  // K responses kept per group (>= 1)
  uint64_t budget = 0;        // at most this many in all (0: no budget)
  uint64_t seed = 0;          // random strategy's seed
};

struct SelectSummary {
  uint64_t n_groups = 0;
  uint64_t n_candidates = 0;   // all candidates added
  uint64_t n_ineligible = 0;   // candidates the strategy could not rank
  uint64_t n_groups_unranked = 0;  // groups none of whose candidates the strategy could rank (no pick)
  uint64_t n_chosen = 0;
  double mean_teacher_share_before = NAN;  // mean n_teacher/n_scored over candidates with n_scored > 0
  double mean_teacher_share_after = NAN;   // the same over the chosen
};

class Selector {
 public:
  // Throws UsageError when per_question is 0.
  explicit Selector(SelectOptions opts = {});
  void add(std::string_view group, const Candidate& c);
  // Orders of the chosen candidates, ascending (input order).
  std::vector<uint64_t> select(SelectSummary* summary = nullptr) const;

 private:
  SelectOptions opts_;
  std::unordered_map<std::string, uint32_t> group_index_;
  std::vector<std::vector<Candidate>> groups_;
};

}  // namespace rdpt
