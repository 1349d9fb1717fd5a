#include "rdpt/curves.h"

#include <cmath>
#include <string>

#include "rdpt/error.h"

namespace rdpt {

Interval wilson_interval(uint64_t k, uint64_t n, double z) {
  if (k > n) throw UsageError("wilson_interval: k = " + std::to_string(k) + " > n = " + std::to_string(n));
  if (n == 0) return {};
  const double nn = double(n), p = double(k) / nn, z2 = z * z;
  const double denom = 1.0 + z2 / nn;
  const double centre = (p + z2 / (2 * nn)) / denom;
  const double half = z / denom * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Interval difference_interval(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double z) {
  if (n1 == 0 || n2 == 0) return {};
  const Interval a = wilson_interval(k1, n1, z), b = wilson_interval(k2, n2, z);
  const double p1 = double(k1) / double(n1), p2 = double(k2) / double(n2), d = p1 - p2;
  return {d - std::sqrt((p1 - a.lo) * (p1 - a.lo) + (b.hi - p2) * (b.hi - p2)),
          d + std::sqrt((a.hi - p1) * (a.hi - p1) + (p2 - b.lo) * (p2 - b.lo))};
}

const char* subset_name(Subset s) {
  switch (s) {
    case Subset::Correct: return "correct";
    case Subset::Incorrect: return "incorrect";
    case Subset::All: return "all";
  }
  return "?";
}

double Curves::fraction(uint32_t j, Subset s, ActionType t) const {
  uint64_t nj = n_at(j, s);
  return nj ? double(count_at(j, s, t)) / nj : NAN;
}

Interval Curves::interval(uint32_t j, Subset s, ActionType t) const {
  return wilson_interval(count_at(j, s, t), n_at(j, s), options.z);
}

double NormCurves::mean(uint32_t bin, Subset s, ActionType t) const {
  const uint64_t n = m.at(bin)[size_t(s)];
  return n ? sum.at(bin)[size_t(s)][type_index(t)] / double(n) : NAN;
}

Interval NormCurves::interval(uint32_t bin, Subset s, ActionType t, double z) const {
  const uint64_t n = m.at(bin)[size_t(s)];
  if (n < 2) return {};
  const double mu = sum[bin][size_t(s)][type_index(t)] / double(n);
  const double var = std::max(0.0, (sum_sq[bin][size_t(s)][type_index(t)] - double(n) * mu * mu) / double(n - 1));
  const double half = z * std::sqrt(var / double(n));
  return {std::max(0.0, mu - half), std::min(1.0, mu + half)};
}

CurveAccumulator::CurveAccumulator(CurveOptions opts) : opts_(opts) {
  c_.options = opts;
  c_.norm.bins = opts.norm_bins;
  c_.norm.m.assign(opts.norm_bins, {});
  c_.norm.sum.assign(opts.norm_bins, {});
  c_.norm.sum_sq.assign(opts.norm_bins, {});
}

void CurveAccumulator::add(std::span<const std::optional<ActionType>> types, std::span<const uint32_t> tokens,
                           std::optional<bool> correct) {
  if (!tokens.empty() && tokens.size() != types.size())
    throw UsageError("curves: " + std::to_string(tokens.size()) + " token counts for " +
                     std::to_string(types.size()) + " actions");
  size_t len = types.size();
  if (opts_.max_positions && len > opts_.max_positions) len = opts_.max_positions;
  if (c_.n.size() < len) {
    c_.n.resize(len, {});
    c_.count.resize(len, {});
    tok_sum_.resize(len, 0.0);
    tok_n_.resize(len, 0);
  }
  const int sub = correct ? (*correct ? int(Subset::Correct) : int(Subset::Incorrect)) : -1;
  const size_t all = size_t(Subset::All);
  uint64_t cum = 0;
  for (size_t k = 0; k < len; ++k) {
    if (!tokens.empty()) cum += tokens[k];
    if (!types[k]) continue;
    size_t t = type_index(*types[k]);
    c_.n[k][all]++;
    c_.count[k][all][t]++;
    if (sub >= 0) {
      c_.n[k][sub]++;
      c_.count[k][sub][t]++;
    }
    if (!tokens.empty()) {
      tok_sum_[k] += double(cum);
      tok_n_[k]++;
    }
  }
  c_.n_responses++;
  c_.n_responses_by_subset[all]++;
  if (sub >= 0) c_.n_responses_by_subset[sub]++;
  // By normalised position: the response's typed actions per bin, then its proportions.
  const uint32_t B = opts_.norm_bins;
  if (B && !types.empty()) {
    auto& per = norm_scratch_;
    per.assign(B, std::array<uint32_t, kNumActionTypes>{});
    const double L = double(types.size());
    for (size_t k = 0; k < types.size(); ++k) {
      if (!types[k]) continue;
      const uint32_t b = std::min<uint32_t>(B - 1, uint32_t(double(B) * (double(k) + 0.5) / L));
      per[b][type_index(*types[k])]++;
    }
    for (uint32_t b = 0; b < B; ++b) {
      uint32_t typed = 0;
      for (uint32_t c : per[b]) typed += c;
      if (!typed) continue;
      for (int s : {int(all), sub}) {
        if (s < 0) continue;
        c_.norm.m[b][size_t(s)]++;
        for (size_t t = 0; t < kNumActionTypes; ++t) {
          const double p = double(per[b][t]) / double(typed);
          c_.norm.sum[b][size_t(s)][t] += p;
          c_.norm.sum_sq[b][size_t(s)][t] += p * p;
        }
      }
    }
  }
}

Curves CurveAccumulator::result() const {
  Curves r = c_;
  r.mean_cum_tokens.assign(r.n.size(), NAN);
  for (size_t k = 0; k < r.n.size(); ++k)
    if (tok_n_[k]) r.mean_cum_tokens[k] = tok_sum_[k] / double(tok_n_[k]);
  if (opts_.token_mark) {
    uint64_t next = opts_.token_mark;
    for (size_t k = 0; k < r.n.size(); ++k) {
      double m = r.mean_cum_tokens[k];
      if (std::isnan(m)) continue;
      while (m >= double(next)) {
        r.marks.push_back({next, uint32_t(k + 1)});
        next += opts_.token_mark;
      }
    }
  }
  return r;
}

double summed_correct_minus_incorrect(const Curves& c, ActionType t, uint32_t first_positions) {
  double s = 0;
  uint32_t last = uint32_t(std::min<size_t>(first_positions, c.size()));
  for (uint32_t j = 1; j <= last; ++j) {
    if (c.n_at(j, Subset::Correct) == 0 || c.n_at(j, Subset::Incorrect) == 0) continue;
    s += c.fraction(j, Subset::Correct, t) - c.fraction(j, Subset::Incorrect, t);
  }
  return s;
}

}  // namespace rdpt
