// Parquet datasets through the rdpt executable: files written by DuckDB itself (COPY ... TO) from
// the shipped JSON Lines traces import, segment and score to the store the JSONL path gives.
#include <sqlite3.h>

#include "cli/cli_fixture.h"
#include "io/parquet.h"

namespace fs = std::filesystem;

namespace {

class ParquetCli : public rdpt_test::CliTest {
 protected:
  void SetUp() override {
    if (!rdpt::io::parquet_available()) GTEST_SKIP() << "built without DuckDB";
    CliTest::SetUp();
  }
  // The shipped traces, the first `n` lines, as JSONL (name.jsonl) and as Parquet (name.parquet,
  // several row groups) written by DuckDB.
  void write_both(const std::string& name, const std::string& trace, int n) {
    const std::string cmd = "zstd -dc '" + std::string(RDPT_TEST_DATA) + "/traces/" + trace + "' | head -" +
                            std::to_string(n) + " > '" + path(name + ".jsonl") + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    rdpt::io::duckdb_exec("COPY (SELECT * FROM read_json('" + path(name + ".jsonl") +
                          "', format='newline_delimited')) TO '" + path(name + ".parquet") +
                          "' (FORMAT parquet, ROW_GROUP_SIZE 50)");
  }
  // Every stored response's fields but its source file, in store order; with_line: its line/row too.
  std::string responses(const std::string& db, bool with_line) {
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h,
                                 "SELECT id, group_id, question, response, system, coalesce(answer, '<null>'), "
                                 "coalesce(correct, -1), source_line, n_actions, hex(spans), hex(special) "
                                 "FROM responses ORDER BY rid",
                                 -1, &s, nullptr),
              SQLITE_OK);
    std::string out;
    while (sqlite3_step(s) == SQLITE_ROW) {
      for (int c = 0; c < 11; ++c) {
        if (c == 7 && !with_line) continue;
        const unsigned char* t = sqlite3_column_text(s, c);
        out += t ? reinterpret_cast<const char*>(t) : "<NULL>";
        out += '\x1f';
      }
      out += '\x1e';
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
  }
  std::string export_jsonl(const std::string& db) {
    auto r = rdpt("export --store '" + db + "' --format jsonl");
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.out;
  }
};

TEST_F(ParquetCli, ImportAndSegmentGiveTheJsonlStoreFromAFileOrAGlobOfShards) {
  write_both("d", "skyt1_distilled.part2.jsonl.zst", 259);
  // Three shards of the same rows (name order = row order).
  for (int s = 0; s < 3; ++s)
    rdpt::io::duckdb_exec("COPY (SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER () AS rn FROM '" +
                          path("d.parquet") + "') WHERE (rn - 1) // 100 = " + std::to_string(s) + " ORDER BY rn) TO '" +
                          path("shard-" + std::to_string(s) + ".parquet") + "' (FORMAT parquet)");
  auto r = rdpt("import --data '" + path("d.jsonl") + "' --store '" + path("j.db") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("import --data '" + path("d.parquet") + "' --store '" + path("p.db") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("import --data '" + path("shard-*.parquet") + "' --store '" + path("g.db") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string want = responses(path("j.db"), true);
  EXPECT_EQ(std::count(want.begin(), want.end(), '\x1e'), 259);
  EXPECT_EQ(responses(path("p.db"), true), want);  // rows numbered as the lines were
  EXPECT_EQ(responses(path("g.db"), false), responses(path("j.db"), false));
  const std::string ex = export_jsonl(path("j.db"));
  EXPECT_GT(ex.size(), 100000u);
  EXPECT_EQ(export_jsonl(path("p.db")), ex);
  EXPECT_EQ(export_jsonl(path("g.db")), ex);
  // rdpt segment: the same output.
  r = rdpt("segment --data '" + path("d.jsonl") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string seg = r.out;
  r = rdpt("segment --data '" + path("shard-*.parquet") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, seg);
}

TEST_F(ParquetCli, EveryLayoutImportsToTheStoreOfTheSameRowsAsJsonl) {
  const std::string src = "(SELECT * FROM read_json('" + std::string(RDPT_TEST_DATA) +
                          "/traces/qwen25math_cot_8samples.jsonl.zst', format='newline_delimited') LIMIT 120)";
  const std::pair<const char*, std::string> layouts[] = {
      {"messages",
       "SELECT id, question_id, [{'role': 'system', 'content': system_prompt}, {'role': 'user', 'content': question}, "
       "{'role': 'assistant', 'content': response}] AS messages, answer, correct FROM " + src},
      {"conversations",
       "SELECT id, [{'from': 'human', 'value': question}, {'from': 'gpt', 'value': response}] AS conversations, answer "
       "FROM " + src},
      {"responses",
       "SELECT question_id AS id, any_value(question) AS question, list(response ORDER BY id) AS responses, "
       "list(correct ORDER BY id) AS correct, any_value(answer) AS answer FROM " + src +
           " GROUP BY question_id ORDER BY question_id"},
  };
  for (const auto& [name, select] : layouts) {
    SCOPED_TRACE(name);
    const std::string n = name;
    rdpt::io::duckdb_exec("COPY (" + select + ") TO '" + path(n + ".jsonl") + "' (FORMAT json)");
    rdpt::io::duckdb_exec("COPY (" + select + ") TO '" + path(n + ".parquet") + "' (FORMAT parquet, ROW_GROUP_SIZE 7)");
    auto r = rdpt("import --data '" + path(n + ".jsonl") + "' --store '" + path(n + "-j.db") + "'");
    ASSERT_EQ(r.rc, 0) << r.err;
    r = rdpt("import --data '" + path(n + ".parquet") + "' --store '" + path(n + "-p.db") + "'");
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string want = responses(path(n + "-j.db"), true);
    EXPECT_EQ(std::count(want.begin(), want.end(), '\x1e'), 120);
    EXPECT_EQ(responses(path(n + "-p.db"), true), want);
    EXPECT_EQ(export_jsonl(path(n + "-p.db")), export_jsonl(path(n + "-j.db")));
  }
}

TEST_F(ParquetCli, BadParquetFilesAreOneLineErrorsAndLeaveTheStoreAsItWas) {
  write_both("d", "overthinking_debug.jsonl.zst", 5);
  const std::string bytes = rdpt_test::slurp(path("d.parquet"));
  write("cut.parquet", bytes.substr(0, bytes.size() - 10));
  write("text.parquet", "{\"id\": \"a\", \"question\": \"q\", \"response\": \"r\"}\n");
  rdpt::io::duckdb_exec("COPY (SELECT id, question, answer FROM '" + path("d.parquet") + "') TO '" +
                        path("nocol.parquet") + "' (FORMAT parquet)");
  rdpt::io::duckdb_exec("COPY (SELECT id, question, [1, 2] AS response FROM '" + path("d.parquet") + "') TO '" +
                        path("type.parquet") + "' (FORMAT parquet)");
  ASSERT_EQ(rdpt("import --data '" + path("d.jsonl") + "' --store '" + path("s.db") + "'").rc, 0);
  const std::string before = responses(path("s.db"), true);
  const std::pair<const char*, std::string> cases[] = {
      {"cut.parquet", ": not a readable Parquet file ("},
      {"text.parquet", ": not a readable Parquet file ("},
      {"nocol.parquet", ":1: record 'overthinking-debug-0': missing field 'response'"},
      {"type.parquet", ":1: record 'overthinking-debug-0': field 'response' must be a string or a list of strings, got array"},
  };
  for (const auto& [file, msg] : cases) {
    SCOPED_TRACE(file);
    auto r = rdpt("import --data '" + path(file) + "' --store '" + path("s.db") + "'");
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("rdpt import: error: " + path(file) + msg), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(responses(path("s.db"), true), before);
}

#if defined(RDPT_WITH_LLAMA) && defined(RDPT_FIXTURE_TOOL)

std::string fixture_model() {
  fs::create_directories(RDPT_FIXTURE_DIR);
  const std::string out = std::string(RDPT_FIXTURE_DIR) + "/parquet-gpt2-s31.gguf";
  if (fs::exists(out)) return out;
  const std::string part = out + ".part" + std::to_string(::getpid());
  const std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + RDPT_LLAMA_SOURCE_DIR +
                          "/models/ggml-vocab-gpt-2.gguf --out " + part +
                          " --seed 31 --scale 0.1 --output-scale 0.6 --threads 2 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture tool failed: " + cmd);
  fs::rename(part, out);
  return out;
}

TEST_F(ParquetCli, ScoreGivesTheJsonlStore) {
  write_both("d", "qwen25math_cot_8samples.jsonl.zst", 10);
  const std::string m = fixture_model();
  const std::string opts = " --model teacher='" + m + "' --template chatml --threads 2";
  auto r = rdpt("score --data '" + path("d.jsonl") + "' --store '" + path("j.db") + "'" + opts);
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("score --data '" + path("d.parquet") + "' --store '" + path("p.db") + "'" + opts);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(responses(path("p.db"), true), responses(path("j.db"), true));
  const std::string ex = export_jsonl(path("j.db"));
  EXPECT_NE(ex.find("\"teacher_logprob_sum\":-"), std::string::npos);
  EXPECT_EQ(export_jsonl(path("p.db")), ex);
}

#endif

}  // namespace
