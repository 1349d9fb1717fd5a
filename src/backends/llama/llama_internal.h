// Pieces of the llama.cpp backend that tests check directly: tokenization with byte offsets,
// the per-row log-softmax reduction, and the file fingerprint. Not a public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct llama_vocab;

namespace rdpt::llama_detail {

struct TokenizedText {
  std::vector<int32_t> ids;        // llama_token ids
  std::vector<uint32_t> offsets;   // byte offset of each token's first byte in the text
};

// Tokenizes `text` (special tokens parsed as special; BOS/EOS added only with add_special) and
// maps each token to the byte where it starts, by matching each token's piece against the
// text. Exact for BPE and SPM vocabularies (SPM's inserted leading space is recognised);
// WPM/UGM vocabularies, whose normalisation is lossy, match modulo ASCII case and whitespace.
// Throws DataError naming the token index, id, piece and byte offset when pieces do not
// reproduce the text.
TokenizedText tokenize_with_offsets(const llama_vocab* vocab, std::string_view text, bool add_special);

// The piece of one token as llama.cpp renders it (special tokens rendered).
std::string token_piece(const llama_vocab* vocab, int32_t token);

// log-softmax of row[0..n) at `target`: row[target] - logsumexp(row). Vectorisable; exact to
// about 1e-6 relative.
double target_logprob(const float* row, int64_t n, int32_t target);
// logsumexp(row[0..n)).
double logsumexp(const float* row, int64_t n);

}  // namespace rdpt::llama_detail
