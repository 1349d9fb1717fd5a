// Alignment of output distributions (METHOD.md section 8, paper A.4.2): histograms of
// pT - pD per action over a set of responses.
//
// Bins: n_bins equal bins on [lo, hi]; bin k holds [lo + k w, lo + (k+1) w), the last also holds
// hi; values outside [lo, hi] are clamped into the end bins (pT - pD always lies in [-1, 1]).
// NaN values (unscored actions) are not added.
// Example:
//   rdpt::DiffHistogram h;            // 40 bins on [-1, 1]
//   h.add(0.9 - 0.85);
//   auto f = h.normalised();          // sums to 1
#pragma once

#include <cstdint>
#include <vector>

namespace rdpt {

class DiffHistogram {
 public:
  // Throws UsageError unless n_bins >= 1 and lo < hi (both finite).
  explicit DiffHistogram(uint32_t n_bins = 40, double lo = -1.0, double hi = 1.0);
  void add(double d);
  uint64_t n() const { return n_; }
  const std::vector<uint64_t>& counts() const { return counts_; }
  std::vector<double> normalised() const;  // counts / n (all 0 when n == 0)
  double mean() const;                     // NaN when n == 0
  double mean_abs() const;                 // mean |d|; NaN when n == 0
  double bin_lo(uint32_t k) const { return lo_ + (hi_ - lo_) * k / counts_.size(); }
  uint32_t n_bins() const { return uint32_t(counts_.size()); }

 private:
  double lo_, hi_;
  std::vector<uint64_t> counts_;
  uint64_t n_ = 0;
  double sum_ = 0, sum_abs_ = 0;
};

}  // namespace rdpt
