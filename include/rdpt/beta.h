// Choosing beta (docs/method.md section 5), streamed one response at a time.
//
// For each candidate beta every response with at least one scored action contributes the
// proportion of each type among its scored actions; per type these proportions make a
// histogram of 20 equal bins on [0, 1] (bin k holds [k/20, (k+1)/20), the last also holds 1;
// the bin is computed in integers, floor(20 * count / n_scored), so no rounding moves a value),
// normalised to sum 1. overlap(h1, h2) = sum over bins of min(h1, h2).
//   Analysis (four-way, paper A.2.2): candidates 0.05, 0.10, 0.15, 0.20; the two most frequent
//     types of a candidate are the two with the highest mean per-response proportion (not pooled
//     action counts; ties, i.e. means within kMeanTieTolerance, in the order Shared, Teacher,
//     Student, Boosted; see two_most_frequent); pick the candidate whose two histograms overlap
//     least.
//   Training (three-way, paper Algorithm 1): candidates 0.05, 0.10, ..., 1.00 in order;
//     O = overlap(Student, Common) + overlap(Common, Teacher); keep the smallest O; stop after the
//     first candidate where the mean Common proportion exceeds the mean Teacher proportion.
// Ties keep the earlier candidate (strict "<", as in Algorithm 1).
// Memory: candidates x 5 types x 20 bins counters, whatever the number of responses.
// Example:
//   rdpt::BetaSearch s({.procedure = rdpt::BetaProcedure::Training});
//   for (...) s.add(pT, pS, {});
//   rdpt::BetaResult r = s.result();   // r.beta, r.candidates[k].histogram[...]
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rdpt/provenance.h"

namespace rdpt {

inline constexpr int kHistBins = 20;
using Histogram = std::array<double, kHistBins>;

// Bin of the proportion count / n (n > 0, count <= n).
inline int proportion_bin(uint32_t count, uint32_t n) {
  uint64_t b = uint64_t(count) * kHistBins / n;
  return b >= kHistBins ? kHistBins - 1 : int(b);
}
double histogram_overlap(const Histogram& a, const Histogram& b);

// Means of per-response proportions closer than this count as tied. They are sums of fractions
// (count / n_scored), so mathematically equal means can differ in their last bits.
inline constexpr double kMeanTieTolerance = 1e-12;
// "The two most frequent types" of the analysis procedure (docs/method.md section 5): the two
// types of the scheme with the highest mean per-response proportion, ties (see
// kMeanTieTolerance) in the scheme's order (Shared, Teacher, Student, Boosted). Every user of the
// analysis pick goes through this function (via BetaSearch::result).
std::pair<ActionType, ActionType> two_most_frequent(TypeScheme scheme,
                                                    const std::array<double, kNumActionTypes>& mean_proportion);

enum class BetaProcedure { Analysis, Training };
const char* procedure_name(BetaProcedure p);       // "analysis" / "training"
BetaProcedure parse_procedure(std::string_view s);  // throws UsageError
TypeScheme procedure_scheme(BetaProcedure p);       // Analysis -> FourWay, Training -> ThreeWay
std::vector<double> default_beta_candidates(BetaProcedure p);

struct BetaOptions {
  BetaProcedure procedure = BetaProcedure::Analysis;
  double alpha = 0.1;              // Shared band (Analysis only)
  std::vector<double> candidates;  // empty: the procedure's default list, in order
};

struct BetaCandidate {
  double beta = 0;
  std::array<Histogram, kNumActionTypes> histogram{};       // normalised; all 0 for types not in the scheme
  std::array<double, kNumActionTypes> mean_proportion{};    // mean over responses of the per-response share
  std::array<uint64_t, kNumActionTypes> n_actions{};        // pooled action counts (reported only, not the pick)
  // Analysis: the two most frequent types by mean_proportion (two_most_frequent).
  ActionType first = ActionType::Teacher, second = ActionType::Teacher;
  double overlap = 0;                   // the criterion: Analysis overlap(first, second); Training O1 + O2
  double overlap_student_common = 0;    // Training: O1
  double overlap_common_teacher = 0;    // Training: O2
  bool considered = true;               // false for candidates after the stop (Training)
  bool stopped_here = false;            // the stop rule fired at this candidate
};

struct BetaResult {
  BetaProcedure procedure = BetaProcedure::Analysis;
  double alpha = 0.1;
  uint64_t n_responses = 0;           // responses with at least one scored action
  uint64_t n_skipped = 0;             // responses without any scored action (not in histograms)
  std::vector<BetaCandidate> candidates;
  size_t pick = 0;                    // index into candidates
  double beta = 0;                    // candidates[pick].beta
};

class BetaSearch {
 public:
  // Throws UsageError for an empty/negative/non-finite candidate or alpha.
  explicit BetaSearch(BetaOptions opts = {});
  // One response: per-action probabilities (NaN = unscored). pD is ignored for Training.
  void add(std::span<const double> pT, std::span<const double> pS, std::span<const double> pD);
  // n responses with no scored action (the same as add() with all-NaN or empty probabilities,
  // for scans that do not visit them).
  void add_skipped(uint64_t n) { n_skipped_ += n; }

  // The beta-free part of each action's typing, one byte per action, for a second pass that types
  // at the chosen beta without the probabilities (rdpt::trace): add() with `codes` appends one
  // code per action of the response; type_of(code, c) is then that action's type at candidate c
  // (an index into options().candidates), exactly as type_four_way / type_three_way decide it.
  // A code is: unscored, Shared (under alpha, four-way), or the sign of pT - pS with the number of
  // distinct candidates below |pT - pS|. Needs codable(): at most kMaxCodedCandidates candidates.
  static constexpr size_t kMaxCodedCandidates = 120;
  bool codable() const { return sorted_.size() <= kMaxCodedCandidates; }
  void add(std::span<const double> pT, std::span<const double> pS, std::span<const double> pD,
           std::vector<uint8_t>* codes);
  std::optional<ActionType> type_of(uint8_t code, size_t c) const;
  // Throws DataError when no response had a scored action.
  BetaResult result() const;
  const BetaOptions& options() const { return opts_; }

 private:
  BetaOptions opts_;
  TypeScheme scheme_;
  uint64_t n_responses_ = 0, n_skipped_ = 0;
  // [candidate][type][bin] response counts; [candidate][type] sums of proportions (compensated:
  // prop_sum_ + prop_err_) and action counts.
  std::vector<std::array<std::array<uint64_t, kHistBins>, kNumActionTypes>> bins_;
  std::vector<std::array<double, kNumActionTypes>> prop_sum_, prop_err_;
  std::vector<std::array<uint64_t, kNumActionTypes>> n_act_;
  std::vector<double> diffs_;  // scratch of add(): pT - pS of the scored actions that are not Shared
  std::vector<double> sorted_;      // the distinct candidates, ascending (the codes' scale)
  std::vector<uint8_t> rank_;       // per candidate: its index in sorted_
};

}  // namespace rdpt
