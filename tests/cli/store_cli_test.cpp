// End-to-end tests of `rdpt import` and `rdpt export` (docs/store.md), running the built rdpt.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_fixture.h"
#include "rdpt/record.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using rdpt_test::CmdResult;
using rdpt_test::slurp;
using StoreCli = rdpt_test::CliTest;

// RFC 4180 reader (quoted fields, doubled quotes) of rdpt's dialect: records end in LF.
std::vector<std::vector<std::string>> parse_csv(const std::string& s) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string f;
  bool q = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (q) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        f += '"';
        ++i;
      } else if (c == '"') {
        q = false;
      } else {
        f += c;
      }
    } else if (c == '"') {
      q = true;
    } else if (c == ',') {
      row.push_back(f);
      f.clear();
    } else if (c == '\n') {
      row.push_back(f);
      f.clear();
      rows.push_back(row);
      row.clear();
    } else {
      f += c;
    }
  }
  EXPECT_FALSE(q) << "unterminated quote";
  EXPECT_TRUE(f.empty() && row.empty()) << "last record without LF";
  return rows;
}

const std::string kR1 = "Hello world. Next one.";
const std::string kR2 = "<think>\nCaf\xc3\xa9 est bon. Oui, \"x\", y.</think> Done!";

std::string dataset() {
  json a = {{"id", "r1"}, {"question", "Q1?"}, {"response", kR1}, {"correct", true}};
  json b = {{"id", "r2"}, {"question", "Q1?"}, {"response", kR2}};
  return a.dump() + "\n" + b.dump() + "\n";
}

// Tokens cut at byte positions; expected per-action (n_tokens, logprob_sum) computed here.
struct Toks {
  std::vector<std::string> texts;
  std::vector<uint32_t> offsets;
  std::vector<double> lps;
};
Toks cut(const std::string& text, std::vector<uint32_t> cuts) {
  Toks t;
  cuts.push_back(uint32_t(text.size()));
  uint32_t prev = 0;
  for (size_t k = 0; k < cuts.size(); ++k) {
    if (cuts[k] == prev) continue;
    t.texts.push_back(text.substr(prev, cuts[k] - prev));
    t.offsets.push_back(prev);
    t.lps.push_back(-0.125 * double(t.lps.size() + 1));
    prev = cuts[k];
  }
  return t;
}
std::vector<std::pair<uint32_t, double>> expected(const std::string& text, const Toks& t) {
  auto acts = rdpt::segment(text);
  std::vector<std::pair<uint32_t, double>> out(acts.size(), {0, 0.0});
  for (size_t k = 0; k < t.offsets.size(); ++k) {
    for (size_t a = 0; a < acts.size(); ++a) {
      if (t.offsets[k] >= acts[a].begin && t.offsets[k] < acts[a].end) {
        out[a].first += 1;
        out[a].second += t.lps[k];
      }
    }
  }
  return out;
}

// Rows of one id from an exported CSV, with the header mapping.
struct Table {
  std::map<std::string, size_t> col;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<std::string>> of(const std::string& id) const {
    std::vector<std::vector<std::string>> out;
    for (const auto& r : rows) {
      if (r[col.at("id")] == id) out.push_back(r);
    }
    return out;
  }
};
Table table(const std::string& csv) {
  auto rows = parse_csv(csv);
  Table t;
  EXPECT_FALSE(rows.empty());
  for (size_t c = 0; c < rows[0].size(); ++c) t.col[rows[0][c]] = c;
  t.rows.assign(rows.begin() + 1, rows.end());
  for (const auto& r : t.rows) EXPECT_EQ(r.size(), rows[0].size());
  return t;
}

void expect_scores(const Table& t, const std::string& id, const std::string& model, const std::string& text,
                   const Toks& toks) {
  auto rows = t.of(id);
  auto want = expected(text, toks);
  ASSERT_EQ(rows.size(), want.size());
  for (size_t a = 0; a < rows.size(); ++a) {
    const auto& r = rows[a];
    EXPECT_EQ(r[t.col.at(model + "_n_tokens")], std::to_string(want[a].first)) << id << " action " << a + 1;
    EXPECT_DOUBLE_EQ(std::stod(r[t.col.at(model + "_logprob_sum")]), want[a].second) << id << " action " << a + 1;
    const std::string p = r[t.col.at(model + "_p")];
    if (want[a].first == 0) {
      EXPECT_EQ(p, "") << id << " action " << a + 1;
    } else {
      EXPECT_NEAR(std::stod(p), std::exp(want[a].second / want[a].first), 1e-12) << id << " action " << a + 1;
    }
  }
}

TEST_F(StoreCli, ImportsTokenTextsAndExportsCsv) {
  const auto d = write("d.jsonl", dataset());
  const Toks t1 = cut(kR1, {5, 11, 12, 17, 21});  // "Hello"," world","."," Next"," one","."
  const json lp = {{"id", "r1"}, {"tokens", t1.texts}, {"logprobs", t1.lps}};
  const auto l = write("lp.jsonl", lp.dump() + "\n");
  const auto s = path("s.db");
  CmdResult r = rdpt("import --data " + d + " --store " + s + " --logprobs " + l + " --model teacher");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("export --store " + s);
  ASSERT_EQ(r.rc, 0) << r.err;
  Table t = table(r.out);
  ASSERT_EQ(parse_csv(r.out)[0], (std::vector<std::string>{"id", "group", "j", "begin", "end", "special", "text",
                                                             "teacher_n_tokens", "teacher_logprob_sum",
                                                             "teacher_p"}));
  auto a1 = rdpt::segment(kR1), a2 = rdpt::segment(kR2);
  ASSERT_EQ(t.rows.size(), a1.size() + a2.size());
  expect_scores(t, "r1", "teacher", kR1, t1);
  // Spans, j, special and the exact texts; texts concatenate to the response.
  for (const auto& [id, text, acts] : {std::tuple{"r1", kR1, a1}, std::tuple{"r2", kR2, a2}}) {
    auto rows = t.of(id);
    ASSERT_EQ(rows.size(), acts.size());
    std::string cat;
    for (size_t a = 0; a < rows.size(); ++a) {
      EXPECT_EQ(rows[a][t.col["j"]], std::to_string(a + 1));
      EXPECT_EQ(rows[a][t.col["begin"]], std::to_string(acts[a].begin));
      EXPECT_EQ(rows[a][t.col["end"]], std::to_string(acts[a].end));
      EXPECT_EQ(rows[a][t.col["special"]], acts[a].special ? "true" : "false");
      EXPECT_EQ(rows[a][t.col["text"]], std::string(rdpt::action_text(text, acts[a])));
      cat += rows[a][t.col["text"]];
    }
    EXPECT_EQ(cat, text);
  }
  // r2 has no teacher scores: empty cells.
  for (const auto& row : t.of("r2")) {
    EXPECT_EQ(row[t.col["teacher_n_tokens"]], "");
    EXPECT_EQ(row[t.col["teacher_p"]], "");
  }
  EXPECT_EQ(t.of("r2")[0][t.col["text"]], "<think>");
  EXPECT_NE(r.out.find("\" Oui, \"\"x\"\", y.\""), std::string::npos) << "quotes doubled, field quoted";
}

// "truncated": true, as rdpt score --truncate: the action the truncation cut is unscored with
// every action after it, and n_tokens counts the tokens of the actions kept. Token texts give
// where the last token ends; offsets give only where it starts (it is taken to cover one byte).
TEST_F(StoreCli, TruncatedImportLeavesTheCutActionUnscored) {
  const auto d = write("d.jsonl", dataset());
  // kR1 = "Hello world." + " Next one.": actions [0,12) and [12,22).
  const Toks all = cut(kR1, {5, 11, 12, 17, 21});  // "Hello"," world","."," Next"," one","."
  auto first = [](const Toks& t, size_t n) {
    Toks o;
    o.texts.assign(t.texts.begin(), t.texts.begin() + n);
    o.offsets.assign(t.offsets.begin(), t.offsets.begin() + n);
    o.lps.assign(t.lps.begin(), t.lps.begin() + n);
    return o;
  };
  struct Case {
    std::string name;
    json line;
    std::vector<std::string> n_tokens;  // per action ("0": unscored in a stored pair)
    std::string pair_tokens;
  };
  const Toks t4 = first(all, 4), t3 = first(all, 3);
  std::vector<Case> cases = {
      // texts cover "Hello world. Next": the second action is cut -> unscored, 3 tokens kept.
      {"texts-cut", {{"id", "r1"}, {"tokens", t4.texts}, {"logprobs", t4.lps}, {"truncated", true}}, {"3", "0"}, "3"},
      // texts cover exactly the first action: it is whole and stays scored.
      {"texts-whole", {{"id", "r1"}, {"tokens", t3.texts}, {"logprobs", t3.lps}, {"truncated", true}}, {"3", "0"}, "3"},
      // offsets: the 4th token starts the second action; where it ends is unknown -> unscored.
      {"offsets", {{"id", "r1"}, {"offsets", t4.offsets}, {"logprobs", t4.lps}, {"truncated", true}}, {"3", "0"}, "3"},
      // the last token " one" starts inside the second action: cut, first action kept.
      {"offsets-mid", {{"id", "r1"}, {"offsets", first(all, 5).offsets}, {"logprobs", first(all, 5).lps},
                       {"truncated", true}}, {"3", "0"}, "3"},
  };
  for (const auto& c : cases) {
    const auto s = path("trunc-" + c.name + ".db");
    const auto l = write("trunc-" + c.name + ".jsonl", c.line.dump() + "\n");
    CmdResult r = rdpt("import --data " + d + " --store " + s + " --logprobs " + l + " --model teacher");
    ASSERT_EQ(r.rc, 0) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find("1 truncated (1 actions cut by or past the truncation left unscored)"), std::string::npos)
        << c.name << ": " << r.err;
    r = rdpt("export --store " + s);
    ASSERT_EQ(r.rc, 0) << r.err;
    Table t = table(r.out);
    auto rows = t.of("r1");
    ASSERT_EQ(rows.size(), c.n_tokens.size()) << c.name;
    for (size_t a = 0; a < rows.size(); ++a)
      EXPECT_EQ(rows[a][t.col.at("teacher_n_tokens")], c.n_tokens[a]) << c.name << " action " << a + 1;
    EXPECT_DOUBLE_EQ(std::stod(rows[0][t.col.at("teacher_logprob_sum")]), -0.125 * (1 + 2 + 3)) << c.name;
  }
}

TEST_F(StoreCli, ImportsByteOffsetsAndOpenAiShapeWithCharacterOffsets) {
  const auto d = write("d.jsonl", dataset());
  const auto s = path("s.db");
  ASSERT_EQ(rdpt("import --data " + d + " --store " + s).rc, 0);
  // Byte offsets, cuts inside actions and one token straddling an action boundary (byte 20..24).
  const Toks t2 = cut(kR2, {7, 8, 11, 13, 20, 24, 35, 40, 43});
  const json off = {{"id", "r2"}, {"offsets", t2.offsets}, {"logprobs", t2.lps}};
  CmdResult r = rdpt("import --store " + s + " --logprobs " + write("off.jsonl", off.dump() + "\n") + " --model student");
  ASSERT_EQ(r.rc, 0) << r.err;
  // OpenAI completions with echo: the prompt's tokens first (null log-prob), text_offset in
  // characters of prompt + response (the response has a 2-byte character).
  const std::string prompt = "P: ";
  const std::string full = prompt + kR2;
  const Toks tf = cut(full, {2, 3, 10, 11, 14, 16, 25, 38, 46});
  std::vector<uint32_t> chars;
  for (uint32_t b : tf.offsets) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < b; ++i) n += (uint8_t(full[i]) & 0xC0) != 0x80;
    chars.push_back(n);
  }
  json lps = tf.lps;
  lps[0] = nullptr;
  const json oa = {{"id", "r2"},
                   {"text", full},
                   {"logprobs", {{"tokens", tf.texts}, {"token_logprobs", lps}, {"text_offset", chars},
                                 {"top_logprobs", nullptr}}}};
  r = rdpt("import --store " + s + " --logprobs " + write("oa.jsonl", oa.dump() + "\n") + " --model teacher");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("2 prompt tokens dropped"), std::string::npos) << r.err;
  r = rdpt("export --store " + s + " --models teacher,student");
  ASSERT_EQ(r.rc, 0) << r.err;
  Table t = table(r.out);
  expect_scores(t, "r2", "student", kR2, t2);
  Toks resp;  // the OpenAI tokens as response byte offsets
  for (size_t k = 0; k < tf.offsets.size(); ++k) {
    if (tf.offsets[k] < prompt.size()) continue;
    resp.offsets.push_back(uint32_t(tf.offsets[k] - prompt.size()));
    resp.lps.push_back(tf.lps[k]);
  }
  expect_scores(t, "r2", "teacher", kR2, resp);
  EXPECT_LT(t.col["teacher_p"], t.col["student_n_tokens"]);  // --models order
}

// Empty and whitespace-only responses are kept (the input is the input) but said, in one line
// per input; a store given as --data is said to be one.
TEST_F(StoreCli, EmptyResponsesAreWarnedAndAStoreIsNoDataset) {
  const auto d = write("e.jsonl", "{\"id\": \"e1\", \"question\": \"q\", \"response\": \"\"}\n"
                                  "{\"id\": \"e2\", \"question\": \"q\", \"response\": \"  \\n\"}\n"
                                  "{\"id\": \"e3\", \"question\": \"q\", \"response\": \"Fine. Done.\"}\n");
  CmdResult r = rdpt("import --data " + d + " --store " + path("e.db"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("e.jsonl: 1 response is empty (nothing to score or type), e.g. record 'e1' at " + d +
                       ":1; 1 response is whitespace only (one action of whitespace), e.g. record 'e2' at " + d +
                       ":2\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("'e1' at", r.err.find("'e1' at") + 1), std::string::npos) << r.err;  // one line for them all
  r = rdpt("import --data " + path("e.db") + " --store " + path("f.db"));
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("e.db: an SQLite database (an rdpt store?), not a dataset of JSON lines"), std::string::npos)
      << r.err;
}

// Several samples per problem without an id field: problem_id is tried as the id and repeats.
// import and score both name the second line and say what to do; --id-field @line gives
// "<file name>:<line>" ids and the data goes in.
TEST_F(StoreCli, RepeatedIdsAreNamedAndLineIdsAreOnOffer) {
  const auto d = write("samples.jsonl",
                       R"({"problem_id": "p1", "question": "1+1?", "response": "It is 2."})"
                       "\n"
                       R"({"problem_id": "p1", "question": "1+1?", "response": "Two."})"
                       "\n");
  const std::string expect = "samples.jsonl:2: record id 'p1' appears twice in the input (ids must be unique: name a "
                             "unique field with --id-field FIELD, or give --id-field @line";
  CmdResult r = rdpt("import --data " + d + " --store " + path("i.db"));
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("holds another response"), std::string::npos) << r.err;
  r = rdpt("score --data " + d + " --store " + path("s.db") +
           " --model 'teacher=http://127.0.0.1:9/v1#m' --prompt-format 'Q: {question}\\nA: '");
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("s.db")));
  // the same data given twice: the second file's record names where its id was read first
  const auto again = write("again.jsonl", R"({"id": "x1", "question": "1+1?", "response": "It is 2."})"
                                       "\n");
  const auto first = write("first.jsonl", R"({"id": "x1", "question": "1+1?", "response": "It is 2."})"
                                       "\n");
  r = rdpt("score --data " + first + " --data " + again + " --store " + path("t.db") +
           " --model 'teacher=http://127.0.0.1:9/v1#m' --prompt-format 'Q: {question}\\nA: '");
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find(again + ":1: record id 'x1' was read before at " + first + ":1 (ids must be unique across the "
                       "inputs: is the same data given twice?"),
            std::string::npos)
      << r.err;
  r = rdpt("import --data " + d + " --store " + path("l.db") + " --id-field @line");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("export --store " + path("l.db") + " --no-text");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("\nsamples.jsonl:1,p1,1,"), std::string::npos) << r.out;  // the group is still problem_id
  EXPECT_NE(r.out.find("\nsamples.jsonl:2,p1,1,"), std::string::npos) << r.out;
  // Line ids of two files of one name collide: said as such, not "give --id-field @line".
  std::filesystem::create_directories(path("s2"));
  const auto d2 = write("s2/samples.jsonl", R"({"question": "2+2?", "response": "Four."})" "\n");
  r = rdpt("score --data " + d + " --data " + d2 + " --store " + path("s2.db") +
           " --model 'teacher=http://127.0.0.1:9/v1#m' --prompt-format 'Q: {question}\\nA: ' --id-field @line");
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("record id 'samples.jsonl:1' appears twice in the input (with --id-field @line, two input "
                       "files of one name give the same ids"),
            std::string::npos)
      << r.err;
  // Log-prob rows are matched by an id field: @line with --logprobs is refused, saying how to do it.
  r = rdpt("import --data " + d + " --store " + path("lp.db") + " --id-field @line --logprobs " + d + " --model m");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--id-field @line names the dataset's ids, but --logprobs rows are matched"), std::string::npos)
      << r.err;
}

TEST_F(StoreCli, ReimportIsIdempotentAndExportsJsonl) {
  const auto d = write("d.jsonl", dataset());
  const Toks t1 = cut(kR1, {5, 11, 12, 17});
  const json lp = {{"id", "r1"}, {"tokens", t1.texts}, {"logprobs", t1.lps}};
  const auto l = write("lp.jsonl", lp.dump() + "\n");
  const auto s = path("s.db");
  const std::string args = "import --data " + d + " --store " + s + " --logprobs " + l + " --model m";
  ASSERT_EQ(rdpt(args).rc, 0);
  CmdResult first = rdpt("export --store " + s + " --format jsonl");
  ASSERT_EQ(first.rc, 0) << first.err;
  CmdResult again = rdpt(args);
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_NE(again.err.find("0 new, 2 already in"), std::string::npos) << again.err;
  CmdResult second = rdpt("export --store " + s + " --format jsonl --out " + path("x.jsonl"));
  ASSERT_EQ(second.rc, 0) << second.err;
  EXPECT_EQ(slurp(path("x.jsonl")), first.out);

  std::istringstream in(first.out);
  std::string line;
  std::vector<json> rows;
  while (std::getline(in, line)) rows.push_back(json::parse(line));
  auto a1 = rdpt::segment(kR1);
  ASSERT_EQ(rows.size(), a1.size() + rdpt::segment(kR2).size());
  auto want = expected(kR1, t1);
  for (size_t a = 0; a < a1.size(); ++a) {
    const json& j = rows[a];
    EXPECT_EQ(j["id"], "r1");
    EXPECT_EQ(j["j"], a + 1);
    EXPECT_EQ(j["text"], std::string(rdpt::action_text(kR1, a1[a])));
    EXPECT_EQ(j["m_n_tokens"], want[a].first);
    EXPECT_DOUBLE_EQ(j["m_logprob_sum"].get<double>(), want[a].second);
    EXPECT_NEAR(j["m_p"].get<double>(), std::exp(want[a].second / want[a].first), 1e-12);
  }
  const json& last = rows.back();
  EXPECT_EQ(last["id"], "r2");
  EXPECT_TRUE(last["m_n_tokens"].is_null());
  EXPECT_TRUE(last["m_logprob_sum"].is_null());
  EXPECT_TRUE(last["m_p"].is_null());
  EXPECT_EQ(rows[a1.size()]["special"], true);
}

TEST_F(StoreCli, MismatchingTokenTextIsAnErrorNamingFileLineRecordAndToken) {
  const auto s = path("s.db");
  ASSERT_EQ(rdpt("import --data " + write("d.jsonl", dataset()) + " --store " + s).rc, 0);
  const Toks t1 = cut(kR1, {5});
  json good = {{"id", "r1"}, {"tokens", t1.texts}, {"logprobs", t1.lps}};
  json bad = {{"id", "r1"}, {"tokens", {"Hello", " wrld. Next one."}}, {"logprobs", {-1, -2}}};
  const auto l = write("bad.jsonl", good.dump() + "\n" + bad.dump() + "\n");
  CmdResult r = rdpt("import --store " + s + " --logprobs " + l + " --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(l + ":2: record 'r1': token 1 \" wrld. Next one.\" does not match the response at byte 5"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
  // Missing record, null log-prob of a response token, a short token list: exit 1, named.
  json missing = {{"id", "zz"}, {"offsets", {0}}, {"logprobs", {-1}}};
  r = rdpt("import --store " + s + " --logprobs " + write("m.jsonl", missing.dump()) + " --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("m.jsonl:1: record 'zz': not in"), std::string::npos) << r.err;
  json nul = {{"id", "r1"}, {"logprobs", {{"tokens", {"Hello", " world. Next one."}}, {"token_logprobs", {nullptr, -1}},
                                          {"text_offset", {0, 5}}}}};
  r = rdpt("import --store " + s + " --logprobs " + write("n.jsonl", nul.dump()) + " --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("record 'r1': logprobs.token_logprobs[0] is null"), std::string::npos) << r.err;
  json shortl = {{"id", "r1"}, {"tokens", {"Hello"}}, {"logprobs", {-1}}};
  r = rdpt("import --store " + s + " --logprobs " + write("s.jsonl", shortl.dump()) + " --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("the tokens end at byte 5 of the 22-byte response"), std::string::npos) << r.err;
  // --skip-bad skips and counts.
  r = rdpt("import --store " + s + " --logprobs " + l + " --model teacher --skip-bad");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("1 lines skipped: 1 token text mismatch"), std::string::npos) << r.err;
}

TEST_F(StoreCli, UsageErrorsAndModelConflicts) {
  const auto s = path("s.db");
  ASSERT_EQ(rdpt("import --data " + write("d.jsonl", dataset()) + " --store " + s).rc, 0);
  const Toks t1 = cut(kR1, {5});
  const auto l = write("lp.jsonl", json({{"id", "r1"}, {"tokens", t1.texts}, {"logprobs", t1.lps}}).dump());
  EXPECT_EQ(rdpt("import --store " + s + " --logprobs " + l).rc, 2);
  EXPECT_EQ(rdpt("import --store " + s).rc, 2);
  EXPECT_EQ(rdpt("export --store " + s + " --format xml").rc, 2);
  CmdResult r = rdpt("export --store " + s + " --models nobody");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("no model 'nobody'"), std::string::npos) << r.err;
  EXPECT_EQ(rdpt("export --store " + path("absent.db")).rc, 1);
  ASSERT_EQ(rdpt("import --store " + s + " --logprobs " + l + " --model t --model-location a.gguf").rc, 0);
  r = rdpt("import --store " + s + " --logprobs " + l + " --model t --model-location b.gguf");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("another fingerprint"), std::string::npos) << r.err;
  EXPECT_EQ(rdpt("import --store " + s + " --logprobs " + l + " --model t --model-location b.gguf --replace").rc, 0);
  EXPECT_EQ(rdpt("import --store " + write("not.db", "not sqlite at all, just text........") + " --data " +
                 path("d.jsonl"))
                .rc,
            1);
}

// The models a store holds, by name.
std::vector<std::string> model_names(const std::string& store) {
  std::vector<std::string> out;
  for (const auto& m : rdpt::Store::open(store, rdpt::OpenMode::ReadOnly)->models()) out.push_back(m.name);
  return out;
}

TEST_F(StoreCli, FailedLogprobImportLeavesNoModelBehind) {
  const auto s = path("s.db");
  ASSERT_EQ(rdpt("import --data " + write("d.jsonl", dataset()) + " --store " + s).rc, 0);
  // The first line fails: no pair stored, so no model row (export shows no empty columns).
  const Toks t1 = cut(kR1, {5});
  const json good = {{"id", "r1"}, {"tokens", t1.texts}, {"logprobs", t1.lps}};
  const json missing = {{"id", "zz"}, {"offsets", {0}}, {"logprobs", {-1}}};
  const auto bad = write("bad.jsonl", missing.dump() + "\n" + good.dump() + "\n");
  CmdResult r = rdpt("import --store " + s + " --logprobs " + bad + " --model teacher");
  ASSERT_EQ(r.rc, 1) << r.err;
  EXPECT_TRUE(model_names(s).empty());
  r = rdpt("export --store " + s);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(parse_csv(r.out)[0].size(), 7u) << r.out.substr(0, 200);  // id .. text, no model columns
  // Every line skipped: nothing stored either, and said so.
  r = rdpt("import --store " + s + " --logprobs " + write("m.jsonl", missing.dump() + "\n") +
           " --model teacher --skip-bad");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("model 'teacher' is not stored"), std::string::npos) << r.err;
  EXPECT_TRUE(model_names(s).empty());
  // The corrected input then imports under the same name with nothing to replace.
  const auto l = write("lp.jsonl", good.dump() + "\n");
  r = rdpt("import --store " + s + " --logprobs " + l + " --model teacher --model-location a.gguf");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(model_names(s), std::vector<std::string>{"teacher"});
  // A replacing import that fails before its first pair leaves the old model and its scores.
  r = rdpt("import --store " + s + " --logprobs " + bad + " --model teacher --model-location b.gguf --replace");
  ASSERT_EQ(r.rc, 1) << r.err;
  auto st = rdpt::Store::open(s, rdpt::OpenMode::ReadOnly);
  ASSERT_TRUE(st->model("teacher").has_value());
  EXPECT_EQ(st->model("teacher")->fingerprint, "import:a.gguf");
  EXPECT_TRUE(st->get_scores(st->model("teacher")->mid, *st->find_response("r1")).has_value());
}

TEST_F(StoreCli, PositiveLogprobsAndOffsetsInsideACharacterAreErrors) {
  const auto s = path("s.db");
  ASSERT_EQ(rdpt("import --data " + write("d.jsonl", dataset()) + " --store " + s).rc, 0);
  const Toks t1 = cut(kR1, {5, 11});
  // Token texts: 3.49 is no log-prob (the HTTP backend's rule).
  json lp = {{"id", "r1"}, {"tokens", t1.texts}, {"logprobs", {-0.5, 3.49, -1.0}}};
  auto l = write("pos.jsonl", lp.dump() + "\n");
  CmdResult r = rdpt("import --store " + s + " --logprobs " + l + " --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(l + ":1: record 'r1': logprobs[1] = 3.49 is not a log-prob (a finite number <= 0"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // OpenAI shape and byte offsets: the same rule.
  json oa = {{"id", "r1"}, {"logprobs", {{"tokens", t1.texts}, {"token_logprobs", {-0.5, -1.0, 0.01}},
                                         {"text_offset", t1.offsets}}}};
  l = write("oa.jsonl", "\n" + oa.dump() + "\n");
  r = rdpt("import --store " + s + " --logprobs " + l + " --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(l + ":2: record 'r1': logprobs.token_logprobs[2] = 0.01 is not a log-prob"), std::string::npos)
      << r.err;
  json off = {{"id", "r1"}, {"offsets", t1.offsets}, {"logprobs", {-0.5, 1.5, -1.0}}};
  r = rdpt("import --store " + s + " --logprobs " + write("off.jsonl", off.dump()) + " --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("off.jsonl:1: record 'r1': logprobs[1] = 1.5 is not a log-prob"), std::string::npos) << r.err;
  // Rounding above 0 by up to 1e-3 reads as 0.
  lp["logprobs"] = {-0.5, 0.0004, -1.0};
  r = rdpt("import --store " + s + " --logprobs " + write("tiny.jsonl", lp.dump()) + " --model teacher");
  ASSERT_EQ(r.rc, 0) << r.err;
  {
    auto st = rdpt::Store::open(s, rdpt::OpenMode::ReadOnly);
    auto sc = st->get_scores(st->model("teacher")->mid, *st->find_response("r1"));
    ASSERT_TRUE(sc.has_value());
    double sum = 0;
    for (const auto& a : sc->actions) {
      EXPECT_LE(a.logprob_sum, 0.0);
      sum += a.logprob_sum;
    }
    EXPECT_DOUBLE_EQ(sum, -1.5);
  }
  // A byte offset inside "é" (bytes 11-12 of r2) is an error naming the token index.
  json mid = {{"id", "r2"}, {"offsets", {0, 12}}, {"logprobs", {-1, -1}}};
  l = write("mid.jsonl", mid.dump() + "\n");
  r = rdpt("import --store " + s + " --logprobs " + l + " --model student");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(l + ":1: record 'r2': offsets[1] = 12 points inside a multi-byte UTF-8 character (byte 12 "
                           "of the response)"),
            std::string::npos)
      << r.err;
  json moa = {{"id", "r2"}, {"logprobs", {{"token_logprobs", {-1, -1}}, {"text_offset", {0, 12}}}}};
  r = rdpt("import --store " + s + " --logprobs " + write("moa.jsonl", moa.dump()) + " --model student --offset-unit bytes");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("record 'r2': logprobs.text_offset[1] = 12 points inside a multi-byte UTF-8 character"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(model_names(s), std::vector<std::string>{"teacher"});
}

// vLLM decodes each token alone: a token holding part of a character comes as U+FFFD, and
// text_offset adds up Python lengths of those strings, drifting one character per split.
std::string decode_alone(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const auto c = uint8_t(bytes[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool whole = len > 0 && i + len <= bytes.size();
    for (size_t k = 1; whole && k < len; ++k) whole = (uint8_t(bytes[i + k]) & 0xC0) == 0x80;
    if (whole) {
      out += bytes.substr(i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += 1;
    }
  }
  return out;
}
size_t py_len(const std::string& s) {
  return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (uint8_t(c) & 0xC0) != 0x80; }));
}
// OpenAI's convention for a token that is not whole UTF-8: "bytes:" and its bytes escaped.
std::string bytes_token(const std::string& bytes) {
  if (decode_alone(bytes) == bytes) return bytes;
  std::string out = "bytes:";
  char buf[8];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  }
  return out;
}

TEST_F(StoreCli, EchoedCompletionWithSplitCharactersImportsExactly) {
  // "Ça va très bien. Thé à l'été. Oui. Non.": whole characters in the first sentence (bytes
  // outnumber characters), tokens cutting "é" and "à" in two in the second (vLLM's characters
  // outnumber the real ones), so neither reading of text_offset puts every token in its action.
  const std::string resp = "\xc3\x87" "a va tr\xc3\xa8s bien. Th\xc3\xa9 \xc3\xa0 l'\xc3\xa9t\xc3\xa9. Oui. Non.";
  const std::string prompt = "P: ";
  const std::vector<uint32_t> rcuts = {3, 6, 12, 17, 18, 22, 25, 27, 30, 33, 34, 35, 39, 40, 44};
  json a = {{"id", "r3"}, {"question", "Q?"}, {"response", resp}};
  const auto s = path("s.db");
  ASSERT_EQ(rdpt("import --data " + write("d.jsonl", a.dump() + "\n") + " --store " + s).rc, 0);
  std::vector<uint32_t> fcuts = {2, 3};
  for (uint32_t c : rcuts) fcuts.push_back(c + 3);
  const Toks tf = cut(prompt + resp, fcuts);
  json fffd = json::array(), escaped = json::array(), offsets = json::array(), lps = tf.lps;
  lps[0] = nullptr;
  size_t chars = 0;
  for (const auto& t : tf.texts) {
    fffd.push_back(decode_alone(t));
    escaped.push_back(bytes_token(t));
    offsets.push_back(chars);
    chars += py_len(decode_alone(t));
  }
  ASSERT_GT(chars, py_len(prompt + resp));  // the drift the offsets carry
  auto line = [&](const json& toks) {
    return json({{"id", "r3"},
                 {"text", prompt + resp},
                 {"logprobs", {{"tokens", toks}, {"token_logprobs", lps}, {"text_offset", offsets}}}})
               .dump() + "\n";
  };
  CmdResult r = rdpt("import --store " + s + " --logprobs " + write("v.jsonl", line(fffd)) + " --model vllm");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("import --store " + s + " --logprobs " + write("o.jsonl", line(escaped)) + " --model openai");
  ASSERT_EQ(r.rc, 0) << r.err;
  // Expected: each response token at the first byte of the character holding its first byte.
  auto snap = [&](uint32_t b) {
    while (b > 0 && (uint8_t(resp[b]) & 0xC0) == 0x80) --b;
    return b;
  };
  Toks want;
  for (size_t k = 0; k < tf.offsets.size(); ++k) {
    if (tf.offsets[k] < prompt.size()) continue;
    want.offsets.push_back(snap(uint32_t(tf.offsets[k] - prompt.size())));
    want.lps.push_back(tf.lps[k]);
  }
  r = rdpt("export --store " + s);
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_scores(table(r.out), "r3", "vllm", resp, want);
  expect_scores(table(r.out), "r3", "openai", resp, want);
  // Token texts without a prompt: the same placing.
  const Toks tr = cut(resp, rcuts);
  json texts = json::array();
  for (const auto& t : tr.texts) texts.push_back(decode_alone(t));
  r = rdpt("import --store " + s + " --logprobs " +
           write("t.jsonl", json({{"id", "r3"}, {"tokens", texts}, {"logprobs", tr.lps}}).dump()) + " --model texts");
  ASSERT_EQ(r.rc, 0) << r.err;
  Toks want_texts;
  for (size_t k = 0; k < tr.offsets.size(); ++k) {
    want_texts.offsets.push_back(snap(tr.offsets[k]));
    want_texts.lps.push_back(tr.lps[k]);
  }
  r = rdpt("export --store " + s + " --models texts");
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_scores(table(r.out), "r3", "texts", resp, want_texts);
}

TEST_F(StoreCli, RealTracesRoundTripThroughImportAndExport) {
  const std::string data = std::string(RDPT_TEST_DATA) + "/traces/overthinking_debug.jsonl.zst";
  const auto s = path("s.db");
  CmdResult r = rdpt("import --data " + data + " --store " + s);
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("export --store " + s + " --out " + path("a.csv"));
  ASSERT_EQ(r.rc, 0) << r.err;
  Table t = table(slurp(path("a.csv")));
  rdpt::RecordReader reader(data);
  rdpt::Record rec;
  size_t n = 0;
  while (reader.next(rec)) {
    std::string cat;
    for (const auto& row : t.of(rec.id)) cat += row[t.col["text"]];
    EXPECT_EQ(cat, rec.response) << rec.id;
    ++n;
  }
  EXPECT_GT(n, 0u);
}

}  // namespace
