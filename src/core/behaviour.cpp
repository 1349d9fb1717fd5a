#include "rdpt/behaviour.h"

#include <cmath>
#include <string>

#include "rdpt/error.h"

namespace rdpt {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The keywords searched anywhere in the (lowercased) text, grouped by their first bytes so that
// one scan looks at each byte once (SEAL's lists: docs/method.md section 6).
enum Hit { kNone, kReflect, kTransit };

inline bool at(std::string_view v, size_t i, std::string_view w) { return v.compare(i, w.size(), w) == 0; }

// What a keyword starting at byte i signals.
inline Hit keyword_at(std::string_view v, size_t i, KeywordList list) {
  switch (v[i]) {
    case 'v': return at(v, i, "verify") ? kReflect : kNone;
    case 'm': return at(v, i, "make sure") ? kReflect : kNone;
    case 'h': return at(v, i, "hold on") ? kReflect : kNone;
    case 'l': return at(v, i, "let me check") ? kReflect : kNone;
    case 's': return at(v, i, "seems right") ? kReflect : kNone;
    case '\'':
      if (!at(v, i, "'s ")) return kNone;
      return at(v, i + 3, "correct") || at(v, i + 3, "incorrect") ? kReflect : kNone;
    case 't':
      if (!at(v, i, "think ")) return kNone;
      if (at(v, i + 6, "again")) return kReflect;
      return at(v, i + 6, list == KeywordList::Upstream ? "differenly" : "differently") ? kTransit : kNone;
    case 'a':
      if (!at(v, i, "another ")) return kNone;
      for (std::string_view w : {"way", "approach", "method", "solution", "strategy", "technique"})
        if (at(v, i + 8, w)) return kTransit;
      return kNone;
    default: return kNone;
  }
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
  size_t b = 0, e = text.size();
  while (b < e && is_ws(text[b])) ++b;
  while (e > b && is_ws(text[e - 1])) --e;
  const size_t n = e - b;
  char small[512];
  std::string big;
  char* t = small;
  if (n > sizeof small) {
    big.resize(n);
    t = big.data();
  }
  for (size_t i = 0; i < n; ++i) {
    const char c = text[b + i];
    t[i] = c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
  }
  const std::string_view v(t, n);
  // Reflection wins over Transition: the prefix "wait" or a reflection keyword anywhere.
  if (v.starts_with("wait")) return Behaviour::Reflection;
  bool transition = v.starts_with("alternatively");
  for (size_t i = 0; i < n; ++i) {
    const Hit h = keyword_at(v, i, list);
    if (h == kReflect) return Behaviour::Reflection;
    if (h == kTransit) transition = true;
  }
  return transition ? Behaviour::Transition : Behaviour::Execution;
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
