// The bad-input suite (issue 7): every malformed file, field, model or store given to the rdpt
// executable gives a one-line error naming what and where (file, line, record), a non-zero
// exit where the run cannot go on, and a store whose content is what it was (or, for import,
// the whole records read before the bad one: documented in docs/hardening.md).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_fixture.h"

namespace {

namespace fs = std::filesystem;

using Result = rdpt_test::CmdResult;

size_t lines_of(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

// Every row of every table, as text: equal dumps mean equal store content, whatever SQLite
// did to the file's pages (WAL checkpoints on close).
std::string dump(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "<cannot open>";
  }
  std::string out;
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  for (const auto& t : tables) {
    out += "[" + t + "]\n";
    sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\" ORDER BY 1, 2").c_str(), -1, &st, nullptr);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const void* b = sqlite3_column_blob(st, c);
        out.append(b ? static_cast<const char*>(b) : "NULL", b ? size_t(sqlite3_column_bytes(st, c)) : 4);
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

class BadInput : public rdpt_test::CliTest {
 protected:
  // A store holding two responses.
  std::string base_store() {
    const std::string data = write("good.jsonl",
                                   "{\"id\":\"g1\",\"question\":\"What is 1+1?\",\"response\":\"One plus one. Is \\\\boxed{2}.\"}\n"
                                   "{\"id\":\"g2\",\"question\":\"What is 2+2?\",\"response\":\"Two and two. Make 4.\"}\n");
    const std::string db = path("store.db");
    Result r = rdpt("import --data '" + data + "' --store '" + db + "'");
    EXPECT_EQ(r.rc, 0) << r.err;
    return db;
  }
};

// One malformed record after two good ones: the error names file:line, record and field; the
// two good records are kept whole (a rerun after the fix adds only the rest); --skip-bad
// stores every good record and counts the bad one by reason.
TEST_F(BadInput, ImportStopsAtTheBadRecordNamingFileLineRecordAndField) {
  struct Case {
    const char* name;
    std::string line;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"truncated", R"({"id": "b", "question": "Q", "response": "R)", "invalid JSON"},
      {"wrong_type", R"({"id": "b", "question": "Q", "response": ["x", 5]})", "record 'b': field 'response'"},
      {"missing", R"({"id": "b", "question": "Q"})", "record 'b': missing field 'response'"},
      {"bad_utf8", "{\"id\": \"b\", \"question\": \"Q\", \"response\": \"caf\xC3\"}", "invalid UTF-8"},
      {"nul", std::string("{\"id\": \"b\", \"question\": \"Q\", \"response\": \"a") + '\0' + "\"}", "invalid JSON"},
      {"not_object", "42", "not an object"},
      {"empty_id", R"({"id": "", "question": "Q", "response": "R"})", "field 'id' is empty"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string db = base_store();
    const std::string before = dump(db);
    const std::string file =
        write(std::string(c.name) + ".jsonl", "{\"id\":\"n1\",\"question\":\"Q\",\"response\":\"A. B.\"}\n"
                                              "{\"id\":\"n2\",\"question\":\"Q\",\"response\":\"C. D.\"}\n" +
                                                  c.line + "\n{\"id\":\"n4\",\"question\":\"Q\",\"response\":\"E.\"}\n");
    Result r = rdpt("import --data '" + file + "' --store '" + db + "'");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(lines_of(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(file + ":3: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    const std::string after = dump(db);
    EXPECT_NE(after.find("n1|"), std::string::npos);  // whole records before the bad line are kept
    EXPECT_EQ(after.find("n4|"), std::string::npos);  // nothing after it
    EXPECT_NE(after.find("g1|"), std::string::npos);  // nothing earlier is touched
    EXPECT_NE(after, "<cannot open>");
    EXPECT_GT(after.size(), before.size());

    Result s = rdpt("import --skip-bad --data '" + file + "' --store '" + db + "'");
    EXPECT_EQ(s.rc, 0) << s.err;
    EXPECT_NE(s.err.find("1 records skipped"), std::string::npos) << s.err;
    EXPECT_NE(dump(db).find("n4|"), std::string::npos);
    fs::remove(db);
  }
}

// segment and grade stop at a bad record too, and keep what they did before it: the lines written
// (as --out.partial: the final name is left as it was), and the correctness grade --store set.
TEST_F(BadInput, SegmentAndGradeKeepTheRecordsBeforeTheBadOne) {
  const std::string db = base_store();
  const std::string file = write("grade_bad.jsonl",
                                 "{\"id\":\"g1\",\"question\":\"Q\",\"response\":\"So \\\\boxed{2}.\",\"answer\":\"2\"}\n"
                                 "{\"id\":\"g2\",\"question\":\"Q\",\"response\":\"So \\\\boxed{5}.\",\"answer\":\"4\"}\n"
                                 "{broken\n"
                                 "{\"id\":\"g3\",\"question\":\"Q\",\"response\":\"x\",\"answer\":\"1\"}\n");
  const std::string old = write("g.jsonl", "{\"old\": 1}\n");
  Result g = rdpt("grade --data '" + file + "' --store '" + db + "' --out '" + path("g.jsonl") + "'");
  EXPECT_EQ(g.rc, 1);
  EXPECT_EQ(lines_of(g.err), 1u) << g.err;
  EXPECT_NE(g.err.find(file + ":3: invalid JSON"), std::string::npos) << g.err;
  EXPECT_NE(g.err.find("the 2 responses before it were graded; correctness stored for 2 of them); their lines are in '" +
                       path("g.jsonl") + ".partial'"),
            std::string::npos)
      << g.err;
  std::ifstream old_in(old);
  std::stringstream old_s;
  old_s << old_in.rdbuf();
  EXPECT_EQ(old_s.str(), "{\"old\": 1}\n");  // the final name is untouched
  std::ifstream gi(path("g.jsonl") + ".partial");
  std::stringstream gs;
  gs << gi.rdbuf();
  EXPECT_EQ(lines_of(gs.str()), 2u) << gs.str();
  // correctness set: g1 correct, g2 incorrect
  auto correct_of = [&](const std::string& id) {
    sqlite3* sdb = nullptr;
    std::string v = "<none>";
    sqlite3_open_v2(db.c_str(), &sdb, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(sdb, "SELECT correct FROM responses WHERE id = ?", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_type(st, 0) == SQLITE_NULL ? "NULL" : std::to_string(sqlite3_column_int(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(sdb);
    return v;
  };
  EXPECT_EQ(correct_of("g1"), "1");
  EXPECT_EQ(correct_of("g2"), "0");

  Result s = rdpt("segment --data '" + file + "' --out '" + path("s.jsonl") + "'");
  EXPECT_EQ(s.rc, 1);
  EXPECT_NE(s.err.find("the 2 responses before it were written to '" + path("s.jsonl") + ".partial'"), std::string::npos)
      << s.err;
  EXPECT_FALSE(fs::exists(path("s.jsonl")));
  std::ifstream si(path("s.jsonl") + ".partial");
  std::stringstream ss;
  ss << si.rdbuf();
  EXPECT_EQ(lines_of(ss.str()), 2u);
  // A bad first record writes nothing anywhere.
  const std::string bad1 = write("bad_first.jsonl", "{broken\n");
  Result b = rdpt("segment --data '" + bad1 + "' --out '" + path("b.jsonl") + "'");
  EXPECT_EQ(b.rc, 1);
  EXPECT_EQ(b.err.find("before it"), std::string::npos) << b.err;
  EXPECT_FALSE(fs::exists(path("b.jsonl")));
  EXPECT_FALSE(fs::exists(path("b.jsonl") + ".partial"));
  // An existing .partial (here the input itself) is never written over.
  const std::string in = write("x.jsonl.partial", "{\"id\":\"g1\",\"question\":\"Q\",\"response\":\"A.\"}\n{broken\n");
  Result x = rdpt("segment --data '" + in + "' --out '" + path("x.jsonl") + "'");
  EXPECT_EQ(x.rc, 1);
  EXPECT_NE(x.err.find("written to '" + path("x.jsonl") + ".partial.1'"), std::string::npos) << x.err;
  std::ifstream xi(in);
  std::stringstream xs;
  xs << xi.rdbuf();
  EXPECT_EQ(lines_of(xs.str()), 2u);  // the input is intact
}

// Stores that are not rdpt's: every command refuses them by name and leaves them as they were.
TEST_F(BadInput, ForeignNewerAndNonSqliteStoresAreRefusedAndLeftAlone) {
  const std::string db = base_store();
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(h);
  }
  const std::string newer = dump(db);
  const std::string text = write("notes.db", "these are my notes, not a database\n");
  const std::string empty = write("empty.db", "");
  const std::string data = path("good.jsonl");
  for (const std::string& cmd : {std::string("export --out ") + path("x.csv") + " --store ",
                                 std::string("trace --out-dir ") + path("t") + " --store ",
                                 std::string("import --data ") + data + " --store ",
                                 std::string("grade --store ")}) {
    SCOPED_TRACE(cmd);
    Result r = rdpt(cmd + "'" + db + "'");
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_EQ(lines_of(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(db), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("schema version 99"), std::string::npos) << r.err;
    EXPECT_EQ(dump(db), newer);

    Result t = rdpt(cmd + "'" + text + "'");
    EXPECT_EQ(t.rc, 1) << t.err;
    EXPECT_EQ(lines_of(t.err), 1u) << t.err;
    EXPECT_NE(t.err.find(text + ": not an SQLite database"), std::string::npos) << t.err;
  }
  std::ifstream f(text);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), "these are my notes, not a database\n");
  Result e = rdpt("trace --out-dir " + path("t2") + " --store '" + empty + "'");
  EXPECT_EQ(e.rc, 1) << e.err;
  EXPECT_NE(e.err.find(empty), std::string::npos) << e.err;
}

// Grading: deeply nested or unterminated \boxed{, special tokens only, an empty response.
TEST_F(BadInput, GradeSurvivesHostileResponses) {
  std::string deep = "\\\\boxed{";
  for (int i = 0; i < 100000; ++i) deep += "\\\\boxed{";
  const std::string file = write("g.jsonl", "{\"id\":\"deep\",\"question\":\"Q\",\"response\":\"" + deep +
                                                "1\",\"answer\":\"1\"}\n"
                                                "{\"id\":\"special\",\"question\":\"Q\",\"response\":\"<|im_end|><|endoftext|>\",\"answer\":\"1\"}\n"
                                                "{\"id\":\"empty\",\"question\":\"Q\",\"response\":\"\",\"answer\":\"1\"}\n");
  Result r = rdpt("grade --data '" + file + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(lines_of(r.out), 3u) << r.out;
  for (const char* id : {"deep", "special", "empty"}) {
    const size_t at = r.out.find(std::string("\"id\":\"") + id + "\"");
    ASSERT_NE(at, std::string::npos) << id << "\n" << r.out;
    const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
    EXPECT_NE(line.find("\"verdict\":\"no-answer\""), std::string::npos) << line;
  }
}

#ifdef RDPT_FIXTURE_TOOL
std::string fixture_model() {
  fs::create_directories(RDPT_FIXTURE_DIR);
  const std::string out = std::string(RDPT_FIXTURE_DIR) + "/bad-input-gpt2.gguf";
  if (fs::exists(out)) return out;
  const std::string part = out + ".part" + std::to_string(::getpid());
  const std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + RDPT_LLAMA_SOURCE_DIR +
                          "/models/ggml-vocab-gpt-2.gguf --out " + part + " --seed 31 --threads 2 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture tool failed: " + cmd);
  fs::rename(part, out);
  return out;
}

// Model files that are truncated, not GGUF or missing: a one-line error naming the file and
// llama.cpp's reason, exit 1, the store as it was.
TEST_F(BadInput, TruncatedOrForeignModelFilesAreOneLineErrors) {
  const std::string db = base_store(), data = path("good.jsonl");
  const std::string before = dump(db);
  const std::string good = fixture_model();
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  struct Case {
    std::string name, content, expect;
  };
  const std::vector<Case> cases = {
      {"header.gguf", bytes.substr(0, 300), "failed to read"},
      {"half.gguf", bytes.substr(0, bytes.size() / 2), "could not load model"},
      {"text.gguf", "{\"not\": \"a model\"}\n", "invalid magic"},
      {"empty.gguf", "", "could not load model"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string m = write(c.name, c.content);
    Result r = rdpt("score --data '" + data + "' --store '" + db + "' --model teacher='" + m +
                    "' --prompt-format 'Q: {question}\\nA: ' --threads 2");
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_EQ(lines_of(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(m), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    EXPECT_EQ(dump(db), before);
  }
  Result missing = rdpt("score --data '" + data + "' --store '" + db + "' --model teacher=" + path("nope.gguf") +
                        " --prompt-format '{question}'");
  EXPECT_EQ(missing.rc, 1) << missing.err;
  EXPECT_NE(missing.err.find(path("nope.gguf")), std::string::npos) << missing.err;
  EXPECT_EQ(dump(db), before);
}

// A context shorter than the prompt: that pair fails with the reason (stored as Failed, retried
// by a rerun), the run goes on and exits 3 (finished with failed pairs) with a warning naming the record; --truncate
// cannot help when the prompt alone does not fit, so the pair fails there too.
TEST_F(BadInput, ContextShorterThanThePromptFailsThosePairsAndSaysWhy) {
  const std::string db = path("ctx.db");
  const std::string long_q(400, 'q');
  const std::string data = write("ctx.jsonl",
                                 "{\"id\":\"long\",\"question\":\"" + long_q + " why?\",\"response\":\"Short. Answer.\"}\n"
                                 "{\"id\":\"ok\",\"question\":\"Why?\",\"response\":\"Short. Answer.\"}\n");
  for (const std::string extra : {"", " --truncate"}) {
    SCOPED_TRACE(extra);
    fs::remove(db);
    Result r = rdpt("score --data '" + data + "' --store '" + db + "' --model teacher='" + fixture_model() +
                    "' --prompt-format 'Q: {question}\\nA: ' --ctx 64 --threads 2" + extra);
    EXPECT_EQ(r.rc, 3) << r.err;
    EXPECT_NE(r.err.find("scored 1 responses"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("1 responses failed"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("record long: prompt of"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("does not fit the context of 64 tokens"), std::string::npos) << r.err;
    const std::string d = dump(db);
    EXPECT_NE(d.find("does not fit the context"), std::string::npos);  // the reason is stored with the pair
  }
}
#endif

}  // namespace
