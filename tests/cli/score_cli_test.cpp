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
#include <thread>

#include "rdpt/store.h"

namespace fs = std::filesystem;

namespace {

#ifdef RDPT_FIXTURE_TOOL
std::string model(uint64_t seed) {
  fs::create_directories(RDPT_FIXTURE_DIR);
  std::string out = std::string(RDPT_FIXTURE_DIR) + "/cli-gpt2-s" + std::to_string(seed) + ".gguf";
  if (fs::exists(out)) return out;
  std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + RDPT_LLAMA_SOURCE_DIR +
                    "/models/ggml-vocab-gpt-2.gguf --out " + out + ".part --seed " + std::to_string(seed) +
                    " --scale 0.1 --output-scale 0.6 --threads 2 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture tool failed: " + cmd);
  fs::rename(out + ".part", out);
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
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = std::string(RDPT_BINARY) + " score " + args(killed) + " 2>/dev/null";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), (char*)nullptr);
    _exit(127);
  }
  bool killed_mid_run = false;
  for (int i = 0; i < 3000; ++i) {
    int64_t n = count_scores(killed);
    if (n >= 3) {
      kill(pid, SIGKILL);
      killed_mid_run = n < 24;
      break;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      pid = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
  EXPECT_TRUE(killed_mid_run) << "the run ended before it could be killed";
  const int64_t partial = count_scores(killed);
  CmdResult r2 = run(args(killed));
  ASSERT_EQ(r2.rc, 0) << r2.err;
  if (partial > 0 && partial < 12) EXPECT_NE(r2.err.find("already scored"), std::string::npos) << r2.err;
  PairMap got = read_store(killed);
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
  // A third run has nothing left to do.
  CmdResult r3 = run(args(killed));
  ASSERT_EQ(r3.rc, 0) << r3.err;
  EXPECT_NE(r3.err.find("scored 0 responses"), std::string::npos) << r3.err;
  EXPECT_NE(r3.err.find("12 already scored"), std::string::npos) << r3.err;
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
  EXPECT_EQ(run("--data " + input_ + " --model t=/no/such.gguf --store x.db").rc, 2);
  EXPECT_EQ(run("--data " + input_ + " --model t=" + teacher_ + " --model t=" + student_ + " --store x.db").rc, 2);
  CmdResult none = run("--data " + input_ + " --model t=" + teacher_);
  EXPECT_EQ(none.rc, 2);
  EXPECT_NE(none.err.find("--store"), std::string::npos) << none.err;
}
#endif

}  // namespace
