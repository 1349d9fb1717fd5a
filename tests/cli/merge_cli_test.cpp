// End-to-end tests of scale-out: rdpt score --shard I/N on a fixture model, rdpt merge of the
// shards' stores against one unsharded run (byte for byte in rdpt export), and a merge killed with
// SIGKILL then run again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "cli/cli_fixture.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace fs = std::filesystem;

namespace {

class MergeCli : public rdpt_test::CliTest {};

#ifdef RDPT_FIXTURE_TOOL
std::string fixture_model(uint64_t seed) {
  fs::create_directories(RDPT_FIXTURE_DIR);
  const std::string out = std::string(RDPT_FIXTURE_DIR) + "/merge-gpt2-s" + std::to_string(seed) + ".gguf";
  if (fs::exists(out)) return out;
  const std::string part = out + ".part" + std::to_string(::getpid());
  const std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + RDPT_LLAMA_SOURCE_DIR +
                          "/models/ggml-vocab-gpt-2.gguf --out " + part + " --seed " + std::to_string(seed) +
                          " --scale 0.1 --output-scale 0.6 --threads 2 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture tool failed: " + cmd);
  fs::rename(part, out);
  return out;
}

TEST_F(MergeCli, FourShardsMergedEqualOneUnshardedRunInExport) {
  // 24 real responses of 12 questions (every 4th line of the shipped traces).
  const std::string data = path("in.jsonl");
  const std::string cmd = "zstd -dc '" + std::string(RDPT_TEST_DATA) +
                          "/traces/qwen25math_cot_8samples.jsonl.zst' | awk 'NR % 4 == 1' | head -24 > '" + data + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string models = " --model teacher='" + fixture_model(21) + "' --model student='" + fixture_model(22) +
                             "' --template chatml --threads 2";
  auto r = rdpt("score --data '" + data + "' --store '" + path("whole.db") + "'" + models);
  ASSERT_EQ(r.rc, 0) << r.err;
  std::string shards;
  size_t kept = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string db = path("shard" + std::to_string(i) + ".db");
    r = rdpt("score --data '" + data + "' --store '" + db + "' --shard " + std::to_string(i) + "/4" + models);
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string said = "shard " + std::to_string(i) + "/4: ";
    const size_t at = r.err.find(said);
    ASSERT_NE(at, std::string::npos) << r.err;
    kept += std::stoul(r.err.substr(at + said.size()));
    EXPECT_NE(r.err.find(" of 24 responses"), std::string::npos) << r.err;
    shards += " '" + db + "'";
  }
  EXPECT_EQ(kept, 24u) << "the shards partition the data";
  r = rdpt("merge --store '" + path("merged.db") + "'" + shards + " --no-progress");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("merged 4 stores: 24 responses added (0 already there), 48 pairs added"), std::string::npos)
      << r.err;
  const auto whole = rdpt("export --store '" + path("whole.db") + "'");
  ASSERT_EQ(whole.rc, 0) << whole.err;
  const auto merged = rdpt("export --store '" + path("merged.db") + "'");
  ASSERT_EQ(merged.rc, 0) << merged.err;
  EXPECT_GT(whole.out.size(), 5000u);
  EXPECT_EQ(merged.out, whole.out);
  // A shard's run that is resumed, or merged twice, changes nothing.
  r = rdpt("merge --store '" + path("merged.db") + "'" + shards + " --no-progress");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("0 responses added (24 already there), 0 pairs added (48 already there"), std::string::npos)
      << r.err;
  EXPECT_EQ(rdpt("export --store '" + path("merged.db") + "'").out, whole.out);
}
#endif

TEST_F(MergeCli, UsageErrors) {
  EXPECT_EQ(rdpt("merge --store '" + path("o.db") + "'").rc, 2);
  const auto missing = rdpt("merge --store '" + path("o.db") + "' '" + path("missing.db") + "'");
  EXPECT_EQ(missing.rc, 1) << "a missing file is a runtime error, as everywhere";
  EXPECT_NE(missing.err.find(path("missing.db")), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(path("o.db"))) << "a failed merge creates no output";
  const auto r = rdpt("score --data x.jsonl --model t=x.gguf --store '" + path("o.db") + "' --shard 4/4");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--shard: expected I/N with 0 <= I < N"), std::string::npos) << r.err;
  // --shard "$SHARD" with the variable unset: refused, not every response scored by every task
  for (const char* cmd : {"score --data x.jsonl --model t=x.gguf --store '", "sample --data x.jsonl --model t=x.gguf --out '"}) {
    const auto e = rdpt(std::string(cmd) + path("o2.db") + "' --shard ''");
    EXPECT_EQ(e.rc, 2) << cmd;
    EXPECT_NE(e.err.find("--shard: empty: give I/N"), std::string::npos) << e.err;
    EXPECT_FALSE(fs::exists(path("o2.db")));
  }
  const std::string not_a_store = write("notes.txt", "not SQLite\n");
  const auto bad = rdpt("merge --store '" + path("o.db") + "' '" + not_a_store + "'");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find(not_a_store), std::string::npos) << bad.err;
}

// Starts `rdpt merge` into `out`, SIGKILLs it once its transaction has written to the store's
// write-ahead log (or after `limit`); returns whether it was still running then.
bool merge_and_kill(const std::string& args, const std::string& out, std::chrono::duration<double> limit) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = "exec '" + std::string(RDPT_BINARY) + "' merge " + args + " --no-progress 2>/dev/null";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    _exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return false;
    std::error_code ec;
    const auto wal = fs::file_size(out + "-wal", ec);
    if ((!ec && wal > (64u << 10)) || std::chrono::steady_clock::now() - t0 > limit) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return true;
}

TEST_F(MergeCli, AMergeKilledAndRunAgainGivesTheSameStore) {
  // Two stores large enough for a merge to take a while: 4,000 responses of 40 actions x 2 models.
  std::string inputs;
  for (int part = 0; part < 2; ++part) {
    const std::string db = path("in" + std::to_string(part) + ".db");
    auto st = rdpt::Store::open(db, rdpt::OpenMode::Create);
    const int64_t t = st->put_model({.name = "teacher", .backend = "import", .location = "t", .fingerprint = "t"});
    const int64_t s = st->put_model({.name = "student", .backend = "import", .location = "s", .fingerprint = "s"});
    std::mt19937_64 rng{uint64_t(part)};
    st->begin();
    for (int i = 0; i < 2000; ++i) {
      rdpt::StoredResponse r;
      r.id = "p" + std::to_string(part) + "-" + std::to_string(i);
      r.group = "g" + std::to_string(i / 4);
      for (int k = 0; k < 40; ++k) r.response += "Step " + std::to_string(k) + " of " + r.id + ". ";
      r.actions = rdpt::segment(r.response);
      r.source_file = "data.jsonl";
      r.source_line = uint64_t(2 * i + part + 1);  // the two stores interleave in source order
      const int64_t rid = st->put_response(r);
      for (int64_t mid : {t, s}) {
        rdpt::PairScore p;
        for (size_t k = 0; k < r.actions.size(); ++k) p.actions.push_back({3, -double(rng() % 1000) / 100});
        p.n_tokens = p.n_tokens_total = uint32_t(3 * r.actions.size());
        st->put_scores(mid, rid, p);
      }
    }
    st->commit();
    inputs += " '" + db + "'";
  }
  const std::string ref = path("ref.db"), killed = path("killed.db");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = rdpt("merge --store '" + ref + "'" + inputs + " --no-progress");
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::chrono::duration<double> full = std::chrono::steady_clock::now() - t0;
  const auto ref_export = rdpt("export --store '" + ref + "' --no-text");
  ASSERT_EQ(ref_export.rc, 0);
  ASSERT_GT(ref_export.out.size(), 100000u);
  // Killed inside its transaction: nothing of it is in the store; run again: the same store.
  const bool was_running = merge_and_kill("--store '" + killed + "'" + inputs, killed, full * 4);
  EXPECT_TRUE(was_running) << "the merge ended before the kill (" << full.count() << " s)";
  ASSERT_TRUE(fs::exists(killed + "-wal")) << "killed before its transaction wrote";
  {
    auto st = rdpt::Store::open(killed, rdpt::OpenMode::ReadOnly);
    EXPECT_EQ(st->n_responses(), 0) << "a killed merge left part of its work";
    EXPECT_TRUE(st->models().empty());
  }
  r = rdpt("merge --store '" + killed + "'" + inputs + " --no-progress");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(rdpt("export --store '" + killed + "' --no-text").out, ref_export.out);
}

}  // namespace
