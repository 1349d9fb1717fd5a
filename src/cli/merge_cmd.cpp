// rdpt merge: combine score stores written separately (shards of one dataset, rdpt score --shard
// I/N on several hosts) into one; docs/scale.md.
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/pipeline.h"

namespace rdpt::cli {

int run_merge(int argc, char** argv) {
  CLI::App app{
      "Merge score stores into one (the output is created if absent; it may already hold some of them). One "
      "transaction: a merge that fails or is killed leaves the output as it was, and merging again what is merged "
      "changes nothing. Models must be the same model file and prompt in every store; a record id the same "
      "response; a pair held twice identical (a usable pair replaces a failed one). Merging all shards in one call "
      "orders responses by source file and line, as an unsharded run stores them.",
      "rdpt merge"};
  std::string out_path;
  std::vector<std::string> inputs;
  bool no_progress = false;
  app.add_option("--store,-s", out_path, "the store to merge into (created if absent)")->required();
  app.add_option("inputs", inputs, "stores to merge (e.g. shard-*.db)")->required();
  app.add_flag("--no-progress", no_progress, "no progress line on the terminal");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;

  // The inputs are opened (and so checked) before the output is created; an output this call
  // created is removed again when the merge fails, so that a failed merge leaves nothing behind.
  for (const auto& p : inputs) Store::open(p, OpenMode::ReadOnly);
  const bool existed = std::filesystem::exists(out_path);
  auto out = Store::open(out_path, OpenMode::Create);
  TtyProgress progress(!no_progress);
  MergeStats st;
  try {
    st = merge_stores(*out, inputs, progress, cli_log);
  } catch (...) {
    if (!existed) {
      out.reset();
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(out_path + suffix, ec);
    }
    throw;
  }
  info("store: " + out->path());
  return st.n_pairs_failed ? 3 : 0;  // finished, with failed pairs (as rdpt score)
}

}  // namespace rdpt::cli
