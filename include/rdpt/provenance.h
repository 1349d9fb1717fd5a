// Provenance types of actions (docs/method.md sections 3 and 4).
//
// Four-way (analysis of a distilled model), with dSD = pS - pD, dTD = pT - pD, dTS = pT - pS,
// evaluated in this order:
//   Shared  if |dSD| <= alpha and |dTD| <= alpha and |dTS| <= alpha
//   Teacher if dTS > beta;  Student if -dTS > beta;  Boosted otherwise.
// Three-way (before training, teacher and student only):
//   Common if |dTS| <= beta;  Teacher if dTS > beta;  Student if -dTS > beta.
// Floating point: the differences are IEEE doubles computed exactly as written above and
// compared with no epsilon, so "exactly at alpha" means the computed double difference equals
// alpha (e.g. 0.3 - 0.2 = 0.09999999999999998 <= 0.1). An action whose probability is NaN
// under any model involved (unscored: no token) gets no type.
// Example:
//   auto t = rdpt::type_four_way(0.9, 0.2, 0.8, 0.1, 0.1);  // -> ActionType::Teacher
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "rdpt/align.h"

namespace rdpt {

// One enum for both schemes; index with type_index(). FourWay uses Shared, Teacher, Student,
// Boosted; ThreeWay uses Common, Teacher, Student.
enum class ActionType : uint8_t { Shared = 0, Teacher = 1, Student = 2, Boosted = 3, Common = 4 };
inline constexpr size_t kNumActionTypes = 5;
inline constexpr size_t type_index(ActionType t) { return static_cast<size_t>(t); }

enum class TypeScheme { FourWay, ThreeWay };

// The types of a scheme, in docs/method.md's order.
std::span<const ActionType> scheme_types(TypeScheme s);
// "Shared", "Teacher", "Student", "Boosted", "Common".
const char* type_name(ActionType t);
// "four-way" / "three-way".
const char* scheme_name(TypeScheme s);

struct Thresholds {
  double alpha = 0.1;  // Shared band on all three differences (four-way only)
  double beta = 0.1;   // Teacher/Student margin on dTS
};
// Throws UsageError unless alpha and beta are finite and >= 0.
void check_thresholds(const Thresholds& t);

inline std::optional<ActionType> type_four_way(double pT, double pS, double pD, double alpha, double beta) {
  if (std::isnan(pT) || std::isnan(pS) || std::isnan(pD)) return std::nullopt;
  const double dSD = pS - pD, dTD = pT - pD, dTS = pT - pS;
  if (std::fabs(dSD) <= alpha && std::fabs(dTD) <= alpha && std::fabs(dTS) <= alpha) return ActionType::Shared;
  if (dTS > beta) return ActionType::Teacher;
  if (-dTS > beta) return ActionType::Student;
  return ActionType::Boosted;
}

inline std::optional<ActionType> type_three_way(double pT, double pS, double beta) {
  if (std::isnan(pT) || std::isnan(pS)) return std::nullopt;
  const double dTS = pT - pS;
  if (std::fabs(dTS) <= beta) return ActionType::Common;
  if (dTS > beta) return ActionType::Teacher;
  if (-dTS > beta) return ActionType::Student;
  return ActionType::Common;  // unreachable for non-NaN input
}

// Per-response counts of each type.
struct TypeCounts {
  std::array<uint32_t, kNumActionTypes> n{};  // actions of each type
  uint32_t n_actions = 0;                     // all actions, unscored ones included
  uint32_t n_scored = 0;                      // actions that got a type
  uint32_t count(ActionType t) const { return n[type_index(t)]; }
  // Share of the scored actions with type t; NaN when no action is scored.
  double proportion(ActionType t) const { return n_scored ? double(n[type_index(t)]) / n_scored : NAN; }
};

// p = exp(mean log-prob) of each action into out (resized to n_actions); NaN where unscored.
// An empty `scores` means the model has no score for the response: all NaN. A non-empty span
// of another size than n_actions throws DataError naming `what` (e.g. the record id).
void action_probs(std::span<const ActionScore> scores, size_t n_actions, std::vector<double>& out,
                  std::string_view what = {});

// Types every action of one response from per-action probabilities (NaN = unscored); pD is
// ignored (may be empty) for ThreeWay. All non-empty spans must have the size of pT.
// Writes one entry per action to out (resized) when out is non-null.
TypeCounts type_actions(TypeScheme scheme, std::span<const double> pT, std::span<const double> pS,
                        std::span<const double> pD, const Thresholds& th,
                        std::vector<std::optional<ActionType>>* out = nullptr);

}  // namespace rdpt
