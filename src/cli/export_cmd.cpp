// rdpt export: one row per action of every stored response, with its span, text and, per
// model, token count, log-prob sum and p = exp(mean token log-prob). CSV (RFC 4180) or JSONL.
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/operations.h"

namespace rdpt::cli {

int run_export(int argc, char** argv) {
  CLI::App app{
      "Write one row per action of every response in a score store: id, group, j (1-based position), begin, "
      "end (byte span in the response), special, text (the action's exact text), then per model "
      "<model>_n_tokens, <model>_logprob_sum and <model>_p = exp(logprob_sum / n_tokens), and for a model scored "
      "with ranks (rdpt score --ranks) <model>_rank_sum, the sum of its tokens' clipped ranks. Where a model has "
      "no usable score for the response (absent or failed) its columns are empty (CSV) or null (JSONL); "
      "an action that received no token has n_tokens 0 and an empty/null p; a pair scored without ranks has "
      "an empty/null rank sum.",
      "rdpt export"};
  std::string store_path, out = "-";
  std::vector<std::string> names;
  ExportOptions eo;
  bool no_text = false;
  app.add_option("--store,-s", store_path, "score store to read (opened read-only)")->required();
  app.add_option("--models", names, "models to export, comma-separated, in this column order (default: every "
                                    "model in the store, in the order they were added)")
      ->delimiter(',');
  static const std::map<std::string, ExportFormat> kFormats = {{"csv", ExportFormat::Csv}, {"jsonl", ExportFormat::Jsonl}, {"parquet", ExportFormat::Parquet}};
  CLI::Option* format_opt =
      app.add_option("--format,-f", eo.format,
                     "csv (RFC 4180 quoting, LF line ends, as every rdpt CSV), jsonl, or parquet (typed columns, null "
                     "where CSV is empty; needs --out FILE) (default: from the --out name's .csv, .jsonl/.json or "
                     ".parquet; else csv)")
          ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case));
  app.add_option("--out,-o", out, "output file (default - = stdout)");
  app.add_flag("--no-text", no_text, "leave out the text column (default: with text)");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;

  eo.text = !no_text;
  // The name says the format: --out actions.parquet without --format writes Parquet, and a --format
  // that contradicts the name is refused (a .parquet file holding CSV fails every reader).
  {
    std::string lower = out;
    for (char& c : lower) c = char(std::tolower(uint8_t(c)));
    auto ends = [&](const std::string& s) { return lower.size() >= s.size() && lower.compare(lower.size() - s.size(), s.size(), s) == 0; };
    std::optional<ExportFormat> named;
    std::string ext;
    for (const auto& [e, f] : {std::pair<std::string, ExportFormat>{".parquet", ExportFormat::Parquet},
                               {".jsonl", ExportFormat::Jsonl}, {".json", ExportFormat::Jsonl}, {".csv", ExportFormat::Csv}})
      if (ends(e)) {
        named = f;
        ext = e;
      }
    for (const char* c : {".gz", ".zst", ".bz2", ".xz"})
      if (ends(c))
        throw UsageError("--out '" + out + "': rdpt export writes uncompressed files; give a name without '" + c +
                         "' and compress the file afterwards");
    if (named && !format_opt->count()) eo.format = *named;
    if (named && format_opt->count() && *named != eo.format)
      throw UsageError("--out '" + out + "': a " + ext + " name, but --format " +
                       (eo.format == ExportFormat::Parquet ? "parquet" : eo.format == ExportFormat::Jsonl ? "jsonl" : "csv") +
                       "; give a name that matches the format, or leave --format out");
  }
  if (eo.format == ExportFormat::Parquet && out == "-")
    throw UsageError("--format parquet: give --out FILE (a Parquet file is not written to stdout)");
  auto store = Store::open(store_path, OpenMode::ReadOnly);
  const std::vector<ModelInfo> models = resolve_models(*store, names, "--models");
  TtyProgress progress;
  ExportStats st;
  if (eo.format == ExportFormat::Parquet) {
    st = export_actions_parquet(*store, models, eo, out, progress);
  } else {
    Output output(out);
    st = export_actions(*store, models, eo, output.stream(), progress);
    output.close();
  }
  info("exported " + std::to_string(st.n_rows) + " actions of " + std::to_string(st.n_responses) + " responses, " +
       std::to_string(models.size()) + " model(s), from " + store_path);
  return 0;
}

}  // namespace rdpt::cli
