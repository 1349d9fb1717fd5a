// rdpt trace: four-way provenance of a distilled model's actions against its teacher and
// student (docs/method.md sections 3, 5, 6, 8), streamed over the score store.
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/behaviour.h"
#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt::cli {

namespace {

struct TraceArgs {
  std::string store_path, teacher = "teacher", student = "student", distilled = "distilled", beta_s = "auto",
              out_dir, keywords = "upstream", format = "csv";
  double alpha = 0.1;
  uint32_t max_positions = 0;
  uint64_t token_mark = 4096;
  bool no_progress = false, same_model = false;
};

void add_trace_options(CLI::App& app, TraceArgs& a) {
  app.add_option("--store,-s", a.store_path, "score store (SQLite file written by rdpt import/score)")->required();
  app.add_option("--teacher", a.teacher, "teacher model name in the store (default teacher)");
  add_model_role(app, "student", a.student);
  app.add_option("--distilled", a.distilled,
                 "distilled model name (default distilled); none: teacher vs student only, the three types Common / "
                 "Teacher / Student of docs/method.md section 4 (provenance before training)");
  app.add_option("--alpha", a.alpha, "Shared band on |pS-pD|, |pT-pD|, |pT-pS| (default 0.1)");
  app.add_option("--beta", a.beta_s,
                 "Teacher/Student margin on pT-pS: a number in [0, 1], or auto = the analysis search over 0.05..0.20 "
                 "(with --distilled none: the training search over 0.05..1.00) (docs/method.md section 5; default "
                 "auto)");
  app.add_option("--out-dir,-o", a.out_dir, "output folder (created if absent)")->required();
  app.add_option("--keywords", a.keywords,
                 "behaviour keyword list: upstream (SEAL's, with its 'think differenly' typo) or corrected "
                 "(default upstream)");
  app.add_option("--max-positions", a.max_positions, "positions kept in the curves (default 0 = all)");
  app.add_option("--token-mark", a.token_mark,
                 "mark where mean cumulative tokens reach each multiple of this (default 4096; 0 = none)")
      ->check(kNonNegative);
  app.add_option("--format,-f", a.format,
                 "csv: types.csv and curves.csv; parquet: types.parquet and curves.parquet (the same columns, typed; "
                 "null where CSV is empty) (default csv; curves.json and summary.json either way)")
      ->check(CLI::IsMember({"csv", "parquet"}, CLI::ignore_case));
  app.add_flag("--no-progress", a.no_progress, "do not draw progress on a terminal (default: drawn on a TTY)");
  add_same_model_flag(app, a.same_model);
}

// Runs the trace, streaming types.{csv,parquet} as responses are typed, then writes the curves and
// summary.json into dir (which ends in '/'). Returns the result for the one-line summary.
TraceResult trace_to_files(Store& st, const TraceOptions& opts, TypeScheme scheme, const std::string& dir,
                           bool parquet, const std::string& store_path, Progress& progress) {
  const std::string ext = parquet ? "parquet" : "csv";
  TraceHooks hooks;
  hooks.each_reads_pairs = false;
  std::optional<TypesParquet> types_pq;
  std::optional<Output> types_out;
  if (parquet) {
    types_pq.emplace(dir + "types.parquet", scheme);
    hooks.each = [&](const TypedResponse& t) { types_pq->row(t); };
  } else {
    types_out.emplace(dir + "types.csv");
    write_types_csv_header(types_out->stream(), scheme);
    hooks.each = [&](const TypedResponse& t) { write_types_csv_row(types_out->stream(), t, scheme); };
  }
  TraceResult r = trace(st, opts, progress, hooks);
  if (parquet) types_pq->finish();
  else types_out->close();
  write_json_file(dir + "curves.json", curves_json(r.curves), -1);
  if (parquet) {
    write_curves_parquet(dir + "curves.parquet", r.curves);
  } else {
    Output o(dir + "curves.csv");
    write_curves_csv(o.stream(), r.curves);
    o.close();
  }
  nlohmann::json s = trace_summary_json(r, store_path, opts.keywords);
  s["files"] = {"types." + ext, "curves." + ext, "curves.json", "summary.json"};
  write_json_file(dir + "summary.json", s, 2);
  return r;
}

}  // namespace

int run_trace(int argc, char** argv) {
  CLI::App app{
      "Type every scored action of the distilled model's responses as Shared / Teacher / Student / Boosted "
      "(docs/method.md section 3; with --distilled none, teacher vs student as Common / Teacher / Student, "
      "section 4) and write, in --out-dir: types.csv (per-response counts and shares), curves.csv "
      "and curves.json (fraction of each type by position for correct / incorrect / all responses, n_j, Wilson "
      "95% intervals, mean cumulative distilled tokens and the positions reaching each multiple of 4096), and "
      "summary.json (models, thresholds, totals, the beta search when --beta auto, behaviour shares per type).",
      "rdpt trace"};
  TraceArgs a;
  add_trace_options(app, a);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  const bool three_way = a.distilled == "none";
  if (three_way) a.distilled.clear();
  const TypeScheme scheme = three_way ? TypeScheme::ThreeWay : TypeScheme::FourWay;
  const std::vector<std::pair<std::string, std::string>> roles = {
      {"--teacher", a.teacher}, {"--student", a.student}, {"--distilled", a.distilled}};
  check_distinct_roles(roles, a.same_model);
  TraceOptions opts;
  opts.teacher = a.teacher;
  opts.student = a.student;
  opts.distilled = a.distilled;
  opts.alpha = a.alpha;
  opts.beta = parse_beta(a.beta_s);
  opts.max_positions = a.max_positions;
  opts.token_mark = a.token_mark;
  opts.keywords = parse_keyword_list(a.keywords);
  check_thresholds({opts.alpha, opts.beta.value_or(0.1)});  // usage errors before the store is opened
  auto st = Store::open(a.store_path, OpenMode::ReadOnly);
  warn_same_models(*st, roles, a.same_model);
  for (const auto& [opt, name] : roles)
    if (!name.empty()) require_model(*st, name, opt);  // before --out-dir is created
  TtyProgress progress(!a.no_progress);
  {
    std::error_code ec;
    std::filesystem::create_directories(a.out_dir, ec);
    if (ec) throw Error("--out-dir: cannot create '" + a.out_dir + "': " + ec.message());
  }
  const std::string dir = a.out_dir + "/";
  const bool parquet = CLI::detail::to_lower(a.format) == "parquet";
  const std::string ext = parquet ? "parquet" : "csv";
  const TraceResult r = trace_to_files(*st, opts, scheme, dir, parquet, a.store_path, progress);
  std::string msg = "traced " + std::to_string(r.n_responses) + " responses, " + std::to_string(r.n_scored) + " of " +
                    std::to_string(r.n_actions) + " actions scored; beta " + fmt_share(r.thresholds.beta) + " (" +
                    (r.beta_auto ? "auto" : "given") + ");";
  for (ActionType t : scheme_types(r.scheme))
    msg += std::string(" ") + type_name(t) + " " + fmt_share(r.pooled_share(Subset::All, t));
  info(msg + "; wrote " + dir + "{types." + ext + ",curves." + ext + ",curves.json,summary.json}");
  return 0;
}

}  // namespace rdpt::cli
