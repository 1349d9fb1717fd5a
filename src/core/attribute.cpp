#include "rdpt/attribute.h"

#include <algorithm>
#include <array>
#include <string>

#include "core/rng.h"
#include "rdpt/error.h"

namespace rdpt {

uint32_t poisson1_from_uniform(double u) {
  // cumulative P(K <= k) for K ~ Poisson(1)
  static const std::array<double, 20> cdf = [] {
    std::array<double, 20> c{};
    double p = std::exp(-1.0), s = 0;
    for (int k = 0; k < 20; ++k) {
      s += p;
      c[k] = s;
      p /= (k + 1);
    }
    return c;
  }();
  for (uint32_t k = 0; k < cdf.size(); ++k)
    if (u < cdf[k]) return k;
  return uint32_t(cdf.size());
}

ShareBootstrap::ShareBootstrap(size_t n_series, BootstrapOptions opts) : n_series_(n_series), opts_(opts) {
  if (n_series == 0) throw UsageError("bootstrap: no series");
  if (opts_.n_replicates == 0) throw UsageError("bootstrap: replicates must be >= 1, got 0");
  if (!(opts_.level > 0 && opts_.level < 1))
    throw UsageError("bootstrap: level must be in (0, 1), got " + std::to_string(opts_.level));
  sum_.assign(n_series, 0);
  n_.assign(n_series, 0);
  wsum_.assign(size_t(opts_.n_replicates) * n_series, 0);
  wn_.assign(size_t(opts_.n_replicates) * n_series, 0);
  weights_.resize(opts_.n_replicates);
}

void ShareBootstrap::add(std::span<const double> values) {
  if (values.size() != n_series_)
    throw UsageError("bootstrap: " + std::to_string(values.size()) + " values for " + std::to_string(n_series_) +
                     " series");
  uint64_t state = detail::mix(opts_.seed, n_added_++);
  for (auto& w : weights_) w = poisson1_from_uniform(detail::to_unit(detail::splitmix64(state)));
  for (size_t s = 0; s < n_series_; ++s) {
    double x = values[s];
    if (std::isnan(x)) continue;
    sum_[s] += x;
    n_[s]++;
    for (uint32_t r = 0; r < opts_.n_replicates; ++r) {
      if (!weights_[r]) continue;
      wsum_[r * n_series_ + s] += weights_[r] * x;
      wn_[r * n_series_ + s] += weights_[r];
    }
  }
}

ShareEstimate ShareBootstrap::estimate(size_t series) const {
  if (series >= n_series_) throw UsageError("bootstrap: no series " + std::to_string(series));
  ShareEstimate e;
  e.n = n_[series];
  if (!e.n) return e;
  e.mean = sum_[series] / double(e.n);
  std::vector<double> reps;
  reps.reserve(opts_.n_replicates);
  for (uint32_t r = 0; r < opts_.n_replicates; ++r) {
    double w = wn_[r * n_series_ + series];
    if (w > 0) reps.push_back(wsum_[r * n_series_ + series] / w);
  }
  if (reps.empty()) return e;
  std::sort(reps.begin(), reps.end());
  auto quantile = [&](double q) {  // linear interpolation between order statistics
    double pos = q * double(reps.size() - 1);
    size_t i = size_t(pos);
    double f = pos - double(i);
    return i + 1 < reps.size() ? reps[i] * (1 - f) + reps[i + 1] * f : reps[i];
  };
  double tail = (1 - opts_.level) / 2;
  e.lo = quantile(tail);
  e.hi = quantile(1 - tail);
  return e;
}

}  // namespace rdpt
