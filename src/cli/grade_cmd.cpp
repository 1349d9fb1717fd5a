// rdpt grade: extract each response's final answer, compare it with the reference answer
// (docs/method.md section 9) and write one JSON line per record; optionally set correctness in a
// score store. A `correct` label in the input wins over grading.
#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/operations.h"

namespace rdpt::cli {
namespace {

// The summary on stderr: counts, agreement with the labels, duplicate answers, store updates.
void print_summary(const GradeRunStats& c, const AnswerTable* table, const std::string& answers,
                   const std::string& store_path) {
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
  if (!store_path.empty()) {
    info("store " + store_path + ": correctness set for " + std::to_string(c.store_set) + " responses");
    if (c.store_missing)
      warn(std::to_string(c.store_missing) + " graded records have no response with the same id in " + store_path);
  }
}

}  // namespace

int run_grade(int argc, char** argv) {
  CLI::App app{
      "Grade responses (docs/method.md section 9). The final answer is the last \\boxed{...} (or \\fbox) after the "
      "reasoning (after the last </think>, <|end_of_thought|> or gpt-oss final channel; the whole response when there is none); with "
      "--multiple-choice also a letter (\"Answer: C\"). It is compared with the reference answer: numbers (leading "
      "zeros, thousands commas, fractions, decimals with a relative tolerance), LaTeX normalisation, percent, "
      "degrees, units, tuples, intervals, sets, \\pm, equations and expressions (numerically at random points). "
      "Writes one JSON line per record: {id, extracted, reference, verdict, source, method}; verdict is correct, "
      "incorrect, no-answer, or null when the record has neither label nor reference; source is \"label\" when "
      "the input's correct field gave the verdict (it wins over grading), \"graded\" otherwise. A summary goes "
      "to stderr, with the agreement between grading and the given labels where both exist. See docs/grade.md.",
      "rdpt grade"};
  std::string data, out = "-", answers, answers_key = "problem", answers_field = "answer", store_path;
  bool multiple_choice = false, fallback_text = false;
  std::string choices = "ABCDE";
  std::vector<std::string> reasoning_end = ExtractOptions{}.reasoning_end;
  GradeRunOptions gro;
  GradeOptions& go = gro.grade;
  app.add_option("--data,-d", data,
                 "input JSONL with responses (.gz/.zst ok; - for stdin) or Parquet (a file, a directory, or a quoted glob of shards); without it, --store's own responses "
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
  app.add_option("--data-key", gro.data_key,
                 "field of the --data records matched against --answers-key (default: the question text for "
                 "problem/question/prompt keys, else the record's question id, e.g. --answers-key id --data-key "
                 "benchmark_id)")
      ->group("Reference answers");
  app.add_option("--store", store_path,
                 "score store whose responses (same id) get the graded correctness; labelled responses are left "
                 "as they are (default: none)")
      ->group("Store");
  app.add_flag("--regrade", gro.regrade,
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
                 "</think>, <|end_of_thought|>, and gpt-oss's final channel: <|channel|>final<|message|> and, "
                 "decoded without special tokens, assistantfinal)")
      ->group("Grading");
  app.add_option("--rel-tol", go.equiv.rel_tol, "relative tolerance for non-integer numbers (default 1e-6)")
      ->group("Grading");
  app.add_flag("--ignore-labels", gro.ignore_labels,
               "grade every record even when it carries a correct label (default: the label wins)")
      ->group("Grading");
  add_reader_options(app, gro.reader);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  if (data.empty() && store_path.empty()) throw UsageError("give --data (responses to grade) or --store");
  if (!data.empty() && gro.regrade) throw UsageError("--regrade applies only to grading a store without --data");
  if (multiple_choice && choices.empty()) throw UsageError("--choices: empty");
  check_options(go.equiv);
  go.extract.multiple_choice = multiple_choice;
  go.extract.choices = choices;
  go.extract.fallback_text = fallback_text;
  go.extract.reasoning_end = reasoning_end;

  std::optional<AnswerTable> table;
  if (!answers.empty()) table = load_answers(answers, answers_key, answers_field);
  std::unique_ptr<Store> store;
  if (!store_path.empty()) store = Store::open(store_path, OpenMode::ReadWrite);
  Output output(out);
  TtyProgress progress;
  GradeRunStats c;
  try {
    c = grade_records(data, store.get(), table ? &*table : nullptr, gro, output.stream(), progress, cli_log);
  } catch (const DataError& e) {  // the lines before the bad record are kept (in --out.partial)
    if (out == "-" || output.stream().tellp() <= 0) throw;
    throw DataError(std::string(e.what()) + "; their lines are in " + output.keep_partial());
  }
  output.close();

  print_summary(c, table ? &*table : nullptr, answers, store ? store_path : std::string());
  return 0;
}

}  // namespace rdpt::cli
