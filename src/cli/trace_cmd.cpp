// rdpt trace: four-way provenance of a distilled model's actions against its teacher and
// student (docs/method.md sections 3, 5, 6, 8), streamed over the score store.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/analytics.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/behaviour.h"
#include "rdpt/error.h"

namespace rdpt::cli {

int run_trace(int argc, char** argv) {
  CLI::App app{
      "Type every scored action of the distilled model's responses as Shared / Teacher / Student / Boosted "
      "(docs/method.md section 3) and write, in --out-dir: types.csv (per-response counts and shares), curves.csv "
      "and curves.json (fraction of each type by position for correct / incorrect / all responses, n_j, Wilson "
      "95% intervals, mean cumulative distilled tokens and the positions reaching each multiple of 4096), and "
      "summary.json (models, thresholds, totals, the beta search when --beta auto, behaviour shares per type).",
      "rdpt trace"};
  std::string store_path, teacher = "teacher", student = "student", distilled = "distilled", beta_s = "auto",
                          out_dir, keywords = "upstream";
  double alpha = 0.1;
  uint32_t max_positions = 0;
  uint64_t token_mark = 4096;
  bool no_progress = false;
  app.add_option("--store,-s", store_path, "score store (SQLite file written by rdpt import/score)")->required();
  app.add_option("--teacher", teacher, "teacher model name in the store (default teacher)");
  app.add_option("--student", student, "student model name (default student)");
  app.add_option("--distilled", distilled, "distilled model name (default distilled)");
  app.add_option("--alpha", alpha, "Shared band on |pS-pD|, |pT-pD|, |pT-pS| (default 0.1)");
  app.add_option("--beta", beta_s,
                 "Teacher/Student margin on pT-pS: a number, or auto = the analysis search over 0.05..0.20 "
                 "(docs/method.md section 5; default auto)");
  app.add_option("--out-dir,-o", out_dir, "output folder (created if absent)")->required();
  app.add_option("--keywords", keywords,
                 "behaviour keyword list: upstream (SEAL's, with its 'think differenly' typo) or corrected "
                 "(default upstream)");
  app.add_option("--max-positions", max_positions, "positions kept in the curves (default 0 = all)");
  app.add_option("--token-mark", token_mark, "mark where mean cumulative tokens reach each multiple of this (default 4096; 0 = none)");
  app.add_flag("--no-progress", no_progress, "do not draw progress on a terminal (default: drawn on a TTY)");
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  check_distinct_roles({{"--teacher", teacher}, {"--student", student}, {"--distilled", distilled}}, same_model);
  const KeywordList kw = parse_keyword_list(keywords);
  Thresholds th{alpha, 0.1};
  check_thresholds(th);
  std::optional<double> beta_given = parse_beta_option(beta_s);

  auto st = Store::open(store_path, OpenMode::ReadOnly);
  const int64_t mT = require_model(*st, teacher, "--teacher"), mS = require_model(*st, student, "--student"),
                mD = require_model(*st, distilled, "--distilled");
  TtyProgress progress(!no_progress);
  const uint64_t total = uint64_t(st->n_responses());

  std::optional<BetaResult> search;
  if (beta_given) {
    th.beta = *beta_given;
  } else {
    progress.start("trace: beta search", total, "responses");
    search = search_beta(*st, {.procedure = BetaProcedure::Analysis, .alpha = alpha}, mT, mS, mD);
    progress.finish();
    th.beta = search->beta;
  }

  std::filesystem::create_directories(out_dir);
  const std::string dir = out_dir + "/";
  Output types_out(dir + "types.csv");
  std::ostream& tos = types_out.stream();
  const auto types4 = scheme_types(TypeScheme::FourWay);
  tos << "id,group,correct,n_actions,n_scored";
  for (ActionType t : types4) tos << ",n_" << type_name(t);
  for (ActionType t : types4) tos << ",share_" << type_name(t);
  tos << '\n';

  CurveAccumulator curves({.scheme = TypeScheme::FourWay, .max_positions = max_positions, .token_mark = token_mark});
  BehaviourTable behaviours;
  std::array<uint64_t, kNumActionTypes> totals{};
  std::array<double, kNumActionTypes> prop_sum{};
  uint64_t n_resp = 0, n_resp_scored = 0, n_actions = 0, n_scored = 0, n_special_typed = 0;
  std::vector<double> pT, pS, pD;
  std::vector<uint32_t> tokens;
  std::vector<std::optional<ActionType>> types;
  const int64_t mids[] = {mT, mS, mD};
  progress.start("trace", total, "responses");
  st->for_each_scored(mids, [&](const StoredResponse& r, std::span<const std::optional<PairScore>> sc) {
    pair_probs(sc[0], r, pT);
    pair_probs(sc[1], r, pS);
    pair_probs(sc[2], r, pD);
    pair_tokens(sc[2], r, tokens);
    TypeCounts c = type_actions(TypeScheme::FourWay, pT, pS, pD, th, &types);
    curves.add(types, tokens, r.correct);
    for (size_t k = 0; k < types.size(); ++k) {
      if (!types[k]) continue;
      if (r.actions[k].special) {
        ++n_special_typed;
        continue;
      }
      behaviours.add(*types[k], classify_behaviour(action_text(r.response, r.actions[k]), kw));
    }
    tos << csv_field(r.id) << ',' << csv_field(r.group) << ','
        << (r.correct ? (*r.correct ? "true" : "false") : "") << ',' << c.n_actions << ',' << c.n_scored;
    for (ActionType t : types4) tos << ',' << c.count(t);
    for (ActionType t : types4) tos << ',' << csv_number(c.proportion(t));
    tos << '\n';
    ++n_resp;
    n_actions += c.n_actions;
    n_scored += c.n_scored;
    if (c.n_scored) {
      ++n_resp_scored;
      for (ActionType t : types4) prop_sum[type_index(t)] += c.proportion(t);
    }
    for (ActionType t : types4) totals[type_index(t)] += c.count(t);
    progress.update(n_resp);
    return true;
  });
  progress.finish();
  types_out.close();

  Curves cv = curves.result();
  {
    Output o(dir + "curves.csv");
    write_curves_csv(o.stream(), cv);
    o.close();
  }
  {
    Output o(dir + "curves.json");
    o.stream() << curves_json(cv).dump() << '\n';
    o.close();
  }

  using nlohmann::json;
  json s;
  s["store"] = store_path;
  s["models"] = {{"teacher", teacher}, {"student", student}, {"distilled", distilled}};
  s["scheme"] = "four-way";
  s["alpha"] = th.alpha;
  s["beta"] = th.beta;
  s["beta_source"] = beta_given ? "given" : "auto";
  s["beta_search"] = search ? beta_json(*search) : json(nullptr);
  s["n_responses"] = n_resp;
  s["n_responses_scored"] = n_resp_scored;
  s["n_actions"] = n_actions;
  s["n_scored"] = n_scored;
  json counts = json::object(), pooled = json::object(), mean_prop = json::object();
  for (ActionType t : types4) {
    counts[type_name(t)] = totals[type_index(t)];
    pooled[type_name(t)] = n_scored ? json(double(totals[type_index(t)]) / n_scored) : json(nullptr);
    mean_prop[type_name(t)] = n_resp_scored ? json(prop_sum[type_index(t)] / n_resp_scored) : json(nullptr);
  }
  s["counts"] = counts;
  s["share_pooled"] = pooled;
  s["share_mean_per_response"] = mean_prop;
  json beh = json::object();
  for (ActionType t : types4) {
    json bt = {{"n", behaviours.total(t)}};
    for (Behaviour b : {Behaviour::Execution, Behaviour::Reflection, Behaviour::Transition}) {
      double x = behaviours.share(t, b);
      bt[behaviour_name(b)] = std::isnan(x) ? json(nullptr) : json(x);
    }
    beh[type_name(t)] = bt;
  }
  s["behaviours"] = {{"keywords", keywords}, {"special_actions_excluded", n_special_typed}, {"by_type", beh}};
  json marks = json::array();
  for (const auto& m : cv.marks) marks.push_back({{"tokens", m.tokens}, {"position", m.position}});
  s["token_marks"] = marks;
  s["files"] = {"types.csv", "curves.csv", "curves.json", "summary.json"};
  {
    Output o(dir + "summary.json");
    o.stream() << s.dump(2) << '\n';
    o.close();
  }
  std::string msg = "traced " + std::to_string(n_resp) + " responses, " + std::to_string(n_scored) + " of " +
                    std::to_string(n_actions) + " actions scored; beta " + fmt_share(th.beta) + " (" +
                    (beta_given ? "given" : "auto") + ");";
  for (ActionType t : types4)
    msg += std::string(" ") + type_name(t) + " " +
           (n_scored ? fmt_share(double(totals[type_index(t)]) / n_scored) : std::string("-"));
  info(msg + "; wrote " + dir + "{types.csv,curves.csv,curves.json,summary.json}");
  return 0;
}

}  // namespace rdpt::cli
