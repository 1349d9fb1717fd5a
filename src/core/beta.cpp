#include "rdpt/beta.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <tuple>

#include "rdpt/error.h"

namespace rdpt {

namespace {
// Neumaier's compensated sum: sum + err is the sum of the added terms to within a few ulps,
// whatever their number, so that mathematically equal means stay within kMeanTieTolerance.
void add_compensated(double& sum, double& err, double x) {
  double t = sum + x;
  err += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
  sum = t;
}
}  // namespace

std::pair<ActionType, ActionType> two_most_frequent(TypeScheme scheme,
                                                    const std::array<double, kNumActionTypes>& mean_proportion) {
  // Scan in the scheme's order (Shared, Teacher, Student, Boosted); a later type displaces the
  // current best only when its mean is higher by more than the tie tolerance.
  auto best_of = [&](std::optional<ActionType> skip) {
    std::optional<ActionType> best;
    for (ActionType t : scheme_types(scheme)) {
      if (t == skip) continue;
      if (!best || mean_proportion[type_index(t)] > mean_proportion[type_index(*best)] + kMeanTieTolerance) best = t;
    }
    return *best;
  };
  const ActionType first = best_of(std::nullopt);
  return {first, best_of(first)};
}

double histogram_overlap(const Histogram& a, const Histogram& b) {
  double s = 0;
  for (int k = 0; k < kHistBins; ++k) s += std::min(a[k], b[k]);
  return s;
}

const char* procedure_name(BetaProcedure p) { return p == BetaProcedure::Analysis ? "analysis" : "training"; }

BetaProcedure parse_procedure(std::string_view s) {
  if (s == "analysis") return BetaProcedure::Analysis;
  if (s == "training") return BetaProcedure::Training;
  throw UsageError("unknown beta procedure '" + std::string(s) + "' (expected analysis or training)");
}

TypeScheme procedure_scheme(BetaProcedure p) {
  return p == BetaProcedure::Analysis ? TypeScheme::FourWay : TypeScheme::ThreeWay;
}

std::vector<double> default_beta_candidates(BetaProcedure p) {
  std::vector<double> c;
  int last = p == BetaProcedure::Analysis ? 4 : 20;
  for (int k = 1; k <= last; ++k) c.push_back(k / 20.0);  // k/20 is the double nearest 0.05k
  return c;
}

BetaSearch::BetaSearch(BetaOptions opts) : opts_(std::move(opts)), scheme_(procedure_scheme(opts_.procedure)) {
  if (opts_.candidates.empty()) opts_.candidates = default_beta_candidates(opts_.procedure);
  for (double b : opts_.candidates) check_thresholds({opts_.alpha, b});
  size_t n = opts_.candidates.size();
  bins_.assign(n, {});
  prop_sum_.assign(n, {});
  prop_err_.assign(n, {});
  n_act_.assign(n, {});
  sorted_ = opts_.candidates;
  std::sort(sorted_.begin(), sorted_.end());
  sorted_.erase(std::unique(sorted_.begin(), sorted_.end()), sorted_.end());
  if (codable())
    for (double b : opts_.candidates)
      rank_.push_back(uint8_t(std::lower_bound(sorted_.begin(), sorted_.end(), b) - sorted_.begin()));
}

namespace {
constexpr uint8_t kCodeUnscored = 0xFF, kCodeShared = 0xFE, kCodeNegative = 0x80;
}  // namespace

std::optional<ActionType> BetaSearch::type_of(uint8_t code, size_t c) const {
  if (c >= rank_.size())
    throw UsageError("beta search: type_of(candidate " + std::to_string(c) + ") of " +
                     std::to_string(opts_.candidates.size()) + " candidates" + (codable() ? "" : " (not codable)"));
  if (code == kCodeUnscored) return std::nullopt;
  if (code == kCodeShared) return ActionType::Shared;
  // |d| exceeds candidate c exactly when more than rank_[c] distinct candidates lie below |d|;
  // beta >= 0, so d > beta needs d > 0 and -d > beta needs d < 0.
  if ((code & ~kCodeNegative) > rank_[c]) return code & kCodeNegative ? ActionType::Student : ActionType::Teacher;
  return scheme_ == TypeScheme::FourWay ? ActionType::Boosted : ActionType::Common;
}

void BetaSearch::add(std::span<const double> pT, std::span<const double> pS, std::span<const double> pD,
                     std::vector<uint8_t>* codes) {
  if (codes && !codable())
    throw UsageError("beta search: more than " + std::to_string(kMaxCodedCandidates) +
                     " candidates cannot be coded in a byte");
  add(pT, pS, pD);
  if (!codes) return;
  // The same decisions as add() (and type_four_way / type_three_way), kept per action.
  const bool four = scheme_ == TypeScheme::FourWay;
  const size_t n = pT.size();
  for (size_t k = 0; k < n; ++k) {
    if (std::isnan(pT[k]) || std::isnan(pS[k]) || (four && std::isnan(pD[k]))) {
      codes->push_back(kCodeUnscored);
      continue;
    }
    const double dTS = pT[k] - pS[k];
    if (four) {
      const double dSD = pS[k] - pD[k], dTD = pT[k] - pD[k];
      if (std::fabs(dSD) <= opts_.alpha && std::fabs(dTD) <= opts_.alpha && std::fabs(dTS) <= opts_.alpha) {
        codes->push_back(kCodeShared);
        continue;
      }
    }
    // Candidates below |d| (a NaN d, from inf - inf, has none: neither Teacher nor Student, as
    // in type_four_way). A d of either sign at 0 has none either.
    const double mag = std::fabs(dTS);
    const auto below = uint8_t(std::lower_bound(sorted_.begin(), sorted_.end(), mag) - sorted_.begin());
    codes->push_back(uint8_t((dTS < 0 ? kCodeNegative : 0) | below));
  }
}

void BetaSearch::add(std::span<const double> pT, std::span<const double> pS, std::span<const double> pD) {
  const bool four = scheme_ == TypeScheme::FourWay;
  const size_t n = pT.size();
  if (pS.size() != n || (four && pD.size() != n)) {
    type_actions(scheme_, pT, pS, four ? pD : pT, {opts_.alpha, 0});  // throws its UsageError
    return;
  }
  // Typing once per candidate would repeat the part that does not depend on beta (scored? Shared
  // under alpha? pT - pS): it is done once here, and each candidate only counts how many of the
  // remaining differences exceed +beta (Teacher) and -beta (Student), exactly as type_four_way and
  // type_three_way decide (the rest is Boosted, or Common for three-way).
  diffs_.clear();
  uint32_t n_shared = 0;
  for (size_t k = 0; k < n; ++k) {
    if (std::isnan(pT[k]) || std::isnan(pS[k]) || (four && std::isnan(pD[k]))) continue;
    const double dTS = pT[k] - pS[k];
    if (four) {
      const double dSD = pS[k] - pD[k], dTD = pT[k] - pD[k];
      if (std::fabs(dSD) <= opts_.alpha && std::fabs(dTD) <= opts_.alpha && std::fabs(dTS) <= opts_.alpha) {
        ++n_shared;
        continue;
      }
    }
    diffs_.push_back(dTS);
  }
  const uint32_t n_scored = n_shared + uint32_t(diffs_.size());
  if (n_scored == 0) {
    ++n_skipped_;
    return;
  }
  ++n_responses_;
  for (size_t c = 0; c < opts_.candidates.size(); ++c) {
    const double beta = opts_.candidates[c];
    uint32_t n_teacher = 0, n_student = 0;
    for (double d : diffs_) {
      n_teacher += d > beta;
      n_student += -d > beta;
    }
    TypeCounts tc;
    tc.n_actions = uint32_t(n);
    tc.n_scored = n_scored;
    const uint32_t rest = uint32_t(diffs_.size()) - n_teacher - n_student;
    tc.n[type_index(ActionType::Teacher)] = n_teacher;
    tc.n[type_index(ActionType::Student)] = n_student;
    if (four) {
      tc.n[type_index(ActionType::Shared)] = n_shared;
      tc.n[type_index(ActionType::Boosted)] = rest;
    } else {
      tc.n[type_index(ActionType::Common)] = rest;
    }
    for (ActionType t : scheme_types(scheme_)) {
      size_t i = type_index(t);
      bins_[c][i][proportion_bin(tc.n[i], tc.n_scored)]++;
      add_compensated(prop_sum_[c][i], prop_err_[c][i], double(tc.n[i]) / tc.n_scored);
      n_act_[c][i] += tc.n[i];
    }
  }
}

BetaResult BetaSearch::result() const {
  if (n_responses_ == 0)
    throw DataError("beta search: no response has a scored action under all models (" +
                    std::to_string(n_skipped_) + " responses seen)");
  BetaResult r;
  r.procedure = opts_.procedure;
  r.alpha = opts_.alpha;
  r.n_responses = n_responses_;
  r.n_skipped = n_skipped_;
  double best = INFINITY;
  bool stopped = false;
  for (size_t c = 0; c < opts_.candidates.size(); ++c) {
    BetaCandidate bc;
    bc.beta = opts_.candidates[c];
    for (ActionType t : scheme_types(scheme_)) {
      size_t i = type_index(t);
      for (int k = 0; k < kHistBins; ++k) bc.histogram[i][k] = double(bins_[c][i][k]) / n_responses_;
      bc.mean_proportion[i] = (prop_sum_[c][i] + prop_err_[c][i]) / n_responses_;
      bc.n_actions[i] = n_act_[c][i];
    }
    if (opts_.procedure == BetaProcedure::Analysis) {
      std::tie(bc.first, bc.second) = two_most_frequent(scheme_, bc.mean_proportion);
      bc.overlap = histogram_overlap(bc.histogram[type_index(bc.first)], bc.histogram[type_index(bc.second)]);
    } else {
      const auto& hS = bc.histogram[type_index(ActionType::Student)];
      const auto& hC = bc.histogram[type_index(ActionType::Common)];
      const auto& hT = bc.histogram[type_index(ActionType::Teacher)];
      bc.first = ActionType::Common;
      bc.second = ActionType::Teacher;
      bc.overlap_student_common = histogram_overlap(hS, hC);
      bc.overlap_common_teacher = histogram_overlap(hC, hT);
      bc.overlap = bc.overlap_student_common + bc.overlap_common_teacher;
    }
    bc.considered = !stopped;
    if (!stopped) {
      if (bc.overlap < best) {
        best = bc.overlap;
        r.pick = c;
      }
      if (opts_.procedure == BetaProcedure::Training &&
          bc.mean_proportion[type_index(ActionType::Common)] > bc.mean_proportion[type_index(ActionType::Teacher)]) {
        bc.stopped_here = true;
        stopped = true;
      }
    }
    r.candidates.push_back(bc);
  }
  r.beta = r.candidates[r.pick].beta;
  return r;
}

}  // namespace rdpt
