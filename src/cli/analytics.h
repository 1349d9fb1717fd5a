// Pieces shared by the analytics subcommands (trace, beta, select, attribute, align): model
// lookup, reading scores out of the store, and JSON/CSV writers of the core results.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "rdpt/beta.h"
#include "rdpt/curves.h"
#include "rdpt/store.h"

namespace rdpt::cli {

// mid of model `name`, or UsageError naming the option, the store and the models it holds.
int64_t require_model(Store& st, const std::string& name, const std::string& option);

// Per-action p (NaN where unscored, or for an absent or failed pair). Throws DataError naming
// the record when the pair's action count differs from the response's.
void pair_probs(const std::optional<PairScore>& s, const StoredResponse& r, std::vector<double>& out);
// Per-action token counts (empty when the pair is absent or failed).
void pair_tokens(const std::optional<PairScore>& s, const StoredResponse& r, std::vector<uint32_t>& out);

// "auto" -> nullopt; else a number >= 0 (UsageError otherwise).
std::optional<double> parse_beta_option(const std::string& s);

// Streams the store once with mids {teacher, student[, distilled]} and runs the beta search.
// `keep` (optional) filters responses by id.
BetaResult search_beta(Store& st, const BetaOptions& opts, int64_t teacher, int64_t student, int64_t distilled,
                       const std::function<bool(const StoredResponse&)>& keep = {});

nlohmann::json beta_json(const BetaResult& r);
nlohmann::json curves_json(const Curves& c);
// Long format: j,subset,n,type,count,fraction,lo,hi,mean_cum_tokens (one row per j, subset, type).
void write_curves_csv(std::ostream& os, const Curves& c);
// A CSV field, quoted when it holds a comma, quote or newline.
std::string csv_field(const std::string& s);
// Shortest round-trip text of a double; "" for NaN.
std::string csv_number(double x);

// A number for humans (4 significant digits); "-" for NaN.
std::string fmt_share(double x);

// Reads non-empty lines of a file (ids lists); throws Error naming the file when unreadable.
std::vector<std::string> read_lines(const std::string& path);

}  // namespace rdpt::cli
