// RecordReader: JSON Lines records in the flat, messages and conversations layouts.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "io/json_rows.h"
#include "rdpt/error.h"
#include "rdpt/record.h"

namespace rdpt {

using nlohmann::json;

namespace {

// Alternatives tried (with FieldNames::fallbacks) when the named field is absent.
const std::vector<std::string> kIdAlts = {"id", "_id", "uid", "uuid", "problem_id", "question_id"};
const std::vector<std::string> kQuestionAlts = {"question", "problem", "prompt", "instruction", "input", "query"};
const std::vector<std::string> kResponseAlts = {"response",    "responses",  "generation", "generations",
                                                "output",      "completion", "model_output"};
const std::vector<std::string> kAnswerAlts = {"answer", "gt", "gold", "expected_answer", "final_answer",
                                              "ground_truth", "reference_answer"};
const std::vector<std::string> kCorrectAlts = {"correct", "is_correct"};
const std::vector<std::string> kGroupAlts = {"question_id", "problem_id", "qid", "prompt_id"};
const std::vector<std::string> kSystemAlts = {"system", "system_prompt"};
// A response split in two, as vLLM's reasoning parsers and OpenAI-style datasets write it: the
// thought in one of these fields, the answer in the response field (or "content").
const std::vector<std::string> kReasoningFields = {"reasoning_content", "reasoning"};

// A per-record failure with a short reason (for skip counts) and a full message.
struct BadRecord {
  std::string reason;
  std::string message;
};

const json* find_field(const json& obj, const std::string& name, const std::vector<std::string>& alts, bool fallbacks,
                       std::string* found_name = nullptr) {
  auto it = obj.find(name);
  if (it != obj.end() && !it->is_null()) {
    if (found_name) *found_name = name;
    return &*it;
  }
  if (!fallbacks) return nullptr;
  for (const auto& a : alts) {
    auto jt = obj.find(a);
    if (jt != obj.end() && !jt->is_null()) {
      if (found_name) *found_name = a;
      return &*jt;
    }
  }
  return nullptr;
}

const char* type_name(const json& v) { return v.type_name(); }

// "missing field 'F' (also tried: ...; the record's fields: ...; name it with OPTION)".
std::string missing_field(const std::string& name, const std::vector<std::string>& alts, bool tried_alts,
                          const json& obj, const char* option) {
  std::string m = "missing field '" + name + "'";
  std::string tried;
  if (tried_alts)
    for (const auto& a : alts)
      if (a != name) tried += (tried.empty() ? "" : ", ") + a;
  std::string have;
  size_t n = 0;
  for (auto it = obj.begin(); it != obj.end(); ++it, ++n) {
    if (n == 12) {
      have += ", ...";
      break;
    }
    have += (have.empty() ? "" : ", ") + it.key();
  }
  m += " (";
  if (!tried.empty()) m += "also tried: " + tried + "; ";
  m += "the record's fields: " + (have.empty() ? std::string("none") : have) + "; name the field with " + option + ")";
  return m;
}

std::string scalar_to_string(const json& v, const std::string& field) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned() || v.is_number_float()) return v.dump();
  throw BadRecord{"wrong type of field '" + field + "'",
                  "field '" + field + "' must be a string or number, got " + type_name(v)};
}

// Text of a message "content": a string, or a list of parts [{"type":"text","text":...}].
std::string content_text(const json& c, const std::string& where) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_array()) {
    std::string out;
    for (const auto& part : c) {
      if (part.is_string()) out += part.get<std::string>();
      else if (part.is_object() && part.contains("text") && part["text"].is_string()) out += part["text"].get<std::string>();
    }
    return out;
  }
  throw BadRecord{"wrong type of field '" + where + "'", "field '" + where + "' must be a string or a list of text parts, got " + std::string(type_name(c))};
}

std::optional<bool> to_bool(const json& v, const std::string& field) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer() || v.is_number_unsigned()) {
    auto x = v.get<int64_t>();
    if (x == 0 || x == 1) return x == 1;
  }
  if (v.is_number_float()) {
    double x = v.get<double>();
    if (x == 0.0 || x == 1.0) return x == 1.0;
  }
  if (v.is_string()) {
    auto s = v.get<std::string>();
    for (char& ch : s) ch = char(std::tolower(uint8_t(ch)));
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
  }
  throw BadRecord{"wrong type of field '" + field + "'",
                  "field '" + field + "' must be a boolean (or 0/1), got " + v.dump().substr(0, 40)};
}

// The canonical text of a response split into a thought and an answer: "<think>" + thought +
// "</think>" + answer, the inverse of vLLM's reasoning parsers (which split the model's output at
// "</think>" and drop the opening tag; docs/score.md, "Thinking formats"). An empty or absent
// thought leaves the answer as it is; an answer that already holds a thinking tag is refused.
std::string join_thought(const std::string& thought, std::string answer, const std::string& where,
                         bool answer_null) {
  if (thought.empty()) return answer;
  if (answer.find("<think>") != std::string::npos || answer.find("</think>") != std::string::npos)
    throw BadRecord{"thought in two places",
                    where + " has a reasoning field and a response that itself holds <think> or </think>"};
  // A null answer is how vLLM's reasoning parsers report a thought never closed (output cut by
  // the length limit): the model wrote no "</think>", so none is added.
  if (answer_null) return "<think>" + thought;
  return "<think>" + thought + "</think>" + answer;
}

// Whether a null answer beside a thought means the thought was never closed. vLLM's reasoning
// parsers give a null answer both for output cut before "</think>" and for output that stops right
// after it. A heuristic: a finish_reason of "stop" (or rdpt sample's "eos"; any case; in the message
// or the record) says the output ended by itself, taken as after "</think>"; anything else (most
// often "length", or none kept) says it was cut, inside the thought. (A model that ends its output
// inside the thought also gets "stop": the text cannot tell.)
bool unclosed_if_null(const json& message, const json& record) {
  for (const json* o : {&message, &record}) {
    auto it = o->find("finish_reason");
    if (it != o->end() && it->is_string()) {
      std::string r = it->get<std::string>();
      for (char& ch : r) ch = char(std::tolower(uint8_t(ch)));
      return r != "stop" && r != "eos";
    }
  }
  return true;
}

// A chat turn's role, matched without regard to case.
enum class Role { System, User, Assistant, Other };
Role role_of(std::string role) {
  for (char& ch : role) ch = char(std::tolower(uint8_t(ch)));
  // OpenAI's developer message is the system prompt of its newer models (gpt-oss's template
  // renders either as the developer instructions).
  if (role == "system" || role == "developer") return Role::System;
  if (role == "user" || role == "human") return Role::User;
  if (role == "assistant" || role == "gpt" || role == "model" || role == "bot" || role == "chatgpt")
    return Role::Assistant;
  return Role::Other;
}

// The reasoning field of `obj` (one of kReasoningFields), or null; its name in *name.
const json* find_reasoning(const json& obj, std::string* name) {
  for (const auto& f : kReasoningFields) {
    auto it = obj.find(f);
    if (it != obj.end() && !it->is_null()) {
      *name = f;
      return &*it;
    }
  }
  return nullptr;
}

}  // namespace

uint64_t ReaderStats::n_skipped() const {
  uint64_t n = 0;
  for (const auto& [k, v] : skipped) n += v;
  return n;
}

std::string ReaderStats::skipped_summary() const {
  std::string s = std::to_string(n_skipped()) + " records skipped:";
  bool first = true;
  for (const auto& [k, v] : skipped) {
    s += (first ? " " : ", ") + std::to_string(v) + " " + k;
    first = false;
  }
  return s;
}

std::string group_from_question(std::string_view q) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : q) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "q:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct RecordReader::Impl {
  std::string path;
  std::string stem;
  ReaderOptions opts;
  io::JsonRows rows;  // JSON Lines, or Parquet rows as JSON objects
  ReaderStats stats;
  std::vector<Record> pending;  // further responses of a multi-response record
  std::string line;

  Impl(const std::string& p, ReaderOptions o) : path(p), opts(std::move(o)), rows(p) {
    stem = p == "-" ? "stdin" : std::filesystem::path(p).filename().string();
  }

  void parse_record(const std::string& raw, const std::string& file, uint64_t line_no, std::vector<Record>& out);
};

void RecordReader::Impl::parse_record(const std::string& raw, const std::string& file, uint64_t line_no,
                                      std::vector<Record>& out) {
  json obj;
  try {
    obj = json::parse(raw);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    bool utf8 = what.find("UTF-8") != std::string::npos;
    throw BadRecord{utf8 ? "invalid UTF-8" : "invalid JSON",
                    std::string(utf8 ? "invalid UTF-8" : "invalid JSON") + " at byte " + std::to_string(e.byte) +
                        " (" + what.substr(what.find(']') == std::string::npos ? 0 : what.find(']') + 2) + ")"};
  }
  if (!obj.is_object()) throw BadRecord{"not a JSON object", std::string("record is a JSON ") + type_name(obj) + ", not an object"};
  const auto& f = opts.fields;
  // The usual alternatives are tried for a field left at its default name; a name the user gave is
  // taken as given (a misspelt --response-field must not quietly read another field).
  static const FieldNames kDefaults;
  // The id keeps its alternatives: rdpt import's --id-field names the id of the --logprobs rows
  // too, whose field often differs from the dataset's (sample_uuid against id).
  const bool fb_id = f.fallbacks, fb_q = f.fallbacks && f.question == kDefaults.question,
             fb_r = f.fallbacks && f.response == kDefaults.response, fb_a = f.fallbacks && f.answer == kDefaults.answer,
             fb_c = f.fallbacks && f.correct == kDefaults.correct, fb_g = f.fallbacks && f.group == kDefaults.group,
             fb_s = f.fallbacks && f.system == kDefaults.system;

  Record base;
  base.file = file;
  base.line = line_no;
  base.raw = raw;
  std::string id_field;
  // --id-field @line: "<file name>:<line>" ids whatever fields the record has.
  if (const json* v = f.id == kLineIds ? nullptr : find_field(obj, f.id, kIdAlts, fb_id, &id_field)) {
    base.id = scalar_to_string(*v, id_field);
    if (base.id.empty()) throw BadRecord{"empty id", "field '" + id_field + "' is empty (an id names one record)"};
  } else {
    // "<file name>:<line>"; with several Parquet files, the path (train/0000.parquet and
    // test/0000.parquet are two files).
    const std::string name = !rows.parquet()     ? stem
                             : rows.n_files() > 1 ? file
                                                  : std::filesystem::path(file).filename().string();
    base.id = name + ":" + std::to_string(line_no);
  }
  auto with_id = [&](BadRecord b) {
    b.message = "record '" + base.id + "': " + b.message;
    return b;
  };

  try {
    Layout layout = opts.layout;
    if (layout == Layout::Auto) {
      if (obj.contains("messages") && obj["messages"].is_array()) layout = Layout::Messages;
      else if (obj.contains("conversations") && obj["conversations"].is_array()) layout = Layout::Conversations;
      else layout = Layout::Flat;
    }
    std::vector<std::string> responses;
    bool response_list = false;
    if (layout == Layout::Flat) {
      std::string qf;
      const json* q = find_field(obj, f.question, kQuestionAlts, fb_q, &qf);
      if (!q)
        throw BadRecord{"missing field '" + f.question + "'",
                        missing_field(f.question, kQuestionAlts, fb_q, obj, "--question-field")};
      base.question = content_text(*q, qf);
      std::string rf, thf;
      // Like the other alternative names, only with fallbacks (an explicit field layout is taken as given).
      const json* thought = f.fallbacks ? find_reasoning(obj, &thf) : nullptr;
      const json* r = find_field(obj, f.response, kResponseAlts, fb_r, &rf);
      bool answer_null = false;  // {"reasoning_content": ..., "content": null}: a thought never closed
      if (!r && thought && fb_r) {  // OpenAI-style: {"reasoning_content": ..., "content": ...}
        auto ct = obj.find("content");
        if (ct != obj.end() && !ct->is_null()) r = &*ct, rf = "content";
        else if (ct != obj.end() && thought->is_string()) r = &*ct, rf = "content", answer_null = unclosed_if_null(obj, obj);
      }
      if (!r) {
        if (opts.require_response)
          throw BadRecord{"missing field '" + f.response + "'",
                          missing_field(f.response, kResponseAlts, fb_r, obj, "--response-field")};
        responses.push_back("");
      } else if (r->is_array() && !r->empty() && (*r)[0].is_string()) {
        response_list = true;
        for (const auto& x : *r) {
          if (!x.is_string()) throw BadRecord{"wrong type of field '" + rf + "'", "field '" + rf + "' must hold only strings"};
          responses.push_back(x.get<std::string>());
        }
      } else if (r->is_string()) {
        responses.push_back(r->get<std::string>());
      } else if (r->is_null() && rf == "content") {
        responses.push_back("");
      } else {
        throw BadRecord{"wrong type of field '" + rf + "'", "field '" + rf + "' must be a string or a list of strings, got " + std::string(type_name(*r))};
      }
      if (thought && r) {
        if (thought->is_string() && !response_list) {
          responses[0] = join_thought(thought->get<std::string>(), std::move(responses[0]), "the record", answer_null);
        } else if (thought->is_array() && response_list && thought->size() == responses.size()) {
          for (size_t k = 0; k < responses.size(); ++k) {
            if (!(*thought)[k].is_string() && !(*thought)[k].is_null())
              throw BadRecord{"wrong type of field '" + thf + "'", "field '" + thf + "' must hold only strings"};
            if ((*thought)[k].is_string())
              responses[k] = join_thought((*thought)[k].get<std::string>(), std::move(responses[k]),
                                          "response " + std::to_string(k), false);
          }
        } else {
          throw BadRecord{"wrong type of field '" + thf + "'",
                          "field '" + thf + "' must be a string for one response, or a list as long as '" + rf + "'"};
        }
      }
      std::string sf;
      if (const json* s = find_field(obj, f.system, kSystemAlts, fb_s, &sf)) base.system = content_text(*s, sf);
    } else {
      const char* key = layout == Layout::Messages ? "messages" : "conversations";
      auto it = obj.find(key);
      if (it == obj.end() || !it->is_array()) throw BadRecord{std::string("missing field '") + key + "'", std::string("missing list field '") + key + "'"};
      const json& msgs = *it;
      // unknown: the first turn of another role since the last user turn; before_answer: such a
      // turn with an assistant turn after it (between the question and the response).
      std::string last_user, last_assistant, system_turn, unknown, before_answer;
      bool have_assistant = false, have_system = false;
      for (size_t k = 0; k < msgs.size(); ++k) {
        const json& m = msgs[k];
        std::string where = std::string(key) + "[" + std::to_string(k) + "]";
        // OpenAI's {role, content} and ShareGPT's {from, value}, in either list.
        const char* role_key = m.is_object() && m.contains("role") ? "role" : "from";
        const char* text_key = m.is_object() && m.contains("content") ? "content" : "value";
        if (!m.is_object() || !m.contains(role_key) || !m[role_key].is_string())
          throw BadRecord{std::string("bad message in '") + key + "'", where + " needs a string 'role' (or 'from')"};
        const std::string given_role = m[role_key].get<std::string>();
        const Role role = role_of(given_role);
        auto ct = m.find(text_key);
        // Another role's content is never read (a tool turn may hold any JSON).
        std::string text =
            role == Role::Other || ct == m.end() || ct->is_null() ? "" : content_text(*ct, where + "." + text_key);
        if (role == Role::System) {
          if (have_system && text != system_turn)
            throw BadRecord{"two system prompts", where + " is a second system/developer turn with another text: "
                                                  "rdpt renders one system prompt"};
          system_turn = text;
          have_system = true;
        } else if (role == Role::User) {
          last_user = text;
          have_assistant = false;
          unknown.clear();  // earlier turns are not part of the prompt (the last exchange is scored)
          before_answer.clear();
        } else if (role == Role::Assistant) {
          std::string thf;
          if (const json* th = f.fallbacks ? find_reasoning(m, &thf) : nullptr) {
            if (!th->is_string())
              throw BadRecord{"wrong type of field '" + thf + "'", where + "." + thf + " must be a string"};
            text = join_thought(th->get<std::string>(), std::move(text), where,
                                (ct == m.end() || ct->is_null()) && unclosed_if_null(m, obj));
          }
          last_assistant = text;
          have_assistant = true;
          if (!unknown.empty() && before_answer.empty()) before_answer = unknown;
        } else if (unknown.empty()) {
          unknown = where + " has " + role_key + " '" + given_role + "'";
        }
      }
      // A turn of another role (tool, function, ...) between the question and the response was
      // part of what the model saw: refused, not dropped.
      if (!before_answer.empty())
        throw BadRecord{"unknown role in '" + std::string(key) + "'",
                        before_answer + " between the question and the response, which is not a role rdpt renders (system/developer, "
                                  "user/human, assistant/gpt/model): rdpt scores one user turn and its answer, under "
                                  "one system prompt"};
      // The response is the last assistant turn; the question is the user turn before it.
      if (!have_assistant && opts.require_response)
        throw BadRecord{"no assistant message", std::string("no assistant message after the last user message in '") + key + "'"};
      // A top-level system field (OpenThoughts, Bespoke-Stratos, Sky-T1_data: "system" beside
      // "conversations") is the system prompt as a system turn is; two different ones are refused.
      std::string sf;
      if (const json* s = find_field(obj, f.system, kSystemAlts, fb_s, &sf)) {
        std::string top = content_text(*s, sf);
        if (have_system && !top.empty() && !system_turn.empty() && top != system_turn)
          throw BadRecord{"two system prompts", "field '" + sf + "' and the system turn of '" + key +
                                                    "' differ: rdpt renders one system prompt"};
        if (system_turn.empty()) system_turn = std::move(top);
      }
      base.system = system_turn;
      base.question = last_user;
      responses.push_back(last_assistant);
    }
    std::string af;
    if (const json* a = find_field(obj, f.answer, kAnswerAlts, fb_a, &af)) {
      if (a->is_array() && a->size() == 1) base.answer = scalar_to_string((*a)[0], af);
      else base.answer = scalar_to_string(*a, af);
    }
    std::string cf;
    const json* c = find_field(obj, f.correct, kCorrectAlts, fb_c, &cf);
    std::string gf;
    if (const json* g = find_field(obj, f.group, kGroupAlts, fb_g, &gf)) base.group = scalar_to_string(*g, gf);
    else base.group = group_from_question(base.question);

    for (size_t k = 0; k < responses.size(); ++k) {
      Record r = base;
      r.response = std::move(responses[k]);
      if (response_list) {
        r.id = base.id + "#" + std::to_string(k);
        r.sub_index = int(k);
      }
      if (c) {
        if (c->is_array()) {
          if (c->size() != responses.size())
            throw BadRecord{"wrong length of field '" + cf + "'", "field '" + cf + "' has " + std::to_string(c->size()) +
                                                                    " labels for " + std::to_string(responses.size()) + " responses"};
          r.correct = to_bool((*c)[k], cf);
        } else {
          r.correct = to_bool(*c, cf);
        }
      }
      out.push_back(std::move(r));
    }
  } catch (BadRecord& b) {
    throw with_id(std::move(b));
  }
}

RecordReader::RecordReader(const std::string& path, ReaderOptions opts)
    : impl_(std::make_unique<Impl>(path, std::move(opts))) {}
RecordReader::~RecordReader() = default;

bool RecordReader::next(Record& out) {
  auto& I = *impl_;
  while (I.pending.empty()) {
    if (!I.rows.next(I.line)) return false;
    const std::string& file = I.rows.file();
    const uint64_t line_no = I.rows.number();
    ++I.stats.n_lines;
    // a store given where a dataset goes (--data and --store swapped): said as such, not as bad JSON
    if (line_no == 1 && I.line.rfind(std::string("SQLite format 3\0", 16), 0) == 0)
      throw DataError(file + ": an SQLite database (an rdpt store?), not a dataset of JSON lines: give a store as "
                             "--store and the records (JSONL or Parquet) as --data");
    try {
      I.parse_record(I.line, file, line_no, I.pending);
      std::reverse(I.pending.begin(), I.pending.end());
    } catch (const BadRecord& b) {
      I.pending.clear();
      if (!I.opts.skip_bad)
        throw DataError(file + ":" + std::to_string(line_no) + ": " + b.message);
      I.stats.skipped[b.reason] += 1;
    }
  }
  out = std::move(I.pending.back());
  I.pending.pop_back();
  ++I.stats.n_records;
  return true;
}

const ReaderStats& RecordReader::stats() const { return impl_->stats; }
uint64_t RecordReader::bytes_read() const { return impl_->rows.bytes_read(); }
std::optional<uint64_t> RecordReader::size() const { return impl_->rows.size(); }

}  // namespace rdpt
