// rdpt attribute: which teacher? (docs/method.md section 8, paper A.4.3). Traces one distilled
// model against several candidate teachers and ranks them.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/pipeline.h"
#include "rdpt/error.h"

namespace rdpt::cli {

int run_attribute(int argc, char** argv) {
  CLI::App app{
      "Which teacher? Types the distilled model's actions four-way against each candidate teacher (with the same "
      "student) and reports per teacher the Teacher and Student shares (mean per-response proportions) with "
      "seeded bootstrap 95% intervals, a ranking (highest Teacher share first; the true teacher should also "
      "have the lowest Student share), and the summed correct-minus-incorrect Teacher fraction over the first "
      "400 positions. JSON on --out, a table on stderr.",
      "rdpt attribute"};
  std::string store_path, student = "student", distilled = "distilled", beta_s = "auto", out = "-";
  std::vector<std::string> teachers;
  double alpha = 0.1;
  uint32_t replicates = 1000, first_positions = 400;
  uint64_t seed = 0;
  app.add_option("--store,-s", store_path, "score store")->required();
  app.add_option("--teacher,-t", teachers, "a candidate teacher model name (repeat for each; at least one)")
      ->required();
  add_model_role(app, "student", student);
  add_model_role(app, "distilled", distilled);
  app.add_option("--alpha", alpha, "Shared band (default 0.1)");
  app.add_option("--beta", beta_s,
                 "a number for every teacher, or auto = the analysis search per teacher (default auto)");
  app.add_option("--bootstrap", replicates, "bootstrap replicates (default 1000)");
  app.add_option("--seed", seed, "bootstrap seed (default 0)")->check(kNonNegative);
  app.add_option("--first-positions", first_positions,
                 "positions summed in the correct-minus-incorrect Teacher fraction (default 400)");
  app.add_option("--out,-o", out, "JSON output (default - = stdout)");
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  AttributeOptions opts;
  opts.teachers = teachers;
  opts.student = student;
  opts.distilled = distilled;
  opts.alpha = alpha;
  opts.beta = parse_beta(beta_s);
  opts.replicates = replicates;
  opts.seed = seed;
  opts.first_positions = first_positions;
  check_attribute_options(opts);
  {
    std::vector<std::pair<std::string, std::string>> roles = {{"--student", student}, {"--distilled", distilled}};
    for (const auto& t : teachers) roles.push_back({"--teacher", t});
    check_distinct_roles(roles, same_model);
  }
  auto st = Store::open(store_path, OpenMode::ReadOnly);
  TtyProgress progress;
  const AttributeResult r = attribute(*st, opts, progress);
  write_json_file(out, attribute_json(r, opts, store_path), 2);

  std::string table =
      fmt::format("which teacher ({} responses; shares with bootstrap 95% intervals):\n", r.n_responses);
  for (const AttributeRow& row : r.rows)
    table += fmt::format("  {}. {:<20} Teacher {} [{}, {}]  Student {} [{}, {}]  sum(correct-incorrect) {}  beta {}\n",
                         row.rank, row.teacher, fmt_share(row.teacher_share.mean), fmt_share(row.teacher_share.lo),
                         fmt_share(row.teacher_share.hi), fmt_share(row.student_share.mean),
                         fmt_share(row.student_share.lo), fmt_share(row.student_share.hi),
                         fmt_share(row.summed_correct_minus_incorrect), row.beta);
  std::fputs(table.c_str(), stderr);
  return 0;
}

}  // namespace rdpt::cli
