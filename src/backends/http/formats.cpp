// Request and response formats of the engines, for scoring (prompt log-probs, no generation).
//
// vLLM, OpenAI-compatible POST /v1/completions (vllm/entrypoints/openai/completion/protocol.py,
// CompletionRequest; serving.py, request_output_to_completion_response):
//   request  {"model", "prompt": [token ids] | "text", "echo": true, "max_tokens": 0,
//             "logprobs": 0, "prompt_logprobs": 0}
//   With echo and max_tokens == 0 vLLM returns only the prompt: choices[0].logprobs holds
//   {tokens, token_logprobs (first null), text_offset, top_logprobs} over the prompt tokens,
//   and choices[0].prompt_logprobs is [null, {"<id>": {"logprob", "rank", "decoded_token"}}, ...]
//   (to_sampling_params: prompt_logprobs defaults to logprobs under echo). prompt_logprobs: 0
//   asks for the actual token only, not a top-k. vLLM clamps log-probs at -9999.
// SGLang, native POST /generate (python/sglang/srt/managers/io_struct.py, GenerateReqInput;
// tokenizer_manager.py, detokenize_logprob_tokens):
//   request  {"input_ids": [...] | "text": "...", "sampling_params": {"max_new_tokens": 0},
//             "return_logprob": true, "logprob_start_len": L, "return_text_in_logprobs": bool}
//   response {"text", "meta_info": {"input_token_logprobs": [[logprob|null, id, text|null], ...]}}
//   from prompt position L on. We ask from the last prompt token (L = n_prompt - 1) and take
//   the trailing entries, checking their ids, which is right whether or not the entry at L
//   carries a value.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "backends/http/http_internal.h"
#include "rdpt/error.h"

namespace rdpt::http_detail {

namespace {

using nlohmann::json;

void append_ids(std::string& s, std::span<const int32_t> ids) {
  s += '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  s += ']';
}

json parse_json(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::string head(body.substr(0, 80));
    throw DataError("answer is not valid JSON (" + std::to_string(body.size()) + " bytes, starting '" + head + "')");
  }
  if (!j.is_object()) throw DataError("answer is not a JSON object");
  return j;
}

// A log-prob from an answer: rdpt::as_logprob (a finite number <= 0, rounding up to
// kLogprobSlack above 0 read as 0), the rule `rdpt import` applies too.
std::optional<double> number(const json& v) {
  if (!v.is_number()) return std::nullopt;
  return as_logprob(v.get<double>());
}

std::string printable(std::string_view s, size_t max = 40) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c == '\n') out += "\\n";
    else if (c < 0x20 || c == 0x7f) out += "?";
    else out += char(c);
  }
  if (s.size() > max) out += "...";
  return out;
}

// Response tokens from a text-mode match: tokens starting at or after the prompt's end (or
// straddling it: then at offset 0), with non-null log-probs.
ParsedTokens split_text_tokens(std::string_view prompt, std::string_view response, std::span<const std::string> strs,
                               std::span<const std::optional<double>> lps) {
  ParsedTokens out;
  std::string text;
  text.reserve(prompt.size() + response.size());
  text.append(prompt);
  text.append(response);
  std::vector<uint32_t> off;
  try {
    off = match_token_strings(text, strs);
  } catch (const DataError& e) {
    out.error = e.what();
    return out;
  }
  const size_t pl = prompt.size();
  for (size_t k = 0; k < strs.size(); ++k) {
    const size_t end = k + 1 < strs.size() ? off[k + 1] : text.size();
    if (off[k] >= text.size()) continue;  // zero-width token at the very end
    const bool straddles = off[k] < pl && end > pl;
    if (off[k] < pl && !straddles) {
      ++out.n_prompt_tokens;
      continue;
    }
    if (!lps[k]) {
      out.error = "token " + std::to_string(k) + " of the response has no log-prob";
      out.tokens.clear();
      return out;
    }
    out.tokens.push_back({uint32_t(straddles ? 0 : off[k] - pl), *lps[k]});
  }
  return out;
}

}  // namespace

std::vector<uint32_t> match_token_strings(std::string_view text, std::span<const std::string> tokens,
                                          size_t max_leading_skip) {
  TokenMatch m = place_token_strings(text, tokens, max_leading_skip);
  if (m.ok) return std::move(m.offsets);
  if (m.bad_token >= tokens.size()) {
    throw DataError("server tokens do not reproduce the text: they end at byte " + std::to_string(m.bad_at) +
                    " of " + std::to_string(text.size()) + " (" + std::to_string(tokens.size()) + " tokens)");
  }
  throw DataError("server tokens do not reproduce the text: token " + std::to_string(m.bad_token) + " ('" +
                  printable(tokens[m.bad_token]) + "') cannot be placed at byte " + std::to_string(m.bad_at) + " (" +
                  std::to_string(tokens.size()) + " tokens, " + std::to_string(text.size()) + " bytes)");
}

std::string openai_score_request(const std::string& model, std::span<const int32_t> ids) {
  std::string s = "{";
  if (!model.empty()) s += "\"model\":" + json(model).dump() + ",";
  s += "\"prompt\":";
  append_ids(s, ids);
  s += ",\"echo\":true,\"max_tokens\":0,\"logprobs\":0,\"prompt_logprobs\":0,\"temperature\":0}";
  return s;
}

std::string openai_score_request_text(const std::string& model, const std::string& text) {
  json j = {{"prompt", text}, {"echo", true}, {"max_tokens", 0}, {"logprobs", 0}, {"temperature", 0}};
  if (!model.empty()) j["model"] = model;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sglang_score_request(std::span<const int32_t> ids, size_t n_prompt) {
  std::string s = "{\"input_ids\":";
  append_ids(s, ids);
  s += ",\"sampling_params\":{\"max_new_tokens\":0,\"temperature\":0},\"return_logprob\":true,\"logprob_start_len\":" +
       std::to_string(n_prompt > 0 ? n_prompt - 1 : 0) + ",\"return_text_in_logprobs\":false}";
  return s;
}

std::string sglang_score_request_text(const std::string& text) {
  json j = {{"text", text},
            {"sampling_params", {{"max_new_tokens", 0}, {"temperature", 0}}},
            {"return_logprob", true},
            {"logprob_start_len", 0},
            {"return_text_in_logprobs", true}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ParsedTokens parse_openai_score(std::string_view body, std::span<const int32_t> ids, size_t n_prompt,
                                std::span<const uint32_t> offsets) {
  const json j = parse_json(body);
  ParsedTokens out;
  out.n_prompt_tokens = uint32_t(n_prompt);
  const size_t n = ids.size(), n_resp = n - n_prompt;
  auto ch = j.find("choices");
  if (ch == j.end() || !ch->is_array() || ch->empty() || !(*ch)[0].is_object()) {
    out.error = "answer has no choices[0]";
    return out;
  }
  const json& c = (*ch)[0];
  out.tokens.reserve(n_resp);
  auto pl = c.find("prompt_logprobs");
  if (pl != c.end() && pl->is_array()) {  // vLLM: ids are checked
    if (pl->size() != n) {
      out.error = "prompt_logprobs has " + std::to_string(pl->size()) + " entries for " + std::to_string(n) +
                  " tokens sent";
      return out;
    }
    out.has_ranks = true;
    for (size_t k = n_prompt; k < n; ++k) {
      const json& e = (*pl)[k];
      const std::string id = std::to_string(ids[k]);
      auto it = e.is_object() ? e.find(id) : e.end();
      std::optional<double> lp;
      if (it != e.end()) lp = it->is_object() && it->contains("logprob") ? number(it->at("logprob")) : number(*it);
      if (!lp) {
        out.error = "prompt_logprobs[" + std::to_string(k) + "] has no log-prob for token id " + id;
        out.tokens.clear();
        return out;
      }
      // vLLM's rank: 1 + tokens with a log-prob >= this one's, other than itself (>= 1).
      uint32_t rank = 0;
      if (it->is_object())
        if (auto r = it->find("rank"); r != it->end() && !r->is_null()) {
          if (!r->is_number_integer() || r->get<int64_t>() < 1 || r->get<int64_t>() > int64_t(UINT32_MAX)) {
            out.error = "prompt_logprobs[" + std::to_string(k) + "] has rank " + r->dump() +
                        " for token id " + id + " (expected an integer >= 1)";
            out.permanent = true;
            out.tokens.clear();
            return out;
          }
          rank = uint32_t(r->get<int64_t>());
        }
      if (!rank) out.has_ranks = false;
      out.tokens.push_back({offsets[k - n_prompt], *lp, rank});
    }
    return out;
  }
  auto lo = c.find("logprobs");
  if (lo == c.end() || !lo->is_object() || !lo->contains("token_logprobs") || !lo->at("token_logprobs").is_array()) {
    out.error = "answer has neither choices[0].prompt_logprobs nor choices[0].logprobs.token_logprobs "
                "(does the server support echo with logprobs?)";
    return out;
  }
  const json& tl = lo->at("token_logprobs");
  if (tl.size() != n) {
    out.error = "logprobs.token_logprobs has " + std::to_string(tl.size()) + " entries for " + std::to_string(n) +
                " tokens sent";
    return out;
  }
  for (size_t k = n_prompt; k < n; ++k) {
    auto lp = number(tl[k]);
    if (!lp) {
      out.error = "logprobs.token_logprobs[" + std::to_string(k) + "] is not a log-prob (a finite number <= 0)";
      out.tokens.clear();
      return out;
    }
    out.tokens.push_back({offsets[k - n_prompt], *lp});
  }
  return out;
}

ParsedTokens parse_openai_score_text(std::string_view body, std::string_view prompt, std::string_view response) {
  const json j = parse_json(body);
  ParsedTokens out;
  auto ch = j.find("choices");
  if (ch == j.end() || !ch->is_array() || ch->empty() || !(*ch)[0].is_object()) {
    out.error = "answer has no choices[0]";
    return out;
  }
  const json& c = (*ch)[0];
  auto lo = c.find("logprobs");
  // find(), not operator[]: on a const json a missing key is undefined behaviour.
  const json *toks_p = nullptr, *tl_p = nullptr;
  if (lo != c.end() && lo->is_object()) {
    if (auto a = lo->find("tokens"); a != lo->end() && a->is_array()) toks_p = &*a;
    if (auto b = lo->find("token_logprobs"); b != lo->end() && b->is_array()) tl_p = &*b;
  }
  if (!toks_p || !tl_p) {
    out.error = "answer has no choices[0].logprobs.tokens/token_logprobs";
    return out;
  }
  const json& toks = *toks_p;
  const json& tl = *tl_p;
  if (toks.size() != tl.size()) {
    out.error = "logprobs.tokens (" + std::to_string(toks.size()) + ") and token_logprobs (" +
                std::to_string(tl.size()) + ") differ in length";
    return out;
  }
  std::vector<std::string> strs(toks.size());
  std::vector<std::optional<double>> lps(toks.size());
  for (size_t k = 0; k < toks.size(); ++k) {
    if (!toks[k].is_string()) {
      out.error = "logprobs.tokens[" + std::to_string(k) + "] is not a string";
      return out;
    }
    strs[k] = toks[k].get<std::string>();
    lps[k] = number(tl[k]);
  }
  return split_text_tokens(prompt, response, strs, lps);
}

namespace {
const json* sglang_input_logprobs(const json& j, ParsedTokens& out) {
  auto mi = j.find("meta_info");
  if (mi == j.end() || !mi->is_object()) {
    out.error = "answer has no meta_info";
    return nullptr;
  }
  auto il = mi->find("input_token_logprobs");
  if (il == mi->end() || !il->is_array()) {
    out.error = "answer has no meta_info.input_token_logprobs (return_logprob not honoured?)";
    return nullptr;
  }
  return &*il;
}
}  // namespace

ParsedTokens parse_sglang_score(std::string_view body, std::span<const int32_t> ids, size_t n_prompt,
                                std::span<const uint32_t> offsets) {
  const json j = parse_json(body);
  ParsedTokens out;
  out.n_prompt_tokens = uint32_t(n_prompt);
  const json* il = sglang_input_logprobs(j, out);
  if (!il) return out;
  const size_t n = ids.size(), n_resp = n - n_prompt;
  if (il->size() < n_resp || il->size() > n) {
    out.error = "meta_info.input_token_logprobs has " + std::to_string(il->size()) + " entries; expected " +
                std::to_string(n_resp) + ".." + std::to_string(n) + " for " + std::to_string(n) + " tokens sent";
    return out;
  }
  const size_t base = il->size() - n_resp;
  out.tokens.reserve(n_resp);
  for (size_t r = 0; r < n_resp; ++r) {
    const json& e = (*il)[base + r];
    const size_t k = n_prompt + r;
    if (!e.is_array() || e.size() < 2 || !e[1].is_number_integer() || e[1].get<int64_t>() != ids[k]) {
      out.error = "meta_info.input_token_logprobs[" + std::to_string(base + r) + "] is not [logprob, " +
                  std::to_string(ids[k]) + ", ...]";
      out.tokens.clear();
      return out;
    }
    auto lp = number(e[0]);
    if (!lp) {
      out.error = "meta_info.input_token_logprobs[" + std::to_string(base + r) + "] has no log-prob (a finite number <= 0)";
      out.tokens.clear();
      return out;
    }
    out.tokens.push_back({offsets[r], *lp});
  }
  return out;
}

ParsedTokens parse_sglang_score_text(std::string_view body, std::string_view prompt, std::string_view response) {
  const json j = parse_json(body);
  ParsedTokens out;
  const json* il = sglang_input_logprobs(j, out);
  if (!il) return out;
  std::vector<std::string> strs(il->size());
  std::vector<std::optional<double>> lps(il->size());
  for (size_t k = 0; k < il->size(); ++k) {
    const json& e = (*il)[k];
    if (!e.is_array() || e.size() < 3 || !e[2].is_string()) {
      out.error = "meta_info.input_token_logprobs[" + std::to_string(k) +
                  "] is not [logprob, id, text] (return_text_in_logprobs not honoured?)";
      return out;
    }
    strs[k] = e[2].get<std::string>();
    lps[k] = number(e[0]);
  }
  return split_text_tokens(prompt, response, strs, lps);
}

std::string vllm_tokenize_chat_request(const std::string& model, std::string_view question, std::string_view system,
                                       const std::string& kwargs_json) {
  json msgs = json::array();
  if (!system.empty()) msgs.push_back({{"role", "system"}, {"content", std::string(system)}});
  msgs.push_back({{"role", "user"}, {"content", std::string(question)}});
  json j = {{"messages", msgs}, {"add_generation_prompt", true}, {"add_special_tokens", false}};
  const json kw = json::parse(kwargs_json.empty() ? "{}" : kwargs_json);
  if (!kw.empty()) j["chat_template_kwargs"] = kw;
  if (!model.empty()) j["model"] = model;
  return j.dump();
}

std::string vllm_tokenize_text_request(const std::string& model, std::string_view text) {
  json j = {{"prompt", std::string(text)}, {"add_special_tokens", false}};
  if (!model.empty()) j["model"] = model;
  return j.dump();
}

std::string vllm_detokenize_request(const std::string& model, std::span<const int32_t> ids) {
  json j = {{"tokens", std::vector<int32_t>(ids.begin(), ids.end())}};
  if (!model.empty()) j["model"] = model;
  return j.dump();
}

ParsedIds parse_vllm_tokenize(std::string_view body) {
  ParsedIds out;
  const json j = parse_json(body);
  auto t = j.find("tokens");
  if (t == j.end() || !t->is_array()) {
    out.error = "the /tokenize answer has no 'tokens' list (is the server vLLM?)";
    return out;
  }
  for (const auto& x : *t) {
    if (!x.is_number_integer()) {
      out.error = "the /tokenize answer's 'tokens' holds a non-integer";
      return out;
    }
    out.ids.push_back(x.get<int32_t>());
  }
  if (auto c = j.find("count"); c != j.end() && c->is_number_integer() && c->get<size_t>() != out.ids.size())
    out.error = "the /tokenize answer's count (" + c->dump() + ") differs from its " + std::to_string(out.ids.size()) +
                " tokens";
  return out;
}

ParsedIds parse_vllm_detokenize(std::string_view body) {
  ParsedIds out;
  const json j = parse_json(body);
  auto p = j.find("prompt");
  if (p == j.end() || !p->is_string()) {
    out.error = "the /detokenize answer has no 'prompt' string";
    return out;
  }
  out.text = p->get<std::string>();
  return out;
}

ParsedTokens parse_openai_score_placed(std::string_view body, std::span<const int32_t> ids, size_t n_prompt,
                                       std::string_view response) {
  ParsedTokens out;
  const json j = parse_json(body);
  auto ch = j.find("choices");
  if (ch == j.end() || !ch->is_array() || ch->empty() || !(*ch)[0].is_object()) {
    out.error = "answer has no choices[0]";
    return out;
  }
  const json& c = (*ch)[0];
  std::vector<std::string> strs;
  auto pl = c.find("prompt_logprobs");
  auto lo = c.find("logprobs");
  const json* toks = nullptr;
  if (lo != c.end() && lo->is_object())
    if (auto a = lo->find("tokens"); a != lo->end() && a->is_array()) toks = &*a;
  for (size_t k = n_prompt; k < ids.size(); ++k) {
    std::optional<std::string> s;
    if (pl != c.end() && pl->is_array() && k < pl->size() && (*pl)[k].is_object()) {
      auto e = (*pl)[k].find(std::to_string(ids[k]));
      if (e != (*pl)[k].end() && e->is_object())
        if (auto d = e->find("decoded_token"); d != e->end() && d->is_string()) s = d->get<std::string>();
    }
    if (!s && toks && k < toks->size() && (*toks)[k].is_string()) s = (*toks)[k].get<std::string>();
    if (!s) {
      out.error = "answer has no decoded string for token " + std::to_string(k) +
                  " (neither prompt_logprobs[k].decoded_token nor logprobs.tokens[k])";
      return out;
    }
    strs.push_back(std::move(*s));
  }
  const TokenMatch m = place_token_strings(response, strs);
  if (!m.ok) {
    out.error = "the server's response tokens do not spell the response: token " + std::to_string(m.bad_token) +
                " does not match at byte " + std::to_string(m.bad_at);
    return out;
  }
  return parse_openai_score(body, ids, n_prompt, m.offsets);
}

}  // namespace rdpt::http_detail
