// End-to-end tests of `rdpt score` with fixture models: resumability after SIGKILL, refusal of
// another file under a stored name, --show-prompt, usage errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "rdpt/store.h"

namespace fs = std::filesystem;

namespace {

#ifdef RDPT_FIXTURE_TOOL
std::string model(uint64_t seed) {
  fs::create_directories(RDPT_FIXTURE_DIR);
  std::string out = std::string(RDPT_FIXTURE_DIR) + "/cli-gpt2-s" + std::to_string(seed) + ".gguf";
  if (fs::exists(out)) return out;
  const std::string part = out + ".part" + std::to_string(::getpid());
  std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + RDPT_LLAMA_SOURCE_DIR +
                    "/models/ggml-vocab-gpt-2.gguf --out " + part + " --seed " + std::to_string(seed) +
                    " --scale 0.1 --output-scale 0.6 --threads 2 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture tool failed: " + cmd);
  fs::rename(part, out);  // atomic: parallel test processes may build the same model
  return out;
}

struct CmdResult {
  int rc;
  std::string out, err;
};

// ctest runs each test in its own process, several at once: every file lives in a directory of this process.
std::string work_dir() {
  static const std::string dir = [] {
    fs::path d = fs::path(testing::TempDir()) / ("rdpt_score_cli_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d.string();
  }();
  return dir;
}

CmdResult run(const std::string& args) {
  static int n = 0;
  std::string o = work_dir() + "/score_out" + std::to_string(++n), e = o + ".err";
  int st = std::system((std::string(RDPT_BINARY) + " score " + args + " >" + o + " 2>" + e).c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(o), slurp(e)};
}

// A small input: the first 12 real responses (8 samples per question: 2 groups).
std::string make_input() {
  std::string path = work_dir() + "/score_in.jsonl";
  std::string cmd = "zstd -dc " + std::string(RDPT_TEST_DATA) +
                    "/traces/qwen25math_cot_8samples.jsonl.zst | head -12 > " + path + ".full";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error(cmd);
  fs::rename(path + ".full", path);
  return path;
}

using PairMap = std::map<std::pair<std::string, std::string>, rdpt::PairScore>;

PairMap read_store(const std::string& path) {
  auto st = rdpt::Store::open(path, rdpt::OpenMode::ReadOnly);
  PairMap out;
  std::vector<rdpt::ModelInfo> ms = st->models();
  std::vector<int64_t> mids;
  for (auto& m : ms) mids.push_back(m.mid);
  st->for_each_scored(mids, [&](const rdpt::StoredResponse& r, std::span<const std::optional<rdpt::PairScore>> s) {
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i]) out[{ms[i].name, r.id}] = *s[i];
    return true;
  });
  return out;
}

int64_t count_scores(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return 0;
  }
  sqlite3_busy_timeout(db, 2000);
  sqlite3_stmt* s = nullptr;
  int64_t n = 0;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM scores", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

class ScoreCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    teacher_ = model(11);
    student_ = model(12);
    input_ = make_input();
  }
  static std::string teacher_, student_, input_;
  std::string args(const std::string& db) {
    return "--data " + input_ + " --model teacher=" + teacher_ + " --model student=" + student_ + " --store " + db +
           " --prompt-format 'Q: {question}\\nA: ' --ctx 160 --truncate --threads 2 --batch 64 --chunk 2";
  }
};
std::string ScoreCli::teacher_, ScoreCli::student_, ScoreCli::input_;

// Every stored pair of `got` equals the uninterrupted run's `ref` (same status, token counts
// and per-action log-probs).
void expect_same_store(const PairMap& ref, const PairMap& got) {
  ASSERT_EQ(got.size(), ref.size());
  for (const auto& [key, want] : ref) {
    SCOPED_TRACE(key.first + " " + key.second);
    const auto& g = got.at(key);
    EXPECT_EQ(g.status, want.status);
    EXPECT_EQ(g.n_tokens, want.n_tokens);
    EXPECT_EQ(g.n_tokens_total, want.n_tokens_total);
    ASSERT_EQ(g.actions.size(), want.actions.size());
    for (size_t a = 0; a < g.actions.size(); ++a) {
      EXPECT_EQ(g.actions[a].n_tokens, want.actions[a].n_tokens);
      if (want.actions[a].n_tokens)
        EXPECT_NEAR(g.actions[a].logprob_mean(), want.actions[a].logprob_mean(), 1e-3) << "action " << a;
    }
  }
}

// Starts `rdpt score` into `db` and SIGKILLs it when `should_kill(stored pairs, elapsed)` says
// so. Returns the number of pairs stored when it was killed, or -1 when it ended first.
template <class Pred>
int64_t run_and_kill(const std::string& args, const std::string& db, Pred should_kill) {
  pid_t pid = fork();
  if (pid < 0) return -2;
  if (pid == 0) {
    std::string cmd = std::string(RDPT_BINARY) + " score " + args + " 2>/dev/null";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), (char*)nullptr);
    _exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    const int64_t n = count_scores(db);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (should_kill(n, elapsed)) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return n;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

TEST_F(ScoreCli, KilledAndResumedGivesTheSameStore) {
  const std::string full = work_dir() + "/score_full.db", killed = work_dir() + "/score_killed.db";
  fs::remove(full);
  fs::remove(killed);
  CmdResult r = run(args(full));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("model teacher: scored 12 responses"), std::string::npos) << r.err;
  PairMap ref = read_store(full);
  ASSERT_EQ(ref.size(), 24u);

  // Start, SIGKILL once some pairs are stored, resume.
  const int64_t at_kill = run_and_kill(args(killed), killed, [](int64_t n, double) { return n >= 3; });
  EXPECT_TRUE(at_kill >= 0 && at_kill < 24) << "the run ended before it could be killed";
  const int64_t partial = count_scores(killed);
  CmdResult r2 = run(args(killed));
  ASSERT_EQ(r2.rc, 0) << r2.err;
  if (partial > 0 && partial < 12) EXPECT_NE(r2.err.find("already scored"), std::string::npos) << r2.err;
  expect_same_store(ref, read_store(killed));
  // A third run has nothing left to do.
  CmdResult r3 = run(args(killed));
  ASSERT_EQ(r3.rc, 0) << r3.err;
  EXPECT_NE(r3.err.find("scored 0 responses"), std::string::npos) << r3.err;
  EXPECT_NE(r3.err.find("12 already scored"), std::string::npos) << r3.err;
}

// The crash-safety harness: many runs, each SIGKILLed at a random moment (before the store
// exists, while loading models, mid-chunk, mid-commit, after the first model), some killed
// again during the resume; after the last resume the store equals the uninterrupted run's.
TEST_F(ScoreCli, RandomKillsAlwaysResumeToTheSameStore) {
  const std::string full = work_dir() + "/random_full.db";
  fs::remove(full);
  const auto t0 = std::chrono::steady_clock::now();
  CmdResult r = run(args(full));
  const double t_full = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.rc, 0) << r.err;
  const PairMap ref = read_store(full);
  ASSERT_EQ(ref.size(), 24u);

  std::mt19937_64 rng(20261123);
  std::uniform_real_distribution<double> when(0.0, 1.0);
  constexpr int kRuns = 10;
  int n_mid_run = 0;
  // Kill times are drawn within `span`, which shrinks whenever a run ended before its kill
  // (a resumed run has less to do; a loaded machine makes t_full a poor guess) and grows back
  // towards t_full after a kill that landed inside a run.
  double span = t_full;
  for (int run_i = 0; run_i < kRuns; ++run_i) {
    SCOPED_TRACE("run " + std::to_string(run_i));
    const std::string db = work_dir() + "/random_" + std::to_string(run_i) + ".db";
    fs::remove(db);
    // One or two kills at uniform times within an uninterrupted run's duration.
    const int kills = 1 + run_i % 2;
    for (int k = 0; k < kills; ++k) {
      const double at = when(rng) * span;
      const int64_t n = run_and_kill(args(db), db, [at](int64_t, double elapsed) { return elapsed >= at; });
      ASSERT_GE(n, -1) << "fork failed";
      if (n >= 0 && n < 24) {
        ++n_mid_run;
        span = std::min(t_full, span * 1.2);
      } else {
        span *= 0.6;
      }
    }
    CmdResult rr = run(args(db));
    ASSERT_EQ(rr.rc, 0) << rr.err;
    expect_same_store(ref, read_store(db));
    fs::remove(db);
  }
  std::printf("kills that landed inside a run: %d of %d\n", n_mid_run, kRuns + kRuns / 2);
  // Most kills must land inside a run, or the harness tests nothing.
  EXPECT_GE(n_mid_run, kRuns / 2) << "kills landed mostly after the runs ended";
}

TEST_F(ScoreCli, AnotherFileUnderAStoredNameIsRefusedUnlessReplace) {
  const std::string db = work_dir() + "/score_replace.db";
  fs::remove(db);
  std::string base = "--data " + input_ + " --store " + db + " --prompt-format 'Q: {question}\\nA: ' --ctx 160 --truncate --threads 2";
  CmdResult a = run(base + " --model teacher=" + teacher_);
  ASSERT_EQ(a.rc, 0) << a.err;
  CmdResult b = run(base + " --model teacher=" + student_);
  EXPECT_EQ(b.rc, 2);
  EXPECT_NE(b.err.find("teacher"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("--replace"), std::string::npos) << b.err;
  CmdResult c = run(base + " --model teacher=" + student_ + " --replace");
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.err.find("scored 12 responses"), std::string::npos) << c.err;
}

TEST_F(ScoreCli, ShowPromptAndUsageErrors) {
  CmdResult p = run("--data " + input_ + " --model t=" + teacher_ + " --prompt-format '<<{question}>>\\n' --show-prompt");
  ASSERT_EQ(p.rc, 0) << p.err;
  EXPECT_NE(p.out.find("=== t ("), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("<<"), std::string::npos);
  EXPECT_NE(p.out.find(">>\n"), std::string::npos);
  CmdResult t = run("--data " + input_ + " --model t=" + teacher_ + " --template chatml --show-prompt");
  ASSERT_EQ(t.rc, 0) << t.err;
  EXPECT_NE(t.out.find("<|im_start|>user\n"), std::string::npos) << t.out;
  EXPECT_EQ(run("--data " + input_ + " --model nonsense --store x.db").rc, 2);
  EXPECT_EQ(run("--data " + input_ + " --model t=/no/such.gguf --store x.db").rc, 1);  // a missing file
  EXPECT_EQ(run("--data " + input_ + " --model t=" + teacher_ + " --model t=" + student_ + " --store x.db").rc, 2);
  CmdResult none = run("--data " + input_ + " --model t=" + teacher_);
  EXPECT_EQ(none.rc, 2);
  EXPECT_NE(none.err.find("--store"), std::string::npos) << none.err;
}
#endif

}  // namespace
