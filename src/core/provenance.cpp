#include "rdpt/provenance.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "rdpt/error.h"

namespace rdpt {

namespace {
constexpr ActionType kFour[] = {ActionType::Shared, ActionType::Teacher, ActionType::Student, ActionType::Boosted};
constexpr ActionType kThree[] = {ActionType::Common, ActionType::Teacher, ActionType::Student};
}  // namespace

std::span<const ActionType> scheme_types(TypeScheme s) {
  if (s == TypeScheme::FourWay) return kFour;
  return kThree;
}

const char* type_name(ActionType t) {
  switch (t) {
    case ActionType::Shared: return "Shared";
    case ActionType::Teacher: return "Teacher";
    case ActionType::Student: return "Student";
    case ActionType::Boosted: return "Boosted";
    case ActionType::Common: return "Common";
  }
  return "?";
}

const char* scheme_name(TypeScheme s) { return s == TypeScheme::FourWay ? "four-way" : "three-way"; }

namespace {
std::string fmt_threshold(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

void check_thresholds(const Thresholds& t) {
  // Probabilities lie in [0, 1], so their differences in [-1, 1]: a threshold above 1 can only be
  // a mistake (beta 1.5 would type nothing Teacher or Student).
  if (!std::isfinite(t.alpha) || t.alpha < 0 || t.alpha > 1)
    throw UsageError("alpha must be a number in [0, 1] (probability differences lie in [-1, 1]), got " +
                     fmt_threshold(t.alpha));
  if (!std::isfinite(t.beta) || t.beta < 0 || t.beta > 1)
    throw UsageError("beta must be a number in [0, 1] (probability differences lie in [-1, 1]), got " +
                     fmt_threshold(t.beta));
}

void action_probs(std::span<const ActionScore> scores, size_t n_actions, std::vector<double>& out,
                  std::string_view what) {
  out.assign(n_actions, NAN);
  if (scores.empty()) return;
  if (scores.size() != n_actions)
    throw DataError(std::string(what) + ": " + std::to_string(scores.size()) + " action scores for " +
                    std::to_string(n_actions) + " actions");
  for (size_t k = 0; k < n_actions; ++k) out[k] = scores[k].p();
}

TypeCounts type_actions(TypeScheme scheme, std::span<const double> pT, std::span<const double> pS,
                        std::span<const double> pD, const Thresholds& th,
                        std::vector<std::optional<ActionType>>* out) {
  const size_t n = pT.size();
  const bool four = scheme == TypeScheme::FourWay;
  if (pS.size() != n || (four && pD.size() != n))
    throw UsageError("type_actions: probability arrays differ in size (" + std::to_string(pT.size()) + ", " +
                     std::to_string(pS.size()) + ", " + std::to_string(pD.size()) + ")");
  TypeCounts c;
  c.n_actions = uint32_t(n);
  if (out) out->assign(n, std::nullopt);
  for (size_t k = 0; k < n; ++k) {
    auto t = four ? type_four_way(pT[k], pS[k], pD[k], th.alpha, th.beta) : type_three_way(pT[k], pS[k], th.beta);
    if (!t) continue;
    ++c.n[type_index(*t)];
    ++c.n_scored;
    if (out) (*out)[k] = t;
  }
  return c;
}

}  // namespace rdpt
