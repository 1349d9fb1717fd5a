// BLOB codecs of the score store: little-endian arrays, one element per action
// (spans = u32 begin, u32 end; special = u8 0/1; token_counts = u32; logprob_sums = f64 IEEE-754).
// Written byte by byte, so the layout is the same on every host.
#pragma once

#include <bit>
#include <cstring>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/align.h"
#include "rdpt/error.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace rdpt::blob {

inline void put_u32(std::string& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(char((v >> (8 * i)) & 0xff));
}
inline void put_f64(std::string& b, double d) {
  const auto v = std::bit_cast<uint64_t>(d);
  for (int i = 0; i < 8; ++i) b.push_back(char((v >> (8 * i)) & 0xff));
}
inline uint32_t get_u32(std::string_view b, size_t at) { return detail::load_le_u32(b.data() + at); }
inline double get_f64(std::string_view b, size_t at) { return detail::load_le_f64(b.data() + at); }
inline void put_u64(std::string& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(char((v >> (8 * i)) & 0xff));
}

inline std::string encode_spans(std::span<const Action> a) {
  std::string b;
  b.reserve(a.size() * 8);
  for (const auto& x : a) {
    put_u32(b, x.begin);
    put_u32(b, x.end);
  }
  return b;
}
inline std::string encode_special(std::span<const Action> a) {
  std::string b;
  b.reserve(a.size());
  for (const auto& x : a) b.push_back(x.special ? 1 : 0);
  return b;
}
inline std::string encode_token_counts(std::span<const ActionScore> s) {
  std::string b;
  b.reserve(s.size() * 4);
  for (const auto& x : s) put_u32(b, x.n_tokens);
  return b;
}
inline std::string encode_logprob_sums(std::span<const ActionScore> s) {
  std::string b;
  b.reserve(s.size() * 8);
  for (const auto& x : s) put_f64(b, x.logprob_sum);
  return b;
}

inline std::string encode_rank_sums(std::span<const ActionScore> s) {
  std::string b;
  b.reserve(s.size() * 8);
  for (const auto& x : s) put_u64(b, x.rank_sum);
  return b;
}

// Throws StoreError when a BLOB has the wrong length or the spans do not tile [0, text_size)
// (no actions at all is accepted for any text).
// Into `out` (its capacity reused by scans).
inline void decode_actions(std::string_view spans, std::string_view special, size_t n, size_t text_size,
                           std::vector<Action>& out) {
  if (spans.size() != n * 8 || special.size() != n) {
    throw StoreError("spans/special BLOBs of " + std::to_string(spans.size()) + "/" +
                     std::to_string(special.size()) + " bytes, expected " + std::to_string(n * 8) + "/" +
                     std::to_string(n) + " for " + std::to_string(n) + " actions");
  }
  out.resize(n);
  uint32_t prev = 0;
  for (size_t k = 0; k < n; ++k) {
    out[k].begin = get_u32(spans, 8 * k);
    out[k].end = get_u32(spans, 8 * k + 4);
    out[k].special = special[k] != 0;
    if (out[k].begin != prev || out[k].end <= out[k].begin) {
      throw StoreError("action " + std::to_string(k + 1) + " has span [" + std::to_string(out[k].begin) + ", " +
                       std::to_string(out[k].end) + "), not contiguous with the previous action ending at " +
                       std::to_string(prev));
    }
    prev = out[k].end;
  }
  if (n > 0 && prev != text_size) {
    throw StoreError("actions end at byte " + std::to_string(prev) + ", the response has " +
                     std::to_string(text_size) + " bytes");
  }
}
inline std::vector<Action> decode_actions(std::string_view spans, std::string_view special, size_t n,
                                          size_t text_size) {
  std::vector<Action> out;
  decode_actions(spans, special, n, text_size, out);
  return out;
}

// Empty BLOBs (a Failed pair) decode to no actions; otherwise both must hold n elements, and
// rank sums (when not empty) n too.
inline std::vector<ActionScore> decode_scores(std::string_view counts, std::string_view sums, std::string_view ranks,
                                              size_t n) {
  if (counts.empty() && sums.empty() && ranks.empty()) return {};
  if (counts.size() != n * 4 || sums.size() != n * 8) {
    throw StoreError("token_counts/logprob_sums BLOBs of " + std::to_string(counts.size()) + "/" +
                     std::to_string(sums.size()) + " bytes, expected " + std::to_string(n * 4) + "/" +
                     std::to_string(n * 8) + " for " + std::to_string(n) + " actions");
  }
  if (!ranks.empty() && ranks.size() != n * 8) {
    throw StoreError("rank_sums BLOB of " + std::to_string(ranks.size()) + " bytes, expected " + std::to_string(n * 8) +
                     " for " + std::to_string(n) + " actions");
  }
  std::vector<ActionScore> out(n);
  for (size_t k = 0; k < n; ++k) {
    out[k].n_tokens = get_u32(counts, 4 * k);
    out[k].logprob_sum = get_f64(sums, 8 * k);
    if (!ranks.empty()) out[k].rank_sum = detail::load_le_u64(ranks.data() + 8 * k);
  }
  return out;
}

}  // namespace rdpt::blob
