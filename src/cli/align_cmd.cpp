// rdpt align: alignment of output distributions (docs/method.md section 8, paper A.4.2):
// histograms of pT - pD per action over named sets of responses.
#include "cli/commands.h"
#include "cli/common.h"
#include "io/output_path.h"
#include "rdpt/error.h"
#include "rdpt/operations.h"

namespace rdpt::cli {

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
  std::string store_path, out = "-", csv_path;
  std::vector<std::string> set_args;
  AlignOptions ao;
  app.add_option("--store,-s", store_path, "score store")->required();
  add_model_role(app, "teacher", ao.teacher);
  add_model_role(app, "distilled", ao.distilled);
  app.add_option("--set", set_args, "NAME=SPEC, a set of responses (repeatable; at least one)")->required();
  app.add_option("--bins", ao.bins, "histogram bins on [-1, 1] (default 40, width 0.05)");
  app.add_flag("--exclude-special", ao.exclude_special, "leave special-token actions out (default: all scored actions)");
  app.add_option("--out,-o", out, "JSON output (default - = stdout)");
  app.add_option("--csv", csv_path, "also write set,bin_lo,bin_hi,count,fraction as CSV (default: none)");
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  check_distinct_roles({{"--teacher", ao.teacher}, {"--distilled", ao.distilled}}, same_model);
  io::check_distinct_outputs({{"--out", out}, {"--csv", csv_path}});
  for (const auto& s : set_args) {
    ao.sets.push_back(parse_response_set(s));
    for (size_t k = 0; k + 1 < ao.sets.size(); ++k)
      if (ao.sets[k].name == ao.sets.back().name) throw UsageError("--set: name '" + ao.sets.back().name + "' given twice");
  }

  auto st = Store::open(store_path, OpenMode::ReadOnly);
  const AlignResult res = align_sets(*st, ao, cli_log);
  write_json_file(out, align_json(res, ao, store_path), 2);
  if (!csv_path.empty()) {
    Output c(csv_path);
    write_align_csv(c.stream(), res, ao);
    c.close();
  }
  std::fputs(align_table(res, ao).c_str(), stderr);
  return 0;
}

}  // namespace rdpt::cli
