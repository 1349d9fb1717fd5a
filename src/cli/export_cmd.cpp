// rdpt export: one row per action of every stored response, with its span, text and, per
// model, token count, log-prob sum and p = exp(mean token log-prob). CSV (RFC 4180) or JSONL.
#include <charconv>
#include <cmath>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/pipeline.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace rdpt::cli {
namespace {

enum class Format { Csv, Jsonl };

// Shortest text that reads back as the same double.
void put_double(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// A JSON string (the text is valid UTF-8, checked per response).
void put_json(std::string& out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (uint8_t(c) < 0x20) {
          out += "\\u00";
          out += kHex[uint8_t(c) >> 4];
          out += kHex[uint8_t(c) & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

int run_export(int argc, char** argv) {
  CLI::App app{
      "Write one row per action of every response in a score store: id, group, j (1-based position), begin, "
      "end (byte span in the response), special, text (the action's exact text), then per model "
      "<model>_n_tokens, <model>_logprob_sum and <model>_p = exp(logprob_sum / n_tokens). Where a model has "
      "no usable score for the response (absent or failed) its three columns are empty (CSV) or null (JSONL); "
      "an action that received no token has n_tokens 0 and an empty/null p.",
      "rdpt export"};
  std::string store_path, out = "-";
  std::vector<std::string> names;
  Format format = Format::Csv;
  bool no_text = false;
  app.add_option("--store,-s", store_path, "score store to read (opened read-only)")->required();
  app.add_option("--models", names, "models to export, comma-separated, in this column order (default: every "
                                    "model in the store, in the order they were added)")
      ->delimiter(',');
  static const std::map<std::string, Format> kFormats = {{"csv", Format::Csv}, {"jsonl", Format::Jsonl}};
  app.add_option("--format,-f", format, "csv (RFC 4180 quoting, LF line ends, as every rdpt CSV) or jsonl (default csv)")
      ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case));
  app.add_option("--out,-o", out, "output file (default - = stdout)");
  app.add_flag("--no-text", no_text, "leave out the text column (default: with text)");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;

  auto store = Store::open(store_path, OpenMode::ReadOnly);
  std::vector<ModelInfo> models;
  if (names.empty()) {
    models = store->models();
  } else {
    for (const auto& n : names) models.push_back(require_model(*store, n, "--models"));
  }
  std::vector<int64_t> mids;
  for (const auto& m : models) mids.push_back(m.mid);

  std::vector<std::string> cols = {"id", "group", "j", "begin", "end", "special"};
  if (!no_text) cols.push_back("text");
  const size_t first_model_col = cols.size();
  for (const auto& m : models) {
    for (const char* q : {"_n_tokens", "_logprob_sum", "_p"}) cols.push_back(m.name + q);
  }

  Output output(out);
  std::ostream& os = output.stream();
  const bool csv = format == Format::Csv;
  std::string buf;
  if (csv) {
    for (size_t c = 0; c < cols.size(); ++c) {
      if (c) buf += ',';
      append_csv_field(buf, cols[c]);
    }
    buf += '\n';
  }
  // Starts a value: "," in CSV, ',"key":' in JSON.
  auto field = [&](const std::string& key) {
    buf += ',';
    if (!csv) {
      put_json(buf, key);
      buf += ':';
    }
  };
  TtyProgress progress;
  progress.start("export", uint64_t(store->n_responses()), "responses");
  uint64_t n_resp = 0, n_rows = 0;
  stream_scores(*store, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    if (!no_text && !csv && find_invalid_utf8(r.response) != std::string::npos) {
      throw DataError("record '" + r.id + "': the stored response is not valid UTF-8 at byte " +
                      std::to_string(find_invalid_utf8(r.response)) + "; export it as CSV or with --no-text");
    }
    for (size_t a = 0; a < r.actions.size(); ++a) {
      const Action& act = r.actions[a];
      if (csv) {
        append_csv_field(buf, r.id);
        buf += ',';
        append_csv_field(buf, r.group);
        buf += ',' + std::to_string(a + 1) + ',' + std::to_string(act.begin) + ',' + std::to_string(act.end) +
               (act.special ? ",true" : ",false");
        if (!no_text) {
          buf += ',';
          append_csv_field(buf, action_text(r.response, act));
        }
      } else {
        buf += "{\"id\":";
        put_json(buf, r.id);
        buf += ",\"group\":";
        put_json(buf, r.group);
        buf += ",\"j\":" + std::to_string(a + 1) + ",\"begin\":" + std::to_string(act.begin) +
               ",\"end\":" + std::to_string(act.end) + (act.special ? ",\"special\":true" : ",\"special\":false");
        if (!no_text) {
          buf += ",\"text\":";
          put_json(buf, action_text(r.response, act));
        }
      }
      for (size_t k = 0; k < sc.size(); ++k) {
        const PairView& v = sc[k];
        field(cols[first_model_col + 3 * k]);
        if (v.usable) buf += std::to_string(v.n_tokens[a]);
        else if (!csv) buf += "null";
        field(cols[first_model_col + 3 * k + 1]);
        if (v.usable) put_double(buf, v.logprob[a]);
        else if (!csv) buf += "null";
        field(cols[first_model_col + 3 * k + 2]);
        if (v.usable && v.n_tokens[a]) put_double(buf, v.p[a]);
        else if (!csv) buf += "null";
      }
      buf += csv ? "\n" : "}\n";
      ++n_rows;
    }
    if (buf.size() > (1u << 20)) {
      os.write(buf.data(), std::streamsize(buf.size()));
      buf.clear();
    }
    progress.update(++n_resp);
    return true;
  });
  os.write(buf.data(), std::streamsize(buf.size()));
  output.close();
  progress.finish();
  info("exported " + std::to_string(n_rows) + " actions of " + std::to_string(n_resp) + " responses, " +
       std::to_string(models.size()) + " model(s), from " + store_path);
  return 0;
}

}  // namespace rdpt::cli
