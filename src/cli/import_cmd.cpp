// rdpt import: load responses (segmented) and per-token log-probs that users already have
// into the score store. Formats: docs/store.md.
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/byte_source.h"
#include "rdpt/align.h"
#include "rdpt/error.h"
#include "rdpt/record.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"
#include "rdpt/token_text.h"

namespace rdpt::cli {
namespace {

using json = nlohmann::json;

enum class OffsetUnit { Auto, Bytes, Chars };

// A per-line problem; `reason` is the short form counted with --skip-bad.
struct LineError {
  std::string reason;
  std::string message;
};

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

std::string id_of(const json& j) {
  auto it = j.find("id");
  if (it == j.end()) throw LineError{"missing field 'id'", "missing field 'id'"};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  throw LineError{"bad field 'id'", "field 'id' must be a string or a number, got " + it->dump().substr(0, 40)};
}

const json& array_field(const json& obj, const char* name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_array()) {
    throw LineError{"missing field '" + std::string(name) + "'",
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
    throw LineError{"bad log-prob", name + "[" + std::to_string(k) + "] is not a number: " + v.dump()};
  }
  auto lp = as_logprob(v.get<double>());
  if (!lp) {
    throw LineError{"bad log-prob", name + "[" + std::to_string(k) + "] = " + v.dump() +
                                        " is not a log-prob (a finite number <= 0; up to " + json(kLogprobSlack).dump() +
                                        " above 0 reads as 0)"};
  }
  return lp;
}

// Byte offset of every code point boundary of s (size = code points + 1).
std::vector<uint32_t> char_offsets(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i) {
    if ((uint8_t(s[i]) & 0xC0) != 0x80) out.push_back(uint32_t(i));
  }
  out.push_back(uint32_t(s.size()));
  return out;
}

// A byte offset given in the input must start a character: a token's first byte inside a
// multi-byte character means the offsets are of another text or unit.
void check_char_start(const std::string& full, size_t prompt_size, size_t byte_off, const std::string& what) {
  if (byte_off < full.size() && (uint8_t(full[byte_off]) & 0xC0) == 0x80) {
    const bool in_prompt = byte_off < prompt_size;
    throw LineError{"offset inside a character",
                    what + " points inside a multi-byte UTF-8 character (byte " +
                        std::to_string(in_prompt ? byte_off : byte_off - prompt_size) + " of the " +
                        (in_prompt ? "prompt" : "response") +
                        "); give the offset of the character's first byte (or --offset-unit chars)"};
  }
}

struct Converted {
  std::vector<TokenLogprob> tokens;  // response tokens, offsets in bytes of the response
  size_t n_prompt = 0;               // tokens dropped because they start in the prompt part
  size_t n_empty = 0;                // tokens with empty text (no first byte: no action)
  bool truncated = false;
  // truncated: response bytes the tokens are known to cover (token texts give their ends;
  // offsets give only starts, so the last token is taken to cover one byte).
  uint32_t covered_end = 0;
  uint32_t n_tokens_total = 0;
  OffsetUnit unit_used = OffsetUnit::Bytes;
};

// Adds one token given its byte offset in `full` (= prompt + response).
void add_token(Converted& c, size_t k, size_t byte_off, size_t prompt_size, std::optional<double> lp,
               const std::string& lp_name) {
  if (byte_off < prompt_size) {
    ++c.n_prompt;
    return;
  }
  if (!lp) {
    throw LineError{"null log-prob",
                    lp_name + "[" + std::to_string(k) + "] is null for a token of the response (byte " +
                        std::to_string(byte_off - prompt_size) +
                        "); only tokens of a prompt part (field 'prompt' or 'text') may lack a log-prob"};
  }
  c.tokens.push_back({uint32_t(byte_off - prompt_size), *lp});
}

// Token texts placed on prompt + response by rdpt::place_token_strings, the HTTP backend's
// routine: U+FFFD and "bytes:\xNN" strings stand for tokens holding part of a character.
// Up to max_skip leading tokens matching nothing (BOS) count as prompt tokens.
Converted place_texts(const json& toks, const json& lps, const std::string& toks_name, const std::string& lps_name,
                      const std::string& prompt, const std::string& response, bool truncated, size_t max_skip) {
  std::vector<std::string> strs(toks.size());
  for (size_t k = 0; k < toks.size(); ++k) {
    if (!toks[k].is_string()) {
      throw LineError{"bad token", toks_name + "[" + std::to_string(k) + "] is not a string: " + toks[k].dump()};
    }
    strs[k] = toks[k].get<std::string>();
  }
  const std::string full = prompt + response;
  const TokenMatch m = place_token_strings(full, strs, max_skip, truncated);
  if (!m.ok) {
    if (m.bad_token >= strs.size()) {
      throw LineError{"token text mismatch",
                      "the tokens end at byte " +
                          std::to_string(m.bad_at >= prompt.size() ? m.bad_at - prompt.size() : 0) + " of the " +
                          std::to_string(response.size()) + "-byte response (token " + std::to_string(strs.size()) +
                          " missing); mark a partial scoring with \"truncated\": true"};
    }
    const std::string& t = strs[m.bad_token];
    const size_t pos = m.bad_at;
    const bool in_prompt = pos < prompt.size();
    const size_t at = in_prompt ? pos : pos - prompt.size();
    throw LineError{"token text mismatch",
                    "token " + std::to_string(m.bad_token) + " " + quote(t) + " does not match the " +
                        (in_prompt ? "prompt" : "response") + " at byte " + std::to_string(at) + " (" +
                        (pos >= full.size() ? std::string("past its end")
                                            : "which has " + quote(std::string_view(full).substr(
                                                                 pos, std::max<size_t>(t.size(), 1)))) +
                        "); the token texts must concatenate to " +
                        (prompt.empty() ? "the response" : "the prompt followed by the response") +
                        " byte for byte (U+FFFD or \"bytes:\\xNN\" standing for part of a character)"};
  }
  Converted c;
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
  return c;
}

// {"id", "tokens": [texts], "logprobs": [...]}: offsets from the token texts placed on the text.
Converted from_texts(const json& j, const std::string& prompt, const std::string& response) {
  const json& toks = array_field(j, "tokens", "");
  const json& lps = array_field(j, "logprobs", "");
  if (toks.size() != lps.size()) {
    throw LineError{"length mismatch", "'tokens' has " + std::to_string(toks.size()) + " entries, 'logprobs' " +
                                           std::to_string(lps.size())};
  }
  return place_texts(toks, lps, "tokens", "logprobs", prompt, response, j.value("truncated", false), 0);
}

// {"id", "offsets": [...], "logprobs": [...]}: offsets (bytes, or characters with --offset-unit
// chars) into the response, or into prompt + response when "prompt" is given.
Converted from_offsets(const json& j, const std::string& prompt, const std::string& response, OffsetUnit unit) {
  const json& offs = array_field(j, "offsets", "");
  const json& lps = array_field(j, "logprobs", "");
  if (offs.size() != lps.size()) {
    throw LineError{"length mismatch", "'offsets' has " + std::to_string(offs.size()) + " entries, 'logprobs' " +
                                           std::to_string(lps.size())};
  }
  const std::string full = prompt + response;
  std::vector<uint32_t> cps;
  if (unit == OffsetUnit::Chars) cps = char_offsets(full);
  Converted c;
  c.unit_used = unit == OffsetUnit::Chars ? OffsetUnit::Chars : OffsetUnit::Bytes;
  for (size_t k = 0; k < offs.size(); ++k) {
    if (!offs[k].is_number_unsigned() && !(offs[k].is_number_integer() && offs[k].get<int64_t>() >= 0)) {
      throw LineError{"bad offset", "offsets[" + std::to_string(k) + "] is not a non-negative integer: " +
                                        offs[k].dump()};
    }
    uint64_t off = offs[k].get<uint64_t>();
    if (unit == OffsetUnit::Chars) {
      if (off >= cps.size() - 1) {
        throw LineError{"offset out of range", "offsets[" + std::to_string(k) + "] = " + std::to_string(off) +
                                                   " is past the end of the text (" +
                                                   std::to_string(cps.size() - 1) + " characters)"};
      }
      off = cps[off];
    }
    if (off >= full.size()) {
      throw LineError{"offset out of range", "offsets[" + std::to_string(k) + "] = " + std::to_string(off) +
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
Converted from_openai(const json& j, const std::string& prompt, const std::string& response, OffsetUnit unit) {
  const json& lp = j.at("logprobs");
  const json& lps = array_field(lp, "token_logprobs", "logprobs.");
  const json* toks = nullptr;
  if (auto it = lp.find("tokens"); it != lp.end() && !it->is_null()) {
    if (!it->is_array()) throw LineError{"bad token", "field 'logprobs.tokens' must be an array"};
    toks = &*it;
  }
  const json* offs_p = nullptr;
  if (auto it = lp.find("text_offset"); it != lp.end() && !it->is_null()) offs_p = &*it;
  if (!toks || offs_p) offs_p = &array_field(lp, "text_offset", "logprobs.");
  if ((offs_p && offs_p->size() != lps.size()) || (toks && toks->size() != lps.size())) {
    throw LineError{"length mismatch", "'logprobs.token_logprobs' has " + std::to_string(lps.size()) + " entries" +
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
      throw LineError{"bad offset", "logprobs.text_offset[" + std::to_string(k) +
                                        "] is not a non-negative integer: " + offs[k].dump()};
    }
    raw[k] = offs[k].get<uint64_t>();
  }
  const uint64_t base = (prompt.empty() && !raw.empty()) ? raw[0] : 0;
  const std::vector<uint32_t> cps = char_offsets(full);
  if (unit == OffsetUnit::Auto) unit = OffsetUnit::Chars;  // OpenAI and vLLM count characters (Python str indices)
  Converted c;
  c.unit_used = unit;
  for (size_t k = 0; k < raw.size(); ++k) {
    size_t b = SIZE_MAX;  // byte offset in `full`
    if (raw[k] >= base) {
      const uint64_t rel = raw[k] - base;
      if (unit == OffsetUnit::Bytes && rel < full.size()) b = size_t(rel);
      if (unit == OffsetUnit::Chars && rel < cps.size() - 1) b = cps[rel];
    }
    if (b == SIZE_MAX) {
      throw LineError{"offset out of range",
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
std::string prompt_part(const json& j, const std::string& response, bool openai) {
  if (auto it = j.find("prompt"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) throw LineError{"bad field 'prompt'", "field 'prompt' must be a string"};
    return it->get<std::string>();
  }
  if (openai) {
    if (auto it = j.find("text"); it != j.end() && it->is_string()) {
      const auto& t = it->get_ref<const std::string&>();
      if (t.size() >= response.size() && t.compare(t.size() - response.size(), response.size(), response) == 0) {
        return t.substr(0, t.size() - response.size());
      }
      throw LineError{"text mismatch", "field 'text' does not end with the stored response"};
    }
  }
  return {};
}

struct ImportStats {
  uint64_t n_lines = 0, n_pairs = 0, n_tokens = 0, n_prompt_tokens = 0, n_empty_tokens = 0, n_truncated = 0, n_cut_actions = 0;
  uint64_t n_chars_unit = 0;
  std::map<std::string, uint64_t> skipped;
};

int64_t import_responses(Store& store, const std::string& data, const ReaderOptions& ropts,
                         const SegmentOptions& sopts, uint64_t batch) {
  RecordReader reader(data, ropts);
  TtyProgress progress;
  progress.start("import " + data, reader.size().value_or(0), "bytes");
  const int64_t before = store.n_responses();
  Record rec;
  uint64_t n = 0, n_actions = 0, skipped_seg = 0;
  store.begin();
  try {
    while (reader.next(rec)) {
      std::optional<StoredResponse> r = stored_response(std::move(rec), sopts, ropts.skip_bad);
      if (!r) {
        ++skipped_seg;
        continue;
      }
      try {
        store.put_response(*r);
      } catch (const DataError& e) {
        throw DataError(r->source_file + ":" + std::to_string(r->source_line) + ": " + e.what());
      }
      n_actions += r->actions.size();
      if (++n % batch == 0) {
        store.commit();
        store.begin();
        progress.update(reader.bytes_read());
      }
    }
    store.commit();
  } catch (...) {
    try {
      store.commit();  // keep what was read before the error: every response is whole
    } catch (...) {
    }
    throw;
  }
  progress.finish();
  const int64_t added = store.n_responses() - before;
  std::string msg = "read " + std::to_string(n) + " responses (" + std::to_string(n_actions) + " actions) from " +
                    data + ": " + std::to_string(added) + " new, " + std::to_string(int64_t(n) - added) +
                    " already in " + store.path();
  const auto& st = reader.stats();
  if (st.n_skipped()) msg += "; " + st.skipped_summary();
  if (skipped_seg) msg += "; " + std::to_string(skipped_seg) + " skipped: segmentation failed";
  info(msg);
  return int64_t(n);
}

void import_logprobs(Store& store, const std::string& path, ModelSlot& slot, OffsetUnit unit, bool skip_bad,
                     uint64_t batch) {
  io::LineReader lines(io::open_source(path), path);
  ImportStats stats;
  std::string line;
  TtyProgress progress;
  progress.start("import " + path, 0, "lines");
  store.begin();
  try {
    while (lines.next(line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      ++stats.n_lines;
      const std::string where = path + ":" + std::to_string(lines.line_number());
      std::string id;
      try {
        json j;
        try {
          j = json::parse(line);
        } catch (const json::parse_error& e) {
          throw LineError{"invalid JSON", std::string("invalid JSON: ") + e.what()};
        }
        if (!j.is_object()) throw LineError{"not an object", "the line is not a JSON object"};
        id = id_of(j);
        auto rid = store.find_response(id);
        if (!rid) {
          throw LineError{"record not in the store",
                          "not in " + store.path() + " (import its dataset with --data first)"};
        }
        const StoredResponse r = *store.get_response(*rid);
        const auto lp = j.find("logprobs");
        const bool openai = lp != j.end() && lp->is_object();
        const std::string prompt = prompt_part(j, r.response, openai);
        Converted c;
        if (openai) {
          c = from_openai(j, prompt, r.response, unit);
        } else if (j.contains("offsets")) {
          c = from_offsets(j, prompt, r.response, unit);
        } else if (j.contains("tokens")) {
          c = from_texts(j, prompt, r.response);
        } else {
          throw LineError{"unknown shape",
                          "expected fields 'tokens' + 'logprobs', 'offsets' + 'logprobs', or an OpenAI "
                          "'logprobs' object {tokens, token_logprobs, text_offset}"};
        }
        PairScore s;
        try {
          s.actions = align_tokens(r.actions, c.tokens);
        } catch (const DataError& e) {
          throw LineError{"alignment failed", e.what()};
        }
        s.n_tokens = uint32_t(c.tokens.size());
        s.n_tokens_total = s.n_tokens;
        if (c.truncated) {
          // As rdpt score --truncate: the action the truncation cut (or may have cut) and those
          // after it stay unscored; n_tokens counts the tokens of the actions kept.
          stats.n_cut_actions += drop_cut_actions(r.actions, s.actions, c.covered_end);
          s.n_tokens = 0;
          for (const auto& a : s.actions) s.n_tokens += a.n_tokens;
        }
        if (auto t = j.find("n_tokens_total"); t != j.end() && t->is_number_unsigned()) {
          s.n_tokens_total = std::max(s.n_tokens, t->get<uint32_t>());
        }
        s.status = c.truncated ? ScoreStatus::Truncated : ScoreStatus::Ok;
        store.put_scores(slot, *rid, s);
        ++stats.n_pairs;
        stats.n_tokens += c.tokens.size();
        stats.n_prompt_tokens += c.n_prompt;
        stats.n_empty_tokens += c.n_empty;
        stats.n_truncated += c.truncated;
        stats.n_chars_unit += c.unit_used == OffsetUnit::Chars;
      } catch (const LineError& e) {
        std::string msg = where + ": " + (id.empty() ? "" : "record '" + id + "': ") + e.message;
        if (!skip_bad) throw DataError(msg);
        ++stats.skipped[e.reason];
        warn("skipped: " + msg);
      }
      if (stats.n_lines % batch == 0) {
        store.commit();
        store.begin();
        progress.update(stats.n_lines);
      }
    }
    store.commit();
  } catch (...) {
    try {
      store.commit();  // keep the pairs written before the error: each one is whole
    } catch (...) {
    }
    throw;
  }
  progress.finish();
  std::string msg = "imported " + std::to_string(stats.n_pairs) + " scored responses (" +
                    std::to_string(stats.n_tokens) + " tokens) from " + path;
  if (stats.n_prompt_tokens) msg += "; " + std::to_string(stats.n_prompt_tokens) + " prompt tokens dropped";
  if (stats.n_empty_tokens) msg += "; " + std::to_string(stats.n_empty_tokens) + " empty tokens dropped";
  if (stats.n_truncated)
    msg += "; " + std::to_string(stats.n_truncated) + " truncated (" + std::to_string(stats.n_cut_actions) +
           " actions cut by or past the truncation left unscored)";
  if (stats.n_chars_unit) msg += "; offsets in characters for " + std::to_string(stats.n_chars_unit);
  uint64_t n_skipped = 0;
  std::string reasons;
  for (const auto& [k, v] : stats.skipped) {
    n_skipped += v;
    reasons += (reasons.empty() ? " " : ", ") + std::to_string(v) + " " + k;
  }
  if (n_skipped) msg += "; " + std::to_string(n_skipped) + " lines skipped:" + reasons;
  info(msg);
}

}  // namespace

int run_import(int argc, char** argv) {
  CLI::App app{
      "Load responses into a score store (created if absent) and, with --logprobs, per-token log-probs you "
      "already have (e.g. saved by a serving engine while sampling), aligned to the responses' actions "
      "(a token belongs to the action holding its first byte). Re-importing is idempotent: responses are "
      "keyed by id, a pair (model, response) is replaced as a whole. Log-prob line formats: docs/store.md.",
      "rdpt import"};
  std::string data, store_path, logprobs, model_name, location, fingerprint, tokenizer;
  bool replace = false;
  OffsetUnit unit = OffsetUnit::Auto;
  uint64_t batch = 1000;
  ReaderOptions ropts;
  SegmentOptions sopts;
  std::vector<std::string> extra;
  bool no_default = false;
  app.add_option("--data,-d", data,
                 "dataset JSONL (.gz/.zst ok; - for stdin) whose responses are segmented and stored (default: "
                 "none; then --logprobs refers to responses already in the store)");
  app.add_option("--store,-s", store_path, "score store (SQLite) to create or add to")->required();
  app.add_option("--logprobs,-l", logprobs,
                 "per-token log-probs JSONL (.gz/.zst ok; - for stdin), one response per line (default: none)");
  app.add_option("--model,-m", model_name, "model name the log-probs belong to, e.g. teacher (required with "
                                           "--logprobs)");
  app.add_option("--model-location", location,
                 "file or endpoint that produced the log-probs, recorded with the model (default: empty)");
  app.add_option("--fingerprint", fingerprint,
                 "identity of the model; importing under a name stored with another fingerprint is refused "
                 "unless --replace (default: import:<--model-location>, or import:<name> without it)");
  app.add_option("--tokenizer", tokenizer, "tokenizer description recorded with the model (default: empty)");
  app.add_flag("--replace", replace,
               "replace a model of the same name stored with another fingerprint (deletes its scores) "
               "(default: off)");
  static const std::map<std::string, OffsetUnit> kUnits = {
      {"auto", OffsetUnit::Auto}, {"bytes", OffsetUnit::Bytes}, {"chars", OffsetUnit::Chars}};
  app.add_option("--offset-unit", unit,
                 "unit of 'offsets' and OpenAI 'text_offset': bytes, chars (Unicode code points), or auto "
                 "('offsets' in bytes, 'text_offset' in characters) (default auto). OpenAI lines with 'tokens' are "
                 "placed by their token strings, as the HTTP backend places them; 'text_offset' is then not read")
      ->transform(CLI::CheckedTransformer(kUnits, CLI::ignore_case));
  app.add_option("--batch", batch, "responses or lines written per transaction (default 1000)")
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 30));
  add_reader_options(app, ropts);
  add_segment_options(app, sopts, extra, no_default);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  finish_segment_options(sopts, extra, no_default);
  if (data.empty() && logprobs.empty()) throw UsageError("nothing to import: give --data, --logprobs or both");
  if (!logprobs.empty() && model_name.empty()) throw UsageError("--logprobs needs --model NAME");
  if (logprobs.empty() && (!model_name.empty() || !location.empty() || !fingerprint.empty())) {
    throw UsageError("--model, --model-location and --fingerprint need --logprobs");
  }
  if (data == "-" && logprobs == "-") throw UsageError("--data and --logprobs cannot both be stdin");

  auto store = Store::open(store_path, OpenMode::Create);
  // The model is checked against the store before any work (another fingerprint is refused
  // without --replace) but written only with its first pair: a failed import leaves no model.
  std::optional<ModelSlot> slot;
  std::optional<ModelInfo> old;
  if (!logprobs.empty()) {
    ModelInfo m;
    m.name = model_name;
    m.backend = "import";
    m.location = location;
    m.fingerprint = !fingerprint.empty() ? fingerprint : "import:" + (location.empty() ? model_name : location);
    m.tokenizer = tokenizer;
    old = store->model(model_name);
    slot = store->prepare_model(m, replace);
  }
  if (!data.empty()) import_responses(*store, data, ropts, sopts, batch);
  if (slot) {
    import_logprobs(*store, logprobs, *slot, unit, ropts.skip_bad, batch);
    if (!slot->stored()) {
      warn("no pair imported: model '" + model_name + "' is not stored");
    } else if (old && old->fingerprint != slot->info.fingerprint) {
      info("replaced model '" + model_name + "' (fingerprint " + old->fingerprint + " -> " + slot->info.fingerprint +
           ")");
    }
  }
  return 0;
}

}  // namespace rdpt::cli
