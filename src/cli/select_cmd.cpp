// rdpt select: teacher-guided data selection (docs/method.md section 7). Keeps per question the
// response(s) chosen by the strategy and writes the chosen records' exact input bytes.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <unordered_map>

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
  std::unordered_map<std::string, uint64_t> order_of;
  std::vector<std::string> group_of;
  uint64_t n_multi = 0;
  {
    RecordReader reader(data, ropts);
    Record rec;
    while (reader.next(rec)) {
      auto [it, fresh] = order_of.try_emplace(rec.id, group_of.size());
      if (!fresh)
        throw DataError(rec.file + ":" + std::to_string(rec.line) + ": duplicate record id '" + rec.id + "'");
      group_of.push_back(rec.group);
      if (rec.sub_index >= 0) ++n_multi;
    }
  }

  auto st = Store::open(store_path, OpenMode::ReadOnly);
  const bool need_types = strategy == Strategy::TeacherCount || strategy == Strategy::TeacherRatio ||
                          strategy == Strategy::MinTeacherCount;
  const bool need_student = need_types || strategy == Strategy::Grape;
  // Teacher shares are reported for every strategy when both models are in the store.
  std::optional<int64_t> mT, mS;
  if (need_types || st->model(teacher)) mT = require_model(*st, teacher, "--teacher").mid;
  if (need_student || st->model(student)) mS = require_model(*st, student, "--student").mid;
  const bool typed = mT && mS;

  auto in_data = [&](const StoredResponse& r) { return order_of.count(r.id) > 0; };
  double beta = beta_given.value_or(0.1);
  std::optional<BetaResult> search;
  bool typed_ok = typed;
  if (typed && !beta_given) {
    try {
      search = beta_search(*st, {.procedure = BetaProcedure::Training}, *mT, *mS, 0, in_data);
      beta = search->beta;
    } catch (const DataError&) {
      if (need_types) throw;
      typed_ok = false;  // shares are only reported; longest/random/grape do not need them
    }
  }

  Selector selector({.strategy = strategy, .per_question = per_question, .budget = budget, .seed = seed});
  std::vector<bool> seen(group_of.size(), false);
  std::vector<int64_t> mids;
  if (mT) mids.push_back(*mT);
  if (mS) mids.push_back(*mS);
  stream_scores(*st, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    auto it = order_of.find(r.id);
    if (it == order_of.end()) return true;
    Candidate c;
    c.order = it->second;
    c.n_actions = uint32_t(r.actions.size());
    if (typed_ok) {
      TypeCounts tc = type_actions(TypeScheme::ThreeWay, sc[0].p, sc[1].p, {}, {0.1, beta});
      c.n_scored = tc.n_scored;
      c.n_teacher = tc.count(ActionType::Teacher);
    }
    if (mS) {
      const PairView& s = sc[mT ? 1 : 0];
      if (s.usable) {
        double lp = 0;
        uint64_t nt = 0;
        for (size_t a = 0; a < s.n_tokens.size(); ++a) {
          lp += s.logprob[a];
          nt += s.n_tokens[a];
        }
        if (nt) c.student_logprob_mean = lp / double(nt);
      }
    }
    seen[c.order] = true;
    selector.add(group_of[c.order], c);
    return true;
  });
  uint64_t n_missing = 0;
  for (bool b : seen) n_missing += !b;
  if (n_missing == group_of.size() && !group_of.empty())
    throw DataError("none of the " + std::to_string(group_of.size()) + " records of '" + data +
                    "' is in store '" + store_path + "' (ids differ? import them first)");

  SelectSummary sum;
  std::vector<uint64_t> chosen = selector.select(&sum);
  std::vector<bool> keep(group_of.size(), false);
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
              {"n_records", group_of.size()},
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
