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

}  // namespace

ReportStats write_report(Store& store, const ReportOptions& opts, std::ostream& out, Progress* progress) {
  if (!kLibrariesEmbedded)
    throw UsageError("this rdpt was built with RDPT_WITH_REPORT=OFF, without the report's JavaScript libraries; "
                     "run scripts/setup.sh (or npm ci in report/) and rebuild");
  Progress& prog = progress ? *progress : null_progress();
  if (opts.page_responses == 0) throw UsageError("report: page_responses must be >= 1");
  check_thresholds({.alpha = opts.alpha, .beta = opts.beta.value_or(0.0)});

  // Extras parse first: a bad file fails before the long passes.
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

  // The compared runs, traced first: a bad model name fails before the long passes.
  std::vector<TraceResult> compared;
  {
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
  }

  // Pass 1 (trace's beta search pass): the viewer sample. Between the passes: the sample is
  // drawn and the page head written. Pass 2: each typed response, embedded ones as viewer pages.
  struct Cand {
    uint64_t key;
    int64_t rid;
    uint64_t bytes;
  };
  std::vector<Cand> cands;
  std::unordered_set<std::string> forced_ids(opts.viewer_ids.begin(), opts.viewer_ids.end());
  std::unordered_set<int64_t> embed;
  uint64_t forced_bytes = 0;
  ReportStats stats;
  bool sampled = false;
  Writer w(out);
  const std::string_view tmpl = asset("template");
  const std::string_view libs[] = {asset("vega"), asset("vega_lite"), asset("vega_embed"), asset("app")};
  const std::string title = opts.title.empty()
                                ? "rdpt report: " + std::filesystem::path(store.path()).filename().string()
                                : opts.title;
  auto parts = split_template(tmpl);
  size_t part = 0;
  std::string csp;
  auto emit_until = [&](std::string_view stop) {
    for (; part < parts.size(); ++part) {
      const auto& [marker, text] = parts[part];
      if (marker == stop) return;
      if (marker == "CSP") w(html_escape(csp));
      else if (marker == "TITLE") w(html_escape(title));
      else if (marker == "CSS") w(asset("css"));
      else if (marker == "SCRIPTS") {
        for (auto lib : libs) {
          w("<script>");
          w(lib);
          w("</script>\n");
        }
      } else if (!marker.empty()) throw Error("report template: unknown marker {{" + marker + "}}");
      w(text);
    }
  };

  json idx_id = json::array(), idx_n = json::array(), idx_t = json::array(), idx_s = json::array(),
       idx_g = json::array();
  std::string idx_c;
  json page = json::array();
  uint64_t n_pages = 0;
  auto flush_page = [&] {
    if (page.empty()) return;
    w("<script type=\"application/json\" id=\"rdpt-page-" + std::to_string(n_pages) + "\">");
    w(script_safe_json(dump(page)));
    w("</script>\n");
    ++n_pages;
    page = json::array();
  };

  TraceHooks hooks;
  hooks.first_pass = [&](const StoredResponse& r) {
    ++stats.n_responses;
    if (forced_ids.count(r.id)) {
      embed.insert(r.rid);
      forced_bytes += embedded_text_bytes(r);
    } else {
      cands.push_back({sample_key(opts.seed, r.id), r.rid, embedded_text_bytes(r)});
    }
  };
  // A compared run must be typed as the report is; checked before anything is written.
  auto check_schemes = [&](TypeScheme own) {
    for (size_t k = 0; k < compared.size(); ++k)
      if (compared[k].scheme != own)
        throw UsageError("report: --compare '" + opts.compare[k].label + "' is typed " + scheme_name(compared[k].scheme) +
                         " and the report " + scheme_name(own) +
                         ": compare runs of one scheme (give every run a distilled model, or none: --distilled none "
                         "for the report, #distilled=none for a compared run)");
  };
  hooks.after_search = [&](const TraceResult& searched) {
    check_schemes(searched.scheme);
    if (embed.size() != forced_ids.size()) {
      for (const auto& id : opts.viewer_ids)
        if (!store.find_response(id)) throw UsageError("report: --viewer-id '" + id + "' is not in " + store.path());
    }
    // Viewer sample: smallest keys first, within the count and byte budgets.
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.key < b.key; });
    uint64_t used_bytes = forced_bytes;
    for (const auto& c : cands) {
      if (opts.viewer_responses && embed.size() >= opts.viewer_responses) {
        sampled = true;
        break;
      }
      if (opts.viewer_bytes && used_bytes + c.bytes > opts.viewer_bytes) {
        sampled = true;
        continue;
      }
      embed.insert(c.rid);
      used_bytes += c.bytes;
    }
    cands.clear();
    cands.shrink_to_fit();
    // The page head, libraries and app script (before the data, which streams after them).
    csp = "default-src 'none'; script-src";
    for (auto lib : libs) {
      if (contains_script_close(lib)) throw Error("report: an embedded script contains '</script' (build problem)");
      csp += " 'sha256-" + sha256_base64(lib) + "'";
    }
    csp += " 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; base-uri 'none'; "
           "form-action 'none'";
    emit_until("DATA");
    if (part >= parts.size()) throw Error("report template: no {{DATA}} marker");
  };
  hooks.each = [&](const TypedResponse& t) {
    const StoredResponse& r = t.response;
    if (!embed.count(r.rid)) return;
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
    const TypeCounts& tc = t.counts;
    // The question, reference answer and system prompt go with the response (the viewer shows them).
    page.push_back({{"a", std::move(acts)}, {"y", std::move(yc)}, {"sp", std::move(sp)}, {"p", std::move(pr)},
                    {"q", r.question}, {"ans", r.answer ? json(*r.answer) : json(nullptr)}, {"sys", r.system}});
    idx_g.push_back(r.group);
    idx_id.push_back(r.id);
    idx_c += r.correct ? (*r.correct ? '1' : '0') : '-';
    idx_n.push_back(r.actions.size());
    idx_t.push_back(tc.n_scored ? json(std::lround(1000.0 * tc.proportion(ActionType::Teacher))) : json(-1));
    idx_s.push_back(tc.n_scored ? json(std::lround(1000.0 * tc.proportion(ActionType::Student))) : json(-1));
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
  const bool four_way = tr.four_way();
  const auto types = scheme_types(tr.scheme);
  const BetaResult& br = *tr.search;
  const double beta = tr.thresholds.beta;
  stats.four_way = four_way;
  stats.beta = beta;
  stats.beta_auto = tr.beta_auto;
  stats.n_typed = tr.n_typed[size_t(Subset::All)];
  const uint64_t n_actions = tr.n_actions, n_typed_actions = tr.n_scored;
  const ModelInfo& mT = tr.teacher;
  const ModelInfo& mS = tr.student;
  const std::optional<ModelInfo>& mD = tr.distilled;
  const auto& behaviours = tr.behaviours;
  const auto& pooled = tr.counts;
  const auto& n_typed_by = tr.n_typed;

  // Summary data.
  const Curves& cv = tr.curves;
  stats.n_positions = cv.size();
  json jtypes = json::array();
  for (auto t : types) jtypes.push_back(type_name(t));
  json jc = curves_json(cv, types, opts.token_mark);
  json jb;
  {
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
    jb = {{"procedure", procedure_name(br.procedure)},
          {"pick", br.pick},
          {"beta_pick", br.beta},
          {"n_responses", br.n_responses},
          {"n_skipped", br.n_skipped},
          {"bins", kHistBins},
          {"candidates", cs}};
  }
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
    shares[subset_name(Subset(s))] = {{"n_responses", n_typed_by[s]}, {"types", st}};
  }
  json jbeh = json::object();
  for (auto t : types) {
    json row = json::object();
    for (size_t b = 0; b < kNumBehaviours; ++b) row[behaviour_name(Behaviour(b))] = behaviours.n[type_index(t)][b];
    jbeh[type_name(t)] = row;
  }
  json models = json::array({model_json("teacher", mT), model_json("student", mS)});
  if (four_way) models.push_back(model_json("distilled", *mD));
  json store_meta = json::object();
  for (const char* k : {"schema_version", "created_by", "created_at"})
    if (auto v = store.meta(k)) store_meta[k] = *v;
  json meta = {{"title", title},
               {"rdpt_version", RDPT_VERSION},
               {"generated_at", opts.generated_at.empty() ? now_utc() : opts.generated_at},
               {"store", store.path()},
               {"store_meta", store_meta},
               {"scheme", scheme_name(tr.scheme)},
               {"alpha", opts.alpha},
               {"beta", beta},
               {"beta_auto", stats.beta_auto},
               {"models", models},
               {"libraries", kLibraryVersions},
               {"counts",
                {{"responses", stats.n_responses},
                 {"typed", stats.n_typed},
                 {"correct", cv.n_responses_by_subset[0]},
                 {"incorrect", cv.n_responses_by_subset[1]},
                 {"actions", n_actions},
                 {"typed_actions", n_typed_actions},
                 {"embedded", stats.n_embedded}}},
               {"viewer",
                {{"limit", opts.viewer_responses},
                 {"bytes", opts.viewer_bytes},
                 {"seed", opts.seed},
                 {"sampled", sampled},
                 {"page_responses", opts.page_responses},
                 {"pages", n_pages}}}};
  json comparison = nullptr;
  if (!compared.empty()) {
    json runs = json::array();
    runs.push_back(run_json(opts.label.empty() ? std::filesystem::path(store.path()).filename().string() : opts.label,
                            store.path(), tr, types, opts.token_mark));
    json diffs = json::array();
    for (size_t k = 0; k < compared.size(); ++k) {
      const TraceResult& c = compared[k];
      check_schemes(tr.scheme);
      runs.push_back(run_json(opts.compare[k].label, opts.compare[k].store->path(), c, types, opts.token_mark));
      diffs.push_back(difference_json(tr.curves, c.curves, types));
    }
    comparison = {{"runs", runs}, {"diffs", diffs}};
  }
  json summary = {{"meta", meta},       {"types", jtypes},    {"curves", jc},
                  {"beta", jb},         {"shares", shares},   {"behaviour", jbeh},
                  {"index", {{"id", idx_id}, {"c", idx_c}, {"n", idx_n}, {"t", idx_t}, {"s", idx_s}, {"g", idx_g}}},
                  {"extras", extras},
                  {"comparison", comparison},
                  {"licenses",
                   {{"vega", std::string(asset("vega_license"))},
                    {"vega-lite", std::string(asset("vega_lite_license"))},
                    {"vega-embed", std::string(asset("vega_embed_license"))}}}};
  w("<script type=\"application/json\" id=\"rdpt-data\">");
  w(script_safe_json(dump(summary)));
  w("</script>\n");
  ++part;  // past the DATA marker's own text
  if (part <= parts.size()) w(parts[part - 1].second);
  emit_until("");
  out.flush();
  if (!out) throw Error("report: writing the page failed");
  stats.bytes_written = w.bytes();
  return stats;
}

}  // namespace rdpt::report
