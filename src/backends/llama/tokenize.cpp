// Tokenization with exact byte offsets (docs/method.md section 2: a token belongs to the action
// holding its first byte), checked by matching every token's piece against the text.
#include <llama.h>

#include <algorithm>
#include <cctype>
#include <span>
#include <string>
#include <utility>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"

namespace rdpt::llama_detail {

std::string token_piece(const llama_vocab* vocab, int32_t token) {
  char buf[256];
  int32_t n = llama_token_to_piece(vocab, token, buf, sizeof buf, 0, /*special=*/true);
  if (n >= 0) return std::string(buf, size_t(n));
  std::string s(size_t(-n), '\0');
  n = llama_token_to_piece(vocab, token, s.data(), int32_t(s.size()), 0, true);
  s.resize(size_t(std::max(n, 0)));
  return s;
}

namespace {

std::string printable(std::string_view s, size_t max = 40) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else out += char(c);
  }
  if (s.size() > max) out += "...";
  return out;
}

bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Whether llama.cpp inserts a space before text (SPM's add_space_prefix): "a" comes back as " a".
bool inserts_space_prefix(const llama_vocab* vocab) {
  llama_token ids[8];
  const int32_t n = llama_tokenize(vocab, "a", 1, ids, 8, /*add_special=*/false, /*parse_special=*/false);
  std::string s;
  for (int32_t i = 0; i < n; ++i) s += token_piece(vocab, ids[i]);
  return s == " a";
}

}  // namespace

TokenizedText tokenize_with_offsets(const llama_vocab* vocab, std::string_view text, bool add_special) {
  TokenizedText out;
  if (text.size() >= size_t(INT32_MAX)) throw DataError("text of " + std::to_string(text.size()) + " bytes is too long to tokenize");
  int32_t n = llama_tokenize(vocab, text.data(), int32_t(text.size()), nullptr, 0, add_special, /*parse_special=*/true);
  if (n == INT32_MIN) throw DataError("tokenization overflow for a text of " + std::to_string(text.size()) + " bytes");
  out.ids.resize(size_t(n < 0 ? -n : n));
  if (!out.ids.empty()) {
    n = llama_tokenize(vocab, text.data(), int32_t(text.size()), out.ids.data(), int32_t(out.ids.size()), add_special, true);
    if (n < 0) throw DataError("tokenization failed (" + std::to_string(n) + ")");
    out.ids.resize(size_t(n));
  }
  out.offsets = place_token_ids(vocab, out.ids, text, add_special, false);
  return out;
}

std::vector<uint32_t> place_token_ids(const llama_vocab* vocab, std::span<const int32_t> ids, std::string_view text,
                                      bool add_special, bool allow_prefix) {
  std::vector<uint32_t> offsets;
  const int32_t n_vocab = llama_vocab_n_tokens(vocab);
  for (size_t k = 0; k < ids.size(); ++k)
    if (ids[k] < 0 || ids[k] >= n_vocab)
      throw DataError("token " + std::to_string(k) + " (id " + std::to_string(ids[k]) + ") is not in the vocabulary (" +
                      std::to_string(n_vocab) + " tokens)");
  const enum llama_vocab_type vt = llama_vocab_type(vocab);
  const bool lossy = vt == LLAMA_VOCAB_TYPE_WPM || vt == LLAMA_VOCAB_TYPE_UGM;
  // SPM: llama.cpp inserts one space before every stretch of text (the text before the first
  // special token, and the text after each special token) when the vocabulary says
  // add_space_prefix (not in llama.h: seen by tokenizing "a"). The first token of each stretch
  // then carries that space in its piece, merged with any real spaces that follow ("  " for
  // " x"): exactly one space is removed from that piece, whatever it holds.
  const bool space_prefix = vt == LLAMA_VOCAB_TYPE_SPM && inserts_space_prefix(vocab);
  const size_t size = text.size();
  size_t pos = 0;
  bool stretch_start = true;  // the next text token is the first of a stretch
  offsets.reserve(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    const int32_t id = ids[k];
    std::string piece = token_piece(vocab, id);
    const llama_token_attr attr = llama_vocab_get_attr(vocab, id);
    // Only a BOS/EOS the vocabulary adds itself is textless: one written in the text (a chat
    // template's "<|endoftext|>" where the vocabulary adds no BOS) is matched like any token.
    const bool added = add_special && ((id == llama_vocab_bos(vocab) && k == 0 && llama_vocab_get_add_bos(vocab)) ||
                                       (id == llama_vocab_eos(vocab) && k + 1 == ids.size() &&
                                        llama_vocab_get_add_eos(vocab)));
    auto clamp = [&](size_t p) { return uint32_t(size ? std::min(p, size - 1) : 0); };
    if (added) {  // BOS/EOS added by the tokenizer: no text
      offsets.push_back(clamp(pos));
      continue;
    }
    // llama.cpp splits the text at special tokens (CONTROL, USER_DEFINED, UNKNOWN); one with
    // LSTRIP/RSTRIP (phi-3's, for instance) drops the whitespace before/after it.
    const bool special = attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED | LLAMA_TOKEN_ATTR_UNKNOWN);
    if (special && (attr & LLAMA_TOKEN_ATTR_LSTRIP) && text.compare(pos, piece.size(), piece) != 0) {
      size_t p = pos;
      while (p < size && is_ws((unsigned char)text[p])) ++p;
      if (text.compare(p, piece.size(), piece) == 0) pos = p;
    }
    if (special) {
      stretch_start = true;
    } else if (std::exchange(stretch_start, false) && space_prefix) {
      if (piece.empty() || piece[0] != ' ')
        throw DataError("tokens do not reproduce the text: token " + std::to_string(k) + " (id " + std::to_string(id) +
                        ", piece '" + printable(piece) + "') starts a stretch of text at byte " + std::to_string(pos) +
                        " without the space llama.cpp inserts there");
      piece.erase(0, 1);  // the inserted space: the rest of the piece is text
    }
    if (piece.empty()) {  // a token with no text (or only the inserted space)
      offsets.push_back(clamp(pos));
      continue;
    }
    if (text.compare(pos, piece.size(), piece) == 0) {
      offsets.push_back(clamp(pos));
      pos += piece.size();
      if (special && (attr & LLAMA_TOKEN_ATTR_RSTRIP))
        while (pos < size && is_ws((unsigned char)text[pos])) ++pos;
      continue;
    }
    // UGM adds a space before text that starts the input or follows a special token.
    if (lossy && piece[0] == ' ' && (pos >= size || text[pos] != ' ') &&
        text.compare(pos, piece.size() - 1, std::string_view(piece).substr(1)) == 0) {
      offsets.push_back(clamp(pos));
      pos += piece.size() - 1;
      continue;
    }
    if (lossy) {  // WPM/UGM normalise case and whitespace: match modulo those
      size_t p = pos;
      while (p < size && is_ws((unsigned char)text[p])) ++p;
      size_t q = 0;
      while (q < piece.size() && is_ws((unsigned char)piece[q])) ++q;
      size_t len = piece.size() - q;
      bool ok = p + len <= size && len > 0;
      for (size_t i = 0; ok && i < len; ++i)
        ok = std::tolower((unsigned char)text[p + i]) == std::tolower((unsigned char)piece[q + i]);
      if (ok) {
        offsets.push_back(clamp(p));
        pos = p + len;
        continue;
      }
    }
    throw DataError("tokens do not reproduce the text: token " + std::to_string(k) + " (id " + std::to_string(id) +
                    ", piece '" + printable(piece) + "') does not match the text at byte " + std::to_string(pos) +
                    " ('" + printable(text.substr(std::min(pos, size))) + "')");
  }
  size_t rest = pos;
  if (lossy)
    while (rest < size && is_ws((unsigned char)text[rest])) ++rest;
  if (rest != size && !allow_prefix)
    throw DataError("tokens do not reproduce the text: they end at byte " + std::to_string(pos) + " of " +
                    std::to_string(size) + " ('" + printable(text.substr(pos)) + "' left over)");
  return offsets;
}

}  // namespace rdpt::llama_detail
