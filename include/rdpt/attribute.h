// Which teacher? (docs/method.md section 8, paper A.4.3): per candidate teacher, the Teacher and
// Student shares of one distilled model's actions, with bootstrap 95% intervals.
//
// A share is the mean over responses of the per-response proportion (the quantity whose
// histograms section 5 draws). Intervals come from a seeded *Poisson bootstrap* (each response
// gets, in each replicate, a weight drawn from Poisson(1); Hanley & MacGibbon 2006, Chamandy et
// al. 2012), which streams: memory is replicates x series, not responses. Weights are shared by
// all series of one response, so comparisons between teachers are paired. Percentile intervals.
// Example:
//   rdpt::ShareBootstrap bs(2, {.n_replicates = 1000, .seed = 1});
//   bs.add(std::array{0.6, 0.1});   // one response: its value in each series (NaN: absent)
//   rdpt::ShareEstimate e = bs.estimate(0);  // mean, lo, hi, n
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace rdpt {

struct BootstrapOptions {
  uint32_t n_replicates = 1000;  // replicates (>= 1)
  uint64_t seed = 0;             // the weights depend on seed and the response's rank in the stream
  double level = 0.95;           // central interval level (0 < level < 1)
};

struct ShareEstimate {
  double mean = NAN;   // plain mean over the responses counted
  double lo = NAN;     // bootstrap percentile bounds
  double hi = NAN;
  uint64_t n = 0;      // responses counted (value not NaN)
};

class ShareBootstrap {
 public:
  // Throws UsageError for 0 series, 0 replicates, or a level outside (0, 1).
  ShareBootstrap(size_t n_series, BootstrapOptions opts = {});
  // One response's value in each series (size n_series; NaN: not counted in that series).
  void add(std::span<const double> values);
  ShareEstimate estimate(size_t series) const;
  size_t n_series() const { return n_series_; }

 private:
  size_t n_series_;
  BootstrapOptions opts_;
  uint64_t n_added_ = 0;
  std::vector<double> sum_;      // [series]
  std::vector<uint64_t> n_;      // [series]
  std::vector<double> wsum_;     // [replicate * n_series + series] sum of w * x
  std::vector<double> wn_;       // [replicate * n_series + series] sum of w
  std::vector<uint32_t> weights_;  // scratch
};

// Draws k ~ Poisson(1) from a uniform u in [0, 1) (inverse CDF).
uint32_t poisson1_from_uniform(double u);

}  // namespace rdpt
