// End-to-end tests of `rdpt score` with fixture models: resumability after SIGKILL, refusal of
// another file under a stored name, --show-prompt, usage errors.
#include <gtest/gtest.h>
#include <llama.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "rdpt/store.h"
#include "support/scratch_dir.h"

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
  static const std::string dir = rdpt::testing_support::scratch_dir("rdpt_score_cli").string();
  return dir;
}

CmdResult run(const std::string& args, const std::string& command = "score") {
  static int n = 0;
  std::string o = work_dir() + "/score_out" + std::to_string(++n), e = o + ".err";
  int st = std::system((std::string(RDPT_BINARY) + " " + command + " " + args + " >" + o + " 2>" + e).c_str());
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
      if (want.actions[a].n_tokens) {
        EXPECT_NEAR(g.actions[a].logprob_mean(), want.actions[a].logprob_mean(), 1e-3) << "action " << a;
      }
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
  if (partial > 0 && partial < 12) { EXPECT_NE(r2.err.find("already scored"), std::string::npos) << r2.err; }
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

// Every row of the responses table, all columns, as text (labels and BLOBs included).
std::vector<std::string> responses_table(const std::string& path) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK) << path;
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT quote(rid) || '|' || quote(id) || '|' || quote(group_id) || '|' || quote(question) "
                               "|| '|' || quote(response) || '|' || quote(system) || '|' || quote(answer) || '|' || "
                               "quote(correct) || '|' || quote(source_file) || '|' || quote(source_line) || '|' || "
                               "quote(n_actions) || '|' || quote(spans) || '|' || quote(special) FROM responses ORDER BY rid",
                               -1, &s, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  while (sqlite3_step(s) == SQLITE_ROW) out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

std::vector<std::string> model_names(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& m : rdpt::Store::open(path, rdpt::OpenMode::ReadOnly)->models()) out.push_back(m.name);
  return out;
}

TEST_F(ScoreCli, ScoreStoresRecordsAsImportDoes) {
  const std::string scored = work_dir() + "/score_labels.db", imported = work_dir() + "/import_labels.db";
  fs::remove(scored);
  fs::remove(imported);
  CmdResult a = run("--data " + input_ + " --model teacher=" + teacher_ + " --store " + scored +
                    " --prompt-format 'Q: {question}\\nA: ' --ctx 160 --truncate --threads 2");
  ASSERT_EQ(a.rc, 0) << a.err;
  const std::string o = work_dir() + "/import_labels.err";
  ASSERT_EQ(std::system((std::string(RDPT_BINARY) + " import --data " + input_ + " --store " + imported + " 2>" + o).c_str()), 0);
  const auto want = responses_table(imported), got = responses_table(scored);
  ASSERT_EQ(want.size(), 12u);
  EXPECT_EQ(got, want);
  // The input's labels are there (not NULL).
  size_t n_labelled = 0;
  for (const auto& row : got) n_labelled += row.find("|NULL|") == std::string::npos;
  EXPECT_EQ(n_labelled, 12u) << got[0];
}

TEST_F(ScoreCli, RefusedRunLeavesNoModelAndTheCorrectedRunNeedsNoReplace) {
  const std::string db = work_dir() + "/score_refused.db";
  fs::remove(db);
  const std::string base = "--data " + input_ + " --store " + db + " --model teacher=" + teacher_ +
                           " --ctx 160 --truncate --threads 2";
  CmdResult a = run(base);  // the fixture model has no chat template
  ASSERT_EQ(a.rc, 2) << a.err;
  EXPECT_NE(a.err.find("no chat template"), std::string::npos) << a.err;
  EXPECT_TRUE(model_names(db).empty());
  CmdResult b = run(base + " --template nosuchtemplate");
  ASSERT_EQ(b.rc, 2) << b.err;
  EXPECT_TRUE(model_names(db).empty());
  CmdResult c = run(base + " --prompt-format 'Q: {question}\\nA: '");
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.err.find("scored 12 responses"), std::string::npos) << c.err;
  EXPECT_EQ(model_names(db), std::vector<std::string>{"teacher"});
}

// The same file with another prompt template is refused; with --replace it is rescored under the
// new prompt (its old scores dropped, the stored template updated), and a rerun of that command
// without --replace then finds everything scored.
TEST_F(ScoreCli, ReplaceRescoresTheSameModelUnderAnotherTemplate) {
  const std::string db = work_dir() + "/score_retemplate.db";
  fs::remove(db);
  const std::string in = work_dir() + "/retemplate_in.jsonl";
  ASSERT_EQ(std::system(("head -3 " + input_ + " > " + in).c_str()), 0);
  const std::string base = "--data " + in + " --store " + db + " --model teacher=" + teacher_ + " --threads 2";
  CmdResult a = run(base + " --prompt-format 'Q: {question}\\nA: '");
  ASSERT_EQ(a.rc, 0) << a.err;
  const PairMap first = read_store(db);
  CmdResult b = run(base + " --prompt-format 'Question: {question}\\nAnswer: '");
  ASSERT_EQ(b.rc, 2) << b.err;
  EXPECT_NE(b.err.find("another prompt (stored: 'format:Q: {question}\\nA: '; now: 'format:Question: "),
            std::string::npos)
      << b.err;
  EXPECT_EQ(b.err.find('\n'), b.err.size() - 1) << "one line: " << b.err;
  CmdResult c = run(base + " --prompt-format 'Question: {question}\\nAnswer: ' --replace");
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.err.find("scored 3 responses"), std::string::npos) << c.err;
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT template FROM models WHERE name = 'teacher'", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), "format:Question: {question}\nAnswer: ");
  sqlite3_finalize(st);
  sqlite3_close(h);
  const PairMap second = read_store(db);
  ASSERT_EQ(second.size(), first.size());
  bool any_differs = false;  // another prompt, other log-probs
  for (const auto& [key, p] : second)
    for (size_t k = 0; k < p.actions.size() && k < first.at(key).actions.size(); ++k)
      any_differs |= p.actions[k].logprob_sum != first.at(key).actions[k].logprob_sum;
  EXPECT_TRUE(any_differs) << "the pairs were not rescored under the new prompt";
  CmdResult d = run(base + " --prompt-format 'Question: {question}\\nAnswer: '");
  ASSERT_EQ(d.rc, 0) << d.err;
  EXPECT_NE(d.err.find("3 already scored"), std::string::npos) << d.err;
}

// --truncate: the action the context cuts was scored from its first tokens only; it and every
// action after it are stored unscored, the actions before it equal an uncut run's, and the run
// says how many actions that left unscored.
TEST_F(ScoreCli, TruncationLeavesTheCutActionUnscored) {
  const std::string full = work_dir() + "/trunc_full.db", cut = work_dir() + "/trunc_cut.db";
  fs::remove(full);
  fs::remove(cut);
  const std::string in = work_dir() + "/trunc_in.jsonl";  // the first 6 responses: enough, and quicker
  ASSERT_EQ(std::system(("head -6 " + input_ + " > " + in).c_str()), 0);
  const std::string base = "--data " + in + " --model teacher=" + teacher_ +
                           " --prompt-format 'Q: {question}\\nA: ' --threads 2 --batch 64 --store ";
  CmdResult a = run(base + full + " --ctx 4096");
  ASSERT_EQ(a.rc, 0) << a.err;
  CmdResult b = run(base + cut + " --ctx 160 --truncate");
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_NE(b.err.find("actions cut by or past the context left unscored"), std::string::npos) << b.err;
  const PairMap ref = read_store(full), got = read_store(cut);
  ASSERT_EQ(got.size(), ref.size());
  size_t n_trunc = 0, n_cut_scored_before = 0;
  for (const auto& [key, g] : got) {
    SCOPED_TRACE(key.second);
    const auto& f = ref.at(key);
    ASSERT_EQ(f.status, rdpt::ScoreStatus::Ok) << f.error;
    ASSERT_EQ(g.actions.size(), f.actions.size());
    uint32_t sum = 0;
    for (const auto& as : g.actions) sum += as.n_tokens;
    EXPECT_EQ(g.n_tokens, sum);
    if (g.status != rdpt::ScoreStatus::Truncated) continue;
    ++n_trunc;
    EXPECT_LT(g.n_tokens, g.n_tokens_total);
    size_t j = 0;  // the first unscored action of the truncated pair with tokens in the full run
    while (j < g.actions.size() && (g.actions[j].n_tokens || !f.actions[j].n_tokens)) {
      EXPECT_EQ(g.actions[j].n_tokens, f.actions[j].n_tokens) << "action " << j << " scored in part";
      if (f.actions[j].n_tokens && g.actions[j].n_tokens) {
        EXPECT_NEAR(g.actions[j].logprob_sum, f.actions[j].logprob_sum, 1e-2) << "action " << j;
      }
      ++j;
    }
    ASSERT_LT(j, g.actions.size()) << "a truncated pair with every action scored";
    for (size_t k = j; k < g.actions.size(); ++k) EXPECT_EQ(g.actions[k].n_tokens, 0u) << "action " << k;
    n_cut_scored_before += j > 0;
  }
  EXPECT_GE(n_trunc, 3u) << "the input should overflow a 160-token context several times";
  EXPECT_GE(n_cut_scored_before, 1u);
}

// A seeded random sweep over the numeric options: every combination either gives the default
// run's numbers (per action, within the invariance tests' 1e-3), or fails pairs that do not
// fit a small --ctx with a context error, or is refused with exit 2 and a one-line reason;
// never a crash. Set RDPT_SWEEP_SEED to replay a seed.
TEST_F(ScoreCli, RandomOptionSweepNeverCrashes) {
  const std::string in = work_dir() + "/sweep_in.jsonl";
  {
    std::ofstream f(in);
    f << R"({"id": "a1", "question": "What is 2+2?", "response": "Two plus two. That is 4.\n\nSo the answer is 4."})" "\n"
      << R"({"id": "a2", "question": "What is 2+2?", "response": "It is 4, of course. Wait, let me check: 2+2=4."})" "\n"
      << R"({"id": "b1", "question": "Name a prime.", "response": "Seven is prime. It has no divisors but 1 and 7.\n\nSeven."})" "\n"
      << R"({"id": "b2", "question": "Name a prime.", "response": "2"})" "\n";
  }
  // --kv-f32: as the exact invariance tests (an f16 cache moved log-probs by 1.2e-3 between batch 1 and 64).
  const std::string base = "--data " + in + " --model t=" + teacher_ + " --prompt-format 'Q: {question}\\nA: ' --kv-f32";
  const std::string ref_db = work_dir() + "/sweep_ref.db";
  fs::remove(ref_db);
  CmdResult r0 = run(base + " --store " + ref_db);
  ASSERT_EQ(r0.rc, 0) << r0.err;
  const PairMap ref = read_store(ref_db);
  ASSERT_EQ(ref.size(), 4u);
  for (const auto& [k, p] : ref) ASSERT_EQ(p.status, rdpt::ScoreStatus::Ok) << k.second << ": " << p.error;

  uint64_t seed = 20261201;
  if (const char* e = std::getenv("RDPT_SWEEP_SEED")) seed = std::strtoull(e, nullptr, 10);
  std::printf("option sweep seed %llu (RDPT_SWEEP_SEED=%llu replays it)\n", (unsigned long long)seed,
              (unsigned long long)seed);
  std::mt19937_64 rng(seed);
  // Each option is left out (its default) or drawn from values around the edges: at and below
  // --parallel, 1, the defaults; one run in four also gets a value that must be refused (0,
  // past a range). Runs 0 and 1 are the issue's aborts: --batch 8 (= --parallel) and --ctx 8.
  const std::vector<int64_t> batches = {1, 2, 3, 7, 8, 9, 16, 64, 512};
  const std::vector<int64_t> ubatches = {1, 2, 5, 8, 9, 64, 512};
  const std::vector<int64_t> parallels = {1, 2, 7, 8, 9, 16, 255};
  const std::vector<int64_t> chunks = {1, 2, 3, 64};
  const std::vector<int64_t> ctxs = {0, 8, 9, 16, 40, 64, 256, 1024};
  const std::vector<int64_t> threads = {0, 1, 2, 3};
  const std::vector<std::string> reduces = {"auto", "host", "device"};
  auto pick = [&](const auto& v) { return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)]; };
  auto maybe = [&]() { return std::uniform_int_distribution<int>(0, 9)(rng) < 6; };
  constexpr int kRuns = 16;
  int n_same = 0, n_refused = 0, n_ctx_failed = 0;
  for (int i = 0; i < kRuns; ++i) {
    std::optional<int64_t> batch, ubatch, par, chunk, ctx, thr;
    std::string reduce = "auto";
    if (i == 0) {
      batch = 8, reduce = "host";
    } else if (i == 1) {
      ctx = 8, reduce = "device";
    } else {
      if (maybe()) batch = pick(batches);
      if (maybe()) ubatch = pick(ubatches);
      if (maybe()) par = pick(parallels);
      if (maybe()) chunk = pick(chunks);
      if (maybe()) ctx = pick(ctxs);
      if (maybe()) thr = pick(threads);
      if (maybe()) reduce = pick(reduces);
      if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) switch (std::uniform_int_distribution<int>(0, 6)(rng)) {
          case 0: batch = 0; break;
          case 1: ubatch = 0; break;
          case 2: par = 0; break;
          case 3: par = 256; break;
          case 4: chunk = 0; break;
          case 5: thr = -1; break;
          default: thr = 513; break;
        }
    }
    std::string opts;
    auto add = [&](const char* name, const std::optional<int64_t>& v) {
      if (v) opts += std::string(" ") + name + " " + std::to_string(*v);
    };
    add("--batch", batch), add("--ubatch", ubatch), add("--parallel", par), add("--chunk", chunk);
    add("--ctx", ctx), add("--threads", thr);
    opts += " --reduce " + reduce;
    SCOPED_TRACE("seed " + std::to_string(seed) + " run " + std::to_string(i) + ":" + opts);
    // Refused: a value out of its range, or the device reduction with several ubatches per batch.
    const int64_t b = batch.value_or(512), ub = std::min(ubatch.value_or(512), b);
    const bool bad_value = b == 0 || ubatch.value_or(1) == 0 || par.value_or(1) == 0 || par.value_or(1) > 255 ||
                           chunk.value_or(1) == 0 || thr.value_or(0) < 0 || thr.value_or(0) > 512;
    const bool refused = bad_value || (reduce == "device" && ub != b);
    const std::string db = work_dir() + "/sweep_" + std::to_string(i) + ".db";
    fs::remove(db);
    CmdResult r = run(base + " --store " + db + opts);
    if (refused) {
      ++n_refused;
      EXPECT_EQ(r.rc, 2) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
      EXPECT_NE(r.err.find("--"), std::string::npos) << "names the option: " << r.err;
      continue;
    }
    // 3: finished with failed pairs (only a small --ctx may fail them; checked per pair below).
    ASSERT_TRUE(r.rc == 0 || r.rc == 3) << "exit " << r.rc << ": " << r.err;
    const PairMap got = read_store(db);
    ASSERT_EQ(got.size(), ref.size());
    size_t n_failed_pairs = 0;
    for (const auto& [key, g] : got) n_failed_pairs += g.status == rdpt::ScoreStatus::Failed;
    EXPECT_EQ(r.rc == 3, n_failed_pairs > 0) << "exit 3 exactly when pairs failed: " << r.err;
    bool all_same = true;
    for (const auto& [key, want] : ref) {
      SCOPED_TRACE(key.second);
      const auto& g = got.at(key);
      if (g.status == rdpt::ScoreStatus::Failed) {
        // Only a context smaller than this pair needs may fail it.
        EXPECT_TRUE(ctx && *ctx > 0 && *ctx < 256) << g.error;
        EXPECT_NE(g.error.find("context of " + std::to_string(ctx.value_or(0)) + " tokens"), std::string::npos) << g.error;
        all_same = false;
        continue;
      }
      EXPECT_EQ(g.status, rdpt::ScoreStatus::Ok);
      EXPECT_EQ(g.n_tokens, want.n_tokens);
      ASSERT_EQ(g.actions.size(), want.actions.size());
      for (size_t a = 0; a < g.actions.size(); ++a) {
        EXPECT_EQ(g.actions[a].n_tokens, want.actions[a].n_tokens) << "action " << a;
        if (want.actions[a].n_tokens) {
          EXPECT_NEAR(g.actions[a].logprob_mean(), want.actions[a].logprob_mean(), 1e-3) << "action " << a;
        }
      }
    }
    n_same += all_same;
    n_ctx_failed += !all_same;
    fs::remove(db);
  }
  std::printf("option sweep: %d runs gave the default numbers, %d failed pairs on a small --ctx, %d refused\n",
              n_same, n_ctx_failed, n_refused);
  EXPECT_GE(n_same, 3) << "too few runs scored anything: the sweep checks little";
}

// The real QwQ-32B template (llama.cpp's models/templates/) given to a fixture model: its
// generation prompt ends "<think>\n", the response starts "<think>\n". Those bytes are the
// prompt's: the "<think>" action is unscored, the rest is scored exactly as if the response had
// been given without them (same tokens, same log-probs); under a prompt that does not open the
// thought the "<think>" action is scored.
TEST_F(ScoreCli, RealTemplateAndAThoughtThePromptAlreadyOpened) {
  const std::string qwq = std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/templates/Qwen-QwQ-32B.jinja";
  const std::string dir = work_dir();
  const std::string with = dir + "/think_in.jsonl", without = dir + "/think_stripped.jsonl";
  std::ofstream(with) << R"({"id":"r1","question":"What is 1+1? Réponds.","response":"<think>\nOkay, one plus one. That is two.\n</think>\n\nThe answer is 2."})" << "\n";
  std::ofstream(without) << R"({"id":"r1","question":"What is 1+1? Réponds.","response":"Okay, one plus one. That is two.\n</think>\n\nThe answer is 2."})" << "\n";
  const std::string common = " --model t=" + teacher_ + " --chat-template-file " + qwq +
                             " --chat-template-kwargs '{\"enable_thinking\": true}' --threads 2";
  CmdResult show = run("--data " + with + common + " --show-prompt");
  ASSERT_EQ(show.rc, 0) << show.err;
  EXPECT_NE(show.out.find("<|im_start|>user\nWhat is 1+1? Réponds.<|im_end|>\n<|im_start|>assistant\n<think>\n\n=== end"),
            std::string::npos) << show.out;
  EXPECT_NE(show.out.find("first 8 bytes"), std::string::npos) << show.out;
  const std::string db1 = dir + "/think1.db", db2 = dir + "/think2.db", db3 = dir + "/think3.db";
  for (const auto& db : {db1, db2, db3}) fs::remove(db);
  ASSERT_EQ(run("--data " + with + common + " --store " + db1).rc, 0);
  ASSERT_EQ(run("--data " + without + common + " --store " + db2).rc, 0);
  ASSERT_EQ(run("--data " + with + " --model t=" + teacher_ + " --template chatml --threads 2 --store " + db3).rc, 0);
  const PairMap a = read_store(db1), b = read_store(db2), c = read_store(db3);
  const auto& pa = a.at({"t", "r1"});
  const auto& pb = b.at({"t", "r1"});
  ASSERT_EQ(pa.actions.size(), pb.actions.size() + 1);  // the "<think>" action
  EXPECT_FALSE(pa.actions[0].scored());
  for (size_t i = 0; i < pb.actions.size(); ++i) {
    EXPECT_EQ(pa.actions[i + 1].n_tokens, pb.actions[i].n_tokens) << i;
    EXPECT_NEAR(pa.actions[i + 1].logprob_sum, pb.actions[i].logprob_sum, 1e-9) << i;
  }
  EXPECT_TRUE(c.at({"t", "r1"}).actions[0].scored());  // chatml's prompt does not open the thought
  // A template that fails is an error naming it and its line, never a fallback.
  const std::string bad = dir + "/bad.jinja";
  std::ofstream(bad) << "{{ bos_token }}\n{% for m in messages %}{{ m.content }\n{% endfor %}";
  CmdResult e = run("--data " + with + " --model t=" + teacher_ + " --chat-template-file " + bad + " --show-prompt");
  EXPECT_EQ(e.rc, 2) << e.err;
  EXPECT_NE(e.err.find("chat template (file '" + bad + "') failed to render at line 2"), std::string::npos) << e.err;
  EXPECT_EQ(run("--data " + with + common + " --template-date 2025-02-30 --show-prompt").rc, 2);
  EXPECT_EQ(run("--data " + with + " --model t=" + teacher_ + " --chat-template-kwargs 'x:{}' --show-prompt").rc, 2);
  EXPECT_EQ(run("--data " + with + " --model t=" + teacher_ + " --chat-template-kwargs '[1]' --show-prompt").rc, 2);
  // --template-date belongs to Jinja templates; a model name may hold ':'
  EXPECT_EQ(run("--data " + with + " --model t=" + teacher_ + " --prompt-format 'Q: {question}' --template-date 2025-01-01 --show-prompt").rc, 2);
  CmdResult named = run("--data " + with + " --model 'qwen3:8b=" + teacher_ + "' --chat-template-file 'qwen3:8b=" + qwq +
                        "' --chat-template-kwargs 'qwen3:8b:{\"enable_thinking\": true}' --show-prompt");
  EXPECT_EQ(named.rc, 0) << named.err;
  EXPECT_NE(named.out.find("<|im_start|>assistant\n<think>\n\n=== end"), std::string::npos) << named.out;
}

// gpt-oss's harmony format: the thought is scored in the analysis channel, the answer in the
// final one; the thinking tags are unscored, every other action gets the tokens that cover it;
// and a dataset holding the thought in its own field gives the same store as one holding it inline.
TEST_F(ScoreCli, HarmonyAndSplitReasoningGiveTheSameStore) {
  const std::string oss = std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/templates/openai-gpt-oss-120b.jinja";
  const std::string dir = work_dir();
  const std::string inl = dir + "/oss_inline.jsonl", split = dir + "/oss_split.jsonl";
  std::ofstream(inl) << R"({"id":"r1","question":"What is 1+1?","response":"<think>Okay, one plus one. That is two.</think>The answer is 2."})" << "\n";
  std::ofstream(split) << R"({"id":"r1","question":"What is 1+1?","reasoning_content":"Okay, one plus one. That is two.","content":"The answer is 2."})" << "\n";
  const std::string common = " --model t=" + teacher_ + " --chat-template-file " + oss +
                             " --chat-template-kwargs '{\"reasoning_effort\": \"high\"}' --template-date 2025-08-05 --threads 2";
  CmdResult show = run("--data " + split + common + " --show-prompt");
  ASSERT_EQ(show.rc, 0) << show.err;
  EXPECT_NE(show.out.find("Current date: 2025-08-05"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("<|channel|>analysis<|message|>Okay, one plus one. That is two.<|end|><|start|>assistant"
                          "<|channel|>final<|message|>The answer is 2."),
            std::string::npos) << show.out;
  const std::string db1 = dir + "/oss1.db", db2 = dir + "/oss2.db";
  for (const auto& db : {db1, db2}) fs::remove(db);
  ASSERT_EQ(run("--data " + inl + common + " --store " + db1).rc, 0);
  ASSERT_EQ(run("--data " + split + common + " --store " + db2).rc, 0);
  const PairMap a = read_store(db1), b = read_store(db2);
  expect_same_store(a, b);
  const auto& p = a.at({"t", "r1"});
  ASSERT_GE(p.actions.size(), 4u);
  EXPECT_FALSE(p.actions.front().scored());  // <think>
  uint32_t n_scored = 0, n_unscored = 0;
  for (const auto& act : p.actions) (act.scored() ? n_scored : n_unscored) += 1;
  EXPECT_EQ(n_unscored, 2u);  // <think> and </think>
  EXPECT_EQ(n_scored, p.actions.size() - 2);
  EXPECT_LT(p.n_tokens, p.n_tokens_total);  // the channel headers' tokens belong to no action
}

// One shipped trace, its first paragraph as the thought, held inline and in a separate field,
// scored under fixture models given the real QwQ-32B, R1-Distill-Qwen-32B and gpt-oss-120b
// templates: the two layouts give the same store under each; the bytes only the prompt holds
// (QwQ's and R1's "<think>\n") are unscored, the think tags under gpt-oss too; under the
// <think> families every response token lands in an action.
TEST_F(ScoreCli, ShippedTraceUnderTheTeachersTemplatesInlineOrSplit) {
  const std::string dir = work_dir();
  std::string line;
  {
    std::ifstream in(input_);
    std::getline(in, line);
  }
  const nlohmann::json rec = nlohmann::json::parse(line);
  const std::string resp = rec.at("response").get<std::string>();
  const size_t cut = resp.find("\n\n");
  ASSERT_NE(cut, std::string::npos);
  const std::string thought = resp.substr(0, cut), answer = resp.substr(cut + 2);
  nlohmann::json a = {{"id", "t1"}, {"question", rec.at("question")},
                      {"response", "<think>\n" + thought + "\n</think>\n\n" + answer}};
  nlohmann::json b = {{"id", "t1"}, {"question", rec.at("question")},
                      {"reasoning_content", "\n" + thought + "\n"}, {"content", "\n\n" + answer}};
  const std::string inl = dir + "/trace_inline.jsonl", split = dir + "/trace_split.jsonl";
  std::ofstream(inl) << a.dump() << "\n";
  std::ofstream(split) << b.dump() << "\n";
  const std::string tdir = std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/templates/";
  struct T {
    const char* file;
    const char* kwargs;
    bool harmony;
  };
  for (const T& t : {T{"Qwen-QwQ-32B.jinja", R"({"enable_thinking": true})", false},
                     T{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", R"({"enable_thinking": true})", false},
                     T{"openai-gpt-oss-120b.jinja", R"({"reasoning_effort": "medium"})", true}}) {
    SCOPED_TRACE(t.file);
    const std::string common = " --model t=" + teacher_ + " --chat-template-file " + tdir + t.file +
                               " --chat-template-kwargs '" + t.kwargs + "' --threads 2";
    const std::string d1 = dir + "/tr1.db", d2 = dir + "/tr2.db";
    fs::remove(d1);
    fs::remove(d2);
    CmdResult r1 = run("--data " + inl + common + " --store " + d1);
    ASSERT_EQ(r1.rc, 0) << r1.err;
    ASSERT_EQ(run("--data " + split + common + " --store " + d2).rc, 0);
    const PairMap m1 = read_store(d1), m2 = read_store(d2);
    expect_same_store(m1, m2);
    const auto& p = m1.at({"t", "t1"});
    ASSERT_GT(p.actions.size(), 4u);
    EXPECT_FALSE(p.actions[0].scored());  // "<think>": the prompt's (QwQ, R1) or replaced (gpt-oss)
    size_t n_unscored = 0;
    for (const auto& act : p.actions) n_unscored += !act.scored();
    EXPECT_EQ(n_unscored, t.harmony ? 2u : 1u);
    if (t.harmony) EXPECT_LT(p.n_tokens, p.n_tokens_total);  // the channel headers
    else EXPECT_EQ(p.n_tokens, p.n_tokens_total);            // every token in an action
  }
}

// --ranks: every stored pair carries rank sums; a run without ranks first is completed by the
// run with them (its pairs scored again, with the same log-probs); the clip is recorded per model
// and another one is refused; --rank-clip alone is a usage error.
// One GGUF file scored under two names is said to be one model when the two are given roles;
// --allow-same-model silences it.
TEST_F(ScoreCli, TheSameModelFileInTwoRolesIsAWarning) {
  const std::string db = work_dir() + "/same.db";
  auto r = run("--data " + input_ + " --model teacher=" + teacher_ + " --model student=" + teacher_ + " --store " + db +
               " --prompt-format 'Q: {question}\\nA: ' --ctx 160 --truncate --threads 2 --batch 64");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run("--store " + db + " --distilled none --beta 0.1 --out-dir " + work_dir() + "/same_trace", "trace");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("rdpt: warning: --teacher 'teacher' and --student 'student' are the same model (fingerprint "
                       "gguf:"),
            std::string::npos)
      << r.err;
  r = run("--store " + db + " --distilled none --beta 0.1 --allow-same-model --out-dir " + work_dir() + "/same_trace2",
          "trace");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err.find("same model"), std::string::npos) << r.err;
  // Different files: no warning.
  r = run(args(work_dir() + "/two.db"));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run("--store " + work_dir() + "/two.db --distilled none --beta 0.1 --out-dir " + work_dir() + "/two_trace", "trace");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err.find("same model"), std::string::npos) << r.err;
}

// --ngl on a build without a GPU backend runs on the CPU and says so (it was silently ignored).
TEST_F(ScoreCli, GpuLayersWithoutAGpuBackendAreAWarning) {
  auto r = run(args(work_dir() + "/ngl.db") + " --ngl 99");
  ASSERT_EQ(r.rc, 0) << r.err;
  const bool warned = r.err.find("--ngl 99 asks for GPU layers, but llama.cpp has no GPU device") != std::string::npos;
  EXPECT_EQ(warned, !llama_supports_gpu_offload()) << r.err;
  if (warned) { EXPECT_NE(r.err.find("scripts/setup.sh --cuda"), std::string::npos) << r.err; }
  auto quiet = run(args(work_dir() + "/ngl0.db"));
  ASSERT_EQ(quiet.rc, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("GPU device"), std::string::npos) << quiet.err;
}

// --ranks NAME: only the named models get ranks (and a clip); the others are scored as without
// --ranks. A name that is not a --model of the run is a usage error naming the run's models.
TEST_F(ScoreCli, RanksForNamedModelsOnly) {
  const std::string db = work_dir() + "/ranks_named.db";
  auto bad = run(args(db) + " --ranks studnet");
  EXPECT_EQ(bad.rc, 2) << bad.err;
  EXPECT_NE(bad.err.find("--ranks: no --model named 'studnet' in this run (its models: teacher, student)"),
            std::string::npos)
      << bad.err;
  EXPECT_FALSE(fs::exists(db));
  auto r1 = run(args(db) + " --ranks student --rank-clip 40");
  ASSERT_EQ(r1.rc, 0) << r1.err;
  size_t n_student = 0, n_teacher = 0;
  for (const auto& [k, p] : read_store(db)) {
    if (p.status == rdpt::ScoreStatus::Failed) continue;
    EXPECT_EQ(p.has_ranks, k.first == "student") << k.first << " " << k.second;
    ++(k.first == "student" ? n_student : n_teacher);
  }
  EXPECT_GT(n_student, 0u);
  EXPECT_GT(n_teacher, 0u);
  {
    auto st = rdpt::Store::open(db, rdpt::OpenMode::ReadOnly);
    EXPECT_EQ(st->meta("rank_clip:student"), "40");
    EXPECT_FALSE(st->meta("rank_clip:teacher").has_value());
  }
  // Both named: the teacher's pairs are scored again with ranks, the student's are done.
  auto r2 = run(args(db) + " --ranks teacher,student --rank-clip 40");
  ASSERT_EQ(r2.rc, 0) << r2.err;
  EXPECT_NE(r2.err.find("model student: scored 0 responses"), std::string::npos) << r2.err;
  for (const auto& [k, p] : read_store(db))
    if (p.status != rdpt::ScoreStatus::Failed) {
      EXPECT_TRUE(p.has_ranks) << k.first << " " << k.second;
    }
}

TEST_F(ScoreCli, RanksAreStoredAndUnrankedPairsAreScoredAgain) {
  const std::string db = work_dir() + "/ranks.db";
  auto r0 = run(args(db));
  ASSERT_EQ(r0.rc, 0) << r0.err;
  const PairMap before = read_store(db);
  for (const auto& [k, p] : before) EXPECT_FALSE(p.has_ranks) << k.first << " " << k.second;
  auto r1 = run(args(db) + " --ranks --rank-clip 40");
  ASSERT_EQ(r1.rc, 0) << r1.err;
  EXPECT_EQ(r1.err.find("already scored"), std::string::npos) << "every pair lacked ranks: " << r1.err;
  const PairMap after = read_store(db);
  expect_same_store(before, after);
  size_t n_ranked_actions = 0;
  for (const auto& [k, p] : after) {
    SCOPED_TRACE(k.first + " " + k.second);
    if (p.status == rdpt::ScoreStatus::Failed) continue;
    EXPECT_TRUE(p.has_ranks);
    for (const auto& a : p.actions) {
      // Each token's clipped rank is in 1..40.
      EXPECT_GE(a.rank_sum, uint64_t(a.n_tokens));
      EXPECT_LE(a.rank_sum, uint64_t(a.n_tokens) * 40);
      n_ranked_actions += a.n_tokens > 0;
    }
  }
  EXPECT_GT(n_ranked_actions, 20u);
  {
    auto st = rdpt::Store::open(db, rdpt::OpenMode::ReadOnly);
    EXPECT_EQ(st->meta("rank_clip:teacher"), "40");
    EXPECT_EQ(st->meta("rank_clip:student"), "40");
  }
  auto r2 = run(args(db) + " --ranks --rank-clip 40");  // resumed: nothing left to do
  ASSERT_EQ(r2.rc, 0) << r2.err;
  EXPECT_NE(r2.err.find("12 already scored"), std::string::npos) << r2.err;
  auto r3 = run(args(db) + " --ranks");  // the default clip, 100, differs from the stored one
  EXPECT_EQ(r3.rc, 2) << r3.err;
  EXPECT_NE(r3.err.find("clipped at 40"), std::string::npos) << r3.err;
  auto r4 = run(args(db) + " --rank-clip 5");
  EXPECT_EQ(r4.rc, 2) << r4.err;
  EXPECT_NE(r4.err.find("--ranks"), std::string::npos) << r4.err;
  // --replace with another file under "teacher": its old scores and clip go, the new clip comes
  // with the new ranked pairs.
  auto r5 = run("--data " + input_ + " --model teacher=" + student_ + " --store " + db +
                " --prompt-format 'Q: {question}\\nA: ' --ctx 160 --truncate --threads 2 --batch 64 --ranks --rank-clip 30"
                " --replace");
  ASSERT_EQ(r5.rc, 0) << r5.err;
  {
    auto st = rdpt::Store::open(db, rdpt::OpenMode::ReadOnly);
    EXPECT_EQ(st->meta("rank_clip:teacher"), "30");
    EXPECT_EQ(st->meta("rank_clip:student"), "40");
  }
  for (const auto& [k, p] : read_store(db))
    if (k.first == "teacher" && p.status != rdpt::ScoreStatus::Failed) {
      EXPECT_TRUE(p.has_ranks) << k.second;
      for (const auto& a : p.actions) EXPECT_LE(a.rank_sum, uint64_t(a.n_tokens) * 30) << k.second;
    }
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
