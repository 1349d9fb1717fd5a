// Alignment of output distributions (docs/method.md section 8, paper A.4.2): histograms of
// pT - pD per action over a set of responses.
//
// Bins: n_bins equal bins on [lo, hi] with edges e_k = lo + (hi - lo) * k / n_bins (k < n_bins,
// computed once in doubles; e_{n_bins} = hi), exactly the doubles edges() returns and rdpt align
// writes as bin_edges. Bin k holds the d with e_k <= d < e_{k+1}, compared against those doubles
// (no rounding of (d - lo) / w moves a value near an edge), the last bin also holds hi; values
// outside [lo, hi] are clamped into the end bins (pT - pD always lies in [-1, 1]).
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
  double bin_lo(uint32_t k) const { return edges_.at(k); }
  const std::vector<double>& edges() const { return edges_; }  // n_bins + 1 edges, lo .. hi
  uint32_t n_bins() const { return uint32_t(counts_.size()); }
  uint32_t bin_of(double d) const;  // the bin add(d) counts d in (d not NaN)

 private:
  double lo_, hi_;
  std::vector<double> edges_;
  std::vector<uint64_t> counts_;
  uint64_t n_ = 0;
  double sum_ = 0, sum_abs_ = 0;
};

}  // namespace rdpt
