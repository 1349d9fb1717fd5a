// One JSON shape and one CSV dialect for the results every command writes.
#include <fmt/format.h>

#include <cmath>

#include "io/parquet.h"
#include "rdpt/pipeline.h"

namespace rdpt {

namespace {
using json = nlohmann::json;
json num(double x) { return std::isnan(x) ? json(nullptr) : json(x); }
}  // namespace

void append_csv_field(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) {
    out.append(s);
    return;
  }
  out += '"';
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

std::string csv_field(std::string_view s) {
  std::string o;
  append_csv_field(o, s);
  return o;
}

std::string csv_number(double x) {
  if (std::isnan(x)) return "";
  return fmt::format("{}", x);
}

std::string fmt_share(double x) { return std::isnan(x) ? "-" : fmt::format("{:.4g}", x); }

json beta_json(const BetaResult& r) {
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

json curves_json(const Curves& c) {
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

json trace_summary_json(const TraceResult& r, const std::string& store_path, KeywordList keywords) {
  const auto types = scheme_types(r.scheme);
  json s;
  s["store"] = store_path;
  s["models"] = {{"teacher", r.teacher.name}, {"student", r.student.name}};
  if (r.distilled) s["models"]["distilled"] = r.distilled->name;
  s["scheme"] = scheme_name(r.scheme);
  s["alpha"] = r.thresholds.alpha;
  s["beta"] = r.thresholds.beta;
  s["beta_source"] = r.beta_auto ? "auto" : "given";
  s["beta_search"] = r.search ? beta_json(*r.search) : json(nullptr);
  const size_t all = size_t(Subset::All);
  s["n_responses"] = r.n_responses;
  s["n_responses_scored"] = r.n_typed[all];
  s["n_actions"] = r.n_actions;
  s["n_scored"] = r.n_scored;
  json counts = json::object(), pooled = json::object(), mean_prop = json::object();
  for (ActionType t : types) {
    counts[type_name(t)] = r.counts[all][type_index(t)];
    pooled[type_name(t)] = num(r.pooled_share(Subset::All, t));
    mean_prop[type_name(t)] = num(r.mean_share(Subset::All, t));
  }
  s["counts"] = counts;
  s["share_pooled"] = pooled;
  s["share_mean_per_response"] = mean_prop;
  json beh = json::object();
  for (ActionType t : types) {
    json bt = {{"n", r.behaviours.total(t)}};
    for (Behaviour b : {Behaviour::Execution, Behaviour::Reflection, Behaviour::Transition})
      bt[behaviour_name(b)] = num(r.behaviours.share(t, b));
    beh[type_name(t)] = bt;
  }
  s["behaviours"] = {{"keywords", keywords == KeywordList::Upstream ? "upstream" : "corrected"},
                     {"special_actions_excluded", r.n_special_typed},
                     {"by_type", beh}};
  json marks = json::array();
  for (const auto& m : r.curves.marks) marks.push_back({{"tokens", m.tokens}, {"position", m.position}});
  s["token_marks"] = marks;
  return s;
}

void write_types_csv_header(std::ostream& os, TypeScheme scheme) {
  os << "id,group,correct,n_actions,n_scored";
  for (ActionType t : scheme_types(scheme)) os << ",n_" << type_name(t);
  for (ActionType t : scheme_types(scheme)) os << ",share_" << type_name(t);
  os << '\n';
}

void write_types_csv_row(std::ostream& os, const TypedResponse& t, TypeScheme scheme) {
  const StoredResponse& r = t.response;
  std::string line;
  append_csv_field(line, r.id);
  line += ',';
  append_csv_field(line, r.group);
  line += ',';
  if (r.correct) line += *r.correct ? "true" : "false";
  line += ',' + std::to_string(t.counts.n_actions) + ',' + std::to_string(t.counts.n_scored);
  for (ActionType ty : scheme_types(scheme)) line += ',' + std::to_string(t.counts.count(ty));
  for (ActionType ty : scheme_types(scheme)) line += ',' + csv_number(t.counts.proportion(ty));
  line += '\n';
  os << line;
}

namespace {
using PqType = io::ParquetWriter::Type;
void put_number(io::ParquetWriter& w, double x) {
  if (std::isnan(x)) w.put_null();
  else w.put_double(x);
}
}  // namespace

TypesParquet::TypesParquet(const std::string& path, TypeScheme scheme) : scheme_(scheme) {
  std::vector<io::ParquetWriter::Column> cols = {{"id", PqType::Text},
                                                 {"group", PqType::Text},
                                                 {"correct", PqType::Bool},
                                                 {"n_actions", PqType::Int64},
                                                 {"n_scored", PqType::Int64}};
  for (ActionType t : scheme_types(scheme)) cols.push_back({std::string("n_") + type_name(t), PqType::Int64});
  for (ActionType t : scheme_types(scheme)) cols.push_back({std::string("share_") + type_name(t), PqType::Double});
  w_ = std::make_unique<io::ParquetWriter>(path, std::move(cols));
}
TypesParquet::~TypesParquet() = default;

void TypesParquet::row(const TypedResponse& t) {
  const StoredResponse& r = t.response;
  w_->put_text(r.id);
  w_->put_text(r.group);
  if (r.correct) w_->put_bool(*r.correct);
  else w_->put_null();
  w_->put_int(int64_t(t.counts.n_actions));
  w_->put_int(int64_t(t.counts.n_scored));
  for (ActionType ty : scheme_types(scheme_)) w_->put_int(int64_t(t.counts.count(ty)));
  for (ActionType ty : scheme_types(scheme_)) put_number(*w_, t.counts.proportion(ty));
  w_->end_row();
}
void TypesParquet::finish() { w_->finish(); }

void write_curves_parquet(const std::string& path, const Curves& c) {
  io::ParquetWriter w(path, {{"j", PqType::Int64},
                             {"subset", PqType::Text},
                             {"n", PqType::Int64},
                             {"type", PqType::Text},
                             {"count", PqType::Int64},
                             {"fraction", PqType::Double},
                             {"lo", PqType::Double},
                             {"hi", PqType::Double},
                             {"mean_cum_tokens", PqType::Double}});
  for (uint32_t j = 1; j <= c.size(); ++j)
    for (Subset s : {Subset::Correct, Subset::Incorrect, Subset::All})
      for (ActionType t : scheme_types(c.options.scheme)) {
        const Interval iv = c.interval(j, s, t);
        w.put_int(j);
        w.put_text(subset_name(s));
        w.put_int(int64_t(c.n_at(j, s)));
        w.put_text(type_name(t));
        w.put_int(int64_t(c.count_at(j, s, t)));
        put_number(w, c.fraction(j, s, t));
        put_number(w, iv.lo);
        put_number(w, iv.hi);
        put_number(w, c.mean_cum_tokens[j - 1]);
        w.end_row();
      }
  w.finish();
}

}  // namespace rdpt
