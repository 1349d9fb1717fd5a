// Per-token data from outside rdpt (servers, files of saved log-probs): the log-prob rule and
// the placing of per-token strings on the bytes of a text. The HTTP backend (text mode) and
// `rdpt import` share both, so that a token reads the same whichever way it arrives.
// Example:
//   std::vector<std::string> toks = {"Caf", "\xEF\xBF\xBD", "\xEF\xBF\xBD", " ok"};  // "é" split in two
//   auto m = rdpt::place_token_strings("Caf\xC3\xA9 ok", toks);  // m.offsets = {0, 3, 3, 5}
//   auto lp = rdpt::as_logprob(0.0004);                          // 0.0 (rounding); 3.49 -> nullopt
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/utf8.h"  // token text is checked and cut at characters

namespace rdpt {

// A log-prob: a finite number <= 0. Servers compute log-softmax in low precision, so values up
// to kLogprobSlack above 0 read as 0; anything else (NaN, infinities, larger values) is not a
// log-prob: nullopt.
inline constexpr double kLogprobSlack = 1e-3;
std::optional<double> as_logprob(double x);

// Where per-token strings lie in a text. Servers decode each token alone, so a token holding
// part of a multi-byte character comes as U+FFFD (vLLM, SGLang) or as "bytes:\xNN..." (the
// token's bytes, hex-escaped: OpenAI's convention). Each U+FFFD matches one or more bytes
// >= 0x80 (backtracking); a "bytes:" string matches its bytes; anything else matches itself.
// The offsets the servers send (vLLM's text_offset counts characters of tokens decoded alone,
// which drift at split characters) are not needed.
struct TokenMatch {
  bool ok = false;
  // ok: byte offset in the text of each token, snapped to the first byte of the character
  // holding the token's first byte (a token belongs to that character's action). An empty
  // token gets the offset of the next non-empty one (the text's end after the last).
  std::vector<uint32_t> offsets;
  size_t n_skipped = 0;  // ok: leading tokens matched to nothing (zero-width at 0), e.g. BOS "<s>"
  size_t end = 0;        // ok: bytes the tokens cover (the whole text unless allow_prefix)
  // !ok: the first token that cannot be placed (tokens.size() when the tokens end before the
  // text does) and the byte where it was tried.
  size_t bad_token = 0;
  size_t bad_at = 0;
};

// Places tokens on text. Up to max_leading_skip leading tokens that match nothing are skipped.
// With allow_prefix the tokens may end before the text does (a truncated scoring).
TokenMatch place_token_strings(std::string_view text, std::span<const std::string> tokens,
                               size_t max_leading_skip = 0, bool allow_prefix = false);

// The token's bytes when it is a "bytes:\xNN..." string (only \xNN escapes after "bytes:"),
// else nullopt.
std::optional<std::string> token_bytes_escape(std::string_view token);

}  // namespace rdpt
