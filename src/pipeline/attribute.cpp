// Which teacher? One distilled model typed four-way against each candidate teacher (rdpt attribute).
#include <algorithm>
#include <cmath>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt {

void check_attribute_options(const AttributeOptions& o) {
  check_thresholds({o.alpha, o.beta.value_or(0)});
  if (o.teachers.empty()) throw UsageError("--teacher: at least one candidate teacher is needed");
  auto sorted = o.teachers;
  std::sort(sorted.begin(), sorted.end());
  if (auto d = std::adjacent_find(sorted.begin(), sorted.end()); d != sorted.end())
    throw UsageError("--teacher: '" + *d + "' given twice");
}

AttributeResult attribute(Store& st, const AttributeOptions& o, Progress& progress) {
  check_attribute_options(o);
  const size_t nt = o.teachers.size();
  std::vector<int64_t> mids;  // teachers..., student, distilled
  for (const auto& t : o.teachers) mids.push_back(require_model(st, t, "--teacher").mid);
  mids.push_back(require_model(st, o.student, "--student").mid);
  mids.push_back(require_model(st, o.distilled, "--distilled").mid);
  const uint64_t total = uint64_t(st.n_responses());

  // Pass 1 (auto): one analysis beta search per teacher, all in the same stream.
  std::vector<double> betas(nt, o.beta.value_or(0));
  std::vector<std::optional<BetaResult>> searches(nt);
  if (!o.beta) {
    std::vector<BetaSearch> bs(nt, BetaSearch({.procedure = BetaProcedure::Analysis, .alpha = o.alpha,
                                               .candidates = {}}));
    uint64_t done = 0;
    progress.start("attribute: beta search", total, "responses");
    stream_scores(st, mids, [&](const StoredResponse&, std::span<const PairView> sc) {
      for (size_t k = 0; k < nt; ++k) bs[k].add(sc[k].p, sc[nt].p, sc[nt + 1].p);
      progress.update(++done);
      return true;
    }, false);
    progress.finish();
    for (size_t k = 0; k < nt; ++k) {
      try {
        searches[k] = bs[k].result();
      } catch (const DataError& e) {
        throw DataError("teacher '" + o.teachers[k] + "': " + e.what());
      }
      betas[k] = searches[k]->beta;
    }
  }

  // Pass 2: shares with a paired bootstrap (series 2k = Teacher share, 2k+1 = Student share).
  ShareBootstrap boot(2 * nt, {.n_replicates = o.replicates, .seed = o.seed});
  std::vector<CurveAccumulator> curves(nt, CurveAccumulator({.scheme = TypeScheme::FourWay, .token_mark = 0, .norm_bins = 0}));
  std::vector<double> values(2 * nt);
  std::vector<std::optional<ActionType>> types;
  std::vector<uint64_t> pooled_n(nt), pooled_teacher(nt), pooled_student(nt);
  AttributeResult res;
  progress.start("attribute: shares", total, "responses");
  stream_scores(st, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    for (size_t k = 0; k < nt; ++k) {
      TypeCounts c = type_actions(TypeScheme::FourWay, sc[k].p, sc[nt].p, sc[nt + 1].p, {o.alpha, betas[k]}, &types);
      values[2 * k] = c.proportion(ActionType::Teacher);
      values[2 * k + 1] = c.proportion(ActionType::Student);
      pooled_n[k] += c.n_scored;
      pooled_teacher[k] += c.count(ActionType::Teacher);
      pooled_student[k] += c.count(ActionType::Student);
      curves[k].add(types, {}, r.correct);
    }
    boot.add(values);
    progress.update(++res.n_responses);
    return true;
  }, false);
  progress.finish();

  std::vector<AttributeRow> rows(nt);
  for (size_t k = 0; k < nt; ++k) {
    AttributeRow& row = rows[k];
    row.teacher = o.teachers[k];
    row.beta = betas[k];
    row.teacher_share = boot.estimate(2 * k);
    row.student_share = boot.estimate(2 * k + 1);
    if (pooled_n[k]) {
      row.teacher_share_pooled = double(pooled_teacher[k]) / double(pooled_n[k]);
      row.student_share_pooled = double(pooled_student[k]) / double(pooled_n[k]);
    }
    row.summed_correct_minus_incorrect = summed_correct_minus_incorrect(curves[k].result(), ActionType::Teacher,
                                                                         o.first_positions);
    row.search = std::move(searches[k]);
  }
  auto nan_low = [](double x) { return std::isnan(x) ? -INFINITY : x; };
  std::vector<size_t> by_teacher(nt), by_student(nt);
  for (size_t k = 0; k < nt; ++k) by_teacher[k] = by_student[k] = k;
  std::stable_sort(by_teacher.begin(), by_teacher.end(), [&](size_t a, size_t b) {
    const double ta = nan_low(rows[a].teacher_share.mean), tb = nan_low(rows[b].teacher_share.mean);
    if (ta != tb) return ta > tb;
    return -nan_low(-rows[a].student_share.mean) < -nan_low(-rows[b].student_share.mean);
  });
  std::stable_sort(by_student.begin(), by_student.end(), [&](size_t a, size_t b) {
    return -nan_low(-rows[a].student_share.mean) < -nan_low(-rows[b].student_share.mean);
  });
  for (size_t i = 0; i < nt; ++i) {
    rows[by_teacher[i]].rank = i + 1;
    rows[by_student[i]].student_rank = i + 1;
  }
  for (size_t i = 0; i < nt; ++i) res.rows.push_back(std::move(rows[by_teacher[i]]));
  res.consistent = nt > 0 && res.rows[0].rank == 1 && res.rows[0].student_rank == 1;
  return res;
}

nlohmann::json attribute_json(const AttributeResult& r, const AttributeOptions& o, const std::string& store_path) {
  using nlohmann::json;
  auto num = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
  auto est = [&](const ShareEstimate& e) {
    return json{{"mean", num(e.mean)}, {"lo", num(e.lo)}, {"hi", num(e.hi)}, {"n_responses", e.n}};
  };
  json j = {{"store", store_path},       {"student", o.student},        {"distilled", o.distilled},
            {"alpha", o.alpha},          {"beta_source", o.beta ? "given" : "auto"},
            {"bootstrap", {{"replicates", o.replicates}, {"seed", o.seed}, {"level", 0.95}, {"method", "poisson"}}},
            {"first_positions", o.first_positions}, {"n_responses", r.n_responses}};
  json tj = json::array();
  for (const AttributeRow& row : r.rows)
    tj.push_back({{"teacher", row.teacher},
                  {"rank", row.rank},
                  {"student_share_rank", row.student_rank},
                  {"beta", row.beta},
                  {"teacher_share", est(row.teacher_share)},
                  {"student_share", est(row.student_share)},
                  {"teacher_share_pooled", num(row.teacher_share_pooled)},
                  {"student_share_pooled", num(row.student_share_pooled)},
                  {"summed_teacher_correct_minus_incorrect", num(row.summed_correct_minus_incorrect)},
                  {"beta_search", row.search ? beta_json(*row.search) : json(nullptr)}});
  j["teachers"] = tj;
  j["consistent"] = r.consistent;
  return j;
}

}  // namespace rdpt
