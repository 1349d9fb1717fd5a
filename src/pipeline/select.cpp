// Selection over a store: types each candidate teacher vs student and ranks them per group.
#include <unordered_map>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt {

SelectRunResult select_responses(Store& store, const SelectRunOptions& o,
                                 const std::vector<std::pair<std::string, std::string>>& order,
                                 const std::string& source) {
  SelectRunResult res;
  const Strategy strategy = o.select.strategy;
  if (o.select.per_question == 0) throw UsageError("--per-question: must be >= 1, got 0");
  std::unordered_map<std::string, uint64_t> order_of;
  order_of.reserve(order.size());
  for (uint64_t k = 0; k < order.size(); ++k)
    if (!order_of.try_emplace(order[k].first, k).second)
      throw DataError("duplicate candidate id '" + order[k].first + "'");

  const bool need_types = strategy == Strategy::TeacherCount || strategy == Strategy::TeacherRatio ||
                          strategy == Strategy::MinTeacherCount;
  const bool need_student = need_types || strategy == Strategy::Grape;
  // Teacher shares are reported for every strategy when both models are in the store.
  std::optional<int64_t> mT, mS;
  if (need_types || store.model(o.teacher)) mT = require_model(store, o.teacher, "--teacher").mid;
  if (need_student || store.model(o.student)) mS = require_model(store, o.student, "--student").mid;
  res.typed = mT && mS;
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
        uint64_t nt = 0;
        for (size_t a = 0; a < s.n_tokens.size(); ++a) {
          lp += s.logprob[a];
          nt += s.n_tokens[a];
        }
        if (nt) c.student_logprob_mean = lp / double(nt);
      }
    }
    seen[c.order] = true;
    selector.add(order[c.order].second, c);
    return true;
  });
  for (bool b : seen) res.n_not_in_store += !b;
  if (res.n_not_in_store == order.size() && !order.empty())
    throw DataError("none of the " + std::to_string(order.size()) + " " + source + " is in store '" + store.path() +
                    "' (ids differ? import them first)");
  res.chosen = selector.select(&res.summary);
  return res;
}

}  // namespace rdpt
