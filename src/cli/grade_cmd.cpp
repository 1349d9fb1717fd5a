// rdpt grade: extract each response's final answer, compare it with the reference answer
// (docs/method.md section 9) and write one JSON line per record; optionally set correctness in a
// score store. A `correct` label in the input wins over grading.
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/grade.h"
#include "rdpt/record.h"
#include "rdpt/store.h"

namespace rdpt::cli {
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

// Reference answers of a benchmark file, keyed by `key_field` (question text is whitespace-normalised).
struct AnswerTable {
  std::unordered_map<std::string, std::string> by_key;
  bool text_keys = false;
  uint64_t n_duplicates = 0;  // keys seen twice with different answers (the first one is kept)
};

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

struct Counts {
  uint64_t n = 0, correct = 0, incorrect = 0, no_answer = 0, no_reference = 0;
  uint64_t labels = 0, graded = 0, joined = 0;
  uint64_t agree_n = 0, agree = 0;  // labelled records that could also be graded
  uint64_t store_set = 0, store_missing = 0;
};

}  // namespace

int run_grade(int argc, char** argv) {
  CLI::App app{
      "Grade responses (docs/method.md section 9). The final answer is the last \\boxed{...} (or \\fbox) after the "
      "reasoning (after the last </think> or <|end_of_thought|>; the whole response when there is none); with "
      "--multiple-choice also a letter (\"Answer: C\"). It is compared with the reference answer: numbers (leading "
      "zeros, thousands commas, fractions, decimals with a relative tolerance), LaTeX normalisation, percent, "
      "degrees, units, tuples, intervals, sets, \\pm, equations and expressions (numerically at random points). "
      "Writes one JSON line per record: {id, extracted, reference, verdict, source, method}; verdict is correct, "
      "incorrect, no-answer, or null when the record has neither label nor reference; source is \"label\" when "
      "the input's correct field gave the verdict (it wins over grading), \"graded\" otherwise. A summary goes "
      "to stderr, with the agreement between grading and the given labels where both exist. See docs/grade.md.",
      "rdpt grade"};
  std::string data, out = "-", answers, answers_key = "problem", answers_field = "answer", data_key, store_path;
  bool multiple_choice = false, fallback_text = false, ignore_labels = false, regrade_store = false;
  std::string choices = "ABCDE";
  std::vector<std::string> reasoning_end = {"</think>", "<|end_of_thought|>"};
  GradeOptions go;
  ReaderOptions ropts;
  app.add_option("--data,-d", data,
                 "input JSONL with responses (.gz/.zst ok; - for stdin); without it, --store's own responses "
                 "are graded");
  app.add_option("--out,-o", out, "output JSONL (default - = stdout)");
  app.add_option("--answers", answers,
                 "benchmark JSONL with reference answers, joined to records that lack one (default: none)")
      ->group("Reference answers");
  app.add_option("--answers-key", answers_key,
                 "field of the --answers file to join on (default problem: matched against each record's question "
                 "text, whitespace-normalised; any other field is matched against --data-key)")
      ->group("Reference answers");
  app.add_option("--answers-field", answers_field, "field of the --answers file holding the answer (default answer)")
      ->group("Reference answers");
  app.add_option("--data-key", data_key,
                 "field of the --data records matched against --answers-key (default: the question text for "
                 "problem/question/prompt keys, else the record's question id, e.g. --answers-key id --data-key "
                 "benchmark_id)")
      ->group("Reference answers");
  app.add_option("--store", store_path,
                 "score store whose responses (same id) get the graded correctness; labelled responses are left "
                 "as they are (default: none)")
      ->group("Store");
  app.add_flag("--regrade", regrade_store,
               "with --store and no --data: also regrade store responses that already have a correctness value "
               "(default: only those without one)")
      ->group("Store");
  app.add_flag("--multiple-choice", multiple_choice,
               "accept a choice letter (\"Answer: C\", \"The answer is (C)\") when there is no \\boxed answer (default off)")
      ->group("Grading");
  app.add_option("--choices", choices, "letters accepted with --multiple-choice (default ABCDE)")->group("Grading");
  app.add_flag("--fallback-text", fallback_text,
               "without a \\boxed answer, also take \"the answer is X\", the last $...$ or the last number "
               "(default off: docs/method.md counts only \\boxed)")
      ->group("Grading");
  app.add_option("--reasoning-end", reasoning_end,
                 "markers that end the reasoning; the answer is searched after the last one (repeatable; default "
                 "</think> and <|end_of_thought|>)")
      ->group("Grading");
  app.add_option("--rel-tol", go.equiv.rel_tol, "relative tolerance for non-integer numbers (default 1e-6)")
      ->group("Grading");
  app.add_flag("--ignore-labels", ignore_labels,
               "grade every record even when it carries a correct label (default: the label wins)")
      ->group("Grading");
  add_reader_options(app, ropts);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  if (data.empty() && store_path.empty()) throw UsageError("give --data (responses to grade) or --store");
  if (!data.empty() && regrade_store) throw UsageError("--regrade applies only to grading a store without --data");
  if (multiple_choice && choices.empty()) throw UsageError("--choices: empty");
  check_options(go.equiv);
  go.extract.multiple_choice = multiple_choice;
  go.extract.choices = choices;
  go.extract.fallback_text = fallback_text;
  go.extract.reasoning_end = reasoning_end;

  std::optional<AnswerTable> table;
  if (!answers.empty()) table = load_answers(answers, answers_key, answers_field);
  if (data_key.empty() && table && !table->text_keys) data_key = ropts.fields.group;

  std::unique_ptr<Store> store;
  if (!store_path.empty()) store = Store::open(store_path, OpenMode::ReadWrite);

  Output output(out);
  std::ostream& os = output.stream();
  Counts c;

  // Grades one response; returns the verdict written (nullopt: neither label nor reference).
  auto grade_one = [&](const std::string& id, const std::string& response, std::optional<std::string> reference,
                       std::optional<bool> label) -> std::pair<std::optional<Verdict>, bool /*from label*/> {
    ++c.n;
    std::optional<Grade> g;
    if (reference) g = grade_response(response, *reference, go);
    std::optional<Verdict> verdict;
    bool from_label = label.has_value() && !ignore_labels;
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
    if (!from_label && label && g) {  // --ignore-labels: still report agreement
      ++c.agree_n;
      if ((g->verdict == Verdict::Correct) == *label) ++c.agree;
    }
    if (verdict == Verdict::Correct) ++c.correct;
    if (verdict == Verdict::Incorrect) ++c.incorrect;
    if (verdict == Verdict::NoAnswer) ++c.no_answer;
    nlohmann::json j;
    j["id"] = id;
    if (g && g->extracted) j["extracted"] = *g->extracted;
    else if (!g) {
      Extraction ex = extract_answer(response, go.extract);
      j["extracted"] = ex.answer ? nlohmann::json(*ex.answer) : nlohmann::json(nullptr);
    } else {
      j["extracted"] = nullptr;
    }
    j["reference"] = reference ? nlohmann::json(*reference) : nlohmann::json(nullptr);
    j["verdict"] = verdict ? nlohmann::json(std::string(verdict_name(*verdict))) : nlohmann::json(nullptr);
    j["source"] = from_label ? "label" : (g ? "graded" : "none");
    if (from_label && g) j["graded"] = std::string(verdict_name(g->verdict));
    if (g) j["method"] = g->method;
    os << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return {verdict, from_label};
  };

  if (!data.empty()) {
    ReaderOptions ro = ropts;
    RecordReader reader(data, ro);
    TtyProgress progress;
    progress.start("grading", reader.size().value_or(0), "bytes");
    if (store) store->begin();
    Record rec;
    while (reader.next(rec)) {
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
    }
    if (store) store->commit();
    progress.finish();
    if (reader.stats().n_skipped()) warn(reader.stats().skipped_summary());
  } else {
    // Grade the store's own responses: collect first, write after (no writes while streaming).
    std::vector<std::pair<int64_t, bool>> updates;
    store->for_each_response([&](const StoredResponse& r) {
      std::optional<bool> label = regrade_store ? std::nullopt : r.correct;
      auto [verdict, from_label] = grade_one(r.id, r.response, r.answer, label);
      if (verdict && !from_label) updates.emplace_back(r.rid, *verdict == Verdict::Correct);
      return true;
    });
    store->begin();
    for (auto& [rid, ok] : updates) store->set_correct(rid, ok);
    store->commit();
    c.store_set = updates.size();
  }
  output.close();

  std::string msg = "graded " + std::to_string(c.n) + " responses: " + std::to_string(c.correct) + " correct, " +
                    std::to_string(c.incorrect) + " incorrect, " + std::to_string(c.no_answer) + " no-answer";
  if (c.no_reference) msg += ", " + std::to_string(c.no_reference) + " without label or reference (verdict null)";
  msg += "; " + std::to_string(c.labels) + " from labels, " + std::to_string(c.graded) + " graded";
  if (table) msg += "; " + std::to_string(c.joined) + " references joined from " + answers;
  info(msg);
  if (c.agree_n) {
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * double(c.agree) / double(c.agree_n));
    info("agreement of grading with the given labels: " + std::to_string(c.agree) + "/" + std::to_string(c.agree_n) +
         " (" + pct + ")");
  }
  if (table && table->n_duplicates)
    warn(std::to_string(table->n_duplicates) + " duplicate keys with different answers in " + answers +
         " (the first is used)");
  if (store) {
    info("store " + store_path + ": correctness set for " + std::to_string(c.store_set) + " responses");
    if (c.store_missing)
      warn(std::to_string(c.store_missing) + " graded records have no response with the same id in " + store_path);
  }
  return 0;
}

}  // namespace rdpt::cli
