#include "rdpt/behaviour.h"

#include <cmath>
#include <cstdint>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "rdpt/error.h"

namespace rdpt {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The keywords searched anywhere in the (lowercased) text, grouped by their first bytes so that
// one scan looks at each byte once (SEAL's lists: docs/method.md section 6).
enum Hit { kNone, kReflect, kTransit };

inline char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// Whether the text at byte i, lowercased (ASCII only), starts with the lowercase keyword w. The
// text is not copied: classification runs once per action of every traced response.
inline bool at(std::string_view v, size_t i, std::string_view w) {
  if (i > v.size() || v.size() - i < w.size()) return false;
  for (size_t j = 0; j < w.size(); ++j)
    if (lower(v[i + j]) != w[j]) return false;
  return true;
}

// What a keyword starting at byte i signals.
inline Hit keyword_at(std::string_view v, size_t i, KeywordList list) {
  switch (lower(v[i])) {
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

// The first two bytes (lowercased) of every keyword keyword_at knows, as a bit set over byte pairs.
class PairTable {
 public:
  PairTable() {
    for (int c = 0; c < 256; ++c) lower_[c] = uint8_t(lower(char(c)));
    for (const char* w : {"ve", "ma", "ho", "le", "se", "'s", "th", "an"}) set(uint8_t(w[0]), uint8_t(w[1]));
  }
  bool starts_keyword(char a, char b) const {
    const uint32_t k = uint32_t(lower_[uint8_t(a)]) | uint32_t(lower_[uint8_t(b)]) << 8;
    return (bits_[k >> 6] >> (k & 63)) & 1;
  }

 private:
  uint8_t lower_[256];
  uint64_t bits_[65536 / 64] = {};
  void set(uint32_t a, uint32_t b) {
    const uint32_t k = a | b << 8;
    bits_[k >> 6] |= uint64_t(1) << (k & 63);
  }
};

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
  const std::string_view v = text.substr(b, e - b);
  const size_t n = v.size();
  // Reflection wins over Transition: the prefix "wait" or a reflection keyword anywhere.
  if (at(v, 0, "wait")) return Behaviour::Reflection;
  bool transition = at(v, 0, "alternatively");
  // Every keyword has at least two bytes: a byte pair that starts none is skipped by one lookup
  // in a 64 Ki-bit table (most pairs of text), instead of a branch on each byte; with SSE2, 16
  // positions at a time are first screened for the eight starting pairs (bytes OR 0x20: a superset
  // of ASCII lowercasing, so no position that could start a keyword is missed; the table and
  // keyword_at then decide exactly). The result does not depend on the order of the hits.
  static const PairTable pairs;
  auto look = [&](size_t i) {
    if (!pairs.starts_keyword(v[i], v[i + 1])) return false;
    const Hit h = keyword_at(v, i, list);
    if (h == kTransit) transition = true;
    return h == kReflect;
  };
  size_t i = 0;
#if defined(__SSE2__)
  static constexpr char kStarts[8][2] = {{'v', 'e'}, {'m', 'a'}, {'h', 'o'}, {'l', 'e'},
                                         {'s', 'e'}, {'\'', 's'}, {'t', 'h'}, {'a', 'n'}};
  const __m128i case_bit = _mm_set1_epi8(0x20);
  for (; i + 17 <= n; i += 16) {
    const __m128i a = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data() + i)), case_bit);
    const __m128i b = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data() + i + 1)), case_bit);
    __m128i hit = _mm_setzero_si128();
    for (const auto& w : kStarts)
      hit = _mm_or_si128(hit, _mm_and_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8(w[0])), _mm_cmpeq_epi8(b, _mm_set1_epi8(w[1]))));
    for (unsigned m = unsigned(_mm_movemask_epi8(hit)); m; m &= m - 1)
      if (look(i + size_t(__builtin_ctz(m)))) return Behaviour::Reflection;
  }
#endif
  for (; i + 1 < n; ++i)
    if (look(i)) return Behaviour::Reflection;
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
