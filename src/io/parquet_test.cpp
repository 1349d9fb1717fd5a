// Parquet input: files written by DuckDB itself (COPY ... TO 'x.parquet') from the shipped JSONL
// traces, in every record layout, read to the same records as the same rows written as JSON Lines.
#include "io/parquet.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "rdpt/error.h"
#include "rdpt/record.h"

namespace fs = std::filesystem;

namespace {

class Parquet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rdpt::io::parquet_available()) GTEST_SKIP() << "built without DuckDB";
    dir_ = fs::path(::testing::TempDir()) / ("rdpt_parquet_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& n) const { return (dir_ / n).string(); }
  // The shipped traces as a DuckDB relation (a subquery).
  static std::string traces(const std::string& name) {
    return "(SELECT * FROM read_json('" + std::string(RDPT_TEST_DATA) + "/traces/" + name + "', format='newline_delimited'))";
  }
  // Writes `select` both as JSON Lines (name.jsonl) and as Parquet (name.parquet, `opts` added).
  void write_both(const std::string& name, const std::string& select, const std::string& opts = "") {
    rdpt::io::duckdb_exec("COPY (" + select + ") TO '" + path(name + ".jsonl") + "' (FORMAT json)");
    rdpt::io::duckdb_exec("COPY (" + select + ") TO '" + path(name + ".parquet") + "' (FORMAT parquet" + opts + ")");
  }
  fs::path dir_;
};

std::vector<rdpt::Record> read_all(const std::string& p, rdpt::ReaderOptions o = {}) {
  rdpt::RecordReader r(p, o);
  std::vector<rdpt::Record> out;
  rdpt::Record rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

// The error reading `p` gives, or "(no error)".
std::string error_of(const std::string& p) {
  try {
    read_all(p);
  } catch (const rdpt::Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_same_records(const std::vector<rdpt::Record>& want, const std::vector<rdpt::Record>& got,
                         bool same_lines = true) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE(want[k].id);
    EXPECT_EQ(got[k].id, want[k].id);
    EXPECT_EQ(got[k].group, want[k].group);
    EXPECT_EQ(got[k].question, want[k].question);
    EXPECT_EQ(got[k].response, want[k].response);
    EXPECT_EQ(got[k].system, want[k].system);
    EXPECT_EQ(got[k].answer, want[k].answer);
    EXPECT_EQ(got[k].correct, want[k].correct);
    EXPECT_EQ(got[k].sub_index, want[k].sub_index);
    if (same_lines) { EXPECT_EQ(got[k].line, want[k].line); }  // Parquet: the row number in its file
  }
}

TEST_F(Parquet, FlatLayoutWithSeveralRowGroupsGivesTheJsonlRecords) {
  write_both("flat", "SELECT * FROM " + traces("qwen25math_cot_8samples.jsonl.zst"), ", ROW_GROUP_SIZE 64");
  const auto want = read_all(path("flat.jsonl"));
  ASSERT_EQ(want.size(), 536u);
  ASSERT_TRUE(rdpt::io::is_parquet_path(path("flat.parquet")));
  const auto got = read_all(path("flat.parquet"));
  expect_same_records(want, got);
  EXPECT_EQ(got[0].file, path("flat.parquet"));
  EXPECT_TRUE(want[0].system.size() > 0);  // system_prompt read as the system turn in both
  // The shipped file itself (JSONL.zst) gives the same records too.
  expect_same_records(read_all(std::string(RDPT_TEST_DATA) + "/traces/qwen25math_cot_8samples.jsonl.zst"), got);
}

TEST_F(Parquet, MessagesAndConversationsAsListOfStructColumns) {
  const std::string src = traces("skyt1_baselines.jsonl.zst");
  write_both("msg",
             "SELECT id, question_id, [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': "
             "question}, {'role': 'assistant', 'content': response}] AS messages, answer, correct FROM " + src);
  write_both("conv",
             "SELECT id, [{'from': 'human', 'value': question}, {'from': 'gpt', 'value': response}] AS conversations, "
             "answer FROM " + src);
  const auto msg = read_all(path("msg.parquet"));
  ASSERT_EQ(msg.size(), 140u);
  expect_same_records(read_all(path("msg.jsonl")), msg);
  EXPECT_EQ(msg[0].system, "Be brief.");
  const auto conv = read_all(path("conv.parquet"));
  expect_same_records(read_all(path("conv.jsonl")), conv);
  // The same texts as the flat source.
  const auto flat = read_all(std::string(RDPT_TEST_DATA) + "/traces/skyt1_baselines.jsonl.zst");
  for (size_t k = 0; k < flat.size(); ++k) {
    EXPECT_EQ(conv[k].question, flat[k].question);
    EXPECT_EQ(conv[k].response, flat[k].response);
  }
}

TEST_F(Parquet, ListOfResponsesGivesOneRecordPerResponse) {
  write_both("multi",
             "SELECT question_id AS id, any_value(question) AS question, list(response ORDER BY id) AS responses, "
             "list(correct ORDER BY id) AS correct FROM " + traces("qwen25math_cot_8samples.jsonl.zst") +
                 " GROUP BY question_id ORDER BY question_id");
  const auto want = read_all(path("multi.jsonl"));
  ASSERT_EQ(want.size(), 536u);
  EXPECT_EQ(want[0].sub_index, 0);
  EXPECT_EQ(want[0].id.substr(want[0].id.size() - 2), "#0");
  expect_same_records(want, read_all(path("multi.parquet")));
}

TEST_F(Parquet, DirectoryAndGlobOfShardsAreOneDatasetInNameOrder) {
  const std::string src = traces("skyt1_distilled.part1.jsonl.zst");
  fs::create_directories(path("shards"));
  for (int s = 0; s < 3; ++s)
    rdpt::io::duckdb_exec("COPY (SELECT * FROM (SELECT *, row_number() OVER () AS rn FROM " + src +
                          ") WHERE (rn - 1) // 250 = " + std::to_string(s) + " ORDER BY rn) TO '" +
                          path("shards/train-0000" + std::to_string(s) + "-of-00003.parquet") +
                          "' (FORMAT parquet, ROW_GROUP_SIZE 100)");
  const auto want = read_all(std::string(RDPT_TEST_DATA) + "/traces/skyt1_distilled.part1.jsonl.zst");
  ASSERT_EQ(want.size(), 621u);
  const auto glob = read_all(path("shards/train-*.parquet"));
  expect_same_records(want, glob, false);
  expect_same_records(want, read_all(path("shards")), false);
  // Rows are numbered in their own file.
  EXPECT_EQ(glob[250].line, 1u);
  EXPECT_EQ(fs::path(glob[250].file).filename(), "train-00001-of-00003.parquet");
  EXPECT_EQ(rdpt::io::parquet_files(path("shards/*.parquet")).size(), 3u);
}

TEST_F(Parquet, BadFilesAndColumnsAreOneLineErrors) {
  const std::string src = "SELECT * FROM " + traces("overthinking_debug.jsonl.zst");
  rdpt::io::duckdb_exec("COPY (" + src + ") TO '" + path("ok.parquet") + "' (FORMAT parquet)");
  auto one_line = [](const std::string& s) { return s.find('\n') == std::string::npos; };
  // Truncated: the footer is gone.
  {
    std::ifstream in(path("ok.parquet"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(path("cut.parquet"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  std::string e = error_of(path("cut.parquet"));
  EXPECT_EQ(e.rfind(path("cut.parquet") + ": not a readable Parquet file (", 0), 0u) << e;
  EXPECT_TRUE(one_line(e)) << e;
  // Not Parquet at all, though named so.
  std::ofstream(path("text.parquet")) << "{\"id\": 1}\n";
  e = error_of(path("text.parquet"));
  EXPECT_EQ(e.rfind(path("text.parquet") + ": not a readable Parquet file (", 0), 0u) << e;
  EXPECT_TRUE(one_line(e)) << e;
  // A missing column and a wrong column type name file, row, record and field.
  rdpt::io::duckdb_exec("COPY (SELECT id, question FROM (" + src + ")) TO '" + path("nocol.parquet") + "' (FORMAT parquet)");
  e = error_of(path("nocol.parquet"));
  EXPECT_NE(e.find(path("nocol.parquet") + ":1: record '"), std::string::npos) << e;
  EXPECT_NE(e.find("missing field 'response'"), std::string::npos) << e;
  rdpt::io::duckdb_exec("COPY (SELECT id, question, length(response) AS response FROM (" + src + ")) TO '" +
                        path("type.parquet") + "' (FORMAT parquet)");
  e = error_of(path("type.parquet"));
  EXPECT_NE(e.find(path("type.parquet") + ":1: record '"), std::string::npos) << e;
  EXPECT_NE(e.find("field 'response' must be a string or a list of strings, got number"), std::string::npos) << e;
  EXPECT_TRUE(one_line(e)) << e;
  // A glob that matches nothing, an empty directory.
  e = error_of(path("none-*.parquet"));
  EXPECT_NE(e.find("no files match this pattern"), std::string::npos) << e;
  fs::create_directories(path("empty"));
  e = error_of(path("empty"));
  EXPECT_NE(e.find("no *.parquet files in this directory"), std::string::npos) << e;
}

TEST_F(Parquet, ChosenRowsAreWrittenWithTheInputSchema) {
  const std::string src = "SELECT * FROM " + traces("overthinking_debug.jsonl.zst");
  rdpt::io::duckdb_exec("COPY (" + src + ") TO '" + path("a.parquet") + "' (FORMAT parquet)");
  const auto all = read_all(path("a.parquet"));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(rdpt::io::write_parquet_rows(path("a.parquet"), {{path("a.parquet"), 2}, {path("a.parquet"), 5}},
                                         path("out.parquet")),
            2u);
  const auto got = read_all(path("out.parquet"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, all[1].id);
  EXPECT_EQ(got[1].id, all[4].id);
  // Column names and types as the input's.
  rdpt::io::duckdb_exec("COPY (SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '" + path("a.parquet") +
                        "')) TO '" + path("a.schema.csv") + "'");
  rdpt::io::duckdb_exec("COPY (SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '" + path("out.parquet") +
                        "')) TO '" + path("out.schema.csv") + "'");
  std::ifstream a(path("a.schema.csv")), b(path("out.schema.csv"));
  std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa.find("response,VARCHAR"), std::string::npos) << sa;
}

TEST_F(Parquet, WriterWritesTypedColumnsAndNothingWithoutFinish) {
  using T = rdpt::io::ParquetWriter::Type;
  {
    rdpt::io::ParquetWriter w(path("w.parquet"), {{"id", T::Text}, {"n", T::Int64}, {"p", T::Double}, {"b", T::Bool}});
    w.put_text("a\"b");
    w.put_int(-3);
    w.put_double(0.25);
    w.put_bool(true);
    w.end_row();
    w.put_text("c");
    w.put_null();
    w.put_null();
    w.put_bool(false);
    w.end_row();
    EXPECT_FALSE(fs::exists(path("w.parquet")));
    w.finish();
  }
  EXPECT_TRUE(fs::exists(path("w.parquet")));
  EXPECT_FALSE(fs::exists(path("w.parquet.rdpt-tmp.duckdb")));
  rdpt::io::ParquetRows rows(path("w.parquet"));
  std::string j;
  ASSERT_TRUE(rows.next(j));
  EXPECT_EQ(j, R"({"id":"a\"b","n":-3,"p":0.25,"b":true})");
  ASSERT_TRUE(rows.next(j));
  EXPECT_EQ(j, R"({"id":"c","n":null,"p":null,"b":false})");
  EXPECT_FALSE(rows.next(j));
  {
    rdpt::io::ParquetWriter w(path("gone.parquet"), {{"id", T::Text}});
    w.put_text("x");
    w.end_row();
  }  // no finish(): an error on the way leaves no output
  EXPECT_FALSE(fs::exists(path("gone.parquet")));
  EXPECT_FALSE(fs::exists(path("gone.parquet.rdpt-tmp.duckdb")));
}

TEST_F(Parquet, NamesDuckDbWouldMisreadAreRefusedOrReadAsGiven) {
  const std::string src = "SELECT * FROM " + traces("overthinking_debug.jsonl.zst");
  // A name with glob characters: DuckDB would read x1.parquet for "x[1].parquet".
  fs::create_directories(path("g"));
  rdpt::io::duckdb_exec("COPY (" + src + " LIMIT 2) TO '" + path("g/x1.parquet") + "' (FORMAT parquet)");
  rdpt::io::duckdb_exec("COPY (" + src + ") TO '" + path("g/x[1].parquet") + "' (FORMAT parquet)");
  std::string e = error_of(path("g/x[1].parquet"));
  EXPECT_NE(e.find("x[1].parquet: a Parquet file name with '*', '?' or '[' cannot be read"), std::string::npos) << e;
  // A directory named like a hive partition (id=zzz) does not add or replace columns.
  fs::create_directories(path("h/id=zzz"));
  rdpt::io::duckdb_exec("COPY (" + src + ") TO '" + path("h/id=zzz/part.parquet") + "' (FORMAT parquet)");
  const auto hive = read_all(path("h/id=zzz/part.parquet"));
  ASSERT_EQ(hive.size(), 5u);
  EXPECT_EQ(hive[0].id, "overthinking-debug-0");
  // A glob of JSON Lines files says that patterns are for Parquet.
  fs::create_directories(path("j"));
  std::ofstream(path("j/a.jsonl")) << "{\"id\": \"a\", \"question\": \"q\", \"response\": \"r\"}\n";
  std::ofstream(path("j/b.jsonl")) << "{\"id\": \"b\", \"question\": \"q\", \"response\": \"r\"}\n";
  e = error_of(path("j/*.jsonl"));
  EXPECT_NE(e.find("a.jsonl: not a Parquet file (a directory or pattern in --data is read as Parquet shards"),
            std::string::npos)
      << e;
}

TEST_F(Parquet, ShardsWithoutIdsGetTheirPathsInIdsAndProgressEndsAtTheTotal) {
  const std::string src = "SELECT question, response FROM " + traces("overthinking_debug.jsonl.zst");
  fs::create_directories(path("s/train"));
  fs::create_directories(path("s/test"));
  rdpt::io::duckdb_exec("COPY (" + src + ") TO '" + path("s/train/0000.parquet") + "' (FORMAT parquet)");
  rdpt::io::duckdb_exec("COPY (" + src + ") TO '" + path("s/test/0000.parquet") + "' (FORMAT parquet)");
  const auto recs = read_all(path("s/*/0000.parquet"));
  ASSERT_EQ(recs.size(), 10u);
  EXPECT_EQ(recs[0].id, path("s/test/0000.parquet") + ":1");
  EXPECT_EQ(recs[5].id, path("s/train/0000.parquet") + ":1");
  // One file: its name.
  EXPECT_EQ(read_all(path("s/train/0000.parquet"))[4].id, "0000.parquet:5");
  rdpt::RecordReader r(path("s/*/0000.parquet"));
  rdpt::Record rec;
  uint64_t last = 0;
  while (r.next(rec)) {
    EXPECT_GE(r.bytes_read(), last);
    last = r.bytes_read();
  }
  EXPECT_EQ(r.bytes_read(), *r.size());
  EXPECT_FALSE(r.next(rec));
  EXPECT_EQ(r.bytes_read(), *r.size());
}

TEST_F(Parquet, ChosenRowsOfShardsWithDifferentColumnsKeepEveryColumn) {
  const std::string src = "SELECT * FROM " + traces("overthinking_debug.jsonl.zst");
  fs::create_directories(path("u"));
  rdpt::io::duckdb_exec("COPY (SELECT id, question, response FROM (" + src + ") WHERE id < 'overthinking-debug-3') TO '" +
                        path("u/a.parquet") + "' (FORMAT parquet)");
  rdpt::io::duckdb_exec("COPY (SELECT id, question, response, answer FROM (" + src +
                        ") WHERE id >= 'overthinking-debug-3') TO '" + path("u/b.parquet") + "' (FORMAT parquet)");
  const auto all = read_all(path("u"));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(rdpt::io::write_parquet_rows(path("u"), {{all[0].file, all[0].line}, {all[4].file, all[4].line}},
                                         path("out.parquet")),
            2u);
  const auto got = read_all(path("out.parquet"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, all[0].id);
  EXPECT_FALSE(got[0].answer);  // null: its shard has no answer column
  EXPECT_EQ(got[1].id, all[4].id);
  EXPECT_EQ(got[1].answer, all[4].answer);
  ASSERT_TRUE(got[1].answer);
}

}  // namespace
