// The HTML report (`rdpt report`): one self-contained page that opens offline, with curves by
// position, beta histograms, a trace viewer, optional selection/attribution/alignment sections
// and the run's metadata. docs/report.md describes the views and every choice made here.
//
// Data flow: two streaming passes over the store (for_each_scored; memory bounded by one
// response plus the aggregates and the embedded viewer pages):
//   pass 1: beta search over every candidate, counts, and the viewer sample (hash of seed + id);
//   pass 2: types with the chosen beta -> curves, type shares, behaviours; viewer pages written.
// Untrusted text (responses, ids, model names, JSON inputs) only ever reaches the page inside
// <script type="application/json"> blocks with '<', '>', '&', U+2028 and U+2029 escaped as \uXXXX,
// and the page's script renders it with textContent. A Content-Security-Policy with the SHA-256
// of each inline script blocks any other script (inline handlers included) and all network access.
// Example:
//   auto st = rdpt::Store::open("scores.db", rdpt::OpenMode::ReadOnly);
//   std::ofstream out("report.html");
//   rdpt::report::ReportStats s = rdpt::report::write_report(*st, {}, out);
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "rdpt/progress.h"
#include "rdpt/store.h"

namespace rdpt::report {

// A JSON file produced by another command, shown in its own section.
struct ExtraInput {
  std::string kind;  // "selection", "attribution" or "alignment"
  std::string path;  // shown in the page
  std::string json;  // the file's text (must parse as JSON; DataError names the path otherwise)
};

// Another run drawn beside the report's own on the Comparison tab: a store (the same one or
// another) typed with its own model names and the report's thresholds (beta auto: its own search).
struct CompareRun {
  std::string label;       // shown in the page (non-empty, unique)
  Store* store = nullptr;  // open for reading while write_report runs
  std::string teacher, student, distilled;  // empty: the report's own names
};

struct ReportOptions {
  std::string teacher = "teacher";      // model names in the store
  std::string student = "student";
  std::string distilled = "distilled";  // empty: three-way types (teacher vs student, docs/method.md section 4)
  bool distilled_optional = true;       // a missing distilled model means three-way (else UsageError)
  double alpha = 0.1;                   // Shared band (four-way)
  std::optional<double> beta;           // nullopt: chosen by docs/method.md section 5
  std::vector<double> beta_candidates;  // empty: the procedure's default list
  uint32_t max_positions = 0;           // curve positions kept (0: all)
  uint64_t token_mark = 4096;           // token-count marks every this many tokens (0: none)
  uint32_t viewer_responses = 2000;     // responses embedded in the viewer (0: no count limit)
  uint64_t viewer_bytes = 64ull << 20;  // budget of embedded response text in bytes (0: no limit)
  std::vector<std::string> viewer_ids;  // always embedded (UsageError when absent from the store)
  uint64_t seed = 0;                    // viewer sample seed
  uint32_t page_responses = 200;        // responses per embedded viewer page (>= 1)
  std::string title;                    // page title (empty: "rdpt report: <store file>")
  std::vector<ExtraInput> extras;
  std::string generated_at;             // shown in metadata (empty: now, UTC)
  // Comparison tab: the report's own run (labelled `label`, empty: the store file's name) and
  // these, each curve with its difference to the report's own and Newcombe's 95% interval.
  std::string label;
  std::vector<CompareRun> compare;
};

struct ReportStats {
  uint64_t n_responses = 0;   // responses in the store
  uint64_t n_typed = 0;       // responses with at least one typed action
  uint64_t n_embedded = 0;    // responses embedded in the viewer
  uint64_t n_positions = 0;   // curve positions
  double beta = 0;            // beta used
  bool beta_auto = true;      // beta chosen by the search
  bool four_way = true;       // scheme used
  uint64_t bytes_written = 0;
};

// Writes the page to out. Throws UsageError for unknown model names, bad thresholds or options,
// and a build without the libraries (RDPT_WITH_REPORT=OFF); DataError for an unreadable extra
// input or a store without any typed action; StoreError from the store.
ReportStats write_report(Store& store, const ReportOptions& opts, std::ostream& out, Progress* progress = nullptr);

// Helpers, exposed for tests.
// JSON text safe inside <script type="application/json">: '<' '>' '&' U+2028 U+2029 as \uXXXX.
std::string script_safe_json(const std::string& json_text);
// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view s);
// SHA-256 of data, base64 (as CSP source expressions want it).
std::string sha256_base64(std::string_view data);
// A probability as the viewer embeds it: its surprisal -ln p in units of 1e-5 nat (0 for
// p >= 1, kSurprisalCap for p <= 0 or below e^-10000), -1 for NaN (unscored). The page reads
// p = exp(-v / 1e5): relative error under 5e-6 at any magnitude (1e-4 units showed 2e-5 as 0).
constexpr int kSurprisalCap = 1000000000;
int quantise_probability(double p);

}  // namespace rdpt::report
