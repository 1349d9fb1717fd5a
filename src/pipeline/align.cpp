// Alignment of output distributions (docs/method.md section 8, paper A.4.2): histograms of
// pT - pD per action over named sets of responses (rdpt align).
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "rdpt/error.h"
#include "rdpt/operations.h"
#include "rdpt/pipeline.h"

namespace rdpt {

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

bool ResponseSet::contains(const StoredResponse& r) const {
  if (kind == "ids") return members.count(r.id) > 0;
  if (kind == "groups") return members.count(r.group) > 0;
  if (kind == "id-prefix") return r.id.starts_with(arg);
  return r.group.starts_with(arg);
}

ResponseSet parse_response_set(const std::string& s) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    throw UsageError("--set: expected NAME=SPEC (SPEC: FILE, ids:FILE, groups:FILE, id-prefix:P, group-prefix:P), got '" +
                     s + "'");
  ResponseSet spec;
  spec.name = s.substr(0, eq);
  std::string rest = s.substr(eq + 1);
  spec.kind = "ids";
  spec.arg = rest;
  for (const char* k : {"ids", "groups", "id-prefix", "group-prefix"}) {
    std::string p = std::string(k) + ":";
    if (rest.starts_with(p)) {
      spec.kind = k;
      spec.arg = rest.substr(p.size());
    }
  }
  if (spec.kind == "ids" || spec.kind == "groups") {
    for (auto& line : read_lines(spec.arg))
      if (spec.members.insert(line).second) spec.listed.push_back(line);
    if (spec.members.empty()) throw UsageError("--set " + spec.name + ": '" + spec.arg + "' lists no ids");
  }
  return spec;
}

AlignResult align_sets(Store& st, const AlignOptions& o, const LogSink& log) {
  const auto& sets = o.sets;
  const int64_t mids[] = {require_model(st, o.teacher, "--teacher").mid,
                          require_model(st, o.distilled, "--distilled").mid};
  auto warn = [&](const std::string& m) {
    if (log) log(LogLevel::Warn, m);
  };
  // Ids of an ids file that name no response of the store: counted, warned about and reported
  // (n_ids_not_in_store), never matched.
  std::vector<uint64_t> missing(sets.size(), 0);
  for (size_t k = 0; k < sets.size(); ++k) {
    if (sets[k].kind != "ids") continue;
    uint64_t& n_missing = missing[k];
    std::string example;
    for (const auto& id : sets[k].listed)
      if (!st.find_response(id)) {
        if (n_missing++ == 0) example = id;
      }
    if (n_missing)
      warn(fmt::format("set '{}': {} of the {} ids in '{}' are not in the store (e.g. '{}'); they are left out",
                       sets[k].name, n_missing, sets[k].listed.size(), sets[k].arg, example));
  }
  AlignResult res;
  for (size_t k = 0; k < sets.size(); ++k) res.sets.push_back({DiffHistogram(o.bins, -1.0, 1.0), 0, missing[k]});
  stream_scores(st, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    bool any = false;
    for (const auto& s : sets) any = any || s.contains(r);
    if (!any) return true;
    const std::vector<double>& pT = sc[0].p;
    const std::vector<double>& pD = sc[1].p;
    for (size_t k = 0; k < sets.size(); ++k) {
      if (!sets[k].contains(r)) continue;
      ++res.sets[k].n_responses;
      for (size_t a = 0; a < pT.size(); ++a)
        if (!(o.exclude_special && r.actions[a].special)) res.sets[k].hist.add(pT[a] - pD[a]);
    }
    return true;
  });
  res.edges = res.sets.empty() ? DiffHistogram(o.bins, -1.0, 1.0).edges() : res.sets[0].hist.edges();
  for (size_t k = 0; k < sets.size(); ++k)
    if (res.sets[k].n_responses == 0) warn("set '" + sets[k].name + "' matched no response in the store");
  return res;
}

nlohmann::json align_json(const AlignResult& r, const AlignOptions& o, const std::string& store_path) {
  using nlohmann::json;
  auto num = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
  json j = {{"store", store_path}, {"teacher", o.teacher}, {"distilled", o.distilled}, {"bins", o.bins},
            {"range", {-1.0, 1.0}}, {"exclude_special", o.exclude_special}};
  j["bin_edges"] = r.edges;
  json sj = json::array();
  for (size_t k = 0; k < o.sets.size(); ++k) {
    const ResponseSet& s = o.sets[k];
    const AlignSetResult& a = r.sets[k];
    sj.push_back({{"name", s.name},
                  {"spec", s.kind + ":" + s.arg},
                  {"n_responses", a.n_responses},
                  {"n_actions", a.hist.n()},
                  {"n_ids_not_in_store", s.kind == "ids" ? json(a.n_ids_not_in_store) : json(nullptr)},
                  {"mean", num(a.hist.mean())},
                  {"mean_abs", num(a.hist.mean_abs())},
                  {"count", a.hist.counts()},
                  {"fraction", a.hist.normalised()}});
  }
  j["sets"] = sj;
  return j;
}

void write_align_csv(std::ostream& os, const AlignResult& r, const AlignOptions& o) {
  os << "set,bin_lo,bin_hi,count,fraction\n";
  for (size_t k = 0; k < o.sets.size(); ++k) {
    const DiffHistogram& h = r.sets[k].hist;
    auto f = h.normalised();
    for (uint32_t b = 0; b < o.bins; ++b)
      os << csv_field(o.sets[k].name) << ',' << csv_number(r.edges[b]) << ',' << csv_number(r.edges[b + 1]) << ','
         << h.counts()[b] << ',' << csv_number(f[b]) << '\n';
  }
}

std::string align_table(const AlignResult& r, const AlignOptions& o) {
  std::string table = "pT - pD by set:\n";
  for (size_t k = 0; k < o.sets.size(); ++k) {
    const DiffHistogram& h = r.sets[k].hist;
    table += fmt::format("  {:<16} {} responses, {} actions, mean {}, mean |d| {}\n", o.sets[k].name,
                         r.sets[k].n_responses, h.n(), fmt_share(h.mean()), fmt_share(h.mean_abs()));
  }
  return table;
}

}  // namespace rdpt
