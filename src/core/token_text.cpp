// Per-token data from outside: the log-prob rule and token strings placed on the bytes of the
// text (include/rdpt/token_text.h). Shared by the HTTP backend (text mode) and `rdpt import`.
//
// vLLM's `text_offset` is the running sum of Python len() (characters, not bytes) of each
// token decoded alone (vllm/entrypoints/openai/completion/serving.py,
// _create_completion_logprobs: `out_text_offset[-1] + last_token_len`), and a token that holds
// part of a character decodes to U+FFFD, so those offsets drift off the bytes. SGLang's
// return_text_in_logprobs decodes each id alone too (tokenizer_manager.py,
// detokenize_logprob_tokens: tokenizer.batch_decode(ids)). We therefore ignore the server's
// offsets and match the strings against the bytes, U+FFFD standing for 1+ non-ASCII bytes.
#include "rdpt/token_text.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace rdpt {

std::optional<double> as_logprob(double x) {
  if (!std::isfinite(x) || x > kLogprobSlack) return std::nullopt;
  return std::min(x, 0.0);
}

std::optional<std::string> token_bytes_escape(std::string_view t) {
  constexpr std::string_view kPrefix = "bytes:";
  if (t.size() <= kPrefix.size() || t.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  t.remove_prefix(kPrefix.size());
  if (t.size() % 4 != 0) return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < t.size(); i += 4) {
    const int hi = hex(t[i + 2]), lo = hex(t[i + 3]);
    if (t[i] != '\\' || t[i + 1] != 'x' || hi < 0 || lo < 0) return std::nullopt;
    out += char(hi * 16 + lo);
  }
  return out;
}

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

struct Unit {
  bool wild = false;     // U+FFFD: one or more bytes >= 0x80
  std::string_view lit;  // literal bytes otherwise
};

// Matches tokens[skip..] against text; false when impossible, with m.bad_token / m.bad_at set
// to the furthest point reached. `first_unit[k]` is the unit index where token k starts
// (== units.size() for trailing empty tokens).
bool match_from(std::string_view text, std::span<const std::string> tokens, std::span<const std::string> unescaped,
                size_t skip, bool allow_prefix, TokenMatch& m) {
  std::vector<Unit> units;
  std::vector<size_t> first_unit(tokens.size(), 0), unit_token;
  for (size_t k = 0; k < tokens.size(); ++k) {
    first_unit[k] = units.size();
    if (k < skip) continue;
    std::string_view t = unescaped[k].empty() ? std::string_view(tokens[k]) : std::string_view(unescaped[k]);
    size_t p = 0;
    while (p < t.size()) {
      size_t q = t.find(kReplacement, p);
      if (q == p) {
        units.push_back({true, {}});
        unit_token.push_back(k);
        p += kReplacement.size();
        continue;
      }
      if (q == std::string_view::npos) q = t.size();
      units.push_back({false, t.substr(p, q - p)});
      unit_token.push_back(k);
      p = q;
    }
  }
  const size_t nu = units.size();
  std::vector<uint32_t> unit_pos(nu + 1, 0);
  struct Choice {
    size_t unit, start, len;
  };
  std::vector<Choice> stack;
  std::unordered_set<uint64_t> failed;  // (unit, pos) states known to fail
  auto key = [](size_t u, size_t p) { return (uint64_t(u) << 32) | uint64_t(p); };
  size_t u = 0, pos = 0, furthest = 0, furthest_pos = 0;
  bool reached = false;
  for (;;) {
    if (!reached || u > furthest) {
      furthest = u;
      furthest_pos = pos;
      reached = true;
    }
    bool ok = true;
    if (u == nu) {
      ok = allow_prefix || pos == text.size();
    } else if (failed.count(key(u, pos))) {
      ok = false;
    } else {
      unit_pos[u] = uint32_t(pos);
      const Unit& un = units[u];
      if (!un.wild) {
        if (pos + un.lit.size() <= text.size() && text.compare(pos, un.lit.size(), un.lit) == 0) {
          pos += un.lit.size();
          ++u;
          continue;
        }
        failed.insert(key(u, pos));
        ok = false;
      } else {
        size_t n = 0;
        while (pos + n < text.size() && (unsigned char)text[pos + n] >= 0x80) ++n;
        if (n > 0) {
          stack.push_back({u, pos, n});
          pos += n;
          ++u;
          continue;
        }
        failed.insert(key(u, pos));
        ok = false;
      }
    }
    if (ok) break;
    // Backtrack to the last wildcard that can give a byte back.
    bool resumed = false;
    while (!stack.empty()) {
      Choice& c = stack.back();
      if (c.len > 1) {
        --c.len;
        pos = c.start + c.len;
        u = c.unit + 1;
        resumed = true;
        break;
      }
      failed.insert(key(c.unit, c.start));
      stack.pop_back();
    }
    if (!resumed) {
      m.bad_token = furthest < nu ? unit_token[furthest] : tokens.size();
      m.bad_at = furthest_pos;
      return false;
    }
  }
  unit_pos[nu] = uint32_t(pos);
  m.end = pos;
  m.offsets.assign(tokens.size(), 0);
  for (size_t k = 0; k < tokens.size(); ++k) {
    if (k < skip) continue;
    size_t off = unit_pos[first_unit[k]];
    while (off > 0 && off < text.size() && is_utf8_continuation(text[off])) --off;
    m.offsets[k] = uint32_t(off);
  }
  return true;
}

}  // namespace

TokenMatch place_token_strings(std::string_view text, std::span<const std::string> tokens, size_t max_leading_skip,
                               bool allow_prefix) {
  std::vector<std::string> unescaped(tokens.size());  // "" where the token is not a "bytes:" string
  for (size_t k = 0; k < tokens.size(); ++k) {
    if (auto b = token_bytes_escape(tokens[k])) unescaped[k] = std::move(*b);
  }
  TokenMatch first;
  for (size_t skip = 0; skip <= std::min(max_leading_skip, tokens.size()); ++skip) {
    TokenMatch m;
    if (match_from(text, tokens, unescaped, skip, allow_prefix, m)) {
      m.ok = true;
      m.n_skipped = skip;
      return m;
    }
    if (skip == 0) first = m;
  }
  return first;  // the failure without skipping names the token to look at
}

}  // namespace rdpt
