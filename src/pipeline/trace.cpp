// Reading scores back out of the store (one policy for absent, failed and truncated pairs), the
// beta search over a store, and trace(): what rdpt trace, rdpt report and rdpt.trace share.
#include <algorithm>
#include <array>
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
  v.rank_sum.clear();
  if (!v.usable) {
    v.p.assign(n, NAN);
    v.n_tokens.assign(n, 0);
    if (logprobs) v.logprob.assign(n, NAN);
    else v.logprob.clear();
    return;
  }
  if (logprobs && s.has_ranks()) {
    v.rank_sum.resize(n);
    for (size_t k = 0; k < n; ++k) v.rank_sum[k] = s.rank_sum(k);
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
  bool has_ranks() const { return s->has_ranks; }
  uint64_t rank_sum(size_t k) const { return s->actions[k].rank_sum; }
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
          // Pairs the store lets pass (empty BLOBs): name the first usable one whose length is not
          // the response's, as the full stream does.
          const auto r = store.get_response(rid);
          const size_t want = r ? r->actions.size() : n;
          size_t bad = k;
          for (size_t j = 0; j < sc.size(); ++j)
            if (sc[j].present && sc[j].status != ScoreStatus::Failed && sc[j].n_actions() != want) {
              bad = j;
              break;
            }
          corrupt_pair(store.path(), r ? r->id : "rid " + std::to_string(rid), sc[bad].n_actions(), mids[bad], want);
        }
        if (n == SIZE_MAX) n = 0;  // no usable pair: nothing scored
        for (size_t k = 0; k < views.size(); ++k) fill_view(sc[k], n, views[k], false);
        return fn(rid, views);
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
  if (used != s.size() || !std::isfinite(b) || b < 0 || b > 1)
    throw UsageError("--beta: expected 'auto' or a number in [0, 1], got '" + s + "'");
  return b;
}

namespace {

// What the search pass keeps for the typing pass (trace()): each visited response's rid, its
// number of actions and its first usable pair, and a BetaSearch code per action. Dropped (and the
// typing pass reads every pair again) when it would exceed `cap` bytes.
struct KeptTypes {
  struct Response {
    int64_t rid = 0;
    uint64_t offset = 0;   // of its codes
    uint32_t n = 0;        // actions (0: no usable pair)
    int32_t first_usable = -1;  // index into mids
  };
  size_t cap = 0;
  bool ok = false;  // codes are being kept (and, after the search pass, complete)
  std::vector<Response> responses;
  std::vector<uint8_t> codes;

  void add(BetaSearch& search, int64_t rid, std::span<const PairView> v, bool four) {
    const std::vector<double> none;
    Response r{.rid = rid, .offset = codes.size(), .n = uint32_t(v[0].p.size())};
    for (size_t k = 0; k < v.size(); ++k)
      if (v[k].usable) {
        r.first_usable = int32_t(k);
        break;
      }
    if (r.first_usable < 0) r.n = 0;
    search.add(v[0].p, v[1].p, four ? v[2].p : none, &codes);
    responses.push_back(r);
    if (codes.capacity() + responses.capacity() * sizeof(Response) > cap) drop();
  }
  void drop() {
    ok = false;
    std::vector<Response>().swap(responses);
    std::vector<uint8_t>().swap(codes);
  }
};

// One pass of the beta search over the store (total responses): the scores table alone, unless
// `keep` (which responses count) or `visit` (called on every response) needs the responses.
// `kept` (scores-only pass only) keeps the codes for the typing pass.
void search_pass(Store& store, std::span<const int64_t> mids, BetaSearch& search, bool four, uint64_t total,
                 Progress& prog, const std::string& label, const std::function<bool(const StoredResponse&)>& keep,
                 const std::function<void(const StoredResponse&)>& visit, KeptTypes* kept = nullptr) {
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
    if (kept && !search.codable()) kept->drop();
    const uint64_t skipped = stream_probs(store, mids, [&](int64_t rid, std::span<const PairView> v) {
      if (kept && kept->ok) kept->add(search, rid, v, four);
      else add(v);
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

  std::optional<BetaSearch> search;
  KeptTypes kept;
  if (!o.beta || o.always_search || first_pass) {
    search.emplace(BetaOptions{.procedure = four ? BetaProcedure::Analysis : BetaProcedure::Training,
                               .alpha = o.alpha,
                               .candidates = o.beta_candidates});
    // Keep the codes when the typing pass can use them: its beta is a candidate, its hook does not
    // read the probabilities, and they fit in pass_memory (sized from the store's counts).
    const auto& cands = search->options().candidates;
    const bool beta_is_candidate = !o.beta || std::find(cands.begin(), cands.end(), *o.beta) != cands.end();
    const uint64_t need = uint64_t(store.n_actions_total()) + total * sizeof(KeptTypes::Response);
    kept.cap = o.pass_memory;
    kept.ok = !first_pass && !(each && hooks.each_reads_pairs) && beta_is_candidate && search->codable() &&
              need <= o.pass_memory;
    if (kept.ok) {
      kept.codes.reserve(size_t(store.n_actions_total()));
      kept.responses.reserve(size_t(total));
    }
    search_pass(store, mids, *search, four, total, progress, o.label + ": beta search", {}, first_pass,
                kept.ok ? &kept : nullptr);
    try {
      res.search = search->result();
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
  // One typed response: curves, behaviours, shares, the caller's hook.
  auto account = [&](const StoredResponse& r, std::span<const PairView> v, const TypeCounts& c,
                     std::span<const uint32_t> curve_tokens) {
    curves.add(types, curve_tokens, r.correct);
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
  };
  progress.start(o.label + ": types", total, "responses");
  if (kept.ok) {
    // From the search pass's codes: the responses, and the curve model's token counts.
    const size_t pick = o.beta ? size_t(std::find(search->options().candidates.begin(),
                                                  search->options().candidates.end(), *o.beta) -
                                        search->options().candidates.begin())
                               : res.search->pick;
    std::array<std::optional<ActionType>, 256> of_code;
    for (size_t code = 0; code < 256; ++code) of_code[code] = search->type_of(uint8_t(code), pick);
    const int64_t curve_mid = mids.back();
    std::vector<uint32_t> tokens;
    size_t next = 0;
    store.scan_scores({&curve_mid, 1}, ScanResponses::Full,
                      [&](int64_t rid, const StoredResponse* r, std::span<const PairBlobs> sc) {
      const size_t n = r->actions.size();
      while (next < kept.responses.size() && kept.responses[next].rid < rid) ++next;
      const KeptTypes::Response* k =
          next < kept.responses.size() && kept.responses[next].rid == rid ? &kept.responses[next++] : nullptr;
      if (k && k->first_usable < 0) k = nullptr;  // no usable pair: nothing typed
      if (k && k->n != n) {
        // Pairs that agree with each other but not with their response: the store's own error
        // naming the first of them, as the full stream gives.
        const int64_t mid = mids[size_t(k->first_usable)];
        store.get_scores(mid, rid);
        corrupt_pair(store.path(), r->id, k->n, mid, n);
      }
      TypeCounts c;
      c.n_actions = uint32_t(n);
      types.resize(n);
      for (size_t a = 0; a < n; ++a) {
        types[a] = k ? of_code[kept.codes[k->offset + a]] : std::nullopt;
        if (types[a]) {
          ++c.n_scored;
          ++c.n[type_index(*types[a])];
        }
      }
      const PairBlobs& cp = sc[0];
      tokens.clear();
      if (cp.present && cp.status != ScoreStatus::Failed) {
        if (cp.n_actions() != n) corrupt_pair(store.path(), r->id, cp.n_actions(), curve_mid, n);
        for (size_t a = 0; a < n; ++a) tokens.push_back(cp.n_tokens(a));
      }
      account(*r, {}, c, tokens);
      return true;
    });
  } else {
    stream_scores(store, mids, [&](const StoredResponse& r, std::span<const PairView> v) {
      const PairView& curve_model = v[four ? 2 : 1];  // cumulative tokens: the distilled model's (or the student's)
      const TypeCounts c = type_actions(res.scheme, v[0].p, v[1].p, four ? std::span<const double>(v[2].p) : none,
                                        res.thresholds, &types);
      account(r, v, c, curve_model.tokens());
      return true;
    }, false);
  }
  progress.finish();
  res.curves = curves.result();
  return res;
}

}  // namespace rdpt
