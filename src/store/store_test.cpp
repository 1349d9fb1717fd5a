// Unit tests of the SQLite score store (include/rdpt/store.h).
#include "rdpt/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "rdpt/error.h"
#include "rdpt/segment.h"
#include "store/blob.h"

namespace rdpt {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) /
            ("rdpt_store_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// Runs SQL on the file through a separate raw SQLite connection.
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in " << sql;
  sqlite3_free(err);
  sqlite3_close(db);
}

std::string raw_blob(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    out.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)) ? static_cast<const char*>(sqlite3_column_blob(st, 0)) : "",
               size_t(sqlite3_column_bytes(st, 0)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

StoredResponse make_response(const std::string& id, const std::string& text, const std::string& group = "g1") {
  StoredResponse r;
  r.id = id;
  r.group = group;
  r.question = "What is 1+1? (" + id + ")";
  r.response = text;
  r.system = "You are helpful.";
  r.source_file = "data/x.jsonl";
  r.source_line = 7;
  r.actions = segment(text);
  return r;
}

ModelInfo model_info(const std::string& name, const std::string& fingerprint) {
  ModelInfo m;
  m.name = name;
  m.fingerprint = fingerprint;
  return m;
}

PairScore make_score(const StoredResponse& r, double base) {
  PairScore s;
  s.n_tokens = 0;
  for (size_t k = 0; k < r.actions.size(); ++k) {
    ActionScore a;
    a.n_tokens = uint32_t(k % 3);  // some actions unscored (0 tokens)
    a.logprob_sum = a.n_tokens ? base - 0.25 * double(k) : 0.0;
    s.n_tokens += a.n_tokens;
    s.actions.push_back(a);
  }
  s.n_tokens_total = s.n_tokens;
  return s;
}

void expect_same(const StoredResponse& a, const StoredResponse& b) {
  EXPECT_EQ(a.rid, b.rid);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.group, b.group);
  EXPECT_EQ(a.question, b.question);
  EXPECT_EQ(a.response, b.response);
  EXPECT_EQ(a.system, b.system);
  EXPECT_EQ(a.answer, b.answer);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.source_file, b.source_file);
  EXPECT_EQ(a.source_line, b.source_line);
  EXPECT_EQ(a.actions, b.actions);
}

void expect_same(const PairScore& a, const PairScore& b) {
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.n_tokens, b.n_tokens);
  EXPECT_EQ(a.n_tokens_total, b.n_tokens_total);
  EXPECT_EQ(a.actions, b.actions);  // exact: f64 round trip
  EXPECT_EQ(a.has_ranks, b.has_ranks);
  EXPECT_EQ(a.error, b.error);
}

const char* kText = "<think>\nFirst we add. Then we check. 1+1=2.</think> The answer is \\boxed{2}. Done.";

TEST(Store, CreateWritesSchemaMetaAndWal) {
  TempDir d;
  const auto p = d.file("s.db");
  {
    auto st = Store::open(p, OpenMode::Create);
    EXPECT_EQ(st->path(), p);
    EXPECT_EQ(st->meta("schema_version"), std::to_string(kStoreSchemaVersion));
    EXPECT_EQ(st->meta("application"), "rdpt");
    EXPECT_TRUE(st->meta("created_by").has_value());
    EXPECT_FALSE(st->meta("no such key").has_value());
    EXPECT_EQ(st->n_responses(), 0);
    EXPECT_TRUE(st->models().empty());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  auto one = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  };
  EXPECT_EQ(one("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(one("PRAGMA application_id"), std::to_string(0x52445054));
  EXPECT_EQ(one("PRAGMA user_version"), std::to_string(kStoreSchemaVersion));
  sqlite3_close(db);
  // Re-opening in every mode works.
  EXPECT_NO_THROW(Store::open(p, OpenMode::Create));
  EXPECT_NO_THROW(Store::open(p, OpenMode::ReadWrite));
  EXPECT_NO_THROW(Store::open(p, OpenMode::ReadOnly));
}

TEST(Store, ResponsesRoundTripEveryField) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  auto a = make_response("a", kText);
  a.answer = "2";
  a.correct = true;
  a.system = "";
  auto b = make_response("b", "Only one sentence here.", "g2");
  b.correct = false;
  auto c = make_response("c", "Zero-answer case. With \xc3\xa9t\xc3\xa9 text.\n", "g2");
  c.answer = "";  // present but empty is not the same as absent
  auto e = make_response("empty", "");
  ASSERT_TRUE(e.actions.empty());
  a.rid = st->put_response(a);
  b.rid = st->put_response(b);
  c.rid = st->put_response(c);
  e.rid = st->put_response(e);
  EXPECT_LT(a.rid, b.rid);
  EXPECT_LT(b.rid, c.rid);
  EXPECT_EQ(st->n_responses(), 4);
  EXPECT_EQ(st->find_response("b"), b.rid);
  EXPECT_FALSE(st->find_response("zzz").has_value());
  EXPECT_FALSE(st->get_response(9999).has_value());
  for (const auto* r : {&a, &b, &c, &e}) {
    auto got = st->get_response(r->rid);
    ASSERT_TRUE(got.has_value());
    expect_same(*got, *r);
  }
  ASSERT_TRUE(a.actions.front().special);  // <think> kept its flag
  std::vector<std::string> seen;
  st->for_each_response([&](const StoredResponse& r) {
    seen.push_back(r.id);
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "empty"}));
  seen.clear();
  st->for_each_response([&](const StoredResponse& r) {
    seen.push_back(r.id);
    return seen.size() < 2;
  });
  EXPECT_EQ(seen.size(), 2u);
  st->set_correct(c.rid, true);
  st->set_correct(a.rid, std::nullopt);
  EXPECT_EQ(st->get_response(c.rid)->correct, true);
  EXPECT_EQ(st->get_response(a.rid)->correct, std::nullopt);
  EXPECT_THROW(st->set_correct(12345, true), UsageError);
}

TEST(Store, PutResponseIsIdempotentAndRejectsAnotherText) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  auto a = make_response("a", kText);
  const int64_t rid = st->put_response(a);
  auto again = a;
  again.answer = "changed";  // other fields of an existing row are kept
  again.group = "g2";
  EXPECT_EQ(st->put_response(again), rid);
  EXPECT_EQ(st->n_responses(), 1);
  EXPECT_EQ(st->get_response(rid)->answer, a.answer);
  EXPECT_EQ(st->get_response(rid)->group, a.group);
  auto other = make_response("a", std::string(kText) + " More.");
  try {
    st->put_response(other);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'a'"), std::string::npos) << m;
    EXPECT_NE(m.find("first difference at byte " + std::to_string(a.response.size())), std::string::npos) << m;
  }
}

TEST(Store, ResegmentationAllowedOnlyWhileUnscored) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  auto a = make_response("a", kText);
  const int64_t rid = st->put_response(a);
  auto b = a;
  SegmentOptions no_specials;
  no_specials.special_tokens.clear();
  b.actions = segment(a.response, no_specials);
  ASSERT_NE(b.actions, a.actions);
  EXPECT_EQ(st->put_response(b), rid);
  EXPECT_EQ(st->get_response(rid)->actions, b.actions);
  const int64_t mid = st->put_model(model_info("m", "f"));
  st->put_scores(mid, rid, make_score(b, -1.0));
  EXPECT_THROW(st->put_response(a), DataError);
  EXPECT_EQ(st->get_response(rid)->actions, b.actions);
}

// The question and system prompt are what every score of the response is conditioned on: while
// no model scored it they follow the latest input; once scored, another one is an error naming
// the record, what differs and where, and the row keeps the prompt its scores were computed under.
TEST(Store, APromptChangeIsAllowedOnlyWhileUnscored) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  auto a = make_response("a", kText);
  const int64_t rid = st->put_response(a);
  auto b = a;
  b.question = a.question + " Show your work.";
  b.system = "";
  EXPECT_EQ(st->put_response(b), rid);
  EXPECT_EQ(st->get_response(rid)->question, b.question);
  EXPECT_EQ(st->get_response(rid)->system, "");
  const int64_t mid = st->put_model(model_info("m", "f"));
  st->put_scores(mid, rid, make_score(b, -1.0));
  EXPECT_EQ(st->put_response(b), rid);  // the same prompt: fine
  try {
    st->put_response(a);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("record 'a': its question differs"), std::string::npos) << m;
    EXPECT_NE(m.find("first difference at byte " + std::to_string(a.question.size())), std::string::npos) << m;
    EXPECT_NE(m.find("1 model score(s)"), std::string::npos) << m;
  }
  auto c = b;
  c.system = "Be brief.";
  try {
    st->put_response(c);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("its system prompt differs"), std::string::npos) << e.what();
  }
  EXPECT_EQ(st->get_response(rid)->question, b.question);
  EXPECT_EQ(st->get_response(rid)->system, "");
}

TEST(Store, PutResponseRejectsBadSpans) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  auto a = make_response("a", "Abc. Def.");
  a.actions = {{0, 4, false}, {5, 9, false}};  // gap at byte 4
  EXPECT_THROW(st->put_response(a), DataError);
  a.actions = {{0, 4, false}, {4, 8, false}};  // stops short of the end
  EXPECT_THROW(st->put_response(a), DataError);
  EXPECT_EQ(st->n_responses(), 0);
}

TEST(Store, BlobsAreLittleEndianArrays) {
  TempDir d;
  const auto p = d.file("s.db");
  {
    auto st = Store::open(p, OpenMode::Create);
    StoredResponse r = make_response("a", "Abc. Def.");
    r.actions = {{0, 4, true}, {4, 9, false}};
    const int64_t rid = st->put_response(r);
    const int64_t mid = st->put_model(model_info("m", "f"));
    PairScore s;
    s.n_tokens = s.n_tokens_total = 258;
    s.actions = {{258, -0.5}, {0, 0.0}};
    st->put_scores(mid, rid, s);
  }
  EXPECT_EQ(raw_blob(p, "SELECT spans FROM responses"), std::string("\x00\x00\x00\x00\x04\x00\x00\x00"
                                                                    "\x04\x00\x00\x00\x09\x00\x00\x00",
                                                                    16));
  EXPECT_EQ(raw_blob(p, "SELECT special FROM responses"), std::string("\x01\x00", 2));
  EXPECT_EQ(raw_blob(p, "SELECT token_counts FROM scores"), std::string("\x02\x01\x00\x00\x00\x00\x00\x00", 8));
  // -0.5 is 0xBFE0000000000000 in IEEE-754 binary64.
  EXPECT_EQ(raw_blob(p, "SELECT logprob_sums FROM scores"),
            std::string("\x00\x00\x00\x00\x00\x00\xe0\xbf"
                        "\x00\x00\x00\x00\x00\x00\x00\x00",
                        16));
}

TEST(Store, BlobCodecsRoundTripAndRejectBadLengths) {
  std::vector<Action> acts = {{0, 3, true}, {3, 70000, false}, {70000, 4000000000u, false}};
  auto got = blob::decode_actions(blob::encode_spans(acts), blob::encode_special(acts), 3, 4000000000u);
  EXPECT_EQ(got, acts);
  EXPECT_THROW(blob::decode_actions(blob::encode_spans(acts), blob::encode_special(acts), 2, 70000), StoreError);
  EXPECT_THROW(blob::decode_actions(blob::encode_spans(acts), blob::encode_special(acts), 3, 5), StoreError);
  std::vector<ActionScore> sc = {{1, -1e-300}, {0, 0.0}, {4000000000u, -123.456789012345678}};
  EXPECT_EQ(blob::decode_scores(blob::encode_token_counts(sc), blob::encode_logprob_sums(sc), "", 3), sc);
  EXPECT_THROW(blob::decode_scores(blob::encode_token_counts(sc), "", "", 3), StoreError);
  EXPECT_TRUE(blob::decode_scores("", "", "", 3).empty());
}

TEST(Store, ModelsFingerprintConflictAndReplace) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  ModelInfo t = model_info("teacher", "sha256:aa");
  t.backend = "llama";
  t.location = "/m/t.gguf";
  t.tokenizer = "qwen2 bpe";
  t.chat_template = "chatml";
  t.info_json = R"({"n_params":7})";
  const int64_t mt = st->put_model(t);
  const int64_t ms = st->put_model(model_info("student", "sha256:bb"));
  EXPECT_NE(mt, ms);
  auto got = st->model("teacher");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->mid, mt);
  EXPECT_EQ(got->backend, "llama");
  EXPECT_EQ(got->location, "/m/t.gguf");
  EXPECT_EQ(got->fingerprint, "sha256:aa");
  EXPECT_EQ(got->tokenizer, "qwen2 bpe");
  EXPECT_EQ(got->chat_template, "chatml");
  EXPECT_EQ(got->info_json, R"({"n_params":7})");
  EXPECT_FALSE(st->model("nobody").has_value());
  auto all = st->models();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "teacher");
  EXPECT_EQ(all[1].name, "student");
  // Same fingerprint: same model, row kept.
  auto moved = t;
  moved.location = "/elsewhere/t.gguf";
  EXPECT_EQ(st->put_model(moved), mt);
  EXPECT_EQ(st->model("teacher")->location, "/m/t.gguf");

  auto r = make_response("a", kText);
  r.rid = st->put_response(r);
  st->put_scores(mt, r.rid, make_score(r, -1.0));
  st->put_scores(ms, r.rid, make_score(r, -2.0));
  auto other = t;
  other.fingerprint = "sha256:cc";
  other.location = "/m/t2.gguf";
  try {
    st->put_model(other);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'teacher'"), std::string::npos) << m;
    EXPECT_NE(m.find("sha256:aa"), std::string::npos) << m;
    EXPECT_NE(m.find("sha256:cc"), std::string::npos) << m;
    EXPECT_NE(m.find("1 stored score"), std::string::npos) << m;
  }
  EXPECT_TRUE(st->get_scores(mt, r.rid).has_value());
  EXPECT_EQ(st->put_model(other, /*replace=*/true), mt);
  EXPECT_EQ(st->model("teacher")->fingerprint, "sha256:cc");
  EXPECT_EQ(st->model("teacher")->location, "/m/t2.gguf");
  EXPECT_FALSE(st->get_scores(mt, r.rid).has_value());  // its scores went with the old weights
  EXPECT_TRUE(st->get_scores(ms, r.rid).has_value());   // other models untouched
  EXPECT_THROW(st->put_model(model_info("", "f")), UsageError);
}

// A prepared model is written with its first pair and not before: a writer that fails first
// leaves no model row, a replacing writer that fails first leaves the old model whole.
TEST(Store, PreparedModelIsWrittenWithItsFirstPair) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  auto a = make_response("a", kText);
  a.rid = st->put_response(a);
  auto b = make_response("b", "Another one. Yes.");
  b.rid = st->put_response(b);
  ModelSlot slot = st->prepare_model(model_info("m", "f1"));
  EXPECT_FALSE(slot.stored());
  EXPECT_TRUE(st->models().empty());
  EXPECT_EQ(st->unscored(slot), (std::vector<int64_t>{a.rid, b.rid}));
  // A pair that cannot be stored (wrong number of actions) takes the model row with it.
  PairScore bad = make_score(a, -1.0);
  bad.actions.pop_back();
  EXPECT_THROW(st->put_scores(slot, a.rid, bad), UsageError);
  EXPECT_FALSE(slot.stored());
  EXPECT_TRUE(st->models().empty());
  // Inside a batch too (what `rdpt import` does).
  st->begin();
  EXPECT_THROW(st->put_scores(slot, a.rid, bad), UsageError);
  st->commit();
  EXPECT_TRUE(st->models().empty());
  // The first good pair writes the row; later pairs use it.
  st->put_scores(slot, a.rid, make_score(a, -1.0));
  ASSERT_TRUE(slot.stored());
  ASSERT_EQ(st->models().size(), 1u);
  EXPECT_EQ(st->model("m")->mid, slot.mid);
  EXPECT_EQ(st->unscored(slot), (std::vector<int64_t>{b.rid}));
  st->put_scores(slot, b.rid, make_score(b, -2.0));
  EXPECT_TRUE(st->unscored(slot).empty());
  // A second writer of the same model finds its row up front (a resumed run).
  ModelSlot again = st->prepare_model(model_info("m", "f1"));
  EXPECT_EQ(again.mid, slot.mid);
  // Another fingerprint: refused up front without replace, nothing written.
  EXPECT_THROW(st->prepare_model(model_info("m", "f2")), UsageError);
  ModelSlot repl = st->prepare_model(model_info("m", "f2"), /*replace=*/true);
  EXPECT_FALSE(repl.stored());
  EXPECT_EQ(st->unscored(repl).size(), 2u);
  EXPECT_THROW(st->put_scores(repl, a.rid, bad), UsageError);
  EXPECT_EQ(st->model("m")->fingerprint, "f1");  // the failed replacement changed nothing
  EXPECT_TRUE(st->get_scores(slot.mid, b.rid).has_value());
  st->put_scores(repl, a.rid, make_score(a, -3.0));
  EXPECT_EQ(repl.mid, slot.mid);
  EXPECT_EQ(st->model("m")->fingerprint, "f2");
  EXPECT_FALSE(st->get_scores(repl.mid, b.rid).has_value());  // the old model's scores are gone
  EXPECT_DOUBLE_EQ(st->get_scores(repl.mid, a.rid)->actions[1].logprob_sum, make_score(a, -3.0).actions[1].logprob_sum);
}

TEST(Store, ScoresRoundTripEveryStatus) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  auto r = make_response("a", kText);
  r.rid = st->put_response(r);
  auto e = make_response("e", "");
  e.rid = st->put_response(e);
  const int64_t m = st->put_model(model_info("m", "f"));
  EXPECT_FALSE(st->get_scores(m, r.rid).has_value());
  EXPECT_FALSE(st->score_status(m, r.rid).has_value());

  PairScore ok = make_score(r, -0.125);
  st->put_scores(m, r.rid, ok);
  expect_same(*st->get_scores(m, r.rid), ok);
  EXPECT_EQ(st->score_status(m, r.rid), ScoreStatus::Ok);

  PairScore tr = make_score(r, -3.0);
  tr.status = ScoreStatus::Truncated;
  tr.n_tokens_total = tr.n_tokens + 100;
  st->put_scores(m, r.rid, tr);  // replaces
  expect_same(*st->get_scores(m, r.rid), tr);

  PairScore failed;
  failed.status = ScoreStatus::Failed;
  failed.error = "context of 4096 tokens exceeded: 5000 tokens";
  st->put_scores(m, r.rid, failed);
  expect_same(*st->get_scores(m, r.rid), failed);
  EXPECT_EQ(st->score_status(m, r.rid), ScoreStatus::Failed);

  PairScore none;  // an empty response scores to zero actions
  st->put_scores(m, e.rid, none);
  expect_same(*st->get_scores(m, e.rid), none);

  PairScore wrong = make_score(r, -1.0);
  wrong.actions.pop_back();
  EXPECT_THROW(st->put_scores(m, r.rid, wrong), UsageError);
  EXPECT_THROW(st->put_scores(m, 777, ok), UsageError);
  EXPECT_THROW(st->put_scores(777, r.rid, ok), UsageError);
  expect_same(*st->get_scores(m, r.rid), failed);  // failed writes changed nothing
}

TEST(Store, RankSumsRoundTripInEveryReader) {
  TempDir d;
  const auto path = d.file("s.db");
  auto st = Store::open(path, OpenMode::Create);
  auto r = make_response("a", kText);
  r.rid = st->put_response(r);
  const int64_t m = st->put_model(model_info("m", "f"));
  PairScore ranked = make_score(r, -0.5);
  ranked.has_ranks = true;
  for (size_t k = 0; k < ranked.actions.size(); ++k)
    ranked.actions[k].rank_sum = ranked.actions[k].n_tokens * 37 + (uint64_t(k) << 33);  // > 32 bits too
  st->put_scores(m, r.rid, ranked);
  expect_same(*st->get_scores(m, r.rid), ranked);
  const int64_t mids[] = {m};
  int n = 0;
  st->for_each_scored(mids, [&](const StoredResponse&, std::span<const std::optional<PairScore>> s) {
    expect_same(*s[0], ranked);
    return ++n > 0;
  });
  st->scan_scores(mids, ScanResponses::None, [&](int64_t, const StoredResponse*, std::span<const PairBlobs> p) {
    EXPECT_TRUE(p[0].has_ranks());
    for (size_t k = 0; k < ranked.actions.size(); ++k) EXPECT_EQ(p[0].rank_sum(k), ranked.actions[k].rank_sum) << k;
    return ++n > 0;
  });
  EXPECT_EQ(n, 2);
  // Without ranks the column is NULL and nothing reads as ranked.
  PairScore plain = make_score(r, -0.5);
  st->put_scores(m, r.rid, plain);
  expect_same(*st->get_scores(m, r.rid), plain);
  st.reset();
  raw_exec(path, "UPDATE scores SET rank_sums = x'0102'");
  st = Store::open(path, OpenMode::ReadOnly);
  try {
    st->scan_scores(mids, ScanResponses::Full, [](int64_t, const StoredResponse*, auto) { return true; });
    ADD_FAILURE() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("rank_sums BLOB of 2 bytes"), std::string::npos) << e.what();
  }
  EXPECT_THROW(st->get_scores(m, r.rid), StoreError);
}

TEST(Store, VersionOneStoreIsReadAsIsAndUpgradedForWriting) {
  TempDir d;
  const auto path = d.file("v1.db");
  auto r = make_response("a", kText);
  int64_t m = 0;
  {
    auto st = Store::open(path, OpenMode::Create);
    r.rid = st->put_response(r);
    m = st->put_model(model_info("m", "f"));
    st->put_scores(m, r.rid, make_score(r, -1.0));
  }
  // What rdpt 0.1 wrote: no rank_sums column, version 1.
  raw_exec(path, "ALTER TABLE scores DROP COLUMN rank_sums; PRAGMA user_version=1; "
                 "UPDATE meta SET value='1' WHERE key='schema_version';");
  {
    auto ro = Store::open(path, OpenMode::ReadOnly);
    expect_same(*ro->get_scores(m, r.rid), make_score(r, -1.0));
    EXPECT_EQ(ro->meta("schema_version"), "1");
  }
  {
    auto rw = Store::open(path, OpenMode::ReadWrite);
    EXPECT_EQ(rw->meta("schema_version"), std::to_string(kStoreSchemaVersion));
    expect_same(*rw->get_scores(m, r.rid), make_score(r, -1.0));  // kept, without ranks
    PairScore ranked = make_score(r, -2.0);
    ranked.has_ranks = true;
    for (auto& a : ranked.actions) a.rank_sum = a.n_tokens * 3;
    rw->put_scores(m, r.rid, ranked);
    expect_same(*rw->get_scores(m, r.rid), ranked);
  }
  auto again = Store::open(path, OpenMode::ReadOnly);
  EXPECT_EQ(again->meta("schema_version"), std::to_string(kStoreSchemaVersion));
}

TEST(Store, UnscoredListsResponsesWithoutOkOrTruncated) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  std::vector<StoredResponse> rs;
  for (int i = 0; i < 5; ++i) {
    rs.push_back(make_response("r" + std::to_string(i), "Sentence " + std::to_string(i) + ". Next one."));
    rs.back().rid = st->put_response(rs.back());
  }
  const int64_t m1 = st->put_model(model_info("m1", "1"));
  const int64_t m2 = st->put_model(model_info("m2", "2"));
  EXPECT_EQ(st->unscored(m1), (std::vector<int64_t>{rs[0].rid, rs[1].rid, rs[2].rid, rs[3].rid, rs[4].rid}));
  st->put_scores(m1, rs[0].rid, make_score(rs[0], -1));
  auto tr = make_score(rs[1], -1);
  tr.status = ScoreStatus::Truncated;
  st->put_scores(m1, rs[1].rid, tr);
  PairScore failed;
  failed.status = ScoreStatus::Failed;
  failed.error = "boom";
  st->put_scores(m1, rs[2].rid, failed);
  st->put_scores(m2, rs[3].rid, make_score(rs[3], -1));
  EXPECT_EQ(st->unscored(m1), (std::vector<int64_t>{rs[2].rid, rs[3].rid, rs[4].rid}));
  EXPECT_EQ(st->unscored(m2), (std::vector<int64_t>{rs[0].rid, rs[1].rid, rs[2].rid, rs[4].rid}));
}

TEST(Store, ForEachScoredMergesModelsWithMissingScores) {
  TempDir d;
  auto st = Store::open(d.file("s.db"), OpenMode::Create);
  std::vector<StoredResponse> rs;
  for (int i = 0; i < 6; ++i) {
    rs.push_back(make_response("r" + std::to_string(i), "Alpha " + std::to_string(i) + ". Beta. Gamma!"));
    rs.back().rid = st->put_response(rs.back());
  }
  const int64_t m1 = st->put_model(model_info("m1", "1"));
  const int64_t m2 = st->put_model(model_info("m2", "2"));
  const int64_t m3 = st->put_model(model_info("m3", "3"));  // never scored
  // m1 scores even responses, m2 odd ones plus r0; written out of order.
  for (int i : {4, 0, 2}) st->put_scores(m1, rs[i].rid, make_score(rs[i], -1.0 * i));
  for (int i : {5, 1, 3, 0}) st->put_scores(m2, rs[i].rid, make_score(rs[i], -10.0 * i));

  const int64_t mids[] = {m2, m3, m1, m2};
  size_t n = 0;
  st->for_each_scored(mids, [&](const StoredResponse& r, std::span<const std::optional<PairScore>> sc) {
    const int i = int(n++);
    expect_same(r, rs[i]);
    EXPECT_EQ(sc.size(), 4u);
    EXPECT_EQ(sc[0].has_value(), i % 2 == 1 || i == 0) << i;
    EXPECT_FALSE(sc[1].has_value());
    EXPECT_EQ(sc[2].has_value(), i % 2 == 0) << i;
    if (sc[0]) expect_same(*sc[0], make_score(rs[i], -10.0 * i));
    if (sc[2]) expect_same(*sc[2], make_score(rs[i], -1.0 * i));
    EXPECT_EQ(sc[3].has_value(), sc[0].has_value());  // the same model twice
    return true;
  });
  EXPECT_EQ(n, rs.size());

  n = 0;
  st->for_each_scored(mids, [&](const StoredResponse&, auto) { return ++n < 3; });
  EXPECT_EQ(n, 3u);
  n = 0;
  st->for_each_scored({}, [&](const StoredResponse&, std::span<const std::optional<PairScore>> sc) {
    EXPECT_TRUE(sc.empty());
    ++n;
    return true;
  });
  EXPECT_EQ(n, rs.size());
  // Writing from inside the callback works (e.g. grading while streaming).
  st->for_each_scored(mids, [&](const StoredResponse& r, auto) {
    st->set_correct(r.rid, true);
    return true;
  });
  EXPECT_EQ(st->get_response(rs[5].rid)->correct, true);
}

TEST(Store, ScanScoresHandsBlobsAndCanSkipResponses) {
  TempDir d;
  const auto path = d.file("s.db");
  auto st = Store::open(path, OpenMode::Create);
  std::vector<StoredResponse> rs;
  for (int i = 0; i < 7; ++i) {
    rs.push_back(make_response("r" + std::to_string(i), "Alpha " + std::to_string(i) + ". Beta. Gamma!"));
    rs.back().rid = st->put_response(rs.back());
  }
  const int64_t m1 = st->put_model(model_info("m1", "1"));
  const int64_t m2 = st->put_model(model_info("m2", "2"));
  // m1 scores r0, r2, r4; m2 r1, r3, r4 (r4 Failed, empty BLOBs); r5 and r6 have no pair.
  for (int i : {4, 0, 2}) st->put_scores(m1, rs[i].rid, make_score(rs[i], -1.0 * i));
  for (int i : {3, 1}) st->put_scores(m2, rs[i].rid, make_score(rs[i], -10.0 * i));
  PairScore failed;
  failed.status = ScoreStatus::Failed;
  failed.error = "refused";
  st->put_scores(m2, rs[4].rid, failed);
  const int64_t mids[] = {m1, m2};
  auto decode = [](const PairBlobs& b) {
    std::vector<ActionScore> a(b.n_actions());
    for (size_t k = 0; k < a.size(); ++k) a[k] = {b.n_tokens(k), b.logprob_sum(k)};
    return a;
  };
  for (ScanResponses what : {ScanResponses::Full, ScanResponses::None}) {
    std::vector<int64_t> seen;
    const int64_t n = st->scan_scores(mids, what, [&](int64_t rid, const StoredResponse* r, std::span<const PairBlobs> p) {
      const int i = int(rid - rs[0].rid);
      seen.push_back(i);
      EXPECT_EQ(r != nullptr, what == ScanResponses::Full);
      if (r) expect_same(*r, rs[i]);
      EXPECT_EQ(p[0].present, i == 0 || i == 2 || i == 4) << i;
      EXPECT_EQ(p[1].present, i == 1 || i == 3 || i == 4) << i;
      if (p[0].present) {
        EXPECT_EQ(decode(p[0]), make_score(rs[i], -1.0 * i).actions) << i;
      }
      if (p[1].present && i != 4) {
        EXPECT_EQ(decode(p[1]), make_score(rs[i], -10.0 * i).actions) << i;
      }
      if (i == 4) {
        EXPECT_EQ(p[1].status, ScoreStatus::Failed);
        EXPECT_EQ(p[1].n_actions(), 0u);
        EXPECT_EQ(p[1].error, "refused");
      }
      return true;
    });
    EXPECT_EQ(n, 7) << "responses in the snapshot";
    EXPECT_EQ(seen, what == ScanResponses::Full ? std::vector<int64_t>({0, 1, 2, 3, 4, 5, 6})
                                                : std::vector<int64_t>({0, 1, 2, 3, 4}));
  }
  // BLOBs of the wrong size are named by pair in both scans.
  st.reset();
  raw_exec(path, "UPDATE scores SET token_counts = x'010203' WHERE mid = " + std::to_string(m1) +
                     " AND rid = " + std::to_string(rs[2].rid));
  st = Store::open(path, OpenMode::ReadOnly);
  for (ScanResponses what : {ScanResponses::Full, ScanResponses::None}) {
    try {
      st->scan_scores(mids, what, [](int64_t, const StoredResponse*, auto) { return true; });
      ADD_FAILURE() << "no error";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find("scores(mid " + std::to_string(m1) + ", rid " + std::to_string(rs[2].rid) +
                                           "): token_counts/logprob_sums BLOBs of 3/"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(Store, ForEachScoredQueriesUseTheIndexWithoutSorting) {
  TempDir d;
  const auto p = d.file("s.db");
  Store::open(p, OpenMode::Create);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  for (const char* q : {"EXPLAIN QUERY PLAN SELECT rid, status, token_counts FROM scores WHERE mid = 1 ORDER BY rid",
                        "EXPLAIN QUERY PLAN SELECT rid, status, token_counts FROM scores WHERE mid = 1 AND rid IN "
                        "(SELECT rid FROM responses) ORDER BY rid",
                        "EXPLAIN QUERY PLAN SELECT rid, response FROM responses ORDER BY rid"}) {
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, q, -1, &s, nullptr), SQLITE_OK);
    std::string plan;
    while (sqlite3_step(s) == SQLITE_ROW) plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 3))) + "; ";
    sqlite3_finalize(s);
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
  sqlite3_close(db);
}

TEST(Store, NotSqliteIsAStoreErrorNamingThePath) {
  TempDir d;
  const auto p = d.file("not.db");
  write_bytes(p, std::string(4096, 'x') + "this is not a database\n");
  const std::string before = read_bytes(p);
  for (auto mode : {OpenMode::ReadOnly, OpenMode::ReadWrite, OpenMode::Create}) {
    try {
      Store::open(p, mode);
      FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(p), std::string::npos) << m;
      EXPECT_NE(m.find("not an SQLite database"), std::string::npos) << m;
    }
  }
  EXPECT_EQ(read_bytes(p), before);
}

TEST(Store, AnotherApplicationOrVersionIsRefused) {
  TempDir d;
  const auto other = d.file("other.db");
  raw_exec(other, "PRAGMA application_id=123; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
  for (auto mode : {OpenMode::ReadOnly, OpenMode::ReadWrite, OpenMode::Create}) {
    try {
      Store::open(other, mode);
      FAIL();
    } catch (const StoreError& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(other), std::string::npos) << m;
      EXPECT_NE(m.find("another application (application_id 0x0000007b"), std::string::npos) << m;
    }
  }
  const auto plain = d.file("plain.db");  // some other tool's file without an application id
  raw_exec(plain, "CREATE TABLE t(x);");
  EXPECT_THROW(Store::open(plain, OpenMode::Create), StoreError);

  const auto v3 = d.file("v3.db");
  Store::open(v3, OpenMode::Create);
  raw_exec(v3, "PRAGMA user_version=3;");
  try {
    Store::open(v3, OpenMode::ReadOnly);
    FAIL();
  } catch (const StoreError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(v3), std::string::npos) << m;
    EXPECT_NE(m.find("schema version 3 found, expected 2"), std::string::npos) << m;
  }
  const auto metav = d.file("metav.db");
  Store::open(metav, OpenMode::Create);
  raw_exec(metav, "UPDATE meta SET value='7' WHERE key='schema_version';");
  try {
    Store::open(metav, OpenMode::ReadWrite);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("'7'"), std::string::npos) << e.what();
  }
}

TEST(Store, MissingOrEmptyFiles) {
  TempDir d;
  const auto p = d.file("absent.db");
  EXPECT_THROW(Store::open(p, OpenMode::ReadOnly), StoreError);
  EXPECT_THROW(Store::open(p, OpenMode::ReadWrite), StoreError);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_THROW(Store::open(d.file("no/such/dir/s.db"), OpenMode::Create), StoreError);
  EXPECT_THROW(Store::open(d.file(""), OpenMode::Create), StoreError);  // a directory
  const auto empty = d.file("empty.db");
  write_bytes(empty, "");
  EXPECT_THROW(Store::open(empty, OpenMode::ReadWrite), StoreError);
  EXPECT_THROW(Store::open(empty, OpenMode::ReadOnly), StoreError);
  auto st = Store::open(empty, OpenMode::Create);  // an empty file becomes a store
  EXPECT_EQ(st->meta("application"), "rdpt");
}

TEST(Store, ReadOnlyNeverModifiesTheFile) {
  TempDir d;
  const auto p = d.file("s.db");
  int64_t rid = 0, mid = 0;
  {
    auto st = Store::open(p, OpenMode::Create);
    auto r = make_response("a", kText);
    rid = st->put_response(r);
    mid = st->put_model(model_info("m", "f"));
    st->put_scores(mid, rid, make_score(r, -1));
  }  // closing the last connection checkpoints the WAL into the file
  const std::string before = read_bytes(p);
  const auto mtime = fs::last_write_time(p);
  {
    auto st = Store::open(p, OpenMode::ReadOnly);
    EXPECT_EQ(st->n_responses(), 1);
    EXPECT_TRUE(st->get_scores(mid, rid).has_value());
    EXPECT_EQ(st->unscored(mid).size(), 0u);
    auto r = *st->get_response(rid);
    EXPECT_THROW(st->put_response(make_response("b", "New. One.")), StoreError);
    EXPECT_THROW(st->put_model(model_info("x", "y")), StoreError);
    EXPECT_THROW(st->put_scores(mid, rid, make_score(r, -2)), StoreError);
    EXPECT_THROW(st->set_correct(rid, true), StoreError);
    EXPECT_THROW(st->set_meta("k", "v"), StoreError);
    EXPECT_THROW(st->begin(), StoreError);
  }
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_EQ(fs::last_write_time(p), mtime);
  auto st = Store::open(p, OpenMode::ReadOnly);
  expect_same(*st->get_scores(mid, rid), make_score(*st->get_response(rid), -1));
}

TEST(Store, BatchesCommitOrRollBack) {
  TempDir d;
  const auto p = d.file("s.db");
  {
    auto st = Store::open(p, OpenMode::Create);
    EXPECT_THROW(st->commit(), UsageError);
    st->begin();
    EXPECT_THROW(st->begin(), UsageError);
    st->put_response(make_response("a", "One. Two."));
    st->set_meta("k", "v");
    st->commit();
    st->begin();
    st->put_response(make_response("b", "Three. Four."));
    // destroyed without commit(): the open batch is dropped
  }
  auto st = Store::open(p, OpenMode::ReadWrite);
  EXPECT_EQ(st->n_responses(), 1);
  EXPECT_TRUE(st->find_response("a").has_value());
  EXPECT_FALSE(st->find_response("b").has_value());
  EXPECT_EQ(st->meta("k"), "v");
}

TEST(Store, OtherConnectionsDoNotBreakAWriter) {
  TempDir d;
  const auto p = d.file("s.db");
  auto st = Store::open(p, OpenMode::Create);
  auto r = make_response("a", kText);
  r.rid = st->put_response(r);
  const int64_t mid = st->put_model(model_info("m", "f"));

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &other), SQLITE_OK);
  auto count = [&] {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(other, "SELECT count(*) FROM scores", -1, &s, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
  };
  // A reader holding a snapshot (like a Python session mid-transaction) does not block writes.
  ASSERT_EQ(sqlite3_exec(other, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(count(), 0);
  st->put_scores(mid, r.rid, make_score(r, -1));
  EXPECT_EQ(count(), 0);  // its snapshot is consistent
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(count(), 1);
  // A second writer holding the write lock for a moment: the store waits (busy_timeout).
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  EXPECT_NO_THROW(st->put_scores(mid, r.rid, make_score(r, -2)));
  release.join();
  sqlite3_close(other);
  expect_same(*st->get_scores(mid, r.rid), make_score(r, -2));
}

// ---- interrupted writes

constexpr int kKillResponses = 300;
constexpr int kKillModels = 3;

// Deterministic content: response i and the scores of (model k, response i).
StoredResponse kill_response(int i) {
  std::mt19937 rng(1000 + i);
  StoredResponse r;
  r.id = "resp-" + std::to_string(i);
  r.group = "g" + std::to_string(i / 4);
  r.question = "Question " + std::to_string(i / 4);
  const int n_actions = 50 + int(rng() % 250);
  uint32_t pos = 0;
  for (int a = 0; a < n_actions; ++a) {
    const uint32_t len = 5 + rng() % 60;
    for (uint32_t b = 0; b < len; ++b) r.response.push_back(char('a' + rng() % 26));
    r.actions.push_back({pos, pos + len, a == 0});
    pos += len;
  }
  return r;
}

PairScore kill_score(int k, const StoredResponse& r) {
  std::mt19937_64 rng(std::hash<std::string>{}(r.id) ^ uint64_t(k + 1) * 0x9e3779b97f4a7c15ull);
  PairScore s;
  for (size_t a = 0; a < r.actions.size(); ++a) {
    ActionScore x;
    x.n_tokens = uint32_t(rng() % 20);
    x.logprob_sum = x.n_tokens ? -std::ldexp(double(rng() >> 11), -50) : 0.0;
    s.n_tokens += x.n_tokens;
    s.actions.push_back(x);
  }
  s.n_tokens_total = s.n_tokens;
  return s;
}

// What a scoring run does: register models and responses, then write every missing pair.
// With notify_fd, one byte is written to it after each pair.
void kill_writer(const std::string& path, int notify_fd = -1) {
  auto st = Store::open(path, OpenMode::Create);
  std::vector<int64_t> mids;
  for (int k = 0; k < kKillModels; ++k) {
    mids.push_back(st->put_model(model_info("m" + std::to_string(k), "fp" + std::to_string(k))));
  }
  std::vector<StoredResponse> rs;
  st->begin();
  for (int i = 0; i < kKillResponses; ++i) {
    rs.push_back(kill_response(i));
    rs.back().rid = st->put_response(rs.back());
  }
  st->commit();
  std::unordered_map<int64_t, const StoredResponse*> by_rid;
  for (const auto& r : rs) by_rid[r.rid] = &r;
  for (int k = 0; k < kKillModels; ++k) {
    for (int64_t rid : st->unscored(mids[k])) {
      st->put_scores(mids[k], rid, kill_score(k, *by_rid.at(rid)));
      if (notify_fd >= 0 && write(notify_fd, "x", 1) != 1) _exit(4);
    }
  }
}

// Everything in the store except timestamps, as text.
std::string dump(const std::string& path) {
  auto st = Store::open(path, OpenMode::ReadOnly);
  std::ostringstream os;
  std::vector<int64_t> mids;
  for (const auto& m : st->models()) {
    os << "model " << m.mid << ' ' << m.name << ' ' << m.fingerprint << '\n';
    mids.push_back(m.mid);
  }
  st->for_each_scored(mids, [&](const StoredResponse& r, std::span<const std::optional<PairScore>> sc) {
    os << "resp " << r.rid << ' ' << r.id << ' ' << r.group << ' ' << r.response.size() << ' ' << r.actions.size()
       << '\n';
    for (const auto& a : r.actions) os << a.begin << ',' << a.end << ',' << a.special << ' ';
    for (size_t k = 0; k < sc.size(); ++k) {
      if (!sc[k]) continue;
      os << "\nscore " << k << ' ' << int(sc[k]->status) << ' ' << sc[k]->n_tokens << ' ';
      for (const auto& a : sc[k]->actions) os << a.n_tokens << ':' << std::hexfloat << a.logprob_sum << ' ';
      os << std::defaultfloat;
    }
    os << '\n';
    return true;
  });
  return os.str();
}

// Checks that every pair present is whole and right; returns how many are present.
int check_pairs(const std::string& path) {
  // As a resuming writer opens it: a writer killed before its schema was written leaves an
  // empty SQLite file, which Create initialises. WAL recovery of a killed writer happens here.
  auto st = Store::open(path, OpenMode::Create);
  int present = 0;
  for (int k = 0; k < kKillModels; ++k) {
    auto m = st->model("m" + std::to_string(k));
    if (!m) continue;
    for (int i = 0; i < kKillResponses; ++i) {
      auto rid = st->find_response("resp-" + std::to_string(i));
      if (!rid) continue;
      auto r = *st->get_response(*rid);
      std::optional<PairScore> s;
      EXPECT_NO_THROW(s = st->get_scores(m->mid, *rid)) << "model " << k << " response " << i;
      if (!s) continue;
      ++present;
      EXPECT_EQ(s->actions.size(), r.actions.size());
      EXPECT_EQ(s->actions, kill_score(k, r).actions) << "model " << k << " response " << i;
    }
  }
  // Raw BLOB lengths, independently of the store's own decoder.
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT count(*) FROM scores JOIN responses USING (rid) WHERE "
                               "length(token_counts) != 4 * n_actions OR length(logprob_sums) != 8 * n_actions",
                               -1, &s, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return present;
}

TEST(Store, KilledWriterLeavesWholePairsAndResumesToTheSameStore) {
  TempDir d;
  const auto ref = d.file("ref.db");
  kill_writer(ref);
  const std::string want = dump(ref);
  const int total = kKillResponses * kKillModels;
  ASSERT_EQ(check_pairs(ref), total);

  // Each round a child resumes the run and is killed with SIGKILL while it writes: after a
  // random number of pairs it reported (plus a random delay of up to 0.3 ms), or, in the first
  // round, at a random instant of its start-up (creating the file, models, responses).
  const auto p = d.file("killed.db");
  std::mt19937 rng(42);
  int present = 0;
  const int rounds = 6;
  for (int round = 0; round < rounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      int rc = 0;
      try {
        kill_writer(p, fds[1]);
      } catch (...) {
        rc = 3;
      }
      _exit(rc);
    }
    close(fds[1]);
    int target = 0, got = 0;
    if (round == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    } else {
      target = 1 + int(rng() % (total / (2 * rounds)));
      char buf[256];
      while (got < target) {
        ssize_t n = read(fds[0], buf, size_t(std::min(target - got, int(sizeof buf))));
        if (n <= 0) break;
        got += int(n);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
    kill(pid, SIGKILL);
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the writer ended before the kill (status " << status << ")";
    if (!fs::exists(p)) continue;
    const int now = check_pairs(p);  // every pair present is whole and right
    EXPECT_GE(now, present + got) << "round " << round << ": reported pairs were lost";
    EXPECT_LT(now, total) << "round " << round;
    present = now;
  }
  EXPECT_GT(present, 0);
  std::printf("[ info     ] %d writers killed; %d of %d pairs present before resuming\n", rounds, present, total);
  kill_writer(p);  // resume to the end
  EXPECT_EQ(check_pairs(p), total);
  EXPECT_EQ(dump(p), want);
}

}  // namespace
}  // namespace rdpt
