// The log-prob line formats of `rdpt import` (include/rdpt/logprob_import.h), parsed and placed
// on the response's bytes. Library code: the CLI and other front ends share it.
#include "rdpt/logprob_import.h"

#include <exception>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>

#include "rdpt/token_text.h"
#include "rdpt/utf8.h"
#include "rdpt/vocab.h"

namespace rdpt {
namespace {

using json = nlohmann::json;

std::string quote(std::string_view s, size_t max = 24) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const char c = s[i];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  if (s.size() > max) out += "...";
  return out + "\"";
}

// The line's id, from the field `name` (else "id").
std::string id_of(const json& j, const std::string& name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) it = j.find("id");
  if (it == j.end()) throw LogprobLineError{"missing field '" + name + "'", "missing field '" + name + "'"};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  throw LogprobLineError{"bad field '" + name + "'",
                         "field '" + name + "' must be a string or a number, got " + it->dump().substr(0, 40)};
}

// Moves field `from` to the usual name `to` (the line's own `to`, if any, gives way).
void rename_field(json& j, const std::string& from, const char* to) {
  if (from == to) return;
  auto it = j.find(from);
  if (it == j.end()) return;
  json v = std::move(*it);
  j.erase(it);
  j[to] = std::move(v);
}

const json& array_field(const json& obj, const char* name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_array()) {
    throw LogprobLineError{"missing field '" + std::string(name) + "'",
                    "field '" + where + name + "' must be an array"};
  }
  return *it;
}

// Log-prob of token k; nullopt for JSON null. The rule is the HTTP backend's (rdpt::as_logprob):
// a finite number <= 0, values up to kLogprobSlack above 0 read as 0.
std::optional<double> logprob_at(const json& arr, size_t k, const std::string& name) {
  const json& v = arr[k];
  if (v.is_null()) return std::nullopt;
  if (!v.is_number()) {
    throw LogprobLineError{"bad log-prob", name + "[" + std::to_string(k) + "] is not a number: " + v.dump()};
  }
  auto lp = as_logprob(v.get<double>());
  if (!lp) {
    throw LogprobLineError{"bad log-prob", name + "[" + std::to_string(k) + "] = " + v.dump() +
                                        " is not a log-prob (a finite number <= 0; up to " + json(kLogprobSlack).dump() +
                                        " above 0 reads as 0)"};
  }
  return lp;
}

// A byte offset given in the input must start a character: a token's first byte inside a
// multi-byte character means the offsets are of another text or unit.
void check_char_start(const std::string& full, size_t prompt_size, size_t byte_off, const std::string& what) {
  if (byte_off < full.size() && is_utf8_continuation(full[byte_off])) {
    const bool in_prompt = byte_off < prompt_size;
    throw LogprobLineError{"offset inside a character",
                    what + " points inside a multi-byte UTF-8 character (byte " +
                        std::to_string(in_prompt ? byte_off : byte_off - prompt_size) + " of the " +
                        (in_prompt ? "prompt" : "response") +
                        "); give the offset of the character's first byte (or --offset-unit chars)"};
  }
}

// Adds one token given its byte offset in `full` (= prompt + response).
void add_token(ImportedTokens& c, size_t k, size_t byte_off, size_t prompt_size, std::optional<double> lp,
               const std::string& lp_name) {
  if (byte_off < prompt_size) {
    ++c.n_prompt;
    return;
  }
  if (!lp) {
    throw LogprobLineError{"null log-prob",
                    lp_name + "[" + std::to_string(k) + "] is null for a token of the response (byte " +
                        std::to_string(byte_off - prompt_size) +
                        "); only tokens of a prompt part (field 'prompt' or 'text') may lack a log-prob"};
  }
  c.tokens.push_back({uint32_t(byte_off - prompt_size), *lp});
  c.source_index.push_back(uint32_t(k));
}

// "ranks": one per entry of the line's log-prob array (n of them), integers >= 1, null allowed
// where a token of the prompt part has no log-prob; set on the kept tokens.
void add_ranks(const json& j, size_t n, ImportedTokens& c) {
  auto it = j.find("ranks");
  if (it == j.end() || it->is_null()) return;
  if (!it->is_array()) throw LogprobLineError{"bad rank", "field 'ranks' must be an array"};
  if (it->size() != n) {
    throw LogprobLineError{"length mismatch", "'ranks' has " + std::to_string(it->size()) + " entries, the log-probs " +
                                                  std::to_string(n)};
  }
  for (size_t i = 0; i < c.tokens.size(); ++i) {
    const size_t k = c.source_index[i];
    const json& v = (*it)[k];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > int64_t(UINT32_MAX)) {
      throw LogprobLineError{"bad rank", "ranks[" + std::to_string(k) + "] = " + v.dump() +
                                             " is not a rank (an integer >= 1) for a token of the response"};
    }
    c.tokens[i].rank = uint32_t(v.get<int64_t>());
  }
  c.has_ranks = true;
}

// Where a sampler's tokens may start in a stored response that opens with "<think>": the
// sampler of a model whose prompt opened the thought (DeepSeek-R1, QwQ: the prompt ends
// "<think>\n") never produced the tag, which the stored text holds (a thought kept in
// reasoning_content is stored as "<think>" + thought + ...): right after the tag, or after the
// tag and any part of the whitespace that follows it. The tag's action then gets no token from this model, as
// under rdpt score (docs/score.md, "A thought the prompt already opened").
std::vector<size_t> opened_thought_starts(const std::string& response) {
  static constexpr std::string_view kOpen = "<think>";
  if (!std::string_view(response).starts_with(kOpen)) return {};
  std::vector<size_t> starts = {kOpen.size()};  // right after the tag, then at each byte of the whitespace after it
  for (size_t k = kOpen.size(); k < response.size() && (response[k] == ' ' || response[k] == '\n' ||
                                                        response[k] == '\t' || response[k] == '\r');
       ++k)
    starts.push_back(k + 1);
  return starts;
}

void shift_tokens(ImportedTokens& c, size_t by) {
  for (auto& t : c.tokens) t.offset += uint32_t(by);
  c.covered_end += uint32_t(by);
}

// Token texts placed on prompt + response by rdpt::place_token_strings, the HTTP backend's
// routine: U+FFFD and "bytes:\xNN" strings stand for tokens holding part of a character.
// Up to max_skip leading tokens matching nothing (BOS) count as prompt tokens. Without a prompt,
// tokens that do not fit from the response's first byte are tried after a thought the prompt
// opened (opened_thought_starts); when nothing fits, the error is that of the start from which
// the most tokens fitted, with byte numbers in the whole response.
ImportedTokens place_texts(const json& toks, const json& lps, const std::string& toks_name, const std::string& lps_name,
                           const std::string& prompt, const std::string& response, bool truncated, size_t max_skip) {
  std::vector<std::string> strs(toks.size());
  for (size_t k = 0; k < toks.size(); ++k) {
    if (!toks[k].is_string()) {
      throw LogprobLineError{"bad token", toks_name + "[" + std::to_string(k) + "] is not a string: " + toks[k].dump()};
    }
    strs[k] = toks[k].get<std::string>();
  }
  std::vector<size_t> starts = {0};
  if (prompt.empty())
    for (size_t at : opened_thought_starts(response)) starts.push_back(at);
  TokenMatch best;
  size_t best_at = 0;
  for (size_t si = 0; si < starts.size(); ++si) {
    const size_t at = starts[si];
    const std::string full = prompt + response.substr(at);
    TokenMatch m = place_token_strings(full, strs, max_skip, truncated);
    if (m.ok) {
      ImportedTokens c;
      for (size_t k = 0; k < strs.size(); ++k) {
        auto lp = logprob_at(lps, k, lps_name);
        if (k < m.n_skipped) {
          ++c.n_prompt;
        } else if (strs[k].empty()) {
          ++c.n_empty;
        } else {
          add_token(c, k, m.offsets[k], prompt.size(), lp, lps_name);
        }
      }
      c.truncated = truncated;
      c.covered_end = uint32_t(m.end > prompt.size() ? m.end - prompt.size() : 0);
      shift_tokens(c, at);
      return c;
    }
    if (si == 0 || m.bad_token > best.bad_token) best = m, best_at = at;
  }
  // Byte numbers in the whole response (or the prompt): the attempt placed the tokens on prompt +
  // response[best_at..].
  const std::string full = prompt + response.substr(best_at);
  const std::string after = best_at ? " (placed after the response's leading <think> and " +
                                          std::to_string(best_at - 7) + " bytes of whitespace, which the prompt opened)"
                                    : "";
  if (best.bad_token >= strs.size()) {
    throw LogprobLineError{"token text mismatch",
                           "the tokens end at byte " +
                               std::to_string(best.bad_at >= prompt.size() ? best.bad_at - prompt.size() + best_at : 0) +
                               " of the " + std::to_string(response.size()) + "-byte response (token " +
                               std::to_string(strs.size()) + " missing)" + after +
                               "; mark a partial scoring with \"truncated\": true"};
  }
  const std::string& t = strs[best.bad_token];
  const size_t pos = best.bad_at;
  const bool in_prompt = pos < prompt.size();
  const size_t at = in_prompt ? pos : pos - prompt.size() + best_at;
  throw LogprobLineError{"token text mismatch",
                         "token " + std::to_string(best.bad_token) + " " + quote(t) + " does not match the " +
                             (in_prompt ? "prompt" : "response") + " at byte " + std::to_string(at) + " (" +
                             (pos >= full.size() ? std::string("past its end")
                                                 : "which has " + quote(std::string_view(full).substr(
                                                                      pos, std::max<size_t>(t.size(), 1)))) +
                             ")" + after + "; the token texts must concatenate to " +
                             (prompt.empty() ? "the response" : "the prompt followed by the response") +
                             " byte for byte (U+FFFD or \"bytes:\\xNN\" standing for part of a character)"};
}

// {"id", "tokens": [texts], "logprobs": [...]}: offsets from the token texts placed on the text.
ImportedTokens from_texts(const json& j, const std::string& prompt, const std::string& response) {
  const json& toks = array_field(j, "tokens", "");
  const json& lps = array_field(j, "logprobs", "");
  if (toks.size() != lps.size()) {
    throw LogprobLineError{"length mismatch", "'tokens' has " + std::to_string(toks.size()) + " entries, 'logprobs' " +
                                           std::to_string(lps.size())};
  }
  return place_texts(toks, lps, "tokens", "logprobs", prompt, response, j.value("truncated", false), 0);
}

// {"id", "offsets": [...], "logprobs": [...]}: offsets (bytes, or characters with --offset-unit
// chars) into the response, or into prompt + response when "prompt" is given.
ImportedTokens from_offsets(const json& j, const std::string& prompt, const std::string& response, OffsetUnit unit) {
  const json& offs = array_field(j, "offsets", "");
  const json& lps = array_field(j, "logprobs", "");
  if (offs.size() != lps.size()) {
    throw LogprobLineError{"length mismatch", "'offsets' has " + std::to_string(offs.size()) + " entries, 'logprobs' " +
                                           std::to_string(lps.size())};
  }
  const std::string full = prompt + response;
  std::vector<uint32_t> cps;
  if (unit == OffsetUnit::Chars) cps = utf8_char_offsets(full);
  ImportedTokens c;
  c.unit_used = unit == OffsetUnit::Chars ? OffsetUnit::Chars : OffsetUnit::Bytes;
  for (size_t k = 0; k < offs.size(); ++k) {
    if (!offs[k].is_number_unsigned() && !(offs[k].is_number_integer() && offs[k].get<int64_t>() >= 0)) {
      throw LogprobLineError{"bad offset", "offsets[" + std::to_string(k) + "] is not a non-negative integer: " +
                                        offs[k].dump()};
    }
    uint64_t off = offs[k].get<uint64_t>();
    if (unit == OffsetUnit::Chars) {
      if (off >= cps.size() - 1) {
        throw LogprobLineError{"offset out of range", "offsets[" + std::to_string(k) + "] = " + std::to_string(off) +
                                                   " is past the end of the text (" +
                                                   std::to_string(cps.size() - 1) + " characters)"};
      }
      off = cps[off];
    }
    if (off >= full.size()) {
      throw LogprobLineError{"offset out of range", "offsets[" + std::to_string(k) + "] = " + std::to_string(off) +
                                                 " is past the end of the text (" + std::to_string(full.size()) +
                                                 " bytes)"};
    }
    check_char_start(full, prompt.size(), size_t(off),
                     "offsets[" + std::to_string(k) + "] = " + std::to_string(off));
    add_token(c, k, size_t(off), prompt.size(), logprob_at(lps, k, "logprobs"), "logprobs");
  }
  c.truncated = j.value("truncated", false);
  for (const auto& t : c.tokens) c.covered_end = std::max(c.covered_end, t.offset + 1);
  return c;
}

// OpenAI completions shape {"id", "logprobs": {"tokens", "token_logprobs", "text_offset"}}.
// With "tokens" (what vLLM and OpenAI send), the token strings are placed on the text as the
// HTTP backend places them, and text_offset is not read: vLLM counts characters of tokens
// decoded one by one, which drifts where a token holds part of a character. Without tokens,
// text_offset counts from the start of the prompt ("prompt"/"text" given) or, without them,
// from the first token, which must start the response.
ImportedTokens from_openai(const json& j, const std::string& prompt, const std::string& response, OffsetUnit unit) {
  const json& lp = j.at("logprobs");
  const json& lps = array_field(lp, "token_logprobs", "logprobs.");
  const json* toks = nullptr;
  if (auto it = lp.find("tokens"); it != lp.end() && !it->is_null()) {
    if (!it->is_array()) throw LogprobLineError{"bad token", "field 'logprobs.tokens' must be an array"};
    toks = &*it;
  }
  const json* offs_p = nullptr;
  if (auto it = lp.find("text_offset"); it != lp.end() && !it->is_null()) offs_p = &*it;
  if (!toks || offs_p) offs_p = &array_field(lp, "text_offset", "logprobs.");
  if ((offs_p && offs_p->size() != lps.size()) || (toks && toks->size() != lps.size())) {
    throw LogprobLineError{"length mismatch", "'logprobs.token_logprobs' has " + std::to_string(lps.size()) + " entries" +
                                           (offs_p ? ", 'logprobs.text_offset' " + std::to_string(offs_p->size()) : "") +
                                           (toks ? ", 'logprobs.tokens' " + std::to_string(toks->size()) : "")};
  }
  if (toks) {
    return place_texts(*toks, lps, "logprobs.tokens", "logprobs.token_logprobs", prompt, response,
                       j.value("truncated", false), 2);
  }
  const json& offs = *offs_p;
  const std::string full = prompt + response;
  std::vector<uint64_t> raw(offs.size());
  for (size_t k = 0; k < offs.size(); ++k) {
    if (!offs[k].is_number_integer() || offs[k].get<int64_t>() < 0) {
      throw LogprobLineError{"bad offset", "logprobs.text_offset[" + std::to_string(k) +
                                        "] is not a non-negative integer: " + offs[k].dump()};
    }
    raw[k] = offs[k].get<uint64_t>();
  }
  const uint64_t base = (prompt.empty() && !raw.empty()) ? raw[0] : 0;
  const std::vector<uint32_t> cps = utf8_char_offsets(full);
  if (unit == OffsetUnit::Auto) unit = OffsetUnit::Chars;  // OpenAI and vLLM count characters (Python str indices)
  ImportedTokens c;
  c.unit_used = unit;
  for (size_t k = 0; k < raw.size(); ++k) {
    size_t b = SIZE_MAX;  // byte offset in `full`
    if (raw[k] >= base) {
      const uint64_t rel = raw[k] - base;
      if (unit == OffsetUnit::Bytes && rel < full.size()) b = size_t(rel);
      if (unit == OffsetUnit::Chars && rel < cps.size() - 1) b = cps[rel];
    }
    if (b == SIZE_MAX) {
      throw LogprobLineError{"offset out of range",
                      "logprobs.text_offset[" + std::to_string(k) + "] = " + std::to_string(raw[k]) +
                          " is outside the text (" + std::to_string(cps.size() - 1) + " characters, " +
                          std::to_string(full.size()) + " bytes" +
                          (base ? ", counted from the first token's offset " + std::to_string(base) : "") + ")"};
    }
    check_char_start(full, prompt.size(), b,
                     "logprobs.text_offset[" + std::to_string(k) + "] = " + std::to_string(raw[k]));
    add_token(c, k, b, prompt.size(), logprob_at(lps, k, "logprobs.token_logprobs"), "logprobs.token_logprobs");
  }
  c.truncated = j.value("truncated", false);
  for (const auto& t : c.tokens) c.covered_end = std::max(c.covered_end, t.offset + 1);
  return c;
}

// The prompt part that offsets/texts include: "prompt", or for the OpenAI shape the part of
// "text" (echo = prompt + completion) before the response.
// {"id", "token_ids": [...], "logprobs": [...]}: ids placed on prompt + response by the model's
// vocabulary (the rule of rdpt's own tokenization); the first ids_include_prompt ids are prompt
// tokens, dropped unplaced.
ImportedTokens from_ids(const json& j, const std::string& prompt, const std::string& response,
                        const TokenIdOptions& o) {
  const json& ids = array_field(j, "token_ids", "");
  const json& lps = array_field(j, "logprobs", "");
  if (ids.size() != lps.size()) {
    throw LogprobLineError{"length mismatch", "'token_ids' has " + std::to_string(ids.size()) +
                                                  " entries, 'logprobs' " + std::to_string(lps.size())};
  }
  if (!o.vocab) {
    throw LogprobLineError{"token ids without a vocabulary",
                           "'token_ids' need the model's vocabulary to be placed on the text (rdpt import "
                           "--tokenizer NAME=VOCAB.gguf)"};
  }
  if (o.ids_include_prompt > ids.size()) {
    throw LogprobLineError{"fewer ids than prompt tokens", "'token_ids' has " + std::to_string(ids.size()) +
                                                               " entries, fewer than the " +
                                                               std::to_string(o.ids_include_prompt) +
                                                               " prompt tokens (--ids-include-prompt)"};
  }
  std::vector<int32_t> rest;
  rest.reserve(ids.size() - o.ids_include_prompt);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (!ids[k].is_number_integer() || ids[k].get<int64_t>() < 0 || ids[k].get<int64_t>() > INT32_MAX) {
      throw LogprobLineError{"bad token id",
                             "token_ids[" + std::to_string(k) + "] is not a token id: " + ids[k].dump().substr(0, 40)};
    }
    if (k >= o.ids_include_prompt) rest.push_back(int32_t(ids[k].get<int64_t>()));
  }
  const bool truncated = j.value("truncated", false);
  const std::string full = prompt + response;
  size_t skip = o.ids_include_prompt;  // leading ids that are prompt tokens
  std::vector<uint32_t> offsets;
  try {
    offsets = o.vocab->place_ids(rest, full, truncated);
  } catch (const DataError& e) {
    std::string msg = e.what();
    // Ids that start after a thought the prompt opened: every start is tried; the first at which
    // all of them fit wins. When none does, the error is that of the first start at which the
    // first ids (a window of 8) fit, its byte numbers counted from that start.
    std::optional<size_t> start;
    std::optional<std::pair<size_t, std::string>> start_error;
    if (prompt.empty()) {
      const std::span<const int32_t> all(rest);
      for (size_t at : opened_thought_starts(response)) {
        try {
          offsets = o.vocab->place_ids(rest, std::string_view(response).substr(at), truncated);
          start = at;
          break;
        } catch (const DataError& e2) {
          if (start_error) continue;
          try {
            o.vocab->place_ids(all.first(std::min<size_t>(8, all.size())), std::string_view(response).substr(at), true);
            start_error.emplace(at, e2.what());
          } catch (const DataError&) {
          }
        }
      }
      if (!start && start_error)
        throw LogprobLineError{"token id mismatch",
                               start_error->second + " (the ids placed after the response's leading <think> and " +
                                   std::to_string(start_error->first - 7) +
                                   " bytes of whitespace, which the prompt opened: byte numbers count from byte " +
                                   std::to_string(start_error->first) + " of the response)"};
    }
    if (start) {  // placed after the opened thought: offsets into the response, the prompt empty
      for (auto& off : offsets) off += uint32_t(*start);
    } else {
      // Ids covering prompt + response with neither a "prompt" field nor --ids-include-prompt: the
      // prompt's ids are found by matching, as the first id from which the rest reproduces the whole
      // response (a window of 8 ids is tried first, so each wrong start costs little).
      // Not for truncated lines: a prefix of a repetitive response could match from a wrong start.
      // At most 16 full placements are tried (each costs the line's length).
      bool found = false;
      if (prompt.empty() && !o.ids_include_prompt && !truncated) {
        const std::span<const int32_t> all(rest);
        int full_tries = 0;
        for (size_t n = 1; n < all.size() && !found && full_tries < 16; ++n) {
          try {
            o.vocab->place_ids(all.subspan(n, std::min<size_t>(8, all.size() - n)), response, true);
            ++full_tries;
            offsets = o.vocab->place_ids(all.subspan(n), response, truncated);
            skip = n;
            found = true;
          } catch (const DataError&) {
          }
        }
      }
      if (!found) {
        if (o.ids_include_prompt) msg += " (token numbers count from token_ids[" + std::to_string(o.ids_include_prompt) + "])";
        throw LogprobLineError{"token id mismatch",
                               msg + "; the ids must tokenize " +
                                   (prompt.empty() ? std::string("the response (or a prompt followed by it)")
                                                   : "the prompt followed by the response") +
                                   (truncated ? " (or its beginning)" : "") + " with this vocabulary"};
      }
      rest.erase(rest.begin(), rest.begin() + std::ptrdiff_t(skip));
    }
  }
  ImportedTokens c;
  c.n_prompt = skip;
  for (size_t k = 0; k < rest.size(); ++k) {
    const size_t at = k + skip;
    add_token(c, at, offsets[k], prompt.size(), logprob_at(lps, at, "logprobs"), "logprobs");
  }
  c.truncated = truncated;
  for (const auto& t : c.tokens) c.covered_end = std::max(c.covered_end, t.offset + 1);
  return c;
}

std::string prompt_part(const json& j, const std::string& response, bool openai) {
  if (auto it = j.find("prompt"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) throw LogprobLineError{"bad field 'prompt'", "field 'prompt' must be a string"};
    return it->get<std::string>();
  }
  if (openai) {
    if (auto it = j.find("text"); it != j.end() && it->is_string()) {
      const auto& t = it->get_ref<const std::string&>();
      if (t.size() >= response.size() && t.compare(t.size() - response.size(), response.size(), response) == 0) {
        return t.substr(0, t.size() - response.size());
      }
      throw LogprobLineError{"text mismatch", "field 'text' does not end with the stored response"};
    }
  }
  return {};
}

}  // namespace

struct LogprobLine::Impl {
  json j;
  std::string id;
};

LogprobLine::LogprobLine(std::string_view line, const LogprobFieldNames& fields) : impl_(std::make_unique<Impl>()) {
  try {
    impl_->j = json::parse(line);
  } catch (const json::parse_error& e) {
    throw LogprobLineError{"invalid JSON", std::string("invalid JSON: ") + e.what()};
  }
  if (!impl_->j.is_object()) throw LogprobLineError{"not an object", "the line is not a JSON object"};
  impl_->id = id_of(impl_->j, fields.id);
  rename_field(impl_->j, fields.token_ids, "token_ids");
  rename_field(impl_->j, fields.logprobs, "logprobs");
  rename_field(impl_->j, fields.ranks, "ranks");
}

LogprobLine::~LogprobLine() = default;
LogprobLine::LogprobLine(LogprobLine&&) noexcept = default;
LogprobLine& LogprobLine::operator=(LogprobLine&&) noexcept = default;

const std::string& LogprobLine::id() const { return impl_->id; }

ImportedTokens LogprobLine::tokens(const std::string& response, OffsetUnit unit, const TokenIdOptions& ids) const {
  const json& j = impl_->j;
  const auto lp = j.find("logprobs");
  const bool object = lp != j.end() && lp->is_object();
  // Chat completions: {"logprobs": {"content": [{"token", "logprob", "bytes", "top_logprobs"}]}}
  // (vLLM's and OpenAI's /v1/chat/completions); the completions shape holds "token_logprobs".
  const bool chat = object && lp->contains("content") && !lp->contains("token_logprobs");
  const bool openai = object && !chat;
  const std::string prompt = prompt_part(j, response, openai);
  ImportedTokens c;
  json chat_lps;
  if (chat) {
    const json& content = lp->at("content");
    if (!content.is_array()) throw LogprobLineError{"bad field", "field 'logprobs.content' must be an array"};
    json toks = json::array();
    chat_lps = json::array();
    for (size_t k = 0; k < content.size(); ++k) {
      const json& e = content[k];
      const std::string where = "logprobs.content[" + std::to_string(k) + "]";
      if (!e.is_object() || !e.contains("logprob"))
        throw LogprobLineError{"bad token", where + " must be an object with 'token' and 'logprob'"};
      // "bytes" holds the token's exact UTF-8 bytes (a token may hold part of a character, whose
      // "token" string then reads U+FFFD); without them, the token string.
      std::string text;
      if (auto b = e.find("bytes"); b != e.end() && b->is_array()) {
        for (const json& x : *b) {
          if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > 255)
            throw LogprobLineError{"bad token", where + ".bytes must hold byte values (0-255)"};
          text += char(uint8_t(x.get<int64_t>()));
        }
      } else if (auto t = e.find("token"); t != e.end() && t->is_string()) {
        text = t->get<std::string>();
      } else {
        throw LogprobLineError{"bad token", where + " has neither a string 'token' nor 'bytes'"};
      }
      toks.push_back(std::move(text));
      chat_lps.push_back(e.at("logprob"));
    }
    c = place_texts(toks, chat_lps, "logprobs.content[].token", "logprobs.content[].logprob", prompt, response,
                    j.value("truncated", false), 0);
  } else if (openai) {
    c = from_openai(j, prompt, response, unit);
  } else if (j.contains("token_ids")) {
    c = from_ids(j, prompt, response, ids);
  } else if (j.contains("offsets")) {
    c = from_offsets(j, prompt, response, unit);
  } else if (j.contains("tokens")) {
    c = from_texts(j, prompt, response);
  } else {
    throw LogprobLineError{"unknown shape",
                           "expected fields 'tokens' + 'logprobs', 'offsets' + 'logprobs', 'token_ids' + "
                           "'logprobs', an OpenAI completions 'logprobs' object {tokens, token_logprobs, text_offset}, or a chat "
                           "completions one {content: [{token, logprob, bytes}]}"};
  }
  const json& lps = chat ? chat_lps : openai ? lp->at("token_logprobs") : j.at("logprobs");  // checked arrays
  add_ranks(j, lps.size(), c);
  if (auto t = j.find("n_tokens_total"); t != j.end() && t->is_number_unsigned()) {
    c.n_tokens_total = t->get<uint32_t>();
  }
  return c;
}

}  // namespace rdpt
