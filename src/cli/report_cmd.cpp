// rdpt report: write the self-contained HTML report of a score store (docs/report.md).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/store.h"
#include "report/report.h"

namespace rdpt::cli {
namespace {

std::string read_text(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(std::string("cannot read ") + what + " file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int run_report(int argc, char** argv) {
  CLI::App app{
      "Write one self-contained HTML report of a score store that opens offline: curves by position (share of "
      "each type, correct vs incorrect, Wilson 95% bands, token-count marks), every beta candidate's "
      "histograms with the pick marked, a trace viewer (pT, pS, pD per action, sentences highlighted by type), "
      "optional selection / attribution / alignment sections, and the run's metadata. See docs/report.md.",
      "rdpt report"};
  std::string store_path, out = "report.html", beta_s = "auto";
  report::ReportOptions o;
  std::vector<std::string> sel, attr, align;
  double viewer_mb = double(o.viewer_bytes) / (1 << 20);
  app.add_option("--store,-s", store_path, "score store (SQLite file written by rdpt score)")->required();
  app.add_option("--out,-o", out, "output HTML file (default report.html; - for stdout)");
  app.add_option("--title", o.title, "page title (default \"rdpt report: <store file name>\")");
  app.add_option("--teacher", o.teacher, "teacher model name in the store (default teacher)")->group("Models");
  app.add_option("--student", o.student, "student model name in the store (default student)")->group("Models");
  auto* dist = app.add_option("--distilled", o.distilled,
                              "distilled model name in the store (default distilled; when the store has no model "
                              "of that name the report uses the three-way types of docs/method.md section 4; "
                              "'none' forces three-way)")
                   ->group("Models");
  app.add_option("--alpha", o.alpha, "Shared band of the four-way types (default 0.1)")->group("Thresholds");
  app.add_option("--beta", beta_s, "beta: a number, or auto = docs/method.md section 5's pick (default auto)")
      ->group("Thresholds");
  app.add_option("--beta-candidates", o.beta_candidates,
                 "beta candidates searched and drawn (default 0.05 0.1 0.15 0.2 four-way; 0.05..1.00 three-way)")
      ->group("Thresholds");
  app.add_option("--max-positions", o.max_positions, "positions kept in the curves (default 0 = all)")
      ->group("Curves");
  app.add_option("--token-mark", o.token_mark, "mark where the mean cumulative token count reaches each multiple "
                 "of this (default 4096; 0 = no marks)")->group("Curves");
  app.add_option("--viewer-responses", o.viewer_responses,
                 "responses embedded in the trace viewer (default 2000; 0 = no limit); a seeded sample when the "
                 "store has more")->group("Viewer");
  app.add_option("--viewer-mb", viewer_mb,
                 "budget of text embedded in the viewer (responses with their questions, system prompts and answers), MiB (default 64; 0 = no limit)")->group("Viewer");
  app.add_option("--viewer-id", o.viewer_ids, "a response id always embedded in the viewer (repeatable)")
      ->group("Viewer");
  app.add_option("--seed", o.seed, "seed of the viewer sample (default 0)")->group("Viewer");
  app.add_option("--select-summary", sel, "JSON summary written by rdpt select, shown as a section (repeatable)")
      ->group("Extra sections");
  app.add_option("--attribution", attr, "JSON written by rdpt attribute (which teacher?), shown as a section "
                 "(repeatable)")->group("Extra sections");
  app.add_option("--alignment", align, "JSON written by rdpt align (pT - pD histograms), shown as a section "
                 "(repeatable)")->group("Extra sections");
  std::vector<std::string> compare;
  app.add_option("--compare", compare,
                 "LABEL=STORE[#teacher=T,student=S,distilled=D]: another run drawn beside this one on the Comparison "
                 "tab, each curve with its difference to this store's and a 95% interval (the same store with other "
                 "model names, e.g. two teachers, or another store, e.g. data before and after selection; "
                 "distilled=none: three-way); repeatable")
      ->group("Comparison");
  app.add_option("--label", o.label, "this store's name on the Comparison tab (default: its file name)")
      ->group("Comparison");
  app.add_option("--generated-at", o.generated_at, "timestamp shown in the page (default: now, UTC)");
  bool quiet = false;
  app.add_flag("--quiet,-q", quiet, "no progress or summary on stderr");
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  check_distinct_roles({{"--teacher", o.teacher},
                        {"--student", o.student},
                        {"--distilled", o.distilled == "none" ? "" : o.distilled}},
                       same_model);

  o.beta = parse_beta(beta_s);  // one rule for every front end
  if (!(viewer_mb >= 0)) throw UsageError("--viewer-mb: must be >= 0, got " + std::to_string(viewer_mb));
  o.viewer_bytes = uint64_t(viewer_mb * double(1 << 20));
  if (o.distilled == "none") o.distilled.clear();
  o.distilled_optional = dist->count() == 0;
  for (const auto& f : sel) o.extras.push_back({"selection", f, read_text(f, "--select-summary")});
  for (const auto& f : attr) o.extras.push_back({"attribution", f, read_text(f, "--attribution")});
  for (const auto& f : align) o.extras.push_back({"alignment", f, read_text(f, "--alignment")});

  auto store = Store::open(store_path, OpenMode::ReadOnly);
  warn_same_models(*store, {{"--teacher", o.teacher}, {"--student", o.student}, {"--distilled", o.distilled}},
                   same_model);
  std::vector<std::unique_ptr<Store>> compared;
  for (const auto& spec : compare) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw UsageError("--compare: expected LABEL=STORE[#teacher=T,student=S,distilled=D], got '" + spec + "'");
    report::CompareRun run;
    run.label = spec.substr(0, eq);
    std::string path = spec.substr(eq + 1);
    // The models after the last '#' (a store path may hold '#' itself when models follow).
    if (const size_t hash = path.rfind('#'); hash != std::string::npos) {
      std::string models = path.substr(hash + 1);
      path.resize(hash);
      std::set<std::string> given;
      for (size_t at = 0; at <= models.size();) {
        const size_t comma = std::min(models.find(',', at), models.size());
        const std::string kv = models.substr(at, comma - at);
        const size_t e = kv.find('=');
        const std::string key = kv.substr(0, e == std::string::npos ? kv.size() : e);
        const std::string value = e == std::string::npos ? "" : kv.substr(e + 1);
        if (value.empty() || (key != "teacher" && key != "student" && key != "distilled"))
          throw UsageError("--compare '" + spec + "': expected teacher=, student= or distilled= after '#', got '" + kv +
                           "'");
        if (!given.insert(key).second) throw UsageError("--compare '" + spec + "': " + key + "= given twice");
        (key == "teacher" ? run.teacher : key == "student" ? run.student : run.distilled) = value;
        at = comma + 1;
      }
    }
    if (path.empty()) throw UsageError("--compare '" + spec + "': no store path");
    // One model in two roles is refused as for the report's own models.
    const std::string d = run.distilled.empty() ? o.distilled : run.distilled == "none" ? "" : run.distilled;
    check_distinct_roles({{"--compare " + run.label + " teacher", run.teacher.empty() ? o.teacher : run.teacher},
                          {"--compare " + run.label + " student", run.student.empty() ? o.student : run.student},
                          {"--compare " + run.label + " distilled", d}},
                         same_model);
    try {
      compared.push_back(Store::open(path, OpenMode::ReadOnly));
    } catch (const Error& e) {
      throw StoreError("--compare '" + run.label + "': " + e.what());
    }
    run.store = compared.back().get();
    o.compare.push_back(run);
  }
  TtyProgress progress(!quiet);
  Output output(out);
  report::ReportStats s = report::write_report(*store, o, output.stream(), &progress);
  output.close();
  if (!quiet) {
    char beta_txt[64];
    std::snprintf(beta_txt, sizeof beta_txt, "%g", s.beta);
    info("report: " + std::to_string(s.n_responses) + " responses (" + std::to_string(s.n_typed) + " typed, " +
         (s.four_way ? "four-way" : "three-way") + ", beta " + beta_txt + (s.beta_auto ? " auto" : " given") + "), " +
         std::to_string(s.n_embedded) + " in the viewer, " + std::to_string(s.bytes_written >> 10) + " KiB");
  }
  if (out != "-") std::cout << std::filesystem::absolute(out).string() << '\n';
  return 0;
}

}  // namespace rdpt::cli
