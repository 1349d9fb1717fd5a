#include "rdpt/discrepancy.h"

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
}

void DiffHistogram::add(double d) {
  if (std::isnan(d)) return;
  const double nb = double(counts_.size());
  double x = (d - lo_) / (hi_ - lo_) * nb;
  size_t k = x <= 0 ? 0 : (x >= nb ? counts_.size() - 1 : size_t(x));
  counts_[k]++;
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
