#include "rdpt/record.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <unistd.h>
#include <fstream>

#include "rdpt/error.h"
#include "support/scratch_dir.h"

namespace rdpt {
namespace {

namespace fs = std::filesystem;

std::string tmp_path(const std::string& name) {
  return (rdpt::testing_support::scratch_dir("rdpt_io_test") / ("rdpt_io_" + name)).string();
}

std::string write_plain(const std::string& name, const std::string& content) {
  std::string p = tmp_path(name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

std::string write_gz(const std::string& name, const std::string& content) {
  std::string p = tmp_path(name);
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, content.data(), unsigned(content.size()));
  gzclose(f);
  return p;
}

std::string zstd_bytes(const std::string& content) {
  std::string out(ZSTD_compressBound(content.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), content.data(), content.size(), 3));
  return out;
}

std::vector<Record> read_all(const std::string& path, ReaderOptions o = {}) {
  RecordReader r(path, o);
  std::vector<Record> out;
  Record rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}

std::string error_of(const std::string& path, ReaderOptions o = {}) {
  try {
    read_all(path, o);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

const std::string kFlat =
    R"({"id": "a1", "question": "What is 1+1?", "response": "It is 2. Done.", "answer": "2", "correct": true, "question_id": "q1"})"
    "\n"
    R"({"id": 7, "problem": "What is 2+2?", "generation": "Four.", "gt": 4, "is_correct": 0})"
    "\n\n";

TEST(RecordReader, FlatFieldsWithFallbacks) {
  auto recs = read_all(write_plain("flat.jsonl", kFlat));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].id, "a1");
  EXPECT_EQ(recs[0].group, "q1");
  EXPECT_EQ(recs[0].question, "What is 1+1?");
  EXPECT_EQ(recs[0].response, "It is 2. Done.");
  EXPECT_EQ(recs[0].answer, "2");
  EXPECT_EQ(recs[0].correct, true);
  EXPECT_EQ(recs[0].line, 1u);
  EXPECT_EQ(recs[1].id, "7");
  EXPECT_EQ(recs[1].response, "Four.");
  EXPECT_EQ(recs[1].answer, "4");
  EXPECT_EQ(recs[1].correct, false);
  EXPECT_EQ(recs[1].group, group_from_question("What is 2+2?"));
  EXPECT_EQ(recs[1].raw, R"({"id": 7, "problem": "What is 2+2?", "generation": "Four.", "gt": 4, "is_correct": 0})");
}

TEST(RecordReader, AStoreGivenAsDataIsSaidToBeOne) {
  std::string p = write_plain("store.db", std::string("SQLite format 3\0\x10\x00\x02\x02", 20) + std::string(200, 'x'));
  ReaderOptions o;
  o.skip_bad = true;  // not one bad record to skip: the whole file is something else
  EXPECT_EQ(error_of(p, o), p + ": an SQLite database (an rdpt store?), not a dataset of JSON lines: give a store as "
                                "--store and the records (JSONL or Parquet) as --data");
}

TEST(RecordReader, ConfiguredFieldNamesAndNoFallbacks) {
  std::string p = write_plain("named.jsonl", R"({"uid": "x", "q": "Q?", "out": "A.", "problem": "other"})" "\n");
  ReaderOptions o;
  o.fields.id = "uid";
  o.fields.question = "q";
  o.fields.response = "out";
  auto recs = read_all(p, o);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].id, "x");
  EXPECT_EQ(recs[0].question, "Q?");
  o.fields.response = "missing";
  o.fields.fallbacks = false;
  EXPECT_NE(error_of(p, o).find("missing field 'missing'"), std::string::npos);
  // A name the user gave is taken as given even with fallbacks on: a misspelt --response-field does
  // not quietly read "response"; the error lists the record's fields and the option.
  const std::string q = write_plain("named2.jsonl", R"({"id": "y", "question": "Q?", "response": "A."})" "\n");
  ReaderOptions n;
  n.fields.response = "resp";
  EXPECT_NE(error_of(q, n).find("record 'y': missing field 'resp' (the record's fields: id, question, response; name "
                                "the field with --response-field)"),
            std::string::npos)
      << error_of(q, n);
  // Nor does it fall back to "content" beside a reasoning field.
  const std::string t = write_plain("named4.jsonl", R"({"id": "w", "question": "Q?", "reasoning_content": "Hmm.", "content": "A."})" "\n");
  EXPECT_NE(error_of(t, n).find("record 'w': missing field 'resp'"), std::string::npos) << error_of(t, n);
  EXPECT_EQ(read_all(t, ReaderOptions{}).size(), 1u);  // with the default name, content is the answer
  // Left at its default name, a field's alternatives are tried and listed when none is there.
  const std::string r = write_plain("named3.jsonl", R"({"id": "z", "text": "Q?", "response": "A."})" "\n");
  EXPECT_NE(error_of(r, ReaderOptions{}).find("missing field 'question' (also tried: problem, prompt, instruction, "
                                              "input, query; the record's fields: id, response, text; name the field "
                                              "with --question-field)"),
            std::string::npos)
      << error_of(r, ReaderOptions{});
}

TEST(RecordReader, MessagesLayout) {
  std::string line =
      R"({"id": "m1", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},)"
      R"( {"role": "assistant", "content": [{"type": "text", "text": "<think>x</think>"}, {"type": "text", "text": "Hello."}]}]})";
  auto recs = read_all(write_plain("messages.jsonl", line + "\n"));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].system, "Be brief.");
  EXPECT_EQ(recs[0].question, "Hi?");
  EXPECT_EQ(recs[0].response, "<think>x</think>Hello.");
  EXPECT_EQ(recs[0].group, group_from_question("Hi?"));
}

// A thought in its own field (vLLM's reasoning parsers, OpenAI-style datasets) gives the same
// canonical text as the inline layout: "<think>" + thought + "</think>" + answer.
TEST(RecordReader, ReasoningInItsOwnFieldGivesTheInlineText) {
  const std::string inline_text = "<think>\nOkay, 2.\n</think>\n\nIt is 2.";
  const std::string lines =
      R"({"id": "a", "question": "Q", "response": "<think>\nOkay, 2.\n</think>\n\nIt is 2."})" "\n"
      R"({"id": "b", "question": "Q", "reasoning_content": "\nOkay, 2.\n", "response": "\n\nIt is 2."})" "\n"
      R"({"id": "c", "question": "Q", "reasoning": "\nOkay, 2.\n", "content": "\n\nIt is 2."})" "\n"
      R"({"id": "d", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "reasoning_content": "\nOkay, 2.\n", "content": "\n\nIt is 2."}]})" "\n"
      R"({"id": "e", "question": "Q", "reasoning_content": "", "response": "no thought"})" "\n"
      R"({"id": "f", "question": "Q", "reasoning_content": null, "response": "no thought"})" "\n"
      R"({"id": "g", "question": "Q", "reasoning_content": ["\nOkay, 2.\n", null], "responses": ["\n\nIt is 2.", "x"]})" "\n";
  auto recs = read_all(write_plain("reasoning.jsonl", lines));
  ASSERT_EQ(recs.size(), 8u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(recs[i].response, inline_text) << recs[i].id;
  EXPECT_EQ(recs[4].response, "no thought");
  EXPECT_EQ(recs[5].response, "no thought");
  EXPECT_EQ(recs[6].response, inline_text);
  EXPECT_EQ(recs[7].response, "x");
  // An explicit field layout (no fallbacks) takes the response field as it is.
  ReaderOptions exact;
  exact.fields.fallbacks = false;
  auto plain = read_all(write_plain("reasoning_exact.jsonl",
                                    R"({"id": "b", "question": "Q", "reasoning": "effort: high", "response": "It is 2."})" "\n"),
                        exact);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].response, "It is 2.");
}

TEST(RecordReader, ConversationsLayout) {
  std::string line =
      R"({"conversations": [{"from": "human", "value": "Q1"}, {"from": "gpt", "value": "A1."}, {"from": "human", "value": "Q2"}, {"from": "gpt", "value": "A2."}], "answer": "5"})";
  auto recs = read_all(write_plain("conv.jsonl", line + "\n"));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].id, "rdpt_io_conv.jsonl:1");
  EXPECT_EQ(recs[0].question, "Q2");
  EXPECT_EQ(recs[0].response, "A2.");
  EXPECT_EQ(recs[0].answer, "5");
}

// The shapes of OpenThoughts / Bespoke-Stratos / Sky-T1_data ("system" beside "conversations"),
// OpenAI's developer role, ShareGPT's capitalised roles and {role, content} inside "conversations".
TEST(RecordReader, SystemPromptAndRolesInChatLayouts) {
  const std::string lines =
      R"({"id": "c1", "system": "SYS-C", "conversations": [{"from": "user", "value": "Q"}, {"from": "assistant", "value": "A"}]})" "\n"
      R"({"id": "m1", "system_prompt": "SYS-M", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]})" "\n"
      R"({"id": "m2", "messages": [{"role": "developer", "content": "DEV"}, {"role": "User", "content": "Q"}, {"role": "Assistant", "content": "A"}]})" "\n"
      R"({"id": "m3", "system": "S", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]})" "\n"
      R"({"id": "s1", "conversations": [{"from": "Human", "value": "Q"}, {"from": "GPT", "value": "A"}]})" "\n"
      R"({"id": "r1", "conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]})" "\n"
      // a tool turn in an earlier exchange goes with that exchange (not part of the prompt)
      R"({"id": "t1", "messages": [{"role": "user", "content": "Q0"}, {"role": "tool", "content": {"k": 1}}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]})" "\n"
      // and so does one after the response
      R"({"id": "t2", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, {"role": "tool", "content": "x"}]})" "\n";
  auto recs = read_all(write_plain("chat_system.jsonl", lines));
  ASSERT_EQ(recs.size(), 8u);
  const char* systems[] = {"SYS-C", "SYS-M", "DEV", "S", "", "", "", ""};
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].system, systems[i]) << recs[i].id;
    EXPECT_EQ(recs[i].question, "Q") << recs[i].id;
    EXPECT_EQ(recs[i].response, "A") << recs[i].id;
  }
}

// vLLM's reasoning parsers give a null answer for output cut before "</think>": no closing tag is
// made up; a finish_reason "stop" says the thought was closed with nothing after it.
TEST(RecordReader, ANullAnswerBesideAThoughtLeavesItOpen) {
  const std::string lines =
      R"({"id": "a", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": null, "reasoning_content": "cut"}]})" "\n"
      R"({"id": "b", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": null, "reasoning_content": "done", "finish_reason": "stop"}]})" "\n"
      R"({"id": "c", "question": "Q", "reasoning_content": "cut", "content": null, "finish_reason": "length"})" "\n"
      R"({"id": "d", "question": "Q", "reasoning_content": "done", "content": null, "finish_reason": "stop"})" "\n"
      R"({"id": "e", "question": "Q", "reasoning_content": "done", "content": ""})" "\n"
      R"({"id": "f", "question": "Q", "reasoning_content": "done", "content": null, "finish_reason": "EOS"})" "\n";
  auto recs = read_all(write_plain("null_answer.jsonl", lines));
  ASSERT_EQ(recs.size(), 6u);
  EXPECT_EQ(recs[5].response, "<think>done</think>");
  EXPECT_EQ(recs[0].response, "<think>cut");
  EXPECT_EQ(recs[1].response, "<think>done</think>");
  EXPECT_EQ(recs[2].response, "<think>cut");
  EXPECT_EQ(recs[3].response, "<think>done</think>");
  EXPECT_EQ(recs[4].response, "<think>done</think>");
}

TEST(RecordReader, SeveralResponsesPerRecord) {
  std::string line = R"({"id": "g", "problem": "P", "generations": ["A.", "B."], "correctness": [true, false], "is_correct": [true, false]})";
  auto recs = read_all(write_plain("multi.jsonl", line + "\n"));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].id, "g#0");
  EXPECT_EQ(recs[1].id, "g#1");
  EXPECT_EQ(recs[1].response, "B.");
  EXPECT_EQ(recs[0].correct, true);
  EXPECT_EQ(recs[1].correct, false);
  EXPECT_EQ(recs[0].group, recs[1].group);
  EXPECT_EQ(recs[1].sub_index, 1);
}

TEST(RecordReader, GzipZstdAndPlainGiveTheSameRecords) {
  auto plain = read_all(write_plain("same.jsonl", kFlat));
  auto gz = read_all(write_gz("same.jsonl.gz", kFlat));
  auto zst = read_all(write_plain("same.jsonl.zst", zstd_bytes(kFlat)));
  // Concatenated zstd frames and gzip members are one stream.
  auto zst2 = read_all(write_plain("same2.zst", zstd_bytes(kFlat) + zstd_bytes(kFlat)));
  ASSERT_EQ(gz.size(), plain.size());
  ASSERT_EQ(zst.size(), plain.size());
  ASSERT_EQ(zst2.size(), 2 * plain.size());
  for (size_t k = 0; k < plain.size(); ++k) {
    EXPECT_EQ(gz[k].raw, plain[k].raw);
    EXPECT_EQ(zst[k].response, plain[k].response);
    EXPECT_EQ(zst2[k + plain.size()].line, plain[k].line + 3);
  }
}

TEST(RecordReader, TruncatedAndCorruptCompressedFilesAreErrors) {
  std::string z = zstd_bytes(kFlat);
  EXPECT_NE(error_of(write_plain("trunc.zst", z.substr(0, z.size() - 5))).find("truncated zstd"), std::string::npos);
  std::string g = tmp_path("x.gz");
  write_gz("x.gz", kFlat);
  std::ifstream in(g, std::ios::binary);
  std::string gzdata((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(error_of(write_plain("trunc.gz", gzdata.substr(0, gzdata.size() / 2))).find("gzip"), std::string::npos);
  std::string bad = gzdata;
  bad[12] ^= 0x55;
  bad[13] ^= 0x55;
  EXPECT_NE(error_of(write_plain("corrupt.gz", bad)), "");
}

struct BadCase {
  const char* name;
  std::string line;
  const char* expect;  // substring of the error
};

TEST(RecordReader, BadRecordsNameFileLineRecordAndField) {
  const std::vector<BadCase> cases = {
      {"truncated_json", R"({"id": "t", "question": "Q", "response": "R)", "invalid JSON"},
      {"not_object", R"(["a", "b"])", "not an object"},
      {"missing_response", R"({"id": "r9", "question": "Q"})", "record 'r9': missing field 'response'"},
      {"missing_question", R"({"id": "r8", "response": "R"})", "record 'r8': missing field 'question'"},
      {"wrong_type", R"({"id": "r7", "question": "Q", "response": 5})", "record 'r7': field 'response' must be"},
      {"bad_correct", R"({"id": "r6", "question": "Q", "response": "R", "correct": "maybe"})", "field 'correct' must be a boolean"},
      {"bad_utf8", "{\"id\": \"u\", \"question\": \"Q\", \"response\": \"\xC3\x28\"}", "invalid UTF-8"},
      {"nul_byte", std::string("{\"id\": \"n\", \"question\": \"Q\", \"response\": \"a") + '\0' + "b\"}", "invalid JSON"},
      {"no_assistant", R"({"id": "m", "messages": [{"role": "user", "content": "Q"}]})", "record 'm': no assistant message"},
      {"bad_message", R"({"id": "m2", "messages": [{"content": "Q"}]})", "messages[0] needs a string 'role'"},
      {"label_count", R"({"id": "l", "question": "Q", "responses": ["a", "b"], "correct": [true]})", "has 1 labels for 2 responses"},
      {"thought_twice", R"({"id": "th", "question": "Q", "reasoning_content": "x", "response": "<think>y</think>z"})",
       "record 'th': the record has a reasoning field and a response that itself holds <think>"},
      {"thought_type", R"({"id": "tt", "question": "Q", "reasoning": 3, "response": "z"})", "field 'reasoning' must be a string"},
      {"thought_msg", R"({"id": "tm", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "a", "reasoning_content": [1]}]})",
       "messages[1].reasoning_content must be a string"},
      {"tool_role", R"({"id": "tr", "messages": [{"role": "user", "content": "Q"}, {"role": "tool", "content": "x"}, {"role": "assistant", "content": "a"}]})",
       "record 'tr': messages[1] has role 'tool' between the question and the response, which is not a role rdpt renders"},
      {"two_systems", R"({"id": "ts", "system": "S1", "conversations": [{"from": "system", "value": "S2"}, {"from": "human", "value": "Q"}, {"from": "gpt", "value": "a"}]})",
       "record 'ts': field 'system' and the system turn of 'conversations' differ"},
      {"two_system_turns", R"({"id": "t2", "messages": [{"role": "system", "content": "S1"}, {"role": "developer", "content": "S2"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "a"}]})",
       "record 't2': messages[1] is a second system/developer turn"},
  };
  for (const auto& c : cases) {
    std::string p = write_plain(std::string(c.name) + ".jsonl", kFlat + c.line + "\n");
    std::string err = error_of(p);
    EXPECT_NE(err.find(p + ":4: "), std::string::npos) << c.name << ": " << err;
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.name << ": " << err;
  }
}

TEST(RecordReader, SkipBadCountsReasonsAndKeepsGoodRecords) {
  std::string content = kFlat + "{broken\n" + R"({"id": "r9", "question": "Q"})" "\n" + "{also broken\n" + kFlat;
  ReaderOptions o;
  o.skip_bad = true;
  RecordReader r(write_plain("skip.jsonl", content), o);
  Record rec;
  int n = 0;
  while (r.next(rec)) ++n;
  EXPECT_EQ(n, 4);
  EXPECT_EQ(r.stats().n_skipped(), 3u);
  EXPECT_EQ(r.stats().skipped.at("invalid JSON"), 2u);
  EXPECT_EQ(r.stats().skipped_summary(), "3 records skipped: 2 invalid JSON, 1 missing field 'response'");
}

TEST(RecordReader, VeryLongLineAndCrLf) {
  std::string big(100'000'000, 'x');  // a 100 MB single line (the bad-input suite's size)
  std::string line = R"({"id": "big", "question": "Q", "response": ")" + big + "\"}\r\n";
  auto recs = read_all(write_plain("big.jsonl", line));
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].response.size(), big.size());
  EXPECT_EQ(recs[0].raw.back(), '\r');  // raw keeps the line's bytes exactly
}

TEST(RecordReader, MissingFileIsAnError) {
  EXPECT_THROW(RecordReader("/nonexistent/x.jsonl"), Error);
}

TEST(RecordReader, GroupHashIsStable) {
  EXPECT_EQ(group_from_question(""), "q:cbf29ce484222325");  // FNV-1a offset basis
  EXPECT_NE(group_from_question("a"), group_from_question("b"));
}

}  // namespace
}  // namespace rdpt
