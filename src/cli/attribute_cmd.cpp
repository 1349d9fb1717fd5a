// rdpt attribute: which teacher? (docs/method.md section 8, paper A.4.3). Traces one distilled
// model against several candidate teachers and ranks them.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/pipeline.h"
#include "rdpt/attribute.h"
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
  app.add_option("--student", student, "student model name (default student)");
  app.add_option("--distilled", distilled, "distilled model name (default distilled)");
  app.add_option("--alpha", alpha, "Shared band (default 0.1)");
  app.add_option("--beta", beta_s,
                 "a number for every teacher, or auto = the analysis search per teacher (default auto)");
  app.add_option("--bootstrap", replicates, "bootstrap replicates (default 1000)");
  app.add_option("--seed", seed, "bootstrap seed (default 0)");
  app.add_option("--first-positions", first_positions,
                 "positions summed in the correct-minus-incorrect Teacher fraction (default 400)");
  app.add_option("--out,-o", out, "JSON output (default - = stdout)");
  bool same_model = false;
  add_same_model_flag(app, same_model);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  check_thresholds({alpha, 0});
  std::optional<double> beta_given = parse_beta(beta_s);
  {
    auto sorted = teachers;
    std::sort(sorted.begin(), sorted.end());
    if (auto d = std::adjacent_find(sorted.begin(), sorted.end()); d != sorted.end())
      throw UsageError("--teacher: '" + *d + "' given twice");
    std::vector<std::pair<std::string, std::string>> roles = {{"--student", student}, {"--distilled", distilled}};
    for (const auto& t : teachers) roles.push_back({"--teacher", t});
    check_distinct_roles(roles, same_model);
  }

  auto st = Store::open(store_path, OpenMode::ReadOnly);
  const size_t nt = teachers.size();
  std::vector<int64_t> mids;  // teachers..., student, distilled
  for (const auto& t : teachers) mids.push_back(require_model(*st, t, "--teacher").mid);
  mids.push_back(require_model(*st, student, "--student").mid);
  mids.push_back(require_model(*st, distilled, "--distilled").mid);

  // Pass 1 (auto): one analysis beta search per teacher, all in the same stream.
  std::vector<double> betas(nt, beta_given.value_or(0));
  std::vector<std::optional<BetaResult>> searches(nt);
  std::vector<std::vector<double>> pT(nt);
  std::vector<double> pS, pD;
  if (!beta_given) {
    std::vector<BetaSearch> bs(nt, BetaSearch({.procedure = BetaProcedure::Analysis, .alpha = alpha}));
    stream_scores(*st, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
      pS = sc[nt].p;
      pD = sc[nt + 1].p;
      for (size_t k = 0; k < nt; ++k) {
        pT[k] = sc[k].p;
        bs[k].add(pT[k], pS, pD);
      }
      return true;
    });
    for (size_t k = 0; k < nt; ++k) {
      try {
        searches[k] = bs[k].result();
      } catch (const DataError& e) {
        throw DataError("teacher '" + teachers[k] + "': " + e.what());
      }
      betas[k] = searches[k]->beta;
    }
  }

  // Pass 2: shares with a paired bootstrap (series 2k = Teacher share, 2k+1 = Student share).
  ShareBootstrap boot(2 * nt, {.n_replicates = replicates, .seed = seed});
  std::vector<CurveAccumulator> curves(nt, CurveAccumulator({.scheme = TypeScheme::FourWay, .token_mark = 0}));
  std::vector<double> values(2 * nt);
  std::vector<std::optional<ActionType>> types;
  std::vector<uint64_t> pooled_n(nt), pooled_teacher(nt), pooled_student(nt);
  uint64_t n_resp = 0;
  stream_scores(*st, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    pS = sc[nt].p;
    pD = sc[nt + 1].p;
    for (size_t k = 0; k < nt; ++k) {
      pT[k] = sc[k].p;
      TypeCounts c = type_actions(TypeScheme::FourWay, pT[k], pS, pD, {alpha, betas[k]}, &types);
      values[2 * k] = c.proportion(ActionType::Teacher);
      values[2 * k + 1] = c.proportion(ActionType::Student);
      pooled_n[k] += c.n_scored;
      pooled_teacher[k] += c.count(ActionType::Teacher);
      pooled_student[k] += c.count(ActionType::Student);
      curves[k].add(types, {}, r.correct);
    }
    boot.add(values);
    ++n_resp;
    return true;
  });

  struct Row {
    size_t k;
    ShareEstimate teacher, student;
    double summed = NAN;
  };
  std::vector<Row> rows;
  for (size_t k = 0; k < nt; ++k) {
    Curves c = curves[k].result();
    rows.push_back({k, boot.estimate(2 * k), boot.estimate(2 * k + 1),
                    summed_correct_minus_incorrect(c, ActionType::Teacher, first_positions)});
  }
  auto nan_low = [](double x) { return std::isnan(x) ? -INFINITY : x; };
  std::vector<Row> by_teacher = rows, by_student = rows;
  std::stable_sort(by_teacher.begin(), by_teacher.end(), [&](const Row& a, const Row& b) {
    if (nan_low(a.teacher.mean) != nan_low(b.teacher.mean)) return nan_low(a.teacher.mean) > nan_low(b.teacher.mean);
    return -nan_low(-a.student.mean) < -nan_low(-b.student.mean);
  });
  std::stable_sort(by_student.begin(), by_student.end(), [&](const Row& a, const Row& b) {
    return -nan_low(-a.student.mean) < -nan_low(-b.student.mean);
  });
  std::vector<size_t> rank(nt), student_rank(nt);
  for (size_t i = 0; i < nt; ++i) {
    rank[by_teacher[i].k] = i + 1;
    student_rank[by_student[i].k] = i + 1;
  }

  using nlohmann::json;
  auto num = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
  auto est = [&](const ShareEstimate& e) {
    return json{{"mean", num(e.mean)}, {"lo", num(e.lo)}, {"hi", num(e.hi)}, {"n_responses", e.n}};
  };
  json j = {{"store", store_path},       {"student", student},          {"distilled", distilled},
            {"alpha", alpha},            {"beta_source", beta_given ? "given" : "auto"},
            {"bootstrap", {{"replicates", replicates}, {"seed", seed}, {"level", 0.95}, {"method", "poisson"}}},
            {"first_positions", first_positions}, {"n_responses", n_resp}};
  json tj = json::array();
  for (const Row& row : by_teacher) {
    size_t k = row.k;
    tj.push_back({{"teacher", teachers[k]},
                  {"rank", rank[k]},
                  {"student_share_rank", student_rank[k]},
                  {"beta", betas[k]},
                  {"teacher_share", est(row.teacher)},
                  {"student_share", est(row.student)},
                  {"teacher_share_pooled", pooled_n[k] ? json(double(pooled_teacher[k]) / pooled_n[k]) : json(nullptr)},
                  {"student_share_pooled", pooled_n[k] ? json(double(pooled_student[k]) / pooled_n[k]) : json(nullptr)},
                  {"summed_teacher_correct_minus_incorrect", num(row.summed)},
                  {"beta_search", searches[k] ? beta_json(*searches[k]) : json(nullptr)}});
  }
  j["teachers"] = tj;
  j["consistent"] = nt > 0 && rank[by_teacher[0].k] == 1 && student_rank[by_teacher[0].k] == 1;
  Output o(out);
  o.stream() << j.dump(2) << '\n';
  o.close();

  std::string table = fmt::format("which teacher ({} responses; shares with bootstrap 95% intervals):\n", n_resp);
  for (const Row& row : by_teacher)
    table += fmt::format("  {}. {:<20} Teacher {} [{}, {}]  Student {} [{}, {}]  sum(correct-incorrect) {}  beta {}\n",
                         rank[row.k], teachers[row.k], fmt_share(row.teacher.mean), fmt_share(row.teacher.lo),
                         fmt_share(row.teacher.hi), fmt_share(row.student.mean), fmt_share(row.student.lo),
                         fmt_share(row.student.hi), fmt_share(row.summed), betas[row.k]);
  std::fputs(table.c_str(), stderr);
  return 0;
}

}  // namespace rdpt::cli
