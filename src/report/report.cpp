// rdpt report: two passes over the store, aggregates and viewer pages, one HTML page out.
#include "report/report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "rdpt/behaviour.h"
#include "rdpt/beta.h"
#include "rdpt/curves.h"
#include "rdpt/error.h"
#include "rdpt/pipeline.h"
#include "rdpt/provenance.h"
#include "rdpt/version.h"
#include "report/assets.h"

namespace rdpt::report {
namespace {

using json = nlohmann::json;

// The text a viewer response embeds (what --viewer-mb limits).
uint64_t embedded_text_bytes(const StoredResponse& r) {
  return r.response.size() + r.question.size() + r.system.size() + (r.answer ? r.answer->size() : 0);
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Rounds to 4 decimals for the page (null for NaN).
json num4(double x) {
  if (!std::isfinite(x)) return nullptr;
  return std::round(x * 1e4) / 1e4;
}

uint64_t sample_key(uint64_t seed, std::string_view id) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;  // finaliser: spreads short ids
  return h;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

char type_char(std::optional<ActionType> t) {
  if (!t) return '.';
  switch (*t) {
    case ActionType::Shared: return 'S';
    case ActionType::Teacher: return 'T';
    case ActionType::Student: return 'U';
    case ActionType::Boosted: return 'B';
    case ActionType::Common: return 'C';
  }
  return '.';
}

json model_json(const std::string& role, const ModelInfo& m) {
  json info = json::parse(m.info_json, nullptr, false);
  if (info.is_discarded()) info = m.info_json;
  return {{"role", role},         {"name", m.name},       {"backend", m.backend},
          {"location", m.location}, {"fingerprint", m.fingerprint}, {"tokenizer", m.tokenizer},
          {"template", m.chat_template}, {"info", info}};
}

class Writer {
 public:
  explicit Writer(std::ostream& os) : os_(os) {}
  void operator()(std::string_view s) {
    os_.write(s.data(), std::streamsize(s.size()));
    n_ += s.size();
  }
  uint64_t bytes() const { return n_; }

 private:
  std::ostream& os_;
  uint64_t n_ = 0;
};

// Splits the template at its {{NAME}} markers.
std::vector<std::pair<std::string, std::string_view>> split_template(std::string_view t) {
  std::vector<std::pair<std::string, std::string_view>> parts;  // (marker before text, text)
  std::string marker;
  size_t pos = 0;
  while (true) {
    size_t a = t.find("{{", pos);
    if (a == std::string_view::npos) {
      parts.emplace_back(marker, t.substr(pos));
      break;
    }
    size_t b = t.find("}}", a);
    if (b == std::string_view::npos) throw Error("report template: unclosed {{ at byte " + std::to_string(a));
    parts.emplace_back(marker, t.substr(pos, a - pos));
    marker = std::string(t.substr(a + 2, b - a - 2));
    pos = b + 2;
  }
  return parts;
}

bool contains_script_close(std::string_view s) {
  for (size_t i = s.find("</"); i != std::string_view::npos; i = s.find("</", i + 1)) {
    std::string w(s.substr(i + 2, 6));
    for (auto& c : w) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (w == "script") return true;
  }
  return false;
}

}  // namespace

namespace {

// A run's curves as the page reads them: per subset n, per subset and type count and the Wilson
// bounds (4 decimals), mean cumulative tokens, token marks.
json curves_json(const Curves& cv, std::span<const ActionType> types, uint64_t token_mark) {
  json n = json::array(), lo = json::array(), hi = json::array(), cnt = json::array();
  for (size_t s = 0; s < kNumSubsets; ++s) {
    json ns = json::array(), cs = json::array(), ls = json::array(), hs = json::array();
    for (size_t j = 0; j < cv.size(); ++j) ns.push_back(cv.n[j][s]);
    for (auto t : types) {
      json ct = json::array(), lt = json::array(), ht = json::array();
      for (size_t j = 0; j < cv.size(); ++j) {
        ct.push_back(cv.count[j][s][type_index(t)]);
        Interval iv = cv.interval(uint32_t(j + 1), Subset(s), t);
        lt.push_back(num4(iv.lo));
        ht.push_back(num4(iv.hi));
      }
      cs.push_back(std::move(ct));
      ls.push_back(std::move(lt));
      hs.push_back(std::move(ht));
    }
    n.push_back(std::move(ns));
    cnt.push_back(std::move(cs));
    lo.push_back(std::move(ls));
    hi.push_back(std::move(hs));
  }
  json tok = json::array();
  for (double x : cv.mean_cum_tokens) tok.push_back(std::isfinite(x) ? json(std::lround(x)) : json(nullptr));
  json marks = json::array();
  for (const auto& m : cv.marks) marks.push_back({{"tokens", m.tokens}, {"position", m.position}});
  // By normalised position: per subset the responses per bin, per subset and type the mean share
  // and its interval.
  const NormCurves& nc = cv.norm;
  json nm = json::array(), nmean = json::array(), nlo = json::array(), nhi = json::array();
  for (size_t s = 0; s < kNumSubsets; ++s) {
    json ms = json::array(), mean_s = json::array(), lo_s = json::array(), hi_s = json::array();
    for (uint32_t b = 0; b < nc.bins; ++b) ms.push_back(nc.m[b][s]);
    for (auto t : types) {
      json mt = json::array(), lt = json::array(), ht = json::array();
      for (uint32_t b = 0; b < nc.bins; ++b) {
        mt.push_back(num4(nc.mean(b, Subset(s), t)));
        const Interval iv = nc.interval(b, Subset(s), t, cv.options.z);
        lt.push_back(num4(iv.lo));
        ht.push_back(num4(iv.hi));
      }
      mean_s.push_back(std::move(mt));
      lo_s.push_back(std::move(lt));
      hi_s.push_back(std::move(ht));
    }
    nm.push_back(std::move(ms));
    nmean.push_back(std::move(mean_s));
    nlo.push_back(std::move(lo_s));
    nhi.push_back(std::move(hi_s));
  }
  return {{"subsets", {"correct", "incorrect", "all"}},
          {"norm", {{"bins", nc.bins}, {"m", nm}, {"mean", nmean}, {"lo", nlo}, {"hi", nhi}}},
          {"n", n},
          {"count", cnt},
          {"lo", lo},
          {"hi", hi},
          {"tokens", tok},
          {"marks", marks},
          {"token_mark", token_mark},
          {"n_responses", {cv.n_responses_by_subset[0], cv.n_responses_by_subset[1], cv.n_responses_by_subset[2]}}};
}

// One run of the Comparison tab: its store, models, beta, curves and mean shares.
json run_json(const std::string& label, const std::string& store_path, const TraceResult& tr,
              std::span<const ActionType> types, uint64_t token_mark) {
  json models = {{"teacher", tr.teacher.name}, {"student", tr.student.name}};
  if (tr.distilled) models["distilled"] = tr.distilled->name;
  json shares = json::object();
  for (auto t : types) shares[type_name(t)] = num4(tr.mean_share(Subset::All, t));
  return {{"label", label},
          {"store", store_path},
          {"models", models},
          {"beta", tr.thresholds.beta},
          {"beta_auto", tr.beta_auto},
          {"n_typed", {tr.n_typed[0], tr.n_typed[1], tr.n_typed[2]}},
          {"shares", shares},
          {"curves", curves_json(tr.curves, types, token_mark)}};
}

// Run k's curves minus run 0's, per subset, type and position up to the shorter run, with
// Newcombe's interval (null where either run has no response at the position).
json difference_json(const Curves& a, const Curves& b, std::span<const ActionType> types) {
  const size_t P = std::min(a.size(), b.size());
  json d = json::array(), lo = json::array(), hi = json::array();
  for (size_t s = 0; s < kNumSubsets; ++s) {
    json ds = json::array(), ls = json::array(), hs = json::array();
    for (auto t : types) {
      json dt = json::array(), lt = json::array(), ht = json::array();
      for (size_t j = 0; j < P; ++j) {
        const uint64_t na = a.n[j][s], nb = b.n[j][s];
        if (!na || !nb) {
          dt.push_back(nullptr), lt.push_back(nullptr), ht.push_back(nullptr);
          continue;
        }
        const uint64_t ka = a.count[j][s][type_index(t)], kb = b.count[j][s][type_index(t)];
        const Interval iv = difference_interval(kb, nb, ka, na);
        dt.push_back(num4(double(kb) / double(nb) - double(ka) / double(na)));
        lt.push_back(num4(iv.lo));
        ht.push_back(num4(iv.hi));
      }
      ds.push_back(std::move(dt));
      ls.push_back(std::move(lt));
      hs.push_back(std::move(ht));
    }
    d.push_back(std::move(ds));
    lo.push_back(std::move(ls));
    hi.push_back(std::move(hs));
  }
  return {{"d", d}, {"lo", lo}, {"hi", hi}};
}

// The extra sections (selection, attribution, alignment), each file's JSON as it is.
json extras_json(const ReportOptions& opts) {
  json extras = json::array();
  for (const auto& e : opts.extras) {
    if (e.kind != "selection" && e.kind != "attribution" && e.kind != "alignment")
      throw UsageError("report: unknown extra section kind '" + e.kind + "'");
    json j = json::parse(e.json, nullptr, false);
    if (j.is_discarded()) {
      // Re-parse with exceptions for the position.
      try {
        j = json::parse(e.json);
      } catch (const json::parse_error& pe) {
        throw DataError(e.path + ": not JSON (--" + e.kind + "): " + pe.what());
      }
    }
    extras.push_back({{"kind", e.kind}, {"path", e.path}, {"data", j}});
  }
  return extras;
}

// Traces each --compare run as the report's own options say (its own model names where given).
std::vector<TraceResult> trace_compared(Store& store, const ReportOptions& opts, Progress& prog) {
  std::vector<TraceResult> compared;
  std::set<std::string> labels;
  const std::string own = opts.label.empty() ? std::filesystem::path(store.path()).filename().string() : opts.label;
  labels.insert(own);
  for (const auto& c : opts.compare) {
    if (!c.store) throw UsageError("report: --compare '" + c.label + "' has no store");
    if (c.label.empty() || !labels.insert(c.label).second)
      throw UsageError("report: --compare labels must be non-empty and differ from each other and from the report's "
                       "own ('" + own + "'); got '" + c.label + "' twice or empty");
    TraceOptions to{.teacher = c.teacher.empty() ? opts.teacher : c.teacher,
                    .student = c.student.empty() ? opts.student : c.student,
                    .distilled = c.distilled == "none" ? "" : c.distilled.empty() ? opts.distilled : c.distilled,
                    .distilled_optional = c.distilled.empty() && opts.distilled_optional,
                    .alpha = opts.alpha,
                    .beta = opts.beta,
                    .beta_candidates = opts.beta_candidates,
                    .max_positions = opts.max_positions,
                    .token_mark = opts.token_mark,
                    .label = "report --compare " + c.label};
    const std::string where = "report: --compare '" + c.label + "' (" + c.store->path() + "): ";
    try {
      compared.push_back(trace(*c.store, to, prog));
    } catch (const UsageError& e) {
      throw UsageError(where + e.what());
    } catch (const DataError& e) {
      throw DataError(where + e.what());
    }
  }
  return compared;
}

// The beta search: every candidate's histograms, means, counts and overlaps, and the pick.
json beta_search_json(const BetaResult& br, std::span<const ActionType> types, bool four_way) {
  json cs = json::array();
  for (size_t k = 0; k < br.candidates.size(); ++k) {
    const auto& c = br.candidates[k];
    json h = json::object(), mean = json::object(), na = json::object();
    for (auto t : types) {
      json bins = json::array();
      for (double x : c.histogram[type_index(t)]) bins.push_back(num4(x));
      h[type_name(t)] = bins;
      mean[type_name(t)] = num4(c.mean_proportion[type_index(t)]);
      na[type_name(t)] = c.n_actions[type_index(t)];
    }
    json jcand = {{"beta", c.beta},       {"hist", h},
                  {"mean", mean},         {"n_actions", na},
                  {"overlap", num4(c.overlap)}, {"considered", c.considered},
                  {"stopped_here", c.stopped_here}};
    if (four_way) {
      jcand["first"] = type_name(c.first);
      jcand["second"] = type_name(c.second);
    } else {
      jcand["overlap_student_common"] = num4(c.overlap_student_common);
      jcand["overlap_common_teacher"] = num4(c.overlap_common_teacher);
    }
    cs.push_back(std::move(jcand));
  }
  return {{"procedure", procedure_name(br.procedure)},
          {"pick", br.pick},
          {"beta_pick", br.beta},
          {"n_responses", br.n_responses},
          {"n_skipped", br.n_skipped},
          {"bins", kHistBins},
          {"candidates", cs}};
}

// Per subset: responses typed and, per type, the pooled and mean shares and the action count.
json shares_json(const TraceResult& tr, std::span<const ActionType> types) {
  const auto& pooled = tr.counts;
  json shares = json::object();
  for (size_t s = 0; s < kNumSubsets; ++s) {
    json st = json::object();
    uint64_t tot = 0;
    for (auto t : types) tot += pooled[s][type_index(t)];
    for (auto t : types) {
      st[type_name(t)] = {
          {"pooled", tot ? num4(double(pooled[s][type_index(t)]) / double(tot)) : json(nullptr)},
          {"mean", num4(tr.mean_share(Subset(s), t))},
          {"n_actions", pooled[s][type_index(t)]}};
    }
    shares[subset_name(Subset(s))] = {{"n_responses", tr.n_typed[s]}, {"types", st}};
  }
  return shares;
}

// Per type: how many of its actions show each behaviour.
json behaviour_json(const TraceResult& tr, std::span<const ActionType> types) {
  json jbeh = json::object();
  for (auto t : types) {
    json row = json::object();
    for (size_t b = 0; b < kNumBehaviours; ++b) row[behaviour_name(Behaviour(b))] = tr.behaviours.n[type_index(t)][b];
    jbeh[type_name(t)] = row;
  }
  return jbeh;
}

// A compared run must be typed as the report is; checked before anything is written.
void check_compared_schemes(const ReportOptions& opts, const std::vector<TraceResult>& compared, TypeScheme own) {
  for (size_t k = 0; k < compared.size(); ++k)
    if (compared[k].scheme != own)
      throw UsageError("report: --compare '" + opts.compare[k].label + "' is typed " + scheme_name(compared[k].scheme) +
                       " and the report " + scheme_name(own) +
                       ": compare runs of one scheme (give every run a distilled model, or none: --distilled none "
                       "for the report, #distilled=none for a compared run)");
}

// The viewer's index of its embedded responses, one column per field: group, id, correctness
// ('1', '0' or '-'), action count, Teacher and Student shares in thousandths (-1: none scored).
struct ViewerIndex {
  json id = json::array(), n = json::array(), t = json::array(), s = json::array(), g = json::array();
  std::string c;

  void add(const TypedResponse& tr) {
    const StoredResponse& r = tr.response;
    const TypeCounts& tc = tr.counts;
    g.push_back(r.group);
    id.push_back(r.id);
    c += r.correct ? (*r.correct ? '1' : '0') : '-';
    n.push_back(r.actions.size());
    t.push_back(tc.n_scored ? json(std::lround(1000.0 * tc.proportion(ActionType::Teacher))) : json(-1));
    s.push_back(tc.n_scored ? json(std::lround(1000.0 * tc.proportion(ActionType::Student))) : json(-1));
  }
  json to_json() const { return {{"id", id}, {"c", c}, {"n", n}, {"t", t}, {"s", s}, {"g", g}}; }
};

// The report's own run and each compared run, with each one's curves minus the report's; null
// without --compare.
json comparison_json(Store& store, const ReportOptions& opts, const TraceResult& tr,
                     const std::vector<TraceResult>& compared, std::span<const ActionType> types) {
  if (compared.empty()) return nullptr;
  json runs = json::array();
  runs.push_back(run_json(opts.label.empty() ? std::filesystem::path(store.path()).filename().string() : opts.label,
                          store.path(), tr, types, opts.token_mark));
  json diffs = json::array();
  for (size_t k = 0; k < compared.size(); ++k) {
    const TraceResult& c = compared[k];
    runs.push_back(run_json(opts.compare[k].label, opts.compare[k].store->path(), c, types, opts.token_mark));
    diffs.push_back(difference_json(tr.curves, c.curves, types));
  }
  return {{"runs", runs}, {"diffs", diffs}};
}

// The page's meta data: title, versions, store, scheme, thresholds, models, counts and the viewer's
// sampling (viewer).
json meta_json(Store& store, const ReportOptions& opts, const TraceResult& tr, const std::string& title,
               const ReportStats& stats, json viewer) {
  json models = json::array({model_json("teacher", tr.teacher), model_json("student", tr.student)});
  if (tr.four_way()) models.push_back(model_json("distilled", *tr.distilled));
  json store_meta = json::object();
  for (const char* k : {"schema_version", "created_by", "created_at"})
    if (auto v = store.meta(k)) store_meta[k] = *v;
  const Curves& cv = tr.curves;
  return {{"title", title},
          {"rdpt_version", RDPT_VERSION},
          {"generated_at", opts.generated_at.empty() ? now_utc() : opts.generated_at},
          {"store", store.path()},
          {"store_meta", store_meta},
          {"scheme", scheme_name(tr.scheme)},
          {"alpha", opts.alpha},
          {"beta", tr.thresholds.beta},
          {"beta_auto", tr.beta_auto},
          {"models", models},
          {"libraries", kLibraryVersions},
          {"counts",
           {{"responses", stats.n_responses},
            {"typed", stats.n_typed},
            {"correct", cv.n_responses_by_subset[0]},
            {"incorrect", cv.n_responses_by_subset[1]},
            {"actions", tr.n_actions},
            {"typed_actions", tr.n_scored},
            {"embedded", stats.n_embedded}}},
          {"viewer", std::move(viewer)}};
}

// One response as the viewer shows it: its actions' texts, types (one letter each), special
// actions, per-model probabilities, and the question, reference answer and system prompt.
json viewer_entry(const TypedResponse& t) {
  const StoredResponse& r = t.response;
  json acts = json::array(), sp = json::array();
  std::string yc;
  yc.reserve(r.actions.size());
  for (size_t k = 0; k < r.actions.size(); ++k) {
    acts.push_back(std::string(action_text(r.response, r.actions[k])));
    if (r.actions[k].special) sp.push_back(k);
    yc += type_char(t.types[k]);
  }
  json pr = json::array();
  for (const PairView& v : t.pairs) {
    json a = json::array();
    for (double x : v.p) a.push_back(quantise_probability(x));
    pr.push_back(std::move(a));
  }
  return {{"a", std::move(acts)}, {"y", std::move(yc)}, {"sp", std::move(sp)}, {"p", std::move(pr)},
          {"q", r.question}, {"ans", r.answer ? json(*r.answer) : json(nullptr)}, {"sys", r.system}};
}

// The responses the viewer embeds: the --viewer-id ones, then the rest by a seeded key, smallest
// first, within the count and byte budgets. Fed in the first pass, drawn between the passes.
class ViewerSample {
 public:
  explicit ViewerSample(const ReportOptions& opts)
      : opts_(opts), forced_ids_(opts.viewer_ids.begin(), opts.viewer_ids.end()) {}

  void add(const StoredResponse& r) {
    if (forced_ids_.count(r.id)) {
      embed_.insert(r.rid);
      forced_bytes_ += embedded_text_bytes(r);
    } else {
      cands_.push_back({sample_key(opts_.seed, r.id), r.rid, embedded_text_bytes(r)});
    }
  }

  void draw(Store& store) {
    if (embed_.size() != forced_ids_.size()) {
      for (const auto& id : opts_.viewer_ids)
        if (!store.find_response(id)) throw UsageError("report: --viewer-id '" + id + "' is not in " + store.path());
    }
    std::sort(cands_.begin(), cands_.end(), [](const Cand& a, const Cand& b) { return a.key < b.key; });
    uint64_t used_bytes = forced_bytes_;
    for (const auto& c : cands_) {
      if (opts_.viewer_responses && embed_.size() >= opts_.viewer_responses) {
        sampled_ = true;
        break;
      }
      if (opts_.viewer_bytes && used_bytes + c.bytes > opts_.viewer_bytes) {
        sampled_ = true;
        continue;
      }
      embed_.insert(c.rid);
      used_bytes += c.bytes;
    }
    cands_.clear();
    cands_.shrink_to_fit();
  }

  bool embedded(int64_t rid) const { return embed_.count(rid) != 0; }
  bool sampled() const { return sampled_; }  // some response was left out by a budget

 private:
  struct Cand {
    uint64_t key;
    int64_t rid;
    uint64_t bytes;
  };
  const ReportOptions& opts_;
  std::unordered_set<std::string> forced_ids_;
  std::vector<Cand> cands_;
  std::unordered_set<int64_t> embed_;
  uint64_t forced_bytes_ = 0;
  bool sampled_ = false;
};

// The HTML page from the report template: the head (title, CSP with each script's hash, CSS, the
// libraries and the app) up to the {{DATA}} marker, the data scripts, then the rest.
class Page {
 public:
  Page(std::ostream& os, std::string title)
      : w_(os), title_(std::move(title)), parts_(split_template(asset("template"))) {}

  void head() {
    csp_ = "default-src 'none'; script-src";
    for (auto lib : libs_) {
      if (contains_script_close(lib)) throw Error("report: an embedded script contains '</script' (build problem)");
      csp_ += " 'sha256-" + sha256_base64(lib) + "'";
    }
    csp_ += " 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; base-uri 'none'; "
            "form-action 'none'";
    emit_until("DATA");
    if (part_ >= parts_.size()) throw Error("report template: no {{DATA}} marker");
  }

  void json_script(const std::string& id, const json& j) {
    w_("<script type=\"application/json\" id=\"" + id + "\">");
    w_(script_safe_json(dump(j)));
    w_("</script>\n");
  }

  void tail() {
    ++part_;  // past the DATA marker's own text
    if (part_ <= parts_.size()) w_(parts_[part_ - 1].second);
    emit_until("");
  }

  uint64_t bytes() const { return w_.bytes(); }

 private:
  void emit_until(std::string_view stop) {
    for (; part_ < parts_.size(); ++part_) {
      const auto& [marker, text] = parts_[part_];
      if (marker == stop) return;
      if (marker == "CSP") w_(html_escape(csp_));
      else if (marker == "TITLE") w_(html_escape(title_));
      else if (marker == "CSS") w_(asset("css"));
      else if (marker == "SCRIPTS") {
        for (auto lib : libs_) {
          w_("<script>");
          w_(lib);
          w_("</script>\n");
        }
      } else if (!marker.empty()) throw Error("report template: unknown marker {{" + marker + "}}");
      w_(text);
    }
  }

  Writer w_;
  std::string title_;
  std::vector<std::pair<std::string, std::string_view>> parts_;
  size_t part_ = 0;
  std::string csp_;
  const std::string_view libs_[4] = {asset("vega"), asset("vega_lite"), asset("vega_embed"), asset("app")};
};

}  // namespace

ReportStats write_report(Store& store, const ReportOptions& opts, std::ostream& out, Progress* progress) {
  if (!kLibrariesEmbedded)
    throw UsageError("this rdpt was built with RDPT_WITH_REPORT=OFF, without the report's JavaScript libraries; "
                     "run scripts/setup.sh (or npm ci in report/) and rebuild");
  Progress& prog = progress ? *progress : null_progress();
  if (opts.page_responses == 0) throw UsageError("report: page_responses must be >= 1");
  check_thresholds({.alpha = opts.alpha, .beta = opts.beta.value_or(0.0)});

  // Extras parse first: a bad file fails before the long passes.
  const json extras = extras_json(opts);

  // The compared runs, traced first: a bad model name fails before the long passes.
  const std::vector<TraceResult> compared = trace_compared(store, opts, prog);

  // Pass 1 (trace's beta search pass): the viewer sample. Between the passes: the sample is
  // drawn and the page head written. Pass 2: each typed response, embedded ones as viewer pages.
  ViewerSample sample(opts);
  ReportStats stats;
  const std::string title = opts.title.empty()
                                ? "rdpt report: " + std::filesystem::path(store.path()).filename().string()
                                : opts.title;
  Page w(out, title);
  ViewerIndex index;
  json page = json::array();
  uint64_t n_pages = 0;
  auto flush_page = [&] {
    if (page.empty()) return;
    w.json_script("rdpt-page-" + std::to_string(n_pages), page);
    ++n_pages;
    page = json::array();
  };

  TraceHooks hooks;
  hooks.first_pass = [&](const StoredResponse& r) {
    ++stats.n_responses;
    sample.add(r);
  };
  hooks.after_search = [&](const TraceResult& searched) {
    check_compared_schemes(opts, compared, searched.scheme);
    sample.draw(store);
    w.head();  // before the data, which streams after it
  };
  hooks.each = [&](const TypedResponse& t) {
    if (!sample.embedded(t.response.rid)) return;
    page.push_back(viewer_entry(t));
    index.add(t);
    ++stats.n_embedded;
    if (page.size() >= opts.page_responses) flush_page();
  };
  TraceOptions topts{.teacher = opts.teacher,
                     .student = opts.student,
                     .distilled = opts.distilled,
                     .distilled_optional = opts.distilled_optional,
                     .alpha = opts.alpha,
                     .beta = opts.beta,
                     .beta_candidates = opts.beta_candidates,
                     .always_search = true,
                     .max_positions = opts.max_positions,
                     .token_mark = opts.token_mark,
                     .label = "report"};
  const TraceResult tr = trace(store, topts, prog, hooks);
  flush_page();
  const auto types = scheme_types(tr.scheme);
  stats.four_way = tr.four_way();
  stats.beta = tr.thresholds.beta;
  stats.beta_auto = tr.beta_auto;
  stats.n_typed = tr.n_typed[size_t(Subset::All)];
  stats.n_positions = tr.curves.size();
  json jtypes = json::array();
  for (auto t : types) jtypes.push_back(type_name(t));
  const json meta = meta_json(store, opts, tr, title, stats,
                              {{"limit", opts.viewer_responses},
                               {"bytes", opts.viewer_bytes},
                               {"seed", opts.seed},
                               {"sampled", sample.sampled()},
                               {"page_responses", opts.page_responses},
                               {"pages", n_pages}});
  const json comparison = comparison_json(store, opts, tr, compared, types);
  json summary = {{"meta", meta},
                  {"types", jtypes},
                  {"curves", curves_json(tr.curves, types, opts.token_mark)},
                  {"beta", beta_search_json(*tr.search, types, tr.four_way())},
                  {"shares", shares_json(tr, types)},
                  {"behaviour", behaviour_json(tr, types)},
                  {"index", index.to_json()},
                  {"extras", extras},
                  {"comparison", comparison},
                  {"licenses",
                   {{"vega", std::string(asset("vega_license"))},
                    {"vega-lite", std::string(asset("vega_lite_license"))},
                    {"vega-embed", std::string(asset("vega_embed_license"))}}}};
  w.json_script("rdpt-data", summary);
  w.tail();
  out.flush();
  if (!out) throw Error("report: writing the page failed");
  stats.bytes_written = w.bytes();
  return stats;
}

}  // namespace rdpt::report
