// rdpt align: alignment of output distributions (docs/method.md section 8, paper A.4.2):
// histograms of pT - pD per action over named sets of responses.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/pipeline.h"
#include "rdpt/discrepancy.h"
#include "rdpt/error.h"

namespace rdpt::cli {

namespace {

struct SetSpec {
  std::string name, kind, arg;  // kind: ids, groups, id-prefix, group-prefix
  std::unordered_set<std::string> members;
  std::vector<std::string> listed;  // ids/groups: the file's distinct lines, in file order
  bool contains(const StoredResponse& r) const {
    if (kind == "ids") return members.count(r.id) > 0;
    if (kind == "groups") return members.count(r.group) > 0;
    if (kind == "id-prefix") return r.id.starts_with(arg);
    return r.group.starts_with(arg);
  }
};

SetSpec parse_set(const std::string& s) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    throw UsageError("--set: expected NAME=SPEC (SPEC: FILE, ids:FILE, groups:FILE, id-prefix:P, group-prefix:P), got '" +
                     s + "'");
  SetSpec spec;
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

}  // namespace

int run_align(int argc, char** argv) {
  CLI::App app{
      "Alignment of output distributions (paper A.4.2): for each named set of responses, the histogram of "
      "pT - pD over its scored actions (teacher vs distilled probability of each action). The paper's three "
      "sets are teacher responses on training questions, teacher responses on test questions and the distilled "
      "model's own responses on test questions; name each with --set NAME=SPEC where SPEC is an ids file (one "
      "record id a line; also ids:FILE; ids not in the store are counted, warned about and left out), "
      "groups:FILE (question ids), id-prefix:P or group-prefix:P. Bins are [e_k, e_k+1) against the bin_edges "
      "written (the last also holds 1).",
      "rdpt align"};
  std::string store_path, teacher = "teacher", distilled = "distilled", out = "-", csv_path;
  std::vector<std::string> set_args;
  uint32_t bins = 40;
  bool exclude_special = false;
  app.add_option("--store,-s", store_path, "score store")->required();
  app.add_option("--teacher", teacher, "teacher model name (default teacher)");
  app.add_option("--distilled", distilled, "distilled model name (default distilled)");
  app.add_option("--set", set_args, "NAME=SPEC, a set of responses (repeatable; at least one)")->required();
  app.add_option("--bins", bins, "histogram bins on [-1, 1] (default 40, width 0.05)");
  app.add_flag("--exclude-special", exclude_special, "leave special-token actions out (default: all scored actions)");
  app.add_option("--out,-o", out, "JSON output (default - = stdout)");
  app.add_option("--csv", csv_path, "also write set,bin_lo,bin_hi,count,fraction as CSV (default: none)");
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  check_distinct_roles({{"--teacher", teacher}, {"--distilled", distilled}}, same_model);
  std::vector<SetSpec> sets;
  for (const auto& s : set_args) {
    sets.push_back(parse_set(s));
    for (size_t k = 0; k + 1 < sets.size(); ++k)
      if (sets[k].name == sets.back().name) throw UsageError("--set: name '" + sets.back().name + "' given twice");
  }

  auto st = Store::open(store_path, OpenMode::ReadOnly);
  const int64_t mids[] = {require_model(*st, teacher, "--teacher").mid, require_model(*st, distilled, "--distilled").mid};
  // Ids of an ids file that name no response of the store: counted, warned about and reported
  // (n_ids_not_in_store), never matched.
  std::vector<uint64_t> n_missing(sets.size(), 0);
  for (size_t k = 0; k < sets.size(); ++k) {
    if (sets[k].kind != "ids") continue;
    std::string example;
    for (const auto& id : sets[k].listed)
      if (!st->find_response(id)) {
        if (n_missing[k]++ == 0) example = id;
      }
    if (n_missing[k])
      warn(fmt::format("set '{}': {} of the {} ids in '{}' are not in the store (e.g. '{}'); they are left out",
                       sets[k].name, n_missing[k], sets[k].listed.size(), sets[k].arg, example));
  }
  std::vector<DiffHistogram> hist(sets.size(), DiffHistogram(bins, -1.0, 1.0));
  std::vector<uint64_t> n_resp(sets.size(), 0);
  stream_scores(*st, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    bool any = false;
    for (const auto& s : sets) any = any || s.contains(r);
    if (!any) return true;
    const std::vector<double>& pT = sc[0].p;
    const std::vector<double>& pD = sc[1].p;
    for (size_t k = 0; k < sets.size(); ++k) {
      if (!sets[k].contains(r)) continue;
      ++n_resp[k];
      for (size_t a = 0; a < pT.size(); ++a)
        if (!(exclude_special && r.actions[a].special)) hist[k].add(pT[a] - pD[a]);
    }
    return true;
  });

  using nlohmann::json;
  auto num = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
  json j = {{"store", store_path}, {"teacher", teacher}, {"distilled", distilled}, {"bins", bins},
            {"range", {-1.0, 1.0}}, {"exclude_special", exclude_special}};
  const std::vector<double>& edges = hist[0].edges();  // the doubles the bins are compared against
  j["bin_edges"] = edges;
  json sj = json::array();
  std::string table = "pT - pD by set:\n";
  for (size_t k = 0; k < sets.size(); ++k) {
    sj.push_back({{"name", sets[k].name},
                  {"spec", sets[k].kind + ":" + sets[k].arg},
                  {"n_responses", n_resp[k]},
                  {"n_actions", hist[k].n()},
                  {"n_ids_not_in_store", sets[k].kind == "ids" ? json(n_missing[k]) : json(nullptr)},
                  {"mean", num(hist[k].mean())},
                  {"mean_abs", num(hist[k].mean_abs())},
                  {"count", hist[k].counts()},
                  {"fraction", hist[k].normalised()}});
    table += fmt::format("  {:<16} {} responses, {} actions, mean {}, mean |d| {}\n", sets[k].name, n_resp[k],
                         hist[k].n(), fmt_share(hist[k].mean()), fmt_share(hist[k].mean_abs()));
    if (n_resp[k] == 0) warn("set '" + sets[k].name + "' matched no response in the store");
  }
  j["sets"] = sj;
  Output o(out);
  o.stream() << j.dump(2) << '\n';
  o.close();
  if (!csv_path.empty()) {
    Output c(csv_path);
    c.stream() << "set,bin_lo,bin_hi,count,fraction\n";
    for (size_t k = 0; k < sets.size(); ++k) {
      auto f = hist[k].normalised();
      for (uint32_t b = 0; b < bins; ++b)
        c.stream() << csv_field(sets[k].name) << ',' << csv_number(edges[b]) << ',' << csv_number(edges[b + 1]) << ','
                   << hist[k].counts()[b] << ',' << csv_number(f[b]) << '\n';
    }
    c.close();
  }
  std::fputs(table.c_str(), stderr);
  return 0;
}

}  // namespace rdpt::cli
