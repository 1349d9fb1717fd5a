// rdpt select over a dataset file: the candidates' ids (pass 1), the chosen records' exact input
// lines (pass 2), and the summary.
#include <fmt/format.h>

#include <cmath>
#include <unordered_set>

#include "io/parquet.h"
#include "rdpt/error.h"
#include "rdpt/operations.h"

namespace rdpt {

SelectCandidates read_candidates(const std::string& data, const ReaderOptions& ropts) {
  SelectCandidates c;
  std::unordered_set<std::string> ids;
  RecordReader reader(data, ropts);
  Record rec;
  while (reader.next(rec)) {
    if (!ids.insert(rec.id).second)
      throw DataError(rec.file + ":" + std::to_string(rec.line) + ": duplicate record id '" + rec.id + "'");
    c.order.emplace_back(rec.id, rec.group);
    if (rec.sub_index >= 0) ++c.n_multi;
  }
  return c;
}

uint64_t write_chosen_records(const std::string& data, const ReaderOptions& ropts, const std::vector<uint64_t>& chosen,
                              size_t n_records, std::ostream& out) {
  std::vector<bool> keep(n_records, false);
  for (uint64_t o : chosen) keep[o] = true;
  uint64_t n_lines = 0;
  RecordReader reader(data, ropts);
  Record rec;
  uint64_t order = 0;
  std::string last_written_key;
  while (reader.next(rec)) {
    bool k = keep[order++];
    if (!k) continue;
    // A line holding several responses is written once (its bytes cannot be split).
    std::string key = rec.file + ":" + std::to_string(rec.line);
    if (rec.sub_index >= 0 && key == last_written_key) continue;
    last_written_key = key;
    out << rec.raw << '\n';
    ++n_lines;
  }
  return n_lines;
}

uint64_t write_chosen_parquet(const std::string& data, const ReaderOptions& ropts, const std::vector<uint64_t>& chosen,
                              size_t n_records, const std::string& out) {
  std::vector<bool> keep(n_records, false);
  for (uint64_t o : chosen) keep[o] = true;
  std::vector<std::pair<std::string, uint64_t>> rows;
  RecordReader reader(data, ropts);
  Record rec;
  uint64_t order = 0;
  while (reader.next(rec)) {
    if (!keep[order++]) continue;
    // A row holding several responses is written once.
    if (rec.sub_index >= 0 && !rows.empty() && rows.back().first == rec.file && rows.back().second == rec.line) continue;
    rows.emplace_back(rec.file, rec.line);
  }
  return io::write_parquet_rows(data, rows, out);
}

nlohmann::json select_summary_json(const SelectRunResult& r, const SelectRunOptions& o, const std::string& data,
                                   const std::string& store_path, uint64_t n_records, uint64_t n_lines) {
  using nlohmann::json;
  const SelectSummary& sum = r.summary;
  auto num = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
  json j = {{"data", data},
            {"store", store_path},
            {"strategy", strategy_name(o.select.strategy)},
            {"per_question", o.select.per_question},
            {"budget", o.select.budget},
            {"seed", o.select.seed},
            {"beta", r.typed ? json(r.beta) : json(nullptr)},
            {"beta_source", r.typed ? (o.beta ? "given" : "auto") : "unused"},
            {"n_records", n_records},
            {"n_groups", sum.n_groups},
            {"n_candidates", sum.n_candidates},
            {"n_not_in_store", r.n_not_in_store},
            {"n_not_rankable", sum.n_ineligible},
            {"n_chosen", sum.n_chosen},
            {"n_lines_written", n_lines},
            {"mean_teacher_share_before", num(sum.mean_teacher_share_before)},
            {"mean_teacher_share_after", num(sum.mean_teacher_share_after)}};
  j["beta_search"] = r.search ? beta_json(*r.search) : json(nullptr);
  return j;
}

std::string select_summary_line(const SelectRunResult& r, const SelectRunOptions& o, uint64_t n_lines) {
  const SelectSummary& sum = r.summary;
  const uint64_t budget = o.select.budget;
  return fmt::format(
      "select ({}, K={}{}): {} groups, {} candidates ({} not in store, {} not rankable), chosen {} "
      "({} lines); mean Teacher share before {}, after {}{}",
      strategy_name(o.select.strategy), o.select.per_question, budget ? fmt::format(", budget {}", budget) : "",
      sum.n_groups, sum.n_candidates, r.n_not_in_store, sum.n_ineligible, sum.n_chosen, n_lines,
      fmt_share(sum.mean_teacher_share_before), fmt_share(sum.mean_teacher_share_after),
      r.typed ? fmt::format(" (beta {})", r.beta) : "");
}

}  // namespace rdpt
