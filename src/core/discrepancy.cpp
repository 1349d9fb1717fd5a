#include "rdpt/discrepancy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "rdpt/error.h"

namespace rdpt {

DiffHistogram::DiffHistogram(uint32_t n_bins, double lo, double hi) : lo_(lo), hi_(hi) {
  if (n_bins == 0) throw UsageError("histogram: bins must be >= 1, got 0");
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
    throw UsageError("histogram: range must be finite with lo < hi, got [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  counts_.assign(n_bins, 0);
  edges_.resize(size_t(n_bins) + 1);
  // One rounding of (lo * n + (hi - lo) * k) / n (products and sum in long double): the edges are
  // the doubles nearest to their decimals (-0.1, not -0.09999999999999998, for 40 bins on
  // [-1, 1]), so a value equal to a decimal edge falls in the bin that starts there.
  for (uint32_t k = 0; k < n_bins; ++k)
    edges_[k] = double((static_cast<long double>(lo_) * n_bins + (static_cast<long double>(hi_) - lo_) * k) / n_bins);
  edges_[n_bins] = hi_;
}

uint32_t DiffHistogram::bin_of(double d) const {
  // The number of inner edges e_1 .. e_{n-1} that are <= d: e_k <= d < e_{k+1} against the stored
  // doubles; below lo gives 0, hi and above give n - 1.
  auto inner_begin = edges_.begin() + 1, inner_end = edges_.end() - 1;
  return uint32_t(std::upper_bound(inner_begin, inner_end, d) - inner_begin);
}

void DiffHistogram::add(double d) {
  if (std::isnan(d)) return;
  counts_[bin_of(d)]++;
  n_++;
  sum_ += d;
  sum_abs_ += std::fabs(d);
}

std::vector<double> DiffHistogram::normalised() const {
  std::vector<double> f(counts_.size(), 0.0);
  if (!n_) return f;
  for (size_t k = 0; k < f.size(); ++k) f[k] = double(counts_[k]) / double(n_);
  return f;
}

double DiffHistogram::mean() const { return n_ ? sum_ / double(n_) : NAN; }
double DiffHistogram::mean_abs() const { return n_ ? sum_abs_ / double(n_) : NAN; }

}  // namespace rdpt
