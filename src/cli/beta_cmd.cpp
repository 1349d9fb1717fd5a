// rdpt beta: choose beta (docs/method.md section 5) with either procedure, reporting every
// candidate's histograms and overlap so that a person can check the pick.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/pipeline.h"
#include "rdpt/error.h"

namespace rdpt::cli {

int run_beta(int argc, char** argv) {
  CLI::App app{
      "Choose beta from the store's scores (docs/method.md section 5). analysis (paper A.2.2): four-way types of the "
      "distilled model, candidates 0.05..0.20, least overlap of the histograms of the two most frequent types (the two with the highest mean "
      "per-response share, not pooled action counts; ties in the order Shared, Teacher, Student, Boosted). "
      "training (paper Algorithm 1): three-way types of teacher vs student, candidates 0.05..1.00, least "
      "overlap(Student, Common) + overlap(Common, Teacher), stopping after mean Common > mean Teacher. Writes "
      "JSON with every candidate's 20-bin histograms, overlaps and the pick; a table on stderr.",
      "rdpt beta"};
  std::string store_path, teacher = "teacher", student = "student", distilled = "distilled", procedure = "analysis",
                          out = "-";
  double alpha = 0.1;
  std::vector<double> candidates;
  app.add_option("--store,-s", store_path, "score store")->required();
  app.add_option("--procedure", procedure,
                 "analysis (distilled model, four-way) or training (teacher vs student data, three-way) "
                 "(default analysis)");
  add_model_role(app, "teacher", teacher);
  add_model_role(app, "student", student);
  app.add_option("--distilled", distilled, "distilled model name, analysis only (default distilled)");
  app.add_option("--alpha", alpha, "Shared band, analysis only (default 0.1)");
  app.add_option("--candidates", candidates,
                 "candidate betas in order (default: 0.05 0.10 0.15 0.20 for analysis, 0.05..1.00 for training)")
      ->delimiter(',');
  app.add_option("--out,-o", out, "JSON output (default - = stdout)");
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  BetaOptions opts{.procedure = parse_procedure(procedure), .alpha = alpha, .candidates = candidates};
  check_distinct_roles({{"--teacher", teacher},
                        {"--student", student},
                        {"--distilled", opts.procedure == BetaProcedure::Analysis ? distilled : ""}},
                       same_model);
  check_thresholds({alpha, 0});

  auto st = Store::open(store_path, OpenMode::ReadOnly);
  warn_same_models(*st,
                   {{"--teacher", teacher},
                    {"--student", student},
                    {"--distilled", opts.procedure == BetaProcedure::Analysis ? distilled : ""}},
                   same_model);
  const int64_t mT = require_model(*st, teacher, "--teacher").mid, mS = require_model(*st, student, "--student").mid;
  const int64_t mD = opts.procedure == BetaProcedure::Analysis ? require_model(*st, distilled, "--distilled").mid : 0;
  BetaResult r = beta_search(*st, opts, mT, mS, mD);

  nlohmann::json j = beta_json(r);
  j["store"] = store_path;
  j["models"] = {{"teacher", teacher}, {"student", student}};
  if (opts.procedure == BetaProcedure::Analysis) j["models"]["distilled"] = distilled;
  Output o(out);
  o.stream() << j.dump(2) << '\n';
  o.close();

  std::string table = fmt::format("beta ({} procedure, {} responses, {} without scored actions):\n",
                                  procedure_name(r.procedure), r.n_responses, r.n_skipped);
  for (size_t k = 0; k < r.candidates.size(); ++k) {
    const auto& c = r.candidates[k];
    std::string what = r.procedure == BetaProcedure::Analysis
                           ? fmt::format("overlap({}, {}) = {:.4f}", type_name(c.first), type_name(c.second), c.overlap)
                           : fmt::format("O = {:.4f} (S-C {:.4f}, C-T {:.4f}); mean Common {:.3f}, Teacher {:.3f}",
                                         c.overlap, c.overlap_student_common, c.overlap_common_teacher,
                                         c.mean_proportion[type_index(ActionType::Common)],
                                         c.mean_proportion[type_index(ActionType::Teacher)]);
    table += fmt::format("  {} beta {:.2f}: {}{}{}\n", k == r.pick ? "*" : " ", c.beta, what,
                         c.considered ? "" : " (after the stop)", c.stopped_here ? " <- stop" : "");
  }
  std::fputs(table.c_str(), stderr);
  info(fmt::format("chosen beta {}", r.beta));
  return 0;
}

}  // namespace rdpt::cli
