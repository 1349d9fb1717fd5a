#include "cli/analytics.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "rdpt/error.h"

namespace rdpt::cli {

int64_t require_model(Store& st, const std::string& name, const std::string& option) {
  if (auto m = st.model(name)) return m->mid;
  std::string have;
  for (const auto& m : st.models()) have += (have.empty() ? "" : ", ") + m.name;
  throw UsageError(option + ": no model '" + name + "' in store '" + st.path() + "' (models: " +
                   (have.empty() ? "none" : have) + ")");
}

void pair_probs(const std::optional<PairScore>& s, const StoredResponse& r, std::vector<double>& out) {
  const size_t n = r.actions.size();
  if (!s || s->status == ScoreStatus::Failed || s->actions.empty()) {
    out.assign(n, NAN);
    return;
  }
  action_probs(s->actions, n, out, "response " + r.id);
}

void pair_tokens(const std::optional<PairScore>& s, const StoredResponse& r, std::vector<uint32_t>& out) {
  out.clear();
  if (!s || s->status == ScoreStatus::Failed || s->actions.empty()) return;
  if (s->actions.size() != r.actions.size())
    throw DataError("response " + r.id + ": " + std::to_string(s->actions.size()) + " action scores for " +
                    std::to_string(r.actions.size()) + " actions");
  out.reserve(s->actions.size());
  for (const auto& a : s->actions) out.push_back(a.n_tokens);
}

std::optional<double> parse_beta_option(const std::string& s) {
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

BetaResult search_beta(Store& st, const BetaOptions& opts, int64_t teacher, int64_t student, int64_t distilled,
                       const std::function<bool(const StoredResponse&)>& keep) {
  BetaSearch search(opts);
  const bool four = opts.procedure == BetaProcedure::Analysis;
  std::vector<int64_t> mids = {teacher, student};
  if (four) mids.push_back(distilled);
  std::vector<double> pT, pS, pD;
  st.for_each_scored(mids, [&](const StoredResponse& r, std::span<const std::optional<PairScore>> sc) {
    if (keep && !keep(r)) return true;
    pair_probs(sc[0], r, pT);
    pair_probs(sc[1], r, pS);
    if (four) pair_probs(sc[2], r, pD);
    search.add(pT, pS, pD);
    return true;
  });
  return search.result();
}

namespace {
nlohmann::json num(double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); }
}  // namespace

nlohmann::json beta_json(const BetaResult& r) {
  using nlohmann::json;
  const TypeScheme scheme = procedure_scheme(r.procedure);
  json j = {{"procedure", procedure_name(r.procedure)},
            {"scheme", scheme_name(scheme)},
            {"alpha", r.alpha},
            {"beta", r.beta},
            {"pick", r.pick},
            {"n_responses", r.n_responses},
            {"n_skipped", r.n_skipped},
            {"bins", kHistBins}};
  json cands = json::array();
  for (const auto& c : r.candidates) {
    json cj = {{"beta", c.beta}, {"overlap", c.overlap}, {"considered", c.considered}, {"stopped_here", c.stopped_here}};
    if (r.procedure == BetaProcedure::Analysis) {
      cj["compared"] = {type_name(c.first), type_name(c.second)};
    } else {
      cj["overlap_student_common"] = c.overlap_student_common;
      cj["overlap_common_teacher"] = c.overlap_common_teacher;
    }
    json hist = json::object(), mean = json::object(), nact = json::object();
    for (ActionType t : scheme_types(scheme)) {
      hist[type_name(t)] = c.histogram[type_index(t)];
      mean[type_name(t)] = c.mean_proportion[type_index(t)];
      nact[type_name(t)] = c.n_actions[type_index(t)];
    }
    cj["histogram"] = hist;
    cj["mean_proportion"] = mean;
    cj["n_actions"] = nact;
    cands.push_back(cj);
  }
  j["candidates"] = cands;
  return j;
}

nlohmann::json curves_json(const Curves& c) {
  using nlohmann::json;
  json j;
  j["scheme"] = scheme_name(c.options.scheme);
  json types = json::array();
  for (ActionType t : scheme_types(c.options.scheme)) types.push_back(type_name(t));
  j["types"] = types;
  std::vector<uint32_t> pos(c.size());
  for (size_t k = 0; k < pos.size(); ++k) pos[k] = uint32_t(k + 1);
  j["positions"] = pos;
  j["n_responses"] = c.n_responses;
  json tok = json::array();
  for (double m : c.mean_cum_tokens) tok.push_back(num(m));
  j["mean_cum_tokens"] = tok;
  json marks = json::array();
  for (const auto& m : c.marks) marks.push_back({{"tokens", m.tokens}, {"position", m.position}});
  j["token_marks"] = marks;
  j["interval"] = "wilson";
  j["z"] = c.options.z;
  json subsets = json::object();
  for (Subset s : {Subset::Correct, Subset::Incorrect, Subset::All}) {
    json sj;
    sj["n_responses"] = c.n_responses_by_subset[size_t(s)];
    std::vector<uint64_t> n(c.size());
    for (size_t k = 0; k < c.size(); ++k) n[k] = c.n[k][size_t(s)];
    sj["n"] = n;
    for (ActionType t : scheme_types(c.options.scheme)) {
      json count = json::array(), frac = json::array(), lo = json::array(), hi = json::array();
      for (uint32_t jj = 1; jj <= c.size(); ++jj) {
        count.push_back(c.count_at(jj, s, t));
        frac.push_back(num(c.fraction(jj, s, t)));
        Interval iv = c.interval(jj, s, t);
        lo.push_back(num(iv.lo));
        hi.push_back(num(iv.hi));
      }
      sj[type_name(t)] = {{"count", count}, {"fraction", frac}, {"lo", lo}, {"hi", hi}};
    }
    subsets[subset_name(s)] = sj;
  }
  j["subsets"] = subsets;
  return j;
}

std::string csv_number(double x) {
  if (std::isnan(x)) return "";
  return fmt::format("{}", x);
}

std::string fmt_share(double x) { return std::isnan(x) ? "-" : fmt::format("{:.4g}", x); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"') o += '"';
    o += ch;
  }
  return o + "\"";
}

void write_curves_csv(std::ostream& os, const Curves& c) {
  os << "j,subset,n,type,count,fraction,lo,hi,mean_cum_tokens\n";
  for (uint32_t j = 1; j <= c.size(); ++j)
    for (Subset s : {Subset::Correct, Subset::Incorrect, Subset::All})
      for (ActionType t : scheme_types(c.options.scheme)) {
        Interval iv = c.interval(j, s, t);
        os << j << ',' << subset_name(s) << ',' << c.n_at(j, s) << ',' << type_name(t) << ',' << c.count_at(j, s, t)
           << ',' << csv_number(c.fraction(j, s, t)) << ',' << csv_number(iv.lo) << ',' << csv_number(iv.hi) << ','
           << csv_number(c.mean_cum_tokens[j - 1]) << '\n';
      }
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot read '" + path + "': " + std::strerror(errno));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace rdpt::cli
