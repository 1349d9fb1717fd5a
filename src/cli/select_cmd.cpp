// rdpt select: teacher-guided data selection (docs/method.md section 7). Keeps per question the
// response(s) chosen by the strategy and writes the chosen records' exact input bytes.
#include "cli/commands.h"
#include "cli/common.h"
#include <fmt/format.h>

#include "io/output_path.h"
#include "io/parquet.h"
#include "rdpt/error.h"
#include "rdpt/operations.h"

namespace rdpt::cli {

namespace {

// The output's name must not promise another format than the one written: JSONL input is written
// as its lines, uncompressed; Parquet input as Parquet.
void check_output_format(const std::string& out, bool parquet) {
  auto ends = [&](std::string_view suffix) {
    if (out.size() < suffix.size()) return false;
    for (size_t k = 0; k < suffix.size(); ++k)
      if (std::tolower(uint8_t(out[out.size() - suffix.size() + k])) != suffix[k]) return false;
    return true;
  };
  if (parquet) {
    for (std::string_view s : {".jsonl", ".json", ".csv", ".gz", ".zst"})
      if (ends(s))
        throw UsageError("--out '" + out + "': Parquet input is written as Parquet (the chosen rows, with the input's "
                         "schema), not as " + std::string(s) + "; give a .parquet name");
    return;
  }
  if (ends(".parquet"))
    throw UsageError("--out '" + out + "': JSONL input is written as JSONL (the chosen records' lines byte for byte), "
                     "not as Parquet; give a .jsonl name (or give Parquet input)");
  for (std::string_view s : {".gz", ".zst", ".bz2", ".xz"})
    if (ends(s))
      throw UsageError("--out '" + out + "': the chosen lines are written uncompressed, not as " + std::string(s) +
                       "; give a name without '" + std::string(s) + "' and compress the file afterwards");
}

struct SelectArgs {
  std::string data, store_path, teacher = "teacher", student = "student", strategy_s = "teacher-count",
              beta_s = "auto", out, summary_path, scores_out;
  uint32_t per_question = 1;
  uint64_t budget = 0, seed = 0;
  bool compare = false, same_model = false;
  ReaderOptions ropts;
};

void add_select_options(CLI::App& app, SelectArgs& a) {
  app.add_option("--data,-d", a.data, "input JSONL (.gz/.zst ok) or Parquet (a file, a directory, or a quoted glob of shards); read twice, so not stdin")->required();
  app.add_option("--store,-s", a.store_path, "score store holding these responses' teacher and student scores")
      ->required();
  add_model_role(app, "teacher", a.teacher);
  add_model_role(app, "student", a.student);
  app.add_option("--strategy", a.strategy_s,
                 "teacher-count | teacher-ratio | longest | min-teacher-count | random | grape | rsr "
                 "(rsr: lowest rank-surprisal ratio under the student, which needs rdpt score --ranks) "
                 "(default teacher-count)");
  app.add_option("--per-question,-k", a.per_question, "responses kept per question (default 1)");
  app.add_option("--budget", a.budget, "keep at most this many responses in all (default 0 = no budget)")
      ->check(kNonNegative);
  app.add_option("--seed", a.seed, "seed of the random strategy (default 0)")->check(kNonNegative);
  app.add_option("--beta", a.beta_s,
                 "teacher/student margin: a number, or auto = paper Algorithm 1 over these responses "
                 "(default auto)");
  app.add_option("--out,-o", a.out, "output of the chosen records: JSONL, their input lines byte for byte (- = stdout); for Parquet input a Parquet file of the chosen rows with the input's schema")->required();
  app.add_option("--summary-json", a.summary_path, "also write the summary as JSON to this file (default: none)");
  app.add_flag("--compare", a.compare,
               "also run every strategy on the same candidates and print, per strategy, its picks' mean Teacher "
               "share, length in student tokens, student log-prob, rank-surprisal ratio and accuracy, and the Jaccard overlap of each "
               "pair of strategies' picks (in --summary-json under \"comparison\") (default: off)");
  app.add_option("--scores-out", a.scores_out,
                 "write every candidate's criteria as CSV (id, group, order, n_actions, n_scored, n_teacher, "
                 "teacher_share, student_tokens, student_logprob_mean, rsr, correct) (default: none)");
  add_reader_options(app, a.ropts);
  add_same_model_flag(app, a.same_model);
}

// Usage errors found before the store is opened: roles, stdin, the strategy and beta (parsed into
// strategy and beta), --per-question, the output's name and the output paths (distinct, none of
// them the data or the store).
void check_select_args(const SelectArgs& a, bool parquet, Strategy& strategy, std::optional<double>& beta) {
  check_distinct_roles({{"--teacher", a.teacher}, {"--student", a.student}}, a.same_model);
  if (a.data == "-") throw UsageError("--data: select reads its input twice; give a file, not stdin");
  strategy = parse_strategy(a.strategy_s);
  beta = parse_beta(a.beta_s);
  if (a.per_question == 0) throw UsageError("--per-question: must be >= 1, got 0");
  if (parquet && a.out == "-")
    throw UsageError("--out: Parquet input is written as Parquet; give a file (e.g. --out chosen.parquet), not stdout");
  check_output_format(a.out, parquet);
  io::check_distinct_outputs({{"--out", a.out}, {"--summary-json", a.summary_path}, {"--scores-out", a.scores_out}});
  for (const auto& [opt, path] : {std::pair<std::string, std::string>{"--out", a.out}, {"--summary-json", a.summary_path},
                                  {"--scores-out", a.scores_out}}) {
    if (path.empty()) continue;
    io::check_not_same_file(path, a.data, opt + " and --data");
    io::check_not_same_file(path, a.store_path, opt + " and --store");
  }
}

// What the run could not do, after its one-line summary: skipped lines, records not in the store,
// candidates no strategy could rank, records written whole for one of their responses.
void warn_select_leftovers(const SelectArgs& a, const SelectCandidates& cand, const SelectRunResult& res,
                           Strategy strategy) {
  if (cand.n_skipped) warn("'" + a.data + "': " + cand.skipped + " (--skip-bad)");
  if (res.n_not_in_store)
    warn(std::to_string(res.n_not_in_store) + " records of '" + a.data + "' are not in the store and were not candidates");
  if (res.summary.n_ineligible)
    warn(fmt::format("{} of the {} candidates could not be ranked by {} (no action scored under {}: not scored "
                     "yet, as an interrupted rdpt score leaves responses, or nothing to score, as in an empty "
                     "response) and were not chosen; {} of the {} questions got no pick. If scoring was "
                     "interrupted, rerun rdpt score to finish it, then select again",
                     res.summary.n_ineligible, res.summary.n_candidates, strategy_name(strategy),
                     strategy == Strategy::Grape || strategy == Strategy::Rsr
                         ? "the student '" + a.student + "'"
                         : "both the teacher '" + a.teacher + "' and the student '" + a.student + "'",
                     res.summary.n_groups_unranked, res.summary.n_groups));
  if (cand.n_multi)
    warn("records holding several responses are written whole when any of them is chosen; --summary-json lists the "
         "chosen responses' ids (chosen_ids)");
}

}  // namespace

int run_select(int argc, char** argv) {
  CLI::App app{
      "Teacher-guided data selection (docs/method.md section 7). Each response of --data is looked up by id in the "
      "store, its actions typed teacher vs student (Common / Teacher / Student, section 4), and per question "
      "(group) the --per-question best responses under --strategy are kept. Writes the chosen records' exact "
      "input lines, in input order, to --out; a summary on stderr (and --summary-json).",
      "rdpt select"};
  SelectArgs a;
  add_select_options(app, a);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  const bool parquet = io::is_parquet_path(a.data);
  Strategy strategy;
  std::optional<double> beta_given;
  check_select_args(a, parquet, strategy, beta_given);

  // Pass 1 over the data: ids in input order and their groups, each checked against the text the
  // store scored under its id.
  auto st = Store::open(a.store_path, OpenMode::ReadOnly);
  const SelectCandidates cand = read_candidates(a.data, a.ropts, st.get());
  warn_same_models(*st, {{"--teacher", a.teacher}, {"--student", a.student}}, a.same_model);
  SelectRunOptions so;
  so.teacher = a.teacher;
  so.student = a.student;
  so.select = {.strategy = strategy, .per_question = a.per_question, .budget = a.budget, .seed = a.seed};
  so.beta = beta_given;
  const SelectRunResult res = select_responses(*st, so, cand.order, "records of '" + a.data + "'");

  // The side outputs are opened before --out is written, so that one that cannot be written fails
  // the run before anything is replaced.
  std::optional<Output> summary_out, scores_o;
  if (!a.summary_path.empty()) summary_out.emplace(a.summary_path);
  if (!a.scores_out.empty()) scores_o.emplace(a.scores_out);

  // Pass 2: write the chosen records' exact bytes in input order (Parquet: the chosen rows, with
  // the input's schema).
  uint64_t n_lines = 0;
  if (parquet) {
    n_lines = write_chosen_parquet(a.data, a.ropts, res.chosen, cand.order.size(), a.out);
  } else {
    Output output(a.out);
    n_lines = write_chosen_records(a.data, a.ropts, res.chosen, cand.order.size(), output.stream());
    output.close();
  }

  info(select_summary_line(res, so, n_lines));
  warn_select_leftovers(a, cand, res, strategy);
  nlohmann::json summary = select_summary_json(res, so, a.data, a.store_path, cand.order.size(), n_lines);
  summary["n_skipped"] = cand.n_skipped;
  summary["chosen_ids"] = nlohmann::json::array();
  for (uint64_t o : res.chosen) summary["chosen_ids"].push_back(cand.order[o].first);
  if (a.compare) {
    const SelectComparison cmp = compare_strategies(res, so, cand.order);
    std::fputs(comparison_table(cmp).c_str(), stderr);
    summary["comparison"] = comparison_json(cmp);
  }
  if (scores_o) {
    write_candidate_scores_csv(scores_o->stream(), res, cand.order);
    scores_o->close();
  }
  if (summary_out) {
    summary_out->stream() << summary.dump(2) << '\n';
    summary_out->close();
  }
  return 0;
}

}  // namespace rdpt::cli
