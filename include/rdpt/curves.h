// Curves by position (docs/method.md section 6), streamed one response at a time.
//
// For each position j (1-based, special-token actions included) and each subset (correct,
// incorrect, all), n_j counts the responses that have a scored action at j and count[t] those
// whose action j has type t; fraction = count / n_j with a Wilson 95% interval. A response with
// no correctness label counts in "all" only.
// Tokens: the cumulative distilled-model token count at j (sum of n_tokens of actions 1..j,
// unscored actions adding 0) is averaged over the same responses as n_j(all). Marks: for each
// multiple m*4096, the first position whose mean cumulative count is >= m*4096 (the mean is not
// monotone in j since short responses drop out, so "crosses" means "first reaches").
// Memory: O(longest response) counters.
// Example:
//   rdpt::CurveAccumulator acc({.scheme = rdpt::TypeScheme::FourWay});
//   acc.add(types, tokens, /*correct=*/true);
//   rdpt::Curves c = acc.result();  c.fraction(1, rdpt::Subset::All, rdpt::ActionType::Teacher)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "rdpt/provenance.h"

namespace rdpt {

inline constexpr double kZ95 = 1.959963984540054;  // two-sided 95% normal quantile

struct Interval {
  double lo = NAN, hi = NAN;
};
// Wilson score interval for k successes of n; NaN bounds when n == 0. Throws UsageError if k > n.
Interval wilson_interval(uint64_t k, uint64_t n, double z = kZ95);
// Newcombe's hybrid score interval (his method 10) for the difference p1 - p2 of two independent
// proportions p1 = k1/n1 and p2 = k2/n2, from their Wilson intervals (l1, u1), (l2, u2):
// [d - sqrt((p1-l1)^2 + (u2-p2)^2), d + sqrt((u1-p1)^2 + (p2-l2)^2)], d = p1 - p2. NaN bounds when
// n1 or n2 is 0. (Newcombe, Statistics in Medicine 17:873-890, 1998.)
Interval difference_interval(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double z = kZ95);

enum class Subset { Correct = 0, Incorrect = 1, All = 2 };
inline constexpr size_t kNumSubsets = 3;
const char* subset_name(Subset s);  // "correct", "incorrect", "all"

struct CurveOptions {
  TypeScheme scheme = TypeScheme::FourWay;
  uint32_t max_positions = 0;    // positions kept (0: all); later positions are ignored
  uint64_t token_mark = 4096;    // marks at every multiple of this many tokens (0: no marks)
  double z = kZ95;               // interval quantile
  uint32_t norm_bins = 20;       // bins of the curves by normalised position (0: none)
};

// Curves by normalised position (0-1 of each response): action k (0-based) of a response of L
// actions (all of them, as positions count) lies at (k + 0.5) / L, in bin floor(B (k + 0.5) / L)
// of B. Per bin, each response with a typed action there contributes its proportion of each type
// among its typed actions in the bin; the curve is the mean over those m responses, with the
// normal 95% interval mean +- z sd / sqrt(m) (sd over the responses, m - 1 in the denominator;
// clamped to [0, 1]; NaN bounds for m < 2). Responses weigh the same whatever their length; the
// whole response counts (max_positions crops the position curves only).
struct NormCurves {
  uint32_t bins = 0;
  std::vector<std::array<uint64_t, kNumSubsets>> m;  // [bin][subset]
  std::vector<std::array<std::array<double, kNumActionTypes>, kNumSubsets>> sum, sum_sq;  // [bin][subset][type]
  double mean(uint32_t bin, Subset s, ActionType t) const;  // NaN when m = 0
  Interval interval(uint32_t bin, Subset s, ActionType t, double z = kZ95) const;
};

struct TokenMark {
  uint64_t tokens = 0;   // m * token_mark
  uint32_t position = 0; // first j whose mean cumulative token count reaches `tokens`
};

struct Curves {
  CurveOptions options;
  // Index [j - 1]; positions run 1..size().
  std::vector<std::array<uint64_t, kNumSubsets>> n;
  std::vector<std::array<std::array<uint64_t, kNumActionTypes>, kNumSubsets>> count;
  std::vector<double> mean_cum_tokens;  // NaN where no response had distilled token counts
  std::vector<TokenMark> marks;
  uint64_t n_responses = 0;
  std::array<uint64_t, kNumSubsets> n_responses_by_subset{};
  NormCurves norm;                      // by normalised position (options.norm_bins bins)

  size_t size() const { return n.size(); }
  uint64_t n_at(uint32_t j, Subset s) const { return n.at(j - 1)[size_t(s)]; }
  uint64_t count_at(uint32_t j, Subset s, ActionType t) const { return count.at(j - 1)[size_t(s)][type_index(t)]; }
  // count / n at j; NaN when n_j = 0.
  double fraction(uint32_t j, Subset s, ActionType t) const;
  Interval interval(uint32_t j, Subset s, ActionType t) const;
};

class CurveAccumulator {
 public:
  explicit CurveAccumulator(CurveOptions opts = {});
  // One response: its action types (nullopt = unscored), the distilled model's token count per
  // action (empty when unknown; else the same size as types), and its correctness (nullopt:
  // unknown). Throws UsageError when the sizes differ.
  void add(std::span<const std::optional<ActionType>> types, std::span<const uint32_t> tokens,
           std::optional<bool> correct);
  Curves result() const;

 private:
  CurveOptions opts_;
  Curves c_;
  std::vector<double> tok_sum_;
  std::vector<uint64_t> tok_n_;
  std::vector<std::array<uint32_t, kNumActionTypes>> norm_scratch_;  // one response's typed actions per bin
};

// Sum over positions 1..first_positions where both subsets have n_j > 0 of
// fraction(correct, t) - fraction(incorrect, t) (paper A.4.3 uses Teacher and 400).
double summed_correct_minus_incorrect(const Curves& c, ActionType t, uint32_t first_positions = 400);

}  // namespace rdpt
