// Behaviours of actions (docs/method.md section 8), with SEAL's keyword rules (arXiv 2504.07986,
// code VITA-Group/SEAL, hidden_analysis.py, generate_index): per action, case-insensitive,
// reflection tested first:
//   reflection: starts with "wait", or contains "verify", "make sure", "hold on", "think again",
//               "'s correct", "'s incorrect", "let me check", "seems right";
//   transition: starts with "alternatively", or contains "think differenly" (upstream typo;
//               KeywordList::Corrected uses "think differently"), "another way", "another approach",
//               "another method", "another solution", "another strategy", "another technique";
//   execution:  everything else.
// "Starts with" is tested after stripping leading and trailing ASCII whitespace (upstream strips
// spaces then newlines); lower-casing is ASCII (every keyword is ASCII). Special-token actions
// are excluded by the caller (BehaviourTable::add takes only ordinary actions).
// Example:
//   rdpt::classify_behaviour("\nWait, that is wrong.") == rdpt::Behaviour::Reflection
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "rdpt/provenance.h"

namespace rdpt {

enum class Behaviour : uint8_t { Execution = 0, Reflection = 1, Transition = 2 };
inline constexpr size_t kNumBehaviours = 3;
const char* behaviour_name(Behaviour b);  // "execution", "reflection", "transition"

enum class KeywordList { Upstream, Corrected };
KeywordList parse_keyword_list(std::string_view s);  // "upstream" | "corrected"; UsageError otherwise

Behaviour classify_behaviour(std::string_view action_text, KeywordList list = KeywordList::Upstream);

// Counts of behaviours within each provenance type.
struct BehaviourTable {
  std::array<std::array<uint64_t, kNumBehaviours>, kNumActionTypes> n{};
  void add(ActionType t, Behaviour b) { n[type_index(t)][size_t(b)]++; }
  uint64_t total(ActionType t) const;
  // Share of behaviour b among actions of type t; NaN when there are none.
  double share(ActionType t, Behaviour b) const;
};

}  // namespace rdpt
