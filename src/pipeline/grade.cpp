// Grading a dataset or a store's own responses (rdpt grade): verdicts as JSON lines, summary
// counts, correctness written back to a store.
#include <nlohmann/json.hpp>

#include "rdpt/error.h"
#include "rdpt/operations.h"

namespace rdpt {
namespace {

// Question text as a join key: whitespace runs collapsed, ends trimmed.
std::string text_key(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string json_scalar(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned() || v.is_number_float() || v.is_boolean()) return v.dump();
  if (v.is_array() && v.size() == 1) return json_scalar(v[0]);
  return {};
}

}  // namespace

AnswerTable load_answers(const std::string& path, const std::string& key_field, const std::string& answer_field) {
  AnswerTable t;
  t.text_keys = key_field == "problem" || key_field == "question" || key_field == "prompt";
  ReaderOptions ro;
  ro.require_response = false;
  RecordReader reader(path, ro);
  Record rec;
  while (reader.next(rec)) {
    nlohmann::json j = nlohmann::json::parse(rec.raw, nullptr, false);
    auto where = path + ":" + std::to_string(rec.line);
    if (!j.is_object()) throw DataError(where + ": not a JSON object");
    if (!j.contains(key_field))
      throw DataError(where + ": record '" + rec.id + "' has no field '" + key_field + "' (--answers-key)");
    if (!j.contains(answer_field))
      throw DataError(where + ": record '" + rec.id + "' has no field '" + answer_field + "' (--answers-field)");
    std::string key = json_scalar(j[key_field]);
    std::string ans = json_scalar(j[answer_field]);
    if (key.empty()) throw DataError(where + ": field '" + key_field + "' is empty or not a string/number");
    if (t.text_keys) key = text_key(key);
    auto [it, inserted] = t.by_key.emplace(key, ans);
    if (!inserted && it->second != ans) ++t.n_duplicates;
  }
  return t;
}

GradeRunStats grade_records(const std::string& data, Store* store, const AnswerTable* table,
                            const GradeRunOptions& opts, std::ostream& os, Progress& progress, const LogSink& log) {
  if (data.empty() && !store) throw UsageError("give --data (responses to grade) or --store");
  const GradeOptions& go = opts.grade;
  std::string data_key = opts.data_key;
  if (data_key.empty() && table && !table->text_keys) data_key = opts.reader.fields.group;
  GradeRunStats c;

  // Grades one response; returns the verdict written (nullopt: neither label nor reference).
  auto grade_one = [&](const std::string& id, const std::string& response, std::optional<std::string> reference,
                       std::optional<bool> label) -> std::pair<std::optional<Verdict>, bool /*from label*/> {
    ++c.n;
    std::optional<Grade> g;
    if (reference) g = grade_response(response, *reference, go);
    std::optional<Verdict> verdict;
    bool from_label = label.has_value() && !opts.ignore_labels;
    if (from_label) {
      verdict = *label ? Verdict::Correct : Verdict::Incorrect;
      ++c.labels;
      if (g) {
        ++c.agree_n;
        if ((g->verdict == Verdict::Correct) == *label) ++c.agree;
      }
    } else if (g) {
      verdict = g->verdict;
      ++c.graded;
    } else {
      ++c.no_reference;
    }
    if (!from_label && label && g) {  // ignore_labels: still report agreement
      ++c.agree_n;
      if ((g->verdict == Verdict::Correct) == *label) ++c.agree;
    }
    if (verdict == Verdict::Correct) ++c.correct;
    if (verdict == Verdict::Incorrect) ++c.incorrect;
    if (verdict == Verdict::NoAnswer) ++c.no_answer;
    nlohmann::json j;
    j["id"] = id;
    std::string method;  // how the answer was found, also without a reference to grade against
    if (g && g->extracted) j["extracted"] = *g->extracted;
    else if (!g) {
      Extraction ex = extract_answer(response, go.extract);
      j["extracted"] = ex.answer ? nlohmann::json(*ex.answer) : nlohmann::json(nullptr);
      method = ex.method;
    } else {
      j["extracted"] = nullptr;
    }
    j["reference"] = reference ? nlohmann::json(*reference) : nlohmann::json(nullptr);
    j["verdict"] = verdict ? nlohmann::json(std::string(verdict_name(*verdict))) : nlohmann::json(nullptr);
    j["source"] = from_label ? "label" : (g ? "graded" : "none");
    if (from_label && g) j["graded"] = std::string(verdict_name(g->verdict));
    j["method"] = g ? g->method : method;
    os << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return {verdict, from_label};
  };

  if (!data.empty()) {
    RecordReader reader(data, opts.reader);
    progress.start("grading", reader.size().value_or(0), "bytes");
    if (store) store->begin();
    Record rec;
    uint64_t n_done = 0;
    // A bad record stops the run; the verdicts before it are kept (written, and stored).
    auto next = [&] {
      try {
        return reader.next(rec);
      } catch (const DataError& e) {
        if (store) store->commit();
        if (!n_done) throw;
        throw DataError(std::string(e.what()) + " (the " + std::to_string(n_done) + " responses before it were graded" +
                        (store ? "; correctness stored for " + std::to_string(c.store_set) + " of them" : "") + ")");
      }
    };
    while (next()) {
      std::optional<std::string> reference = rec.answer;
      if ((!reference || reference->empty()) && table) {
        std::string key;
        if (table->text_keys && data_key.empty()) {
          key = text_key(rec.question);
        } else {
          nlohmann::json j = nlohmann::json::parse(rec.raw, nullptr, false);
          if (j.is_object() && j.contains(data_key)) key = json_scalar(j[data_key]);
          if (table->text_keys) key = text_key(key);
        }
        auto it = table->by_key.find(key);
        if (it != table->by_key.end()) {
          reference = it->second;
          ++c.joined;
        }
      }
      if (reference && reference->empty()) reference.reset();
      auto [verdict, from_label] = grade_one(rec.id, rec.response, reference, rec.correct);
      if (store && verdict && !from_label) {
        if (auto rid = store->find_response(rec.id)) {
          store->set_correct(*rid, *verdict == Verdict::Correct);
          ++c.store_set;
        } else {
          ++c.store_missing;
        }
      }
      progress.update(reader.bytes_read());
      ++n_done;
    }
    if (store) store->commit();
    progress.finish();
    if (reader.stats().n_skipped() && log) log(LogLevel::Warn, reader.stats().skipped_summary());
  } else {
    // Grade the store's own responses: collect first, write after (no writes while streaming).
    std::vector<std::pair<int64_t, bool>> updates;
    store->for_each_response([&](const StoredResponse& r) {
      std::optional<bool> label = opts.regrade ? std::nullopt : r.correct;
      auto [verdict, from_label] = grade_one(r.id, r.response, r.answer, label);
      if (verdict && !from_label) updates.emplace_back(r.rid, *verdict == Verdict::Correct);
      return true;
    });
    store->begin();
    for (auto& [rid, ok] : updates) store->set_correct(rid, ok);
    store->commit();
    c.store_set = updates.size();
  }
  return c;
}

}  // namespace rdpt
