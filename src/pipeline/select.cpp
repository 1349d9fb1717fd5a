// Selection over a store: types each candidate teacher vs student and ranks them per group.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <ostream>
#include <unordered_map>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt {

SelectRunResult select_responses(Store& store, const SelectRunOptions& o,
                                 const std::vector<std::pair<std::string, std::string>>& order,
                                 const std::string& source) {
  SelectRunResult res;
  const Strategy strategy = o.select.strategy;
  if (o.select.per_question == 0) throw UsageError("per-question count must be >= 1, got 0");
  if (o.beta) check_thresholds({0.1, *o.beta});
  std::unordered_map<std::string, uint64_t> order_of;
  order_of.reserve(order.size());
  for (uint64_t k = 0; k < order.size(); ++k)
    if (!order_of.try_emplace(order[k].first, k).second)
      throw DataError("duplicate candidate id '" + order[k].first + "'");

  const bool need_types = strategy == Strategy::TeacherCount || strategy == Strategy::TeacherRatio ||
                          strategy == Strategy::MinTeacherCount;
  const bool need_student = need_types || strategy == Strategy::Grape || strategy == Strategy::Rsr;
  // Teacher shares are reported for every strategy when both models are in the store.
  std::optional<int64_t> mT, mS;
  if (need_types || store.model(o.teacher)) mT = require_model(store, o.teacher, "--teacher").mid;
  if (need_student || store.model(o.student)) mS = require_model(store, o.student, "--student").mid;
  res.typed = mT && mS;
  res.has_student = mS.has_value();
  if (mS) res.student_rank_clip = rank_clip_of(store, o.student);
  if (strategy == Strategy::Rsr && !res.student_rank_clip)
    throw UsageError("--strategy rsr needs the student's token ranks: student '" + o.student + "' in store '" +
                     store.path() + "' was scored without them (rdpt score --ranks " + o.student +
                     "; Python: rdpt.score(..., ranks=['" + o.student + "']); imported scores: a \"ranks\" field "
                     "beside \"logprobs\" in rdpt import)");
  res.candidates.assign(order.size(), std::nullopt);
  const std::string none_in_store = "none of the " + std::to_string(order.size()) + " " + source + " is in store '" +
                                    store.path() + "' (records are matched by id: check --id-field, or score them first)";
  // Said first, before a beta search over none of them would fail with a less useful message.
  if (!order.empty() && std::none_of(order.begin(), order.end(),
                                     [&](const auto& rec) { return store.find_response(rec.first).has_value(); }))
    throw DataError(none_in_store);
  auto in_data = [&](const StoredResponse& r) { return order_of.count(r.id) > 0; };
  res.beta = o.beta.value_or(0.1);
  if (res.typed && !o.beta) {
    try {
      res.search = beta_search(store, {.procedure = BetaProcedure::Training, .alpha = 0.1, .candidates = {}}, *mT,
                               *mS, 0, in_data);
      res.beta = res.search->beta;
    } catch (const DataError&) {
      if (need_types) throw;
      res.typed = false;  // shares are only reported; longest/random/grape do not need them
    }
  }
  if (!res.typed) res.beta = NAN;

  Selector selector(o.select);
  std::vector<bool> seen(order.size(), false);
  std::vector<int64_t> mids;
  if (mT) mids.push_back(*mT);
  if (mS) mids.push_back(*mS);
  stream_scores(store, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    auto it = order_of.find(r.id);
    if (it == order_of.end()) return true;
    Candidate c;
    c.order = it->second;
    c.n_actions = uint32_t(r.actions.size());
    if (res.typed) {
      TypeCounts tc = type_actions(TypeScheme::ThreeWay, sc[0].p, sc[1].p, {}, {0.1, res.beta});
      c.n_scored = tc.n_scored;
      c.n_teacher = tc.count(ActionType::Teacher);
    }
    if (mS) {
      const PairView& s = sc[mT ? 1 : 0];
      if (s.usable) {
        double lp = 0;
        uint64_t nt = 0, rk = 0;
        for (size_t a = 0; a < s.n_tokens.size(); ++a) {
          lp += s.logprob[a];
          nt += s.n_tokens[a];
          if (!s.rank_sum.empty()) rk += s.rank_sum[a];
        }
        if (nt) c.student_logprob_mean = lp / double(nt);
        if (!s.rank_sum.empty()) c.rsr = rank_surprisal_ratio(rk, lp, nt);
      }
    }
    seen[c.order] = true;
    selector.add(order[c.order].second, c);
    CandidateScores cs{c, 0, r.correct};
    if (mS && sc[mT ? 1 : 0].usable)
      for (uint32_t n : sc[mT ? 1 : 0].n_tokens) cs.student_tokens += n;
    res.candidates[c.order] = cs;
    return true;
  });
  for (bool b : seen) res.n_not_in_store += !b;
  if (strategy == Strategy::Rsr &&
      std::none_of(res.candidates.begin(), res.candidates.end(), [](const auto& c) { return c && !std::isnan(c->c.rsr); }))
    throw UsageError("--strategy rsr: no candidate has the student's token ranks in store '" + store.path() +
                     "' (score the student with rdpt score --ranks " + o.student + ")");
  if (res.n_not_in_store == order.size() && !order.empty()) throw DataError(none_in_store);
  res.chosen = selector.select(&res.summary);
  return res;
}

namespace {

double mean_of(const std::vector<double>& xs) {
  if (xs.empty()) return NAN;
  double s = 0;
  for (double x : xs) s += x;
  return s / double(xs.size());
}

}  // namespace

SelectComparison compare_strategies(const SelectRunResult& run, const SelectRunOptions& o,
                                    const std::vector<std::pair<std::string, std::string>>& order) {
  SelectComparison cmp;
  for (const std::string& name : strategy_names()) {
    StrategyOutcome out;
    out.strategy = parse_strategy(name);
    const Strategy s = out.strategy;
    const bool needs_types = s == Strategy::TeacherCount || s == Strategy::TeacherRatio || s == Strategy::MinTeacherCount;
    if (needs_types && !run.typed) out.not_run = "needs teacher '" + o.teacher + "' and student '" + o.student + "' scores";
    if (s == Strategy::Grape && !run.has_student) out.not_run = "needs student '" + o.student + "' scores";
    if (s == Strategy::Rsr && !run.student_rank_clip)
      out.not_run = "needs student '" + o.student + "' scores with ranks (rdpt score --ranks " + o.student + ")";
    if (out.not_run.empty()) {
      SelectOptions so = o.select;
      so.strategy = s;
      Selector sel(so);
      for (const auto& c : run.candidates)
        if (c) sel.add(order[c->c.order].second, c->c);
      out.chosen = sel.select(&out.summary);
      std::vector<double> share, tokens, lp, rsr;
      uint64_t right = 0;
      for (uint64_t k : out.chosen) {
        const CandidateScores& c = *run.candidates[k];
        if (run.typed && c.c.n_scored) share.push_back(double(c.c.n_teacher) / double(c.c.n_scored));
        if (c.student_tokens) tokens.push_back(double(c.student_tokens));
        if (!std::isnan(c.c.student_logprob_mean)) lp.push_back(c.c.student_logprob_mean);
        if (!std::isnan(c.c.rsr)) rsr.push_back(c.c.rsr);
        if (c.correct) {
          ++out.n_labelled;
          right += *c.correct;
        }
      }
      out.mean_teacher_share = mean_of(share);
      out.mean_tokens = mean_of(tokens);
      out.mean_student_logprob = mean_of(lp);
      out.mean_rsr = mean_of(rsr);
      out.accuracy = out.n_labelled ? double(right) / double(out.n_labelled) : NAN;
    }
    cmp.strategies.push_back(std::move(out));
  }
  const size_t n = cmp.strategies.size();
  cmp.jaccard.assign(n, std::vector<double>(n, NAN));
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b) {
      const auto& A = cmp.strategies[a];
      const auto& B = cmp.strategies[b];
      if (!A.not_run.empty() || !B.not_run.empty()) continue;
      std::vector<uint64_t> both;
      std::set_intersection(A.chosen.begin(), A.chosen.end(), B.chosen.begin(), B.chosen.end(), std::back_inserter(both));
      const size_t uni = A.chosen.size() + B.chosen.size() - both.size();
      cmp.jaccard[a][b] = uni ? double(both.size()) / double(uni) : 1.0;
    }
  return cmp;
}

nlohmann::json comparison_json(const SelectComparison& c) {
  using nlohmann::json;
  auto num = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
  json strategies = json::array(), overlaps = json::array();
  for (const auto& s : c.strategies) {
    json j = {{"strategy", strategy_name(s.strategy)}};
    if (!s.not_run.empty()) {
      j["not_run"] = s.not_run;
    } else {
      j["n_chosen"] = s.summary.n_chosen;
      j["n_not_rankable"] = s.summary.n_ineligible;
      j["mean_teacher_share"] = num(s.mean_teacher_share);
      j["mean_tokens"] = num(s.mean_tokens);
      j["mean_student_logprob"] = num(s.mean_student_logprob);
      j["mean_rsr"] = num(s.mean_rsr);
      j["accuracy"] = num(s.accuracy);
      j["n_labelled"] = s.n_labelled;
    }
    strategies.push_back(j);
  }
  for (size_t a = 0; a < c.strategies.size(); ++a)
    for (size_t b = a + 1; b < c.strategies.size(); ++b)
      overlaps.push_back({{"a", strategy_name(c.strategies[a].strategy)},
                          {"b", strategy_name(c.strategies[b].strategy)},
                          {"jaccard", num(c.jaccard[a][b])}});
  return {{"strategies", strategies}, {"overlaps", overlaps}};
}

std::string comparison_table(const SelectComparison& c) {
  auto f = [](double x, const char* spec) { return std::isnan(x) ? std::string("-") : fmt::format(fmt::runtime(spec), x); };
  std::string out = fmt::format("{:<18} {:>7} {:>14} {:>11} {:>16} {:>9} {:>9}\n", "strategy", "chosen",
                                "Teacher share", "mean tokens", "student logprob", "RSR", "accuracy");
  for (const auto& s : c.strategies) {
    if (!s.not_run.empty()) {
      out += fmt::format("{:<18} not run: {}\n", strategy_name(s.strategy), s.not_run);
      continue;
    }
    out += fmt::format("{:<18} {:>7} {:>14} {:>11} {:>16} {:>9} {:>9}\n", strategy_name(s.strategy), s.summary.n_chosen,
                       f(s.mean_teacher_share, "{:.4f}"), f(s.mean_tokens, "{:.1f}"), f(s.mean_student_logprob, "{:.4f}"),
                       f(s.mean_rsr, "{:.3f}"), f(s.accuracy, "{:.4f}"));
  }
  out += "Jaccard overlap of the picks (columns in the rows' order):\n" + fmt::format("{:<21}", "");
  for (size_t b = 0; b < c.strategies.size(); ++b) out += fmt::format(" {:>6}", b + 1);
  out += "\n";
  for (size_t a = 0; a < c.strategies.size(); ++a) {
    out += fmt::format("{} {:<18}", a + 1, strategy_name(c.strategies[a].strategy));
    for (size_t b = 0; b < c.strategies.size(); ++b) out += fmt::format(" {:>6}", f(c.jaccard[a][b], "{:.3f}"));
    out += "\n";
  }
  return out;
}

void write_candidate_scores_csv(std::ostream& os, const SelectRunResult& run,
                                const std::vector<std::pair<std::string, std::string>>& order) {
  os << "id,group,order,n_actions,n_scored,n_teacher,teacher_share,student_tokens,student_logprob_mean,rsr,correct\n";
  for (const auto& c : run.candidates) {
    if (!c) continue;
    std::string line;
    append_csv_field(line, order[c->c.order].first);
    line += ',';
    append_csv_field(line, order[c->c.order].second);
    line += fmt::format(",{},{},{},{},{},{},{},{},{}\n", c->c.order, c->c.n_actions, c->c.n_scored, c->c.n_teacher,
                        run.typed && c->c.n_scored ? csv_number(double(c->c.n_teacher) / double(c->c.n_scored)) : "",
                        c->student_tokens ? std::to_string(c->student_tokens) : "",
                        csv_number(c->c.student_logprob_mean), csv_number(c->c.rsr), c->correct ? (*c->correct ? "true" : "false") : "");
    os << line;
  }
}

}  // namespace rdpt
