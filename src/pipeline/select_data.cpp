// rdpt select over a dataset file: the candidates' ids (pass 1), the chosen records' exact input
// lines (pass 2), and the summary.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unordered_set>

#include "io/parquet.h"
#include "rdpt/error.h"
#include "rdpt/operations.h"
#include "rdpt/pipeline.h"

namespace rdpt {

namespace {

// The record must be the text the store's scores are of.
void check_same_as_stored(Store& store, const Record& rec) {
  const std::optional<int64_t> rid = store.find_response(rec.id);
  if (!rid) return;
  const std::optional<StoredResponse> s = store.get_response(*rid);
  if (!s) return;
  auto check = [&](const char* what, const std::string& was, const std::string& now) {
    if (was == now) return;
    const size_t k = size_t(
        std::mismatch(was.begin(), was.begin() + std::min(was.size(), now.size()), now.begin()).first - was.begin());
    throw DataError(fmt::format(
        "{}:{}: record '{}': its {} differs from the one stored under this id in '{}' ({} bytes stored, {} given, "
        "first difference at byte {}); the store's scores are of the stored text: give the data that was scored "
        "(the same file, layout and field options), or score this data into a new store",
        rec.file, rec.line, rec.id, what, store.path(), was.size(), now.size(), k));
  };
  check("response", s->response, rec.response);
  check("question", s->question, rec.question);
  check("system prompt", s->system, rec.system);
}

}  // namespace

SelectCandidates read_candidates(const std::string& data, const ReaderOptions& ropts, Store* store) {
  std::error_code ec;
  if (data == "-" || (!io::is_parquet_path(data) && std::filesystem::exists(data, ec) &&
                      !std::filesystem::is_regular_file(data, ec)))
    throw UsageError("--data '" + data +
                     "': select reads its input twice (the candidates, then the chosen records' lines), so it needs "
                     "a regular file, not stdin or a pipe; save the data to a file first");
  SelectCandidates c;
  std::unordered_set<std::string> ids;
  RecordReader reader(data, ropts);
  Record rec;
  while (reader.next(rec)) {
    if (!ids.insert(rec.id).second) {
      StoredResponse where;
      where.id = rec.id;
      where.source_file = rec.file;
      where.source_line = rec.line;
      throw DataError(duplicate_id_message(where, ropts.fields.id == kLineIds));
    }
    if (store) check_same_as_stored(*store, rec);
    c.order.emplace_back(rec.id, rec.group);
    if (rec.sub_index >= 0) ++c.n_multi;
  }
  c.n_skipped = reader.stats().n_skipped();
  if (c.n_skipped) c.skipped = reader.stats().skipped_summary();
  if (c.order.empty())
    throw DataError("'" + data + "': no records in the input" + (c.skipped.empty() ? "" : " (" + c.skipped + ")"));
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
            {"n_groups_unranked", sum.n_groups_unranked},
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
