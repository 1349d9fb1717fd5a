#include "rdpt/select.h"

#include <algorithm>

#include "core/rng.h"
#include "rdpt/error.h"

namespace rdpt {

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> k = {"teacher-count", "teacher-ratio", "longest",
                                             "min-teacher-count", "random", "grape", "rsr"};
  return k;
}

Strategy parse_strategy(std::string_view s) {
  const auto& names = strategy_names();
  for (size_t k = 0; k < names.size(); ++k)
    if (names[k] == s) return Strategy(k);
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : "|") + n;
  throw UsageError("unknown strategy '" + std::string(s) + "' (expected " + all + ")");
}

const char* strategy_name(Strategy s) { return strategy_names().at(size_t(s)).c_str(); }

double rank_surprisal_ratio(uint64_t rank_sum, double logprob_sum, uint64_t n_tokens) {
  if (n_tokens == 0) return NAN;
  return double(rank_sum) / std::max(-logprob_sum, 1e-12);
}

bool eligible(Strategy s, const Candidate& c) {
  switch (s) {
    case Strategy::TeacherCount:
    case Strategy::TeacherRatio:
    case Strategy::MinTeacherCount: return c.n_scored > 0;
    case Strategy::Grape: return !std::isnan(c.student_logprob_mean);
    case Strategy::Rsr: return !std::isnan(c.rsr);
    case Strategy::Longest:
    case Strategy::Random: return true;
  }
  return false;
}

namespace {
double random_key(uint64_t seed, uint64_t order) { return detail::to_unit(detail::mix(seed, order)); }
}  // namespace

bool ranks_before(Strategy s, const Candidate& a, const Candidate& b, uint64_t seed) {
  switch (s) {
    case Strategy::TeacherCount:
      if (a.n_teacher != b.n_teacher) return a.n_teacher > b.n_teacher;
      break;
    case Strategy::MinTeacherCount:
      if (a.n_teacher != b.n_teacher) return a.n_teacher < b.n_teacher;
      break;
    case Strategy::TeacherRatio: {
      // a.t / a.s vs b.t / b.s, exactly
      uint64_t l = uint64_t(a.n_teacher) * b.n_scored, r = uint64_t(b.n_teacher) * a.n_scored;
      if (l != r) return l > r;
      break;
    }
    case Strategy::Longest: break;
    case Strategy::Random: {
      double ka = random_key(seed, a.order), kb = random_key(seed, b.order);
      if (ka != kb) return ka < kb;
      break;
    }
    case Strategy::Grape:
      if (a.student_logprob_mean != b.student_logprob_mean) return a.student_logprob_mean > b.student_logprob_mean;
      break;
    case Strategy::Rsr:
      if (a.rsr != b.rsr) return a.rsr < b.rsr;
      break;
  }
  if (a.n_actions != b.n_actions) return a.n_actions > b.n_actions;
  return a.order < b.order;
}

Selector::Selector(SelectOptions opts) : opts_(opts) {
  if (opts_.per_question == 0) throw UsageError("per-question must be >= 1, got 0");
}

void Selector::add(std::string_view group, const Candidate& c) {
  auto [it, fresh] = group_index_.try_emplace(std::string(group), uint32_t(groups_.size()));
  if (fresh) groups_.emplace_back();
  groups_[it->second].push_back(c);
}

std::vector<uint64_t> Selector::select(SelectSummary* summary) const {
  const Strategy s = opts_.strategy;
  auto before = [&](const Candidate& a, const Candidate& b) { return ranks_before(s, a, b, opts_.seed); };
  // rounds[r] = every group's r-th pick
  std::vector<std::vector<Candidate>> rounds;
  SelectSummary sum;
  sum.n_groups = groups_.size();
  double share_before = 0;
  uint64_t n_share_before = 0;
  std::vector<Candidate> ranked;
  for (const auto& g : groups_) {
    ranked.clear();
    for (const auto& c : g) {
      sum.n_candidates++;
      if (c.n_scored) {
        share_before += double(c.n_teacher) / c.n_scored;
        n_share_before++;
      }
      if (eligible(s, c))
        ranked.push_back(c);
      else
        sum.n_ineligible++;
    }
    if (ranked.empty()) sum.n_groups_unranked++;
    size_t k = std::min<size_t>(opts_.per_question, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + k, ranked.end(), before);
    if (rounds.size() < k) rounds.resize(k);
    for (size_t r = 0; r < k; ++r) rounds[r].push_back(ranked[r]);
  }
  std::vector<uint64_t> chosen;
  double share_after = 0;
  uint64_t n_share_after = 0;
  for (auto& round : rounds) {
    if (opts_.budget) std::sort(round.begin(), round.end(), before);
    for (const auto& c : round) {
      if (opts_.budget && chosen.size() >= opts_.budget) break;
      chosen.push_back(c.order);
      if (c.n_scored) {
        share_after += double(c.n_teacher) / c.n_scored;
        n_share_after++;
      }
    }
  }
  std::sort(chosen.begin(), chosen.end());
  sum.n_chosen = chosen.size();
  if (n_share_before) sum.mean_teacher_share_before = share_before / n_share_before;
  if (n_share_after) sum.mean_teacher_share_after = share_after / n_share_after;
  if (summary) *summary = sum;
  return chosen;
}

}  // namespace rdpt
