// rdpt export's rows: one per action of every stored response, CSV or JSON Lines.
#include <charconv>

#include "io/parquet.h"
#include "rdpt/error.h"
#include "rdpt/operations.h"
#include "rdpt/pipeline.h"
#include "rdpt/segment.h"

namespace rdpt {
namespace {

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

std::vector<bool> ranked_models(Store& store, std::span<const ModelInfo> models) {
  std::vector<bool> ranked;
  for (const auto& m : models) ranked.push_back(rank_clip_of(store, m.name).has_value());
  return ranked;
}

std::vector<ModelInfo> resolve_models(Store& store, const std::vector<std::string>& names, const std::string& option) {
  if (names.empty()) return store.models();
  std::vector<ModelInfo> models;
  for (const auto& n : names) models.push_back(require_model(store, n, option));
  return models;
}

ExportStats export_actions(Store& store, std::span<const ModelInfo> models, const ExportOptions& options,
                           std::ostream& os, Progress& progress) {
  const bool no_text = !options.text;
  std::vector<int64_t> mids;
  for (const auto& m : models) mids.push_back(m.mid);

  const std::vector<bool> ranked = ranked_models(store, models);
  std::vector<std::string> cols = {"id", "group", "j", "begin", "end", "special"};
  if (!no_text) cols.push_back("text");
  std::vector<size_t> model_col;  // each model's first column
  for (size_t k = 0; k < models.size(); ++k) {
    model_col.push_back(cols.size());
    for (const char* q : {"_n_tokens", "_logprob_sum", "_p"}) cols.push_back(models[k].name + q);
    if (ranked[k]) cols.push_back(models[k].name + "_rank_sum");
  }

  const bool csv = options.format == ExportFormat::Csv;
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
  progress.start("export", uint64_t(store.n_responses()), "responses");
  ExportStats st;
  stream_scores(store, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
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
        field(cols[model_col[k]]);
        if (v.usable) buf += std::to_string(v.n_tokens[a]);
        else if (!csv) buf += "null";
        field(cols[model_col[k] + 1]);
        if (v.usable) put_double(buf, v.logprob[a]);
        else if (!csv) buf += "null";
        field(cols[model_col[k] + 2]);
        if (v.usable && v.n_tokens[a]) put_double(buf, v.p[a]);
        else if (!csv) buf += "null";
        if (ranked[k]) {
          field(cols[model_col[k] + 3]);
          if (!v.rank_sum.empty()) buf += std::to_string(v.rank_sum[a]);
          else if (!csv) buf += "null";
        }
      }
      buf += csv ? "\n" : "}\n";
      ++st.n_rows;
    }
    if (buf.size() > (1u << 20)) {
      os.write(buf.data(), std::streamsize(buf.size()));
      buf.clear();
    }
    progress.update(++st.n_responses);
    return true;
  });
  os.write(buf.data(), std::streamsize(buf.size()));
  progress.finish();
  return st;
}

ExportStats export_actions_parquet(Store& store, std::span<const ModelInfo> models, const ExportOptions& options,
                                   const std::string& path, Progress& progress) {
  using T = io::ParquetWriter::Type;
  std::vector<int64_t> mids;
  for (const auto& m : models) mids.push_back(m.mid);
  std::vector<io::ParquetWriter::Column> cols = {{"id", T::Text},    {"group", T::Text}, {"j", T::Int64},
                                                 {"begin", T::Int64}, {"end", T::Int64},  {"special", T::Bool}};
  if (options.text) cols.push_back({"text", T::Text});
  const std::vector<bool> ranked = ranked_models(store, models);
  for (size_t k = 0; k < models.size(); ++k) {
    cols.push_back({models[k].name + "_n_tokens", T::Int64});
    cols.push_back({models[k].name + "_logprob_sum", T::Double});
    cols.push_back({models[k].name + "_p", T::Double});
    if (ranked[k]) cols.push_back({models[k].name + "_rank_sum", T::Int64});
  }
  io::ParquetWriter w(path, std::move(cols));
  progress.start("export", uint64_t(store.n_responses()), "responses");
  ExportStats st;
  stream_scores(store, mids, [&](const StoredResponse& r, std::span<const PairView> sc) {
    if (options.text && find_invalid_utf8(r.response) != std::string::npos) {
      throw DataError("record '" + r.id + "': the stored response is not valid UTF-8 at byte " +
                      std::to_string(find_invalid_utf8(r.response)) + "; export it as CSV or with --no-text");
    }
    for (size_t a = 0; a < r.actions.size(); ++a) {
      const Action& act = r.actions[a];
      w.put_text(r.id);
      w.put_text(r.group);
      w.put_int(int64_t(a + 1));
      w.put_int(int64_t(act.begin));
      w.put_int(int64_t(act.end));
      w.put_bool(act.special);
      if (options.text) w.put_text(action_text(r.response, act));
      for (size_t k = 0; k < sc.size(); ++k) {
        const PairView& v = sc[k];
        if (v.usable) {
          w.put_int(int64_t(v.n_tokens[a]));
          w.put_double(v.logprob[a]);
        } else {
          w.put_null();
          w.put_null();
        }
        if (v.usable && v.n_tokens[a]) w.put_double(v.p[a]);
        else w.put_null();
        if (ranked[k]) {
          if (!v.rank_sum.empty()) w.put_int(int64_t(v.rank_sum[a]));
          else w.put_null();
        }
      }
      w.end_row();
      ++st.n_rows;
    }
    progress.update(++st.n_responses);
    return true;
  });
  w.finish();
  progress.finish();
  return st;
}

}  // namespace rdpt
