// Reading scores back out of the store (one policy for absent, failed and truncated pairs), the
// beta search over a store, and trace(): what rdpt trace, rdpt report and rdpt.trace share.
#include <cmath>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt {

namespace {

[[noreturn]] void corrupt_pair(const std::string& store_path, const std::string& id, size_t got, int64_t mid,
                               size_t n) {
  throw DataError("store '" + store_path + "': record '" + id + "': " + std::to_string(got) +
                  " action scores under model #" + std::to_string(mid) + " for " + std::to_string(n) +
                  " actions (a corrupt pair)");
}

// The policy, for a pair read as `s` (present or not, any status) of a response of n actions.
template <class Pair>
void fill_view(const Pair& s, size_t n, PairView& v, bool logprobs) {
  v.present = s.present;
  v.status = s.status;
  v.usable = s.present && s.status != ScoreStatus::Failed;
  if (!v.usable) {
    v.p.assign(n, NAN);
    v.n_tokens.assign(n, 0);
    if (logprobs) v.logprob.assign(n, NAN);
    else v.logprob.clear();
    return;
  }
  v.p.resize(n);
  v.n_tokens.resize(n);
  if (logprobs) v.logprob.resize(n);
  else v.logprob.clear();
  for (size_t k = 0; k < n; ++k) {
    const uint32_t t = s.n_tokens(k);
    const double lp = s.logprob_sum(k);
    v.n_tokens[k] = t;
    if (logprobs) v.logprob[k] = lp;
    v.p[k] = t ? std::exp(lp / t) : NAN;  // ActionScore::p()
  }
}

// A decoded PairScore seen through the interface of PairBlobs.
struct DecodedPair {
  const std::optional<PairScore>& s;
  bool present = s.has_value();
  ScoreStatus status = s ? s->status : ScoreStatus::Ok;
  uint32_t n_tokens(size_t k) const { return s->actions[k].n_tokens; }
  double logprob_sum(size_t k) const { return s->actions[k].logprob_sum; }
};

}  // namespace

PairView view_pair(const std::optional<PairScore>& score, const StoredResponse& r, const std::string& store_path,
                   int64_t mid) {
  const size_t n = r.actions.size();
  if (score && score->status != ScoreStatus::Failed && score->actions.size() != n)
    corrupt_pair(store_path, r.id, score->actions.size(), mid, n);
  PairView v;
  fill_view(DecodedPair{score}, n, v, true);
  return v;
}

void stream_scores(Store& store, std::span<const int64_t> mids, const ScoredFn& fn, bool logprobs) {
  std::vector<PairView> views(mids.size());
  const std::string path = store.path();
  store.scan_scores(mids, ScanResponses::Full, [&](int64_t, const StoredResponse* r, std::span<const PairBlobs> sc) {
    const size_t n = r->actions.size();
    for (size_t k = 0; k < views.size(); ++k) {
      if (sc[k].present && sc[k].status != ScoreStatus::Failed && sc[k].n_actions() != n)
        corrupt_pair(path, r->id, sc[k].n_actions(), mids[k], n);
      fill_view(sc[k], n, views[k], logprobs);
    }
    return fn(*r, views);
  });
}

uint64_t stream_probs(Store& store, std::span<const int64_t> mids, const ProbsFn& fn) {
  std::vector<PairView> views(mids.size());
  uint64_t visited = 0;
  const int64_t n_responses =
      store.scan_scores(mids, ScanResponses::None, [&](int64_t rid, const StoredResponse*, std::span<const PairBlobs> sc) {
        ++visited;
        // The response's length is not read in this scan: the pairs must agree on it.
        size_t n = SIZE_MAX;
        for (size_t k = 0; k < sc.size(); ++k) {
          if (!sc[k].present || sc[k].status == ScoreStatus::Failed) continue;
          if (n == SIZE_MAX) n = sc[k].n_actions();
          if (sc[k].n_actions() == n) continue;
          // A corrupt pair. Reading each usable pair with its response raises the store's own
          // error naming the pair that disagrees with the response (as the full stream does).
          for (size_t j = 0; j < sc.size(); ++j)
            if (sc[j].present && sc[j].status != ScoreStatus::Failed) store.get_scores(mids[j], rid);
          const auto r = store.get_response(rid);  // a Store of another make: name the record
          corrupt_pair(store.path(), r ? r->id : "rid " + std::to_string(rid), sc[k].n_actions(), mids[k],
                       r ? r->actions.size() : n);
        }
        if (n == SIZE_MAX) n = 0;  // no usable pair: nothing scored
        for (size_t k = 0; k < views.size(); ++k) fill_view(sc[k], n, views[k], false);
        return fn(views);
      });
  return uint64_t(n_responses) > visited ? uint64_t(n_responses) - visited : 0;
}

ModelInfo require_model(Store& store, const std::string& name, const std::string& option) {
  if (auto m = store.model(name)) return *m;
  std::string have;
  for (const auto& m : store.models()) have += (have.empty() ? "" : ", ") + m.name;
  throw UsageError(option + ": no model '" + name + "' in store '" + store.path() + "' (models: " +
                   (have.empty() ? "none" : have) + ")");
}

std::optional<double> parse_beta(const std::string& s) {
  if (s == "auto") return std::nullopt;
  size_t used = 0;
  double b = NAN;
  try {
    b = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || !std::isfinite(b) || b < 0)
    throw UsageError("--beta: expected 'auto' or a number >= 0, got '" + s + "'");
  return b;
}

namespace {

// One pass of the beta search over the store (total responses): the scores table alone, unless
// `keep` (which responses count) or `visit` (called on every response) needs the responses.
void search_pass(Store& store, std::span<const int64_t> mids, BetaSearch& search, bool four, uint64_t total,
                 Progress& prog, const std::string& label, const std::function<bool(const StoredResponse&)>& keep,
                 const std::function<void(const StoredResponse&)>& visit) {
  const std::vector<double> none;
  auto add = [&](std::span<const PairView> v) { search.add(v[0].p, v[1].p, four ? v[2].p : none); };
  uint64_t done = 0;
  prog.start(label, total, "responses");
  if (keep || visit) {
    stream_scores(store, mids, [&](const StoredResponse& r, std::span<const PairView> v) {
      if (!keep || keep(r)) add(v);
      if (visit) visit(r);
      prog.update(++done);
      return true;
    }, false);
  } else {
    const uint64_t skipped = stream_probs(store, mids, [&](std::span<const PairView> v) {
      add(v);
      prog.update(++done);
      return true;
    });
    search.add_skipped(skipped);
    prog.update(done + skipped);  // the responses without a pair are done too
  }
  prog.finish();
}

}  // namespace

BetaResult beta_search(Store& store, const BetaOptions& options, int64_t teacher, int64_t student, int64_t distilled,
                       const std::function<bool(const StoredResponse&)>& keep, Progress* progress) {
  BetaSearch search(options);
  const bool four = options.procedure == BetaProcedure::Analysis;
  std::vector<int64_t> mids = {teacher, student};
  if (four) mids.push_back(distilled);
  search_pass(store, mids, search, four, uint64_t(store.n_responses()), progress ? *progress : null_progress(),
              "beta search", keep, {});
  return search.result();
}

double TraceResult::pooled_share(Subset s, ActionType t) const {
  uint64_t tot = 0;
  for (ActionType u : scheme_types(scheme)) tot += counts[size_t(s)][type_index(u)];
  return tot ? double(counts[size_t(s)][type_index(t)]) / double(tot) : NAN;
}

double TraceResult::mean_share(Subset s, ActionType t) const {
  const uint64_t n = n_typed[size_t(s)];
  return n ? prop_sum[size_t(s)][type_index(t)] / double(n) : NAN;
}

TraceResult trace(Store& store, const TraceOptions& o, Progress& progress, const TraceHooks& hooks) {
  const auto& first_pass = hooks.first_pass;
  const auto& each = hooks.each;
  TraceResult res;
  check_thresholds({.alpha = o.alpha, .beta = o.beta.value_or(0.1)});
  res.teacher = require_model(store, o.teacher, "--teacher");
  res.student = require_model(store, o.student, "--student");
  if (!o.distilled.empty()) {
    if (auto m = store.model(o.distilled)) res.distilled = *m;
    else if (!o.distilled_optional) require_model(store, o.distilled, "--distilled");
  }
  const bool four = res.four_way();
  res.scheme = four ? TypeScheme::FourWay : TypeScheme::ThreeWay;
  std::vector<int64_t> mids = {res.teacher.mid, res.student.mid};
  if (four) mids.push_back(res.distilled->mid);
  const uint64_t total = uint64_t(store.n_responses());
  const std::vector<double> none;

  if (!o.beta || o.always_search || first_pass) {
    BetaSearch search({.procedure = four ? BetaProcedure::Analysis : BetaProcedure::Training,
                       .alpha = o.alpha,
                       .candidates = o.beta_candidates});
    search_pass(store, mids, search, four, total, progress, o.label + ": beta search", {}, first_pass);
    try {
      res.search = search.result();
    } catch (const DataError&) {
      throw DataError("no response in " + store.path() + " has an action scored under all of " + res.teacher.name +
                      ", " + res.student.name + (four ? ", " + res.distilled->name : std::string()) +
                      " (run rdpt score first)");
    }
  }
  res.beta_auto = !o.beta.has_value();
  res.thresholds = {.alpha = o.alpha, .beta = o.beta ? *o.beta : res.search->beta};
  if (hooks.after_search) hooks.after_search(res);

  CurveAccumulator curves({.scheme = res.scheme, .max_positions = o.max_positions, .token_mark = o.token_mark});
  std::vector<std::optional<ActionType>> types;
  const auto scheme_t = scheme_types(res.scheme);
  uint64_t done = 0;
  progress.start(o.label + ": types", total, "responses");
  stream_scores(store, mids, [&](const StoredResponse& r, std::span<const PairView> v) {
    const PairView& curve_model = v[four ? 2 : 1];  // cumulative tokens: the distilled model's (or the student's)
    TypeCounts c = type_actions(res.scheme, v[0].p, v[1].p, four ? std::span<const double>(v[2].p) : none,
                                res.thresholds, &types);
    curves.add(types, curve_model.tokens(), r.correct);
    for (size_t k = 0; k < types.size(); ++k) {
      if (!types[k]) continue;
      if (r.actions[k].special) {
        ++res.n_special_typed;
        continue;
      }
      res.behaviours.add(*types[k], classify_behaviour(action_text(r.response, r.actions[k]), o.keywords));
    }
    ++res.n_responses;
    res.n_actions += c.n_actions;
    res.n_scored += c.n_scored;
    if (c.n_scored) {
      const int sub = r.correct ? (*r.correct ? 0 : 1) : -1;
      for (int s : {sub, int(Subset::All)}) {
        if (s < 0) continue;
        ++res.n_typed[s];
        for (ActionType t : scheme_t) {
          res.counts[s][type_index(t)] += c.count(t);
          res.prop_sum[s][type_index(t)] += c.proportion(t);
        }
      }
    }
    if (each) each(TypedResponse{r, v, types, c});
    progress.update(++done);
    return true;
  }, false);
  progress.finish();
  res.curves = curves.result();
  return res;
}

}  // namespace rdpt
