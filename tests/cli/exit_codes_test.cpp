// Exit codes of every subcommand, table-driven (issue 12, items 14-16): 0 ok, 1 runtime error
// (a missing store, data or model file, bad data), 2 usage error (unknown option, bad option
// value, unknown model, one model in two roles), 3 finished with failed pairs/completions. The
// codes are checked against README.md's exit-code table and `rdpt --help`; the prompt a model
// sees is checked to be the same in `rdpt score` and `rdpt sample`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_fixture.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace {

namespace fs = std::filesystem;
using rdpt_test::CmdResult;

// Codes documented in README.md: the rows "| N | meaning |" of the table under "Exit codes".
std::map<int, std::string> readme_exit_codes() {
  std::ifstream in(std::string(RDPT_TEST_DATA) + "/../README.md");
  std::map<int, std::string> codes;
  std::string line;
  bool in_table = false;
  const std::regex row(R"(^\|\s*`?(\d+)`?\s*\|\s*(.*?)\s*\|\s*$)");
  while (std::getline(in, line)) {
    if (line.rfind("| exit code |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("| ---", 0) == 0) continue;
    std::smatch m;
    if (!std::regex_match(line, m, row)) break;
    codes[std::stoi(m[1])] = m[2];
  }
  return codes;
}

class ExitCodes : public rdpt_test::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    // A store with teacher, student and distilled scores of four responses (two questions).
    store_ = path("s.db");
    auto st = rdpt::Store::open(store_, rdpt::OpenMode::Create);
    const int64_t mids[] = {st->put_model({.name = "teacher", .backend = "import", .fingerprint = "t"}),
                            st->put_model({.name = "student", .backend = "import", .fingerprint = "s"}),
                            st->put_model({.name = "distilled", .backend = "import", .fingerprint = "d"})};
    std::ofstream d(path("d.jsonl"));
    for (int i = 0; i < 4; ++i) {
      rdpt::StoredResponse r;
      r.id = "r" + std::to_string(i);
      r.group = "q" + std::to_string(i % 2);
      r.question = "What is " + std::to_string(i % 2) + "+1?";
      r.response = "Wait, compute it. The answer is " + std::to_string(i % 2 + 1) + ".";
      r.correct = i < 2;
      r.actions = rdpt::segment(r.response);
      const int64_t rid = st->put_response(r);
      for (int m = 0; m < 3; ++m) {
        rdpt::PairScore ps;
        for (size_t a = 0; a < r.actions.size(); ++a) {
          ps.actions.push_back({2, -0.1 * double(1 + (a + m + i) % 5)});
          ps.n_tokens += 2;
        }
        ps.n_tokens_total = ps.n_tokens;
        st->put_scores(mids[m], rid, ps);
      }
      d << "{\"id\":\"" << r.id << "\",\"question_id\":\"" << r.group << "\",\"question\":\"" << r.question
        << "\",\"response\":\"" << r.response << "\",\"answer\":\"" << (i % 2 + 1) << "\"}\n";
    }
  }

  // {store} {data} {dir} in args are replaced by the store, the data file and the test's folder.
  CmdResult run(std::string args) const {
    for (auto [key, val] : {std::pair<std::string, std::string>{"{store}", store_},
                            {"{data}", path("d.jsonl")}, {"{dir}", dir_.string()}})
      for (size_t p; (p = args.find(key)) != std::string::npos;) args.replace(p, key.size(), val);
    return rdpt(args);
  }
  std::string store_;
};

struct Case {
  int code;
  std::string args;
};

// An unreachable server (nothing listens on port 1 of localhost).
const std::string kDeadServer = "t=http://127.0.0.1:1/v1";

const std::vector<Case> kCases = {
    // 0: it worked.
    {0, "segment --data {data} --out {dir}/seg.jsonl"},
    {0, "import --data {data} --store {dir}/new.db"},
    {0, "export --store {store} --format csv --out {dir}/x.csv"},
    {0, "grade --data {data} --out {dir}/g.jsonl"},
    {0, "trace --store {store} --beta 0.1 --out-dir {dir}/trace --no-progress"},
    {0, "beta --store {store} --out {dir}/b.json"},
    {0, "select --data {data} --store {store} --beta 0.1 --out {dir}/sel.jsonl"},
    {0, "attribute --store {store} --teacher teacher --beta 0.1 --bootstrap 10 --out {dir}/a.json"},
    {0, "align --store {store} --set all=id-prefix:r --out {dir}/al.json"},
    {0, "report --store {store} --out {dir}/r.html --quiet"},
    {0, "merge --store {dir}/merged.db {store} --no-progress"},
    {0, "score --data {data} --model " + kDeadServer + " --prompt-format 'Q: {question}' --show-prompt"},
    {0, "sample --data {data} --model " + kDeadServer + " --prompt-format 'Q: {question}' --show-prompt"},
    {0, "trace --store {store} --teacher student --student student --beta 0.1 --out-dir {dir}/t2 --allow-same-model"},
    // 1: a missing store, data or model file.
    {1, "segment --data {dir}/missing.jsonl"},
    {1, "import --data {dir}/missing.jsonl --store {dir}/new.db"},
    {1, "export --store {dir}/missing.db"},
    {1, "grade --data {dir}/missing.jsonl"},
    {1, "grade --store {dir}/missing.db"},
    {1, "trace --store {dir}/missing.db --out-dir {dir}/trace"},
    {1, "beta --store {dir}/missing.db"},
    {1, "select --data {data} --store {dir}/missing.db --out {dir}/sel.jsonl"},
    {1, "select --data {dir}/missing.jsonl --store {store} --out {dir}/sel.jsonl"},
    {1, "attribute --store {dir}/missing.db --teacher teacher"},
    {1, "align --store {dir}/missing.db --set all=id-prefix:r"},
    {1, "report --store {dir}/missing.db --out {dir}/r.html"},
    {1, "merge --store {dir}/merged.db {dir}/missing.db"},
    {1, "score --data {dir}/missing.jsonl --store {dir}/new.db --model " + kDeadServer + " --prompt-format '{question}'"},
    {1, "score --data {data} --store {dir}/new.db --model t={dir}/missing.gguf"},
    {1, "sample --data {dir}/missing.jsonl --model " + kDeadServer + " --prompt-format '{question}'"},
    {1, "sample --data {data} --model t={dir}/missing.gguf"},
    // 2: an unknown option, a bad option value, an unknown model, one model in two roles.
    {2, "segment --data {data} --no-such-option"},
    {2, "segment --data {data} --layout bogus"},
    {2, "import --data {data} --store {dir}/new.db --no-such-option"},
    {2, "import --store {dir}/new.db"},
    {2, "export --store {store} --format xml"},
    {2, "grade --data {data} --no-such-option"},
    {2, "grade --data {data} --layout bogus"},
    {2, "trace --store {store} --out-dir {dir}/trace --no-such-option"},
    {2, "trace --store {store} --out-dir {dir}/trace --beta lots"},
    {2, "trace --store {store} --out-dir {dir}/trace --teacher nobody"},
    {2, "trace --store {store} --out-dir {dir}/trace --teacher student"},
    {2, "trace --store {store} --out-dir {dir}/trace --distilled teacher"},
    {2, "beta --store {store} --no-such-option"},
    {2, "beta --store {store} --teacher student"},
    {2, "beta --store {store} --student distilled"},
    {2, "select --data {data} --store {store} --out {dir}/sel.jsonl --strategy best"},
    {2, "select --data {data} --store {store} --out {dir}/sel.jsonl --teacher student"},
    {2, "attribute --store {store} --teacher teacher --beta lots"},
    {2, "attribute --store {store} --teacher teacher --teacher student"},
    {2, "attribute --store {store} --teacher distilled"},
    {2, "align --store {store} --set nonsense"},
    {2, "align --store {store} --set all=id-prefix:r --teacher distilled"},
    {2, "report --store {store} --out {dir}/r.html --beta lots"},
    {2, "report --store {store} --out {dir}/r.html --student teacher"},
    {2, "merge --store {dir}/merged.db"},
    {2, "merge --store {dir}/merged.db {store} --no-such-option"},
    {2, "score --data {data} --store {dir}/new.db --model t={dir}/missing.gguf --shard 1/1"},
    {2, "score --data {data} --store {dir}/new.db --model nonsense"},
    {2, "score --data {data} --store {dir}/new.db --model " + kDeadServer + " --no-such-option"},
    {2, "sample --data {data} --model " + kDeadServer + " --top-p 0"},
    {2, "sample --data {data} --model " + kDeadServer + " --template chatml --prompt-format '{question}'"},
    {2, "no-such-command"},
    // 3: the run finished, but completions failed (`rdpt score`'s failed pairs: bad_input_test).
    {3, "sample --data {data} --model " + kDeadServer + " --prompt-format '{question}' --max-retries 0"},
};

TEST_F(ExitCodes, EverySubcommandFollowsTheDocumentedCodes) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.args);
    const CmdResult r = run(c.args);
    EXPECT_EQ(r.rc, c.code) << r.err;
    if (c.code == 1 || c.code == 2) {  // an error is one line on stderr
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
    }
  }
}

TEST_F(ExitCodes, TheReadmeTableAndHelpListTheCodesTheCommandsUse) {
  const auto documented = readme_exit_codes();
  std::set<int> doc_codes, used;
  for (const auto& [code, meaning] : documented) doc_codes.insert(code);
  for (const auto& c : kCases) used.insert(c.code);
  EXPECT_EQ(doc_codes, used) << "README.md's exit-code table and the codes this test exercises differ";
  const CmdResult help = run("--help");
  const size_t at = help.out.find("exit codes:");
  ASSERT_NE(at, std::string::npos) << help.out;
  const std::string line = help.out.substr(at, help.out.find('\n', at) - at);
  for (const auto& [code, meaning] : documented)
    EXPECT_NE(line.find(" " + std::to_string(code) + " "), std::string::npos) << "rdpt --help lacks code " << code;
}

TEST_F(ExitCodes, OneModelInTwoRolesNamesTheRolesAndTheModel) {
  const CmdResult r = run("trace --store {store} --out-dir {dir}/trace --teacher student");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--teacher and --student both name model 'student'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-same-model"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("trace")));
}

// `rdpt score` and `rdpt sample` build the same prompt from the same --prompt-format: escapes
// decoded alike, one substitution pass (a system text holding "{question}" stays), and '' is
// the empty prompt. --show-prompt prints it without contacting the server.
TEST_F(ExitCodes, ScoreAndSampleFormatTheSamePrompt) {
  write("sys.jsonl",
        "{\"id\":\"a\",\"question\":\"2+2?\",\"system\":\"repeat {question} twice\",\"response\":\"4.\"}\n");
  auto prompt_of = [&](const std::string& cmd, const std::string& format) {
    const CmdResult r = run(cmd + " --data {dir}/sys.jsonl --model " + kDeadServer + " --prompt-format " + format +
                            " --show-prompt");
    EXPECT_EQ(r.rc, 0) << cmd << ": " << r.err;
    const size_t b = r.out.find("===\n"), e = r.out.find("\n=== end of prompt");
    if (b == std::string::npos || e == std::string::npos || e < b + 4) return std::string("<no prompt: ") + r.out + ">";
    return r.out.substr(b + 4, e - b - 4);
  };
  const std::string expected = "S: repeat {question} twice\nQ: 2+2?\nA:";
  EXPECT_EQ(prompt_of("score", "'S: {system}\\nQ: {question}\\nA:'"), expected);
  EXPECT_EQ(prompt_of("sample", "'S: {system}\\nQ: {question}\\nA:'"), expected);
  EXPECT_EQ(prompt_of("score", "''"), "");
  EXPECT_EQ(prompt_of("sample", "''"), "");
}

}  // namespace
