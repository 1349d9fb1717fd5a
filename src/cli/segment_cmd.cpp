// rdpt segment: cut each response into actions and write them with byte spans as JSONL.
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/record.h"
#include "rdpt/segment.h"

namespace rdpt::cli {

int run_segment(int argc, char** argv) {
  CLI::App app{
      "Cut each response into actions (docs/method.md section 1): special tokens (<think>, </think>, <|...|>) are "
      "actions of their own; the rest is cut after . ? ! } ] followed by whitespace and an uppercase letter. "
      "Writes one JSON object per record: {id, group, n_actions, actions: [{j, begin, end, special, text}]}, "
      "spans in bytes of the response; the actions concatenate to the response byte for byte.",
      "rdpt segment"};
  std::string data, out = "-";
  bool no_text = false;
  ReaderOptions ropts;
  SegmentOptions sopts;
  std::vector<std::string> extra;
  bool no_default = false;
  app.add_option("--data,-d", data, "input JSONL (.gz/.zst ok; - for stdin) or Parquet (a file, a directory, or a quoted glob of shards)")->required();
  app.add_option("--out,-o", out, "output JSONL (default - = stdout)");
  app.add_flag("--no-text", no_text, "write spans only, without each action's text");
  add_reader_options(app, ropts);
  add_segment_options(app, sopts, extra, no_default);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  finish_segment_options(sopts, extra, no_default);

  RecordReader reader(data, ropts);
  Output output(out);
  std::ostream& os = output.stream();
  Record rec;
  uint64_t n_actions = 0, n_written = 0;
  // A bad record stops the run; the records before it are kept in --out (nothing computed is lost).
  auto stop = [&](const std::string& what) {
    if (!n_written) throw DataError(what);  // the output is left as it was
    throw DataError(what + " (the " + std::to_string(n_written) + " responses before it were written to " +
                    output.keep_partial() + ")");
  };
  while (true) {
    try {
      if (!reader.next(rec)) break;
    } catch (const DataError& e) {
      stop(e.what());
    }
    std::vector<Action> acts;
    try {
      acts = segment(rec.response, sopts, rec.id);
    } catch (const DataError& e) {
      if (!ropts.skip_bad) stop(rec.file + ":" + std::to_string(rec.line) + ": " + e.what());
      warn(rec.file + ":" + std::to_string(rec.line) + ": skipped: " + e.what());
      continue;
    }
    nlohmann::json j;
    j["id"] = rec.id;
    j["group"] = rec.group;
    j["n_actions"] = acts.size();
    auto& arr = j["actions"] = nlohmann::json::array();
    for (size_t k = 0; k < acts.size(); ++k) {
      nlohmann::json a = {{"j", k + 1}, {"begin", acts[k].begin}, {"end", acts[k].end}, {"special", acts[k].special}};
      if (!no_text) a["text"] = std::string(action_text(rec.response, acts[k]));
      arr.push_back(std::move(a));
    }
    n_actions += acts.size();
    os << j.dump() << '\n';
    ++n_written;
  }
  output.close();
  const auto& st = reader.stats();
  std::string msg = "segmented " + std::to_string(st.n_records) + " responses into " + std::to_string(n_actions) +
                    " actions";
  if (st.n_skipped()) msg += "; " + st.skipped_summary();
  info(msg);
  return 0;
}

}  // namespace rdpt::cli
