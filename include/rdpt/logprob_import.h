// Per-token log-probs users already have (saved by a serving engine while sampling, or by their
// own scorer), one response per JSON line, in three shapes (docs/store.md, "Importing
// log-probs"):
//   {"id", "tokens": [texts], "logprobs": [...]}           token texts placed on the text
//   {"id", "offsets": [...], "logprobs": [...]}            byte (or character) offsets
//   {"id", "logprobs": {"tokens", "token_logprobs", "text_offset"}}   OpenAI completions
//   {"id", "token_ids": [ids], "logprobs": [...]}          token ids, with the model's vocabulary
// Any shape may add "ranks": [...], each token's rank under the model (an integer >= 1, or null
// where the log-prob may be null), one per log-prob entry, e.g. the "ranks" of the rank-surprisal
// ratio's rsr_cal.py. "prompt" (or, for the OpenAI shape, "text" = prompt + response) says the
// tokens start in the prompt; "truncated": true marks a partial scoring. Token texts are placed by
// rdpt::place_token_strings, the HTTP backend's matcher, so a token reads the same whichever
// way it arrives. No store here: rdpt::import_logprobs (rdpt/pipeline.h) reads a file with it.
//   rdpt::LogprobLine line(R"({"id": "a", "tokens": ["Hi", "!"], "logprobs": [-0.1, -2]})");
//   rdpt::ImportedTokens t = line.tokens("Hi!");  // t.tokens = {{0, -0.1}, {2, -2}}
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/align.h"
#include "rdpt/error.h"

namespace rdpt {

// Unit of "offsets" and of OpenAI "text_offset": Auto reads "offsets" in bytes and
// "text_offset" in characters (Unicode code points: OpenAI and vLLM count Python str indices).
enum class OffsetUnit { Auto, Bytes, Chars };

// A line that cannot be imported. what() is the message (without file, line or record id);
// `reason` its short form, counted when bad lines are skipped ("token text mismatch").
class LogprobLineError : public DataError {
 public:
  LogprobLineError(std::string reason, const std::string& message) : DataError(message), reason(std::move(reason)) {}
  std::string reason;
};

class Vocabulary;  // rdpt/vocab.h

// For lines of token ids ({"id", "token_ids": [...], "logprobs": [...]}: the DASD -Logprob
// datasets' shape, and vLLM's prompt_logprob_token_ids): the model's vocabulary, which places the
// ids on the text exactly as rdpt's own tokenization does, and how many leading ids are prompt
// tokens (dropped) when the ids cover prompt + response without a "prompt" field.
struct TokenIdOptions {
  const Vocabulary* vocab = nullptr;
  size_t ids_include_prompt = 0;
};

// Field names of a log-prob line or Parquet row, when they are not the usual ones: the DASD
// -Logprob datasets name their id "sample_uuid". A named field that is absent falls back to the
// usual name ("id", "token_ids", "logprobs").
struct LogprobFieldNames {
  std::string id = "id";
  std::string token_ids = "token_ids";
  std::string logprobs = "logprobs";
  std::string ranks = "ranks";
};

// One line's tokens on the bytes of its response.
struct ImportedTokens {
  std::vector<TokenLogprob> tokens;  // response tokens, offsets in bytes of the response
  size_t n_prompt = 0;               // tokens dropped because they start in the prompt part
  size_t n_empty = 0;                // tokens with empty text (no first byte: no action)
  bool truncated = false;
  // truncated: response bytes the tokens are known to cover (token texts give their ends;
  // offsets give only starts, so the last token is taken to cover one byte).
  uint32_t covered_end = 0;
  OffsetUnit unit_used = OffsetUnit::Bytes;  // how offsets were read (Bytes when none were)
  bool has_ranks = false;                    // the line gave "ranks": tokens[].rank set (unclipped)
  std::vector<uint32_t> source_index;        // per token, its index in the line's arrays
  std::optional<uint32_t> n_tokens_total;    // the line's "n_tokens_total" when given
};

class LogprobLine {
 public:
  // Parses one line. LogprobLineError: invalid JSON, not an object, a missing or bad "id".
  explicit LogprobLine(std::string_view line, const LogprobFieldNames& fields = {});
  ~LogprobLine();
  LogprobLine(LogprobLine&&) noexcept;
  LogprobLine& operator=(LogprobLine&&) noexcept;

  // The record id ("id", a string or a number).
  const std::string& id() const;
  // The line's tokens placed on `response` (the stored response of id()). LogprobLineError
  // naming the field, token or offset that does not fit.
  ImportedTokens tokens(const std::string& response, OffsetUnit unit = OffsetUnit::Auto,
                        const TokenIdOptions& ids = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdpt
