#include "rdpt/behaviour.h"

#include <cmath>
#include <string>

#include "rdpt/error.h"

namespace rdpt {

namespace {

constexpr std::string_view kReflectPrefix[] = {"wait"};
constexpr std::string_view kReflectWords[] = {"verify",      "make sure",    "hold on",      "think again",
                                              "'s correct",  "'s incorrect", "let me check", "seems right"};
constexpr std::string_view kTransitionPrefix[] = {"alternatively"};
constexpr std::string_view kTransitionWordsTail[] = {"another way",      "another approach",  "another method",
                                                     "another solution", "another strategy",  "another technique"};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string lower_trimmed(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_ws(s[b])) ++b;
  while (e > b && is_ws(s[e - 1])) --e;
  std::string out(s.substr(b, e - b));
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

}  // namespace

const char* behaviour_name(Behaviour b) {
  switch (b) {
    case Behaviour::Execution: return "execution";
    case Behaviour::Reflection: return "reflection";
    case Behaviour::Transition: return "transition";
  }
  return "?";
}

KeywordList parse_keyword_list(std::string_view s) {
  if (s == "upstream") return KeywordList::Upstream;
  if (s == "corrected") return KeywordList::Corrected;
  throw UsageError("unknown keyword list '" + std::string(s) + "' (expected upstream or corrected)");
}

Behaviour classify_behaviour(std::string_view text, KeywordList list) {
  const std::string t = lower_trimmed(text);
  const std::string_view v = t;
  for (auto p : kReflectPrefix)
    if (v.starts_with(p)) return Behaviour::Reflection;
  for (auto w : kReflectWords)
    if (v.find(w) != std::string_view::npos) return Behaviour::Reflection;
  for (auto p : kTransitionPrefix)
    if (v.starts_with(p)) return Behaviour::Transition;
  const std::string_view differ = list == KeywordList::Upstream ? "think differenly" : "think differently";
  if (v.find(differ) != std::string_view::npos) return Behaviour::Transition;
  for (auto w : kTransitionWordsTail)
    if (v.find(w) != std::string_view::npos) return Behaviour::Transition;
  return Behaviour::Execution;
}

uint64_t BehaviourTable::total(ActionType t) const {
  uint64_t s = 0;
  for (auto x : n[type_index(t)]) s += x;
  return s;
}

double BehaviourTable::share(ActionType t, Behaviour b) const {
  uint64_t tot = total(t);
  return tot ? double(n[type_index(t)][size_t(b)]) / tot : NAN;
}

}  // namespace rdpt
