// rdpt select: teacher-guided data selection (docs/method.md section 7). Keeps per question the
// response(s) chosen by the strategy and writes the chosen records' exact input bytes.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/pipeline.h"
#include "rdpt/error.h"
#include "rdpt/select.h"

namespace rdpt::cli {

int run_select(int argc, char** argv) {
  CLI::App app{
      "Teacher-guided data selection (docs/method.md section 7). Each response of --data is looked up by id in the "
      "store, its actions typed teacher vs student (Common / Teacher / Student, section 4), and per question "
      "(group) the --per-question best responses under --strategy are kept. Writes the chosen records' exact "
      "input lines, in input order, to --out; a summary on stderr (and --summary-json).",
      "rdpt select"};
  std::string data, store_path, teacher = "teacher", student = "student", strategy_s = "teacher-count",
                                beta_s = "auto", out, summary_path;
  uint32_t per_question = 1;
  uint64_t budget = 0, seed = 0;
  ReaderOptions ropts;
  app.add_option("--data,-d", data, "input JSONL (.gz/.zst ok; a file: it is read twice)")->required();
  app.add_option("--store,-s", store_path, "score store holding these responses' teacher and student scores")
      ->required();
  app.add_option("--teacher", teacher, "teacher model name (default teacher)");
  app.add_option("--student", student, "student model name (default student)");
  app.add_option("--strategy", strategy_s,
                 "teacher-count | teacher-ratio | longest | min-teacher-count | random | grape "
                 "(default teacher-count)");
  app.add_option("--per-question,-k", per_question, "responses kept per question (default 1)");
  app.add_option("--budget", budget, "keep at most this many responses in all (default 0 = no budget)");
  app.add_option("--seed", seed, "seed of the random strategy (default 0)");
  app.add_option("--beta", beta_s,
                 "teacher/student margin: a number, or auto = paper Algorithm 1 over these responses "
                 "(default auto)");
  app.add_option("--out,-o", out, "output JSONL of the chosen records (- = stdout)")->required();
  app.add_option("--summary-json", summary_path, "also write the summary as JSON to this file (default: none)");
  add_reader_options(app, ropts);
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  check_distinct_roles({{"--teacher", teacher}, {"--student", student}}, same_model);
  if (data == "-") throw UsageError("--data: select reads its input twice; give a file, not stdin");
  const Strategy strategy = parse_strategy(strategy_s);
  std::optional<double> beta_given = parse_beta(beta_s);
  if (per_question == 0) throw UsageError("--per-question: must be >= 1, got 0");

  // Pass 1 over the data: ids in input order and their groups.
  std::vector<std::pair<std::string, std::string>> order;
  uint64_t n_multi = 0;
  {
    std::unordered_set<std::string> ids;
    RecordReader reader(data, ropts);
    Record rec;
    while (reader.next(rec)) {
      if (!ids.insert(rec.id).second)
        throw DataError(rec.file + ":" + std::to_string(rec.line) + ": duplicate record id '" + rec.id + "'");
      order.emplace_back(rec.id, rec.group);
      if (rec.sub_index >= 0) ++n_multi;
    }
  }
  auto st = Store::open(store_path, OpenMode::ReadOnly);
  SelectRunOptions so;
  so.teacher = teacher;
  so.student = student;
  so.select = {.strategy = strategy, .per_question = per_question, .budget = budget, .seed = seed};
  so.beta = beta_given;
  const SelectRunResult res = select_responses(*st, so, order, "records of '" + data + "'");
  const SelectSummary& sum = res.summary;
  const std::vector<uint64_t>& chosen = res.chosen;
  const uint64_t n_missing = res.n_not_in_store;
  const bool typed_ok = res.typed;
  const double beta = res.beta;
  const auto& search = res.search;
  const size_t n_records = order.size();
  std::vector<bool> keep(n_records, false);
  for (uint64_t o : chosen) keep[o] = true;

  // Pass 2: write the chosen records' exact bytes in input order.
  Output output(out);
  uint64_t n_lines = 0;
  {
    RecordReader reader(data, ropts);
    Record rec;
    uint64_t order = 0;
    std::string last_written_key;
    while (reader.next(rec)) {
      bool k = keep[order++];
      if (!k) continue;
      // A line holding several responses is written once (its bytes cannot be split).
      std::string key = rec.file + ":" + std::to_string(rec.line);
      if (rec.sub_index >= 0 && key == last_written_key) continue;
      last_written_key = key;
      output.stream() << rec.raw << '\n';
      ++n_lines;
    }
  }
  output.close();

  std::string msg = fmt::format(
      "select ({}, K={}{}): {} groups, {} candidates ({} not in store, {} not rankable), chosen {} "
      "({} lines); mean Teacher share before {}, after {}{}",
      strategy_name(strategy), per_question, budget ? fmt::format(", budget {}", budget) : "", sum.n_groups,
      sum.n_candidates, n_missing, sum.n_ineligible, sum.n_chosen, n_lines, fmt_share(sum.mean_teacher_share_before),
      fmt_share(sum.mean_teacher_share_after), typed_ok ? fmt::format(" (beta {})", beta) : "");
  info(msg);
  if (n_missing) warn(std::to_string(n_missing) + " records of '" + data + "' are not in the store and were not candidates");
  if (n_multi) warn("records holding several responses are written whole when any of them is chosen");

  if (!summary_path.empty()) {
    using nlohmann::json;
    auto num = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
    json j = {{"data", data},
              {"store", store_path},
              {"strategy", strategy_name(strategy)},
              {"per_question", per_question},
              {"budget", budget},
              {"seed", seed},
              {"beta", typed_ok ? json(beta) : json(nullptr)},
              {"beta_source", typed_ok ? (beta_given ? "given" : "auto") : "unused"},
              {"n_records", n_records},
              {"n_groups", sum.n_groups},
              {"n_candidates", sum.n_candidates},
              {"n_not_in_store", n_missing},
              {"n_not_rankable", sum.n_ineligible},
              {"n_chosen", sum.n_chosen},
              {"n_lines_written", n_lines},
              {"mean_teacher_share_before", num(sum.mean_teacher_share_before)},
              {"mean_teacher_share_after", num(sum.mean_teacher_share_after)}};
    j["beta_search"] = search ? beta_json(*search) : json(nullptr);
    Output o(summary_path);
    o.stream() << j.dump(2) << '\n';
    o.close();
  }
  return 0;
}

}  // namespace rdpt::cli
