// The SQLite score store (include/rdpt/store.h; schema in docs/store.md).
#include "rdpt/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>
#include <utility>

#include "rdpt/error.h"
#include "rdpt/version.h"
#include "store/blob.h"

namespace rdpt {
namespace {

// The byte offset of the first difference of two texts (the shorter one's length if one is a
// prefix of the other).
size_t first_difference(std::string_view a, std::string_view b) {
  return size_t(std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin()).first - a.begin());
}

constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%SZ','now')";

const char* const kSchema[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE responses("
    " rid INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " group_id TEXT NOT NULL,"
    " question TEXT NOT NULL,"
    " response TEXT NOT NULL,"
    " system TEXT NOT NULL,"
    " answer TEXT,"
    " correct INTEGER CHECK (correct IN (0, 1)),"
    " source_file TEXT NOT NULL,"
    " source_line INTEGER NOT NULL,"
    " n_actions INTEGER NOT NULL,"
    " spans BLOB NOT NULL,"
    " special BLOB NOT NULL)",
    "CREATE INDEX responses_group ON responses(group_id)",
    "CREATE TABLE models("
    " mid INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " backend TEXT NOT NULL,"
    " location TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " tokenizer TEXT NOT NULL,"
    " template TEXT NOT NULL,"
    " info TEXT NOT NULL,"
    " created_at TEXT NOT NULL)",
    "CREATE TABLE scores("
    " mid INTEGER NOT NULL REFERENCES models(mid),"
    " rid INTEGER NOT NULL REFERENCES responses(rid),"
    " status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),"
    " n_tokens INTEGER NOT NULL,"
    " n_tokens_total INTEGER NOT NULL,"
    " token_counts BLOB NOT NULL,"
    " logprob_sums BLOB NOT NULL,"
    " error TEXT NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " rank_sums BLOB,"
    " PRIMARY KEY (mid, rid))",
};

constexpr const char* kResponseCols =
    "rid, id, group_id, question, response, system, answer, correct, source_file, source_line, n_actions, spans, "
    "special";
// Columns 0-7 of every scores query; a version-1 store opened read-only has no rank_sums column.
constexpr const char* kScoreCols = "rid, status, n_tokens, n_tokens_total, token_counts, logprob_sums, error, rank_sums";
constexpr const char* kScoreColsV1 = "rid, status, n_tokens, n_tokens_total, token_counts, logprob_sums, error, NULL";

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

class SqliteStore;

// A prepared statement: bind, step, read columns; reset() before reuse.
class Stmt {
 public:
  Stmt(SqliteStore& store, const std::string& sql);
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    return *this;
  }
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind_blob(int i, std::string_view v);
  Stmt& bind_null(int i);
  // True when a row is available, false when done; throws StoreError on failure.
  bool step();
  void run() {
    while (step()) {
    }
  }

  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
    return p ? std::string(p, size_t(sqlite3_column_bytes(st_, c))) : std::string();
  }
  void text(int c, std::string& out) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
    if (p) out.assign(p, size_t(sqlite3_column_bytes(st_, c)));
    else out.clear();
  }
  std::string_view blob(int c) const {
    const void* p = sqlite3_column_blob(st_, c);
    return p ? std::string_view(static_cast<const char*>(p), size_t(sqlite3_column_bytes(st_, c)))
             : std::string_view();
  }

 private:
  SqliteStore& store_;
  sqlite3_stmt* st_ = nullptr;
  void check(int rc, const char* what);
};

// Resets a cached statement when the scope ends, so that no statement stays active (an active
// statement would pin the connection's read snapshot).
class Use {
 public:
  explicit Use(Stmt& s) : s_(s) {}
  ~Use() { s_.reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Stmt* operator->() { return &s_; }
  Stmt& operator*() { return s_; }

 private:
  Stmt& s_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(const std::string& path, OpenMode mode);
  ~SqliteStore() override;

  const std::string& path() const override { return path_; }

  int64_t put_response(const StoredResponse& r) override;
  std::optional<int64_t> find_response(const std::string& id) override;
  std::optional<StoredResponse> get_response(int64_t rid) override;
  int64_t n_responses() override;
  int64_t n_actions_total() override;
  void for_each_response(const std::function<bool(const StoredResponse&)>& fn) override;
  void set_correct(int64_t rid, std::optional<bool> correct) override;

  int64_t put_model(const ModelInfo& m, bool replace) override;
  ModelSlot prepare_model(const ModelInfo& m, bool replace) override;
  std::optional<ModelInfo> model(const std::string& name) override;
  std::vector<ModelInfo> models() override;

  void put_scores(int64_t mid, int64_t rid, const PairScore& s) override;
  void put_scores(ModelSlot& slot, int64_t rid, const PairScore& s) override;
  std::optional<PairScore> get_scores(int64_t mid, int64_t rid) override;
  std::optional<ScoreStatus> score_status(int64_t mid, int64_t rid) override;
  std::vector<int64_t> unscored(int64_t mid) override;
  std::vector<int64_t> unscored(const ModelSlot& slot) override;
  void for_each_scored(
      std::span<const int64_t> mids,
      const std::function<bool(const StoredResponse&, std::span<const std::optional<PairScore>>)>& fn) override;

  int64_t scan_scores(std::span<const int64_t> mids, ScanResponses what,
                      const std::function<bool(int64_t, const StoredResponse*, std::span<const PairBlobs>)>& fn) override;

  void begin() override;
  void commit() override;
  void rollback() override;

  void set_meta(const std::string& key, const std::string& value) override;
  std::optional<std::string> meta(const std::string& key) override;

  [[noreturn]] void fail(const std::string& what, int rc) const {
    last_rc_ = rc;
    throw StoreError(path_ + ": " + what + ": " + sqlite3_errstr(rc) + " (" + sqlite3_errmsg(db_) + ")");
  }
  sqlite3* db() const { return db_; }

 private:
  std::string path_;
  OpenMode mode_;
  const char* score_cols_ = kScoreCols;  // kScoreColsV1 for a version-1 store read as is
  sqlite3* db_ = nullptr;
  bool in_batch_ = false;
  mutable int last_rc_ = SQLITE_OK;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;

  Stmt& cached(const std::string& sql) {
    auto& p = cache_[sql];
    if (!p) p = std::make_unique<Stmt>(*this, sql);
    return p->reset();
  }
  void exec(const std::string& sql);
  void check_writable(const char* op) const {
    if (mode_ == OpenMode::ReadOnly) throw StoreError(path_ + ": opened read-only: " + op + " is not allowed");
  }
  void validate_or_init();
  StoredResponse read_response(const Stmt& s) const;
  void read_response(const Stmt& s, StoredResponse& r) const;
  PairScore read_scores(const Stmt& s, int first_col, int64_t n_actions, int64_t mid) const;
  PairBlobs read_blobs(const Stmt& s, int64_t n_actions, int64_t mid);
  int64_t n_actions_of(int64_t rid);
  int64_t n_scores_of(int64_t mid);
  [[noreturn]] void refuse_other_model(const ModelInfo& old, const ModelInfo& m, int64_t n_scores) const;

  // SAVEPOINT guard: groups statements atomically, inside or outside a begin()/commit() batch.
  class Savepoint {
   public:
    explicit Savepoint(SqliteStore& s) : s_(s) { s_.exec("SAVEPOINT rdpt_sp"); }
    ~Savepoint() {
      if (!done_) {
        sqlite3_exec(s_.db_, "ROLLBACK TO rdpt_sp", nullptr, nullptr, nullptr);
        sqlite3_exec(s_.db_, "RELEASE rdpt_sp", nullptr, nullptr, nullptr);
      }
    }
    void release() {
      s_.exec("RELEASE rdpt_sp");
      done_ = true;
    }

   private:
    SqliteStore& s_;
    bool done_ = false;
  };
};

Stmt::Stmt(SqliteStore& store, const std::string& sql) : store_(store) {
  int rc = sqlite3_prepare_v3(store.db(), sql.c_str(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
  if (rc != SQLITE_OK) store.fail("preparing '" + sql.substr(0, 60) + "'", rc);
}

void Stmt::check(int rc, const char* what) {
  if (rc != SQLITE_OK) store_.fail(what, rc);
}

Stmt& Stmt::bind(int i, int64_t v) {
  check(sqlite3_bind_int64(st_, i, v), "binding an integer");
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  // A non-null pointer even for "" so that an empty string binds as '' rather than NULL.
  check(sqlite3_bind_text64(st_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
        "binding a text");
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::string_view v) {
  if (v.empty()) {
    check(sqlite3_bind_zeroblob(st_, i, 0), "binding a blob");
  } else {
    check(sqlite3_bind_blob64(st_, i, v.data(), v.size(), SQLITE_TRANSIENT), "binding a blob");
  }
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  check(sqlite3_bind_null(st_, i), "binding null");
  return *this;
}
bool Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(st_) ? sqlite3_sql(st_) : "";
  sqlite3_reset(st_);
  store_.fail("running '" + sql.substr(0, 60) + "'", rc);
}

SqliteStore::SqliteStore(const std::string& path, OpenMode mode) : path_(path), mode_(mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (mode != OpenMode::Create && !fs::exists(path, ec)) {
    throw StoreError(path + ": no such store file (create one with rdpt import or rdpt score)");
  }
  if (fs::is_directory(path, ec)) throw StoreError(path + ": is a directory, not a store file");
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (mode == OpenMode::ReadOnly) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (mode == OpenMode::Create) flags |= SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StoreError(path + ": cannot open the store: " + msg);
  }
  // Wait for another writer (or a checkpointing reader) rather than failing at once.
  sqlite3_busy_timeout(db_, 30000);
  try {
    validate_or_init();
  } catch (...) {
    cache_.clear();
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteStore::~SqliteStore() {
  if (!db_) return;
  if (in_batch_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);  // an unfinished batch is dropped
  cache_.clear();
  sqlite3_close_v2(db_);
}

void SqliteStore::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    fail("running '" + sql.substr(0, 60) + "'", rc);
  }
}

void SqliteStore::validate_or_init() {
  // Reading the header is the first access: a file that is not SQLite fails here.
  auto header = [&](int64_t& app, int64_t& ver, int64_t& n_tables) {
    int rc = SQLITE_OK;
    try {
      Stmt a(*this, "PRAGMA application_id");
      app = a.step() ? a.i64(0) : 0;
      Stmt v(*this, "PRAGMA user_version");
      ver = v.step() ? v.i64(0) : 0;
      Stmt t(*this, "SELECT count(*) FROM sqlite_schema");
      n_tables = t.step() ? t.i64(0) : 0;
    } catch (const StoreError&) {
      rc = last_rc_;
      if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) {
        throw StoreError(path_ + ": not an SQLite database (" + sqlite3_errstr(rc) + "); an rdpt store is an " +
                         "SQLite file made by rdpt import or rdpt score");
      }
      throw;
    }
  };
  int64_t app = 0, ver = 0, n_tables = 0;
  header(app, ver, n_tables);
  if (app == 0 && n_tables == 0) {
    if (mode_ != OpenMode::Create) {
      throw StoreError(path_ + ": an empty SQLite database, not an rdpt store (application_id 0, no tables)");
    }
    exec("PRAGMA journal_mode=WAL");
    exec("BEGIN IMMEDIATE");
    try {
      header(app, ver, n_tables);  // another process may have initialised it meanwhile
      if (app == 0 && n_tables == 0) {
        for (const char* sql : kSchema) exec(sql);
        exec("PRAGMA application_id=" + std::to_string(kStoreApplicationId));
        exec("PRAGMA user_version=" + std::to_string(kStoreSchemaVersion));
        Stmt m(*this, std::string("INSERT INTO meta(key, value) VALUES (?, ?), (?, ?), (?, ?), (?, ?)"));
        m.bind(1, std::string_view("schema_version")).bind(2, std::to_string(kStoreSchemaVersion));
        m.bind(3, std::string_view("application")).bind(4, std::string_view("rdpt"));
        m.bind(5, std::string_view("created_by")).bind(6, std::string_view("rdpt " RDPT_VERSION));
        m.bind(7, std::string_view("created_at"));
        Stmt now(*this, std::string("SELECT ") + kNow);
        now.step();
        m.bind(8, now.text(0));
        m.run();
        app = kStoreApplicationId;
        ver = kStoreSchemaVersion;
      }
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  if (app != kStoreApplicationId) {
    throw StoreError(path_ + ": an SQLite database of another application (application_id " + hex32(uint32_t(app)) +
                     ", expected " + hex32(uint32_t(kStoreApplicationId)) + " 'RDPT' for an rdpt store)");
  }
  if (ver == 1 && mode_ != OpenMode::ReadOnly) {
    // Version 1 lacks scores.rank_sums: add it (existing pairs have no ranks), in one transaction.
    exec("BEGIN IMMEDIATE");
    try {
      header(app, ver, n_tables);
      if (ver == 1) {
        exec("ALTER TABLE scores ADD COLUMN rank_sums BLOB");
        exec("PRAGMA user_version=" + std::to_string(kStoreSchemaVersion));
        exec("UPDATE meta SET value = '" + std::to_string(kStoreSchemaVersion) + "' WHERE key = 'schema_version'");
        ver = kStoreSchemaVersion;
      }
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  if (ver == 1 && mode_ == OpenMode::ReadOnly) {
    score_cols_ = kScoreColsV1;
  } else if (ver != kStoreSchemaVersion) {
    throw StoreError(path_ + ": rdpt store schema version " + std::to_string(ver) + " found, expected " +
                     std::to_string(kStoreSchemaVersion) + " (made by another rdpt version)");
  }
  auto mv = meta("schema_version");
  if (mv != std::to_string(ver)) {
    throw StoreError(path_ + ": rdpt store schema version '" + mv.value_or("(none)") + "' in table meta, expected " +
                     std::to_string(ver));
  }
  if (mode_ != OpenMode::ReadOnly) {
    Stmt j(*this, "PRAGMA journal_mode=WAL");
    std::string got = j.step() ? j.text(0) : "";
    if (got != "wal") throw StoreError(path_ + ": cannot switch to WAL journal mode (got '" + got + "')");
    exec("PRAGMA synchronous=NORMAL");  // WAL + NORMAL: every commit is atomic; durable at checkpoints
    exec("PRAGMA foreign_keys=ON");
  }
  // Scans read every page of the file: mapping it saves a read() system call and a copy per page
  // (SQLite caps the mapping at its compile-time limit, 2 GB in Debian's build; pages past it are
  // read as before).
  // RDPT_SQLITE_MMAP=0 turns it off (docs/store.md: an I/O error on a mapped page is a SIGBUS).
  const char* mm = std::getenv("RDPT_SQLITE_MMAP");
  if (!mm || std::string_view(mm) != "0") exec("PRAGMA mmap_size=" + std::to_string(int64_t(1) << 40));
}

// ---- responses

StoredResponse SqliteStore::read_response(const Stmt& s) const {
  StoredResponse r;
  read_response(s, r);
  return r;
}

// Into r, reusing its strings' and actions' capacity (a scan reads every row into one object).
void SqliteStore::read_response(const Stmt& s, StoredResponse& r) const {
  r.rid = s.i64(0);
  s.text(1, r.id);
  s.text(2, r.group);
  s.text(3, r.question);
  s.text(4, r.response);
  s.text(5, r.system);
  if (s.is_null(6)) r.answer.reset();
  else s.text(6, r.answer.emplace());
  if (s.is_null(7)) r.correct.reset();
  else r.correct = s.i64(7) != 0;
  s.text(8, r.source_file);
  r.source_line = uint64_t(s.i64(9));
  int64_t n = s.i64(10);
  try {
    blob::decode_actions(s.blob(11), s.blob(12), size_t(n), r.response.size(), r.actions);
  } catch (const StoreError& e) {
    throw StoreError(path_ + ": response rid " + std::to_string(r.rid) + " (id '" + r.id + "'): " + e.what());
  }
}

int64_t SqliteStore::put_response(const StoredResponse& r) {
  check_writable("put_response");
  uint32_t prev = 0;
  for (size_t k = 0; k < r.actions.size(); ++k) {
    const Action& a = r.actions[k];
    if (a.begin != prev || a.end <= a.begin) {
      throw DataError("record '" + r.id + "': action " + std::to_string(k + 1) + " has span [" +
                      std::to_string(a.begin) + ", " + std::to_string(a.end) +
                      "); actions must be non-empty and contiguous from byte 0");
    }
    prev = a.end;
  }
  if (!r.actions.empty() && prev != r.response.size()) {
    throw DataError("record '" + r.id + "': its actions end at byte " + std::to_string(prev) +
                    ", the response has " + std::to_string(r.response.size()) + " bytes");
  }
  const std::string spans = blob::encode_spans(r.actions);
  const std::string special = blob::encode_special(r.actions);
  Savepoint sp(*this);
  Stmt& f = cached("SELECT rid, response, spans, special, question, system FROM responses WHERE id = ?");
  Use f_use(f);
  f.bind(1, r.id);
  if (f.step()) {
    const int64_t rid = f.i64(0);
    const std::string old = f.text(1);
    if (old != r.response) {
      const size_t k = first_difference(old, r.response);
      throw DataError("record '" + r.id + "': " + path_ + " holds another response under this id (" +
                      std::to_string(old.size()) + " bytes stored, " + std::to_string(r.response.size()) +
                      " given, first difference at byte " + std::to_string(k) + ")");
    }
    // The prompt every stored score was computed under: a question or system prompt that differs
    // now would leave those scores conditioned on another prompt.
    const std::string old_question = f.text(4), old_system = f.text(5);
    auto n_scores = [&] {
      Stmt& c = cached("SELECT count(*) FROM scores WHERE rid = ?");
      Use c_use(c);
      c.bind(1, rid).step();
      return c.i64(0);
    };
    if (old_question != r.question || old_system != r.system) {
      const bool q = old_question != r.question;
      const std::string& was = q ? old_question : old_system;
      const std::string& now = q ? r.question : r.system;
      const size_t k = first_difference(was, now);
      const std::string what = q ? "question" : "system prompt";
      if (const int64_t n = n_scores(); n > 0)
        throw DataError("record '" + r.id + "': its " + what + " differs from the one stored in " + path_ + " (" +
                        std::to_string(was.size()) + " bytes stored, " + std::to_string(now.size()) +
                        " given, first difference at byte " + std::to_string(k) + "), under which " +
                        std::to_string(n) + " model score(s) were computed; give the same " + what +
                        " (the same data layout and fields), or use a new store");
      Stmt& u = cached("UPDATE responses SET question = ?, system = ? WHERE rid = ?");
      Use u_use(u);
      u.bind(1, r.question).bind(2, r.system).bind(3, rid).run();
    }
    if (f.blob(2) != spans || f.blob(3) != special) {
      if (const int64_t n = n_scores(); n > 0) {
        throw DataError("record '" + r.id + "': segmented into " + std::to_string(r.actions.size()) +
                        " actions now, differently from the stored segmentation that " + std::to_string(n) +
                        " model score(s) refer to; use the same segmentation options as when it was stored");
      }
      Stmt& u = cached("UPDATE responses SET n_actions = ?, spans = ?, special = ? WHERE rid = ?");
      Use u_use(u);
      u.bind(1, int64_t(r.actions.size())).bind_blob(2, spans).bind_blob(3, special).bind(4, rid).run();
    }
    f.reset();
    sp.release();
    return rid;
  }
  Stmt& ins = cached(
      "INSERT INTO responses(id, group_id, question, response, system, answer, correct, source_file, source_line, "
      "n_actions, spans, special) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  Use ins_use(ins);
  ins.bind(1, r.id).bind(2, r.group).bind(3, r.question).bind(4, r.response).bind(5, r.system);
  if (r.answer) {
    ins.bind(6, *r.answer);
  } else {
    ins.bind_null(6);
  }
  if (r.correct) {
    ins.bind(7, int64_t(*r.correct));
  } else {
    ins.bind_null(7);
  }
  ins.bind(8, r.source_file).bind(9, int64_t(r.source_line)).bind(10, int64_t(r.actions.size()));
  ins.bind_blob(11, spans).bind_blob(12, special).run();
  const int64_t rid = sqlite3_last_insert_rowid(db_);
  sp.release();
  return rid;
}

std::optional<int64_t> SqliteStore::find_response(const std::string& id) {
  Stmt& s = cached("SELECT rid FROM responses WHERE id = ?");
  Use s_use(s);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  int64_t rid = s.i64(0);
  s.reset();
  return rid;
}

std::optional<StoredResponse> SqliteStore::get_response(int64_t rid) {
  Stmt& s = cached(std::string("SELECT ") + kResponseCols + " FROM responses WHERE rid = ?");
  Use s_use(s);
  s.bind(1, rid);
  if (!s.step()) return std::nullopt;
  StoredResponse r = read_response(s);
  s.reset();
  return r;
}

int64_t SqliteStore::n_actions_total() {
  // length() of a BLOB reads its size from the record header, not the (overflowing) row.
  Stmt& s = cached("SELECT coalesce(sum(length(special)), 0) FROM responses");
  Use s_use(s);
  s.step();
  int64_t n = s.i64(0);
  s.reset();
  return n;
}

int64_t SqliteStore::n_responses() {
  Stmt& s = cached("SELECT count(*) FROM responses");
  Use s_use(s);
  s.step();
  int64_t n = s.i64(0);
  s.reset();
  return n;
}

void SqliteStore::for_each_response(const std::function<bool(const StoredResponse&)>& fn) {
  Stmt s(*this, std::string("SELECT ") + kResponseCols + " FROM responses ORDER BY rid");
  while (s.step()) {
    if (!fn(read_response(s))) break;
  }
}

void SqliteStore::set_correct(int64_t rid, std::optional<bool> correct) {
  check_writable("set_correct");
  Stmt& s = cached("UPDATE responses SET correct = ? WHERE rid = ?");
  Use s_use(s);
  if (correct) {
    s.bind(1, int64_t(*correct));
  } else {
    s.bind_null(1);
  }
  s.bind(2, rid).run();
  if (sqlite3_changes(db_) == 0) {
    throw UsageError(path_ + ": set_correct: no response with rid " + std::to_string(rid));
  }
}

// ---- models

namespace {
ModelInfo read_model(const Stmt& s) {
  ModelInfo m;
  m.mid = s.i64(0);
  m.name = s.text(1);
  m.backend = s.text(2);
  m.location = s.text(3);
  m.fingerprint = s.text(4);
  m.tokenizer = s.text(5);
  m.chat_template = s.text(6);
  m.info_json = s.text(7);
  return m;
}
constexpr const char* kModelCols = "mid, name, backend, location, fingerprint, tokenizer, template, info";
}  // namespace

int64_t SqliteStore::put_model(const ModelInfo& m, bool replace) {
  check_writable("put_model");
  if (m.name.empty()) throw UsageError("put_model: empty model name");
  Savepoint sp(*this);
  auto old = model(m.name);
  int64_t mid = 0;
  if (!old) {
    Stmt& ins = cached(std::string("INSERT INTO models(name, backend, location, fingerprint, tokenizer, template, "
                                   "info, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ") +
                       kNow + ")");
    Use ins_use(ins);
    ins.bind(1, m.name).bind(2, m.backend).bind(3, m.location).bind(4, m.fingerprint).bind(5, m.tokenizer);
    ins.bind(6, m.chat_template).bind(7, m.info_json).run();
    mid = sqlite3_last_insert_rowid(db_);
  } else if (old->fingerprint == m.fingerprint && !(replace && old->chat_template != m.chat_template)) {
    mid = old->mid;  // the same model: keep its row as first stored
  } else {
    // Another file, or (with replace) the same file with another prompt template: its scores
    // were made with other prompts, so they go.
    if (!replace) refuse_other_model(*old, m, n_scores_of(old->mid));
    mid = old->mid;
    cached("DELETE FROM scores WHERE mid = ?").bind(1, mid).run();
    cached("DELETE FROM meta WHERE key = ?").bind(1, "rank_clip:" + m.name).run();  // the ranks' clip goes with them
    Stmt& u = cached(std::string("UPDATE models SET backend = ?, location = ?, fingerprint = ?, tokenizer = ?, "
                                 "template = ?, info = ?, created_at = ") +
                     kNow + " WHERE mid = ?");
    Use u_use(u);
    u.bind(1, m.backend).bind(2, m.location).bind(3, m.fingerprint).bind(4, m.tokenizer).bind(5, m.chat_template);
    u.bind(6, m.info_json).bind(7, mid).run();
  }
  sp.release();
  return mid;
}

void SqliteStore::refuse_other_model(const ModelInfo& old, const ModelInfo& m, int64_t n_scores) const {
  throw UsageError(path_ + ": model '" + m.name + "' is stored with another fingerprint ('" + old.fingerprint +
                   "', location '" + old.location + "') than the one given ('" + m.fingerprint + "', location '" +
                   m.location + "'); choose another name, or replace it (--replace) which deletes its " +
                   std::to_string(n_scores) + " stored score(s)");
}

int64_t SqliteStore::n_scores_of(int64_t mid) {
  Stmt& c = cached("SELECT count(*) FROM scores WHERE mid = ?");
  Use c_use(c);
  c.bind(1, mid).step();
  const int64_t n = c.i64(0);
  c.reset();
  return n;
}

ModelSlot SqliteStore::prepare_model(const ModelInfo& m, bool replace) {
  check_writable("prepare_model");
  if (m.name.empty()) throw UsageError("prepare_model: empty model name");
  ModelSlot slot{m, replace, 0};
  slot.info.mid = 0;
  if (auto old = model(m.name)) {
    if (old->fingerprint == m.fingerprint && !(replace && old->chat_template != m.chat_template)) {
      slot.mid = old->mid;  // the same model: its row stays as first stored
    } else if (!replace) {
      refuse_other_model(*old, m, n_scores_of(old->mid));
    }
  }
  return slot;
}

std::optional<ModelInfo> SqliteStore::model(const std::string& name) {
  Stmt& s = cached(std::string("SELECT ") + kModelCols + " FROM models WHERE name = ?");
  Use s_use(s);
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  ModelInfo m = read_model(s);
  s.reset();
  return m;
}

std::vector<ModelInfo> SqliteStore::models() {
  Stmt& s = cached(std::string("SELECT ") + kModelCols + " FROM models ORDER BY mid");
  Use s_use(s);
  std::vector<ModelInfo> out;
  while (s.step()) out.push_back(read_model(s));
  return out;
}

// ---- scores

int64_t SqliteStore::n_actions_of(int64_t rid) {
  Stmt& s = cached("SELECT n_actions FROM responses WHERE rid = ?");
  Use s_use(s);
  s.bind(1, rid);
  if (!s.step()) throw UsageError(path_ + ": no response with rid " + std::to_string(rid));
  int64_t n = s.i64(0);
  s.reset();
  return n;
}

void SqliteStore::put_scores(int64_t mid, int64_t rid, const PairScore& s) {
  check_writable("put_scores");
  const int64_t n = n_actions_of(rid);
  {
    Stmt& m = cached("SELECT 1 FROM models WHERE mid = ?");
    Use m_use(m);
    m.bind(1, mid);
    if (!m.step()) throw UsageError(path_ + ": no model with mid " + std::to_string(mid));
    m.reset();
  }
  const bool may_be_empty = s.status == ScoreStatus::Failed;
  if (int64_t(s.actions.size()) != n && !(may_be_empty && s.actions.empty())) {
    throw UsageError(path_ + ": put_scores(mid " + std::to_string(mid) + ", rid " + std::to_string(rid) + "): " +
                     std::to_string(s.actions.size()) + " action scores given, the response has " +
                     std::to_string(n) + " actions");
  }
  // One statement: SQLite applies it atomically, so the pair is wholly written or not at all.
  Stmt& ins = cached(std::string("INSERT OR REPLACE INTO scores(mid, rid, status, n_tokens, n_tokens_total, "
                                 "token_counts, logprob_sums, error, rank_sums, updated_at) VALUES (?, ?, ?, ?, ?, ?, "
                                 "?, ?, ?, ") +
                     kNow + ")");
  Use ins_use(ins);
  ins.bind(1, mid).bind(2, rid).bind(3, int64_t(s.status)).bind(4, int64_t(s.n_tokens));
  ins.bind(5, int64_t(s.n_tokens_total)).bind_blob(6, blob::encode_token_counts(s.actions));
  ins.bind_blob(7, blob::encode_logprob_sums(s.actions)).bind(8, s.error);
  if (s.has_ranks && !s.actions.empty()) ins.bind_blob(9, blob::encode_rank_sums(s.actions));
  else ins.bind_null(9);
  ins.run();
}

void SqliteStore::put_scores(ModelSlot& slot, int64_t rid, const PairScore& s) {
  if (slot.stored()) return put_scores(slot.mid, rid, s);
  // The model row and the first pair in one transaction: both or neither.
  Savepoint sp(*this);
  const int64_t mid = put_model(slot.info, slot.replace);
  put_scores(mid, rid, s);
  sp.release();
  slot.mid = mid;
}

PairScore SqliteStore::read_scores(const Stmt& s, int c, int64_t n_actions, int64_t mid) const {
  PairScore p;
  const int64_t st = s.i64(c + 1);
  if (st < 0 || st > 2) {
    throw StoreError(path_ + ": scores(mid " + std::to_string(mid) + ", rid " + std::to_string(s.i64(c)) +
                     "): unknown status " + std::to_string(st));
  }
  p.status = ScoreStatus(st);
  p.n_tokens = uint32_t(s.i64(c + 2));
  p.n_tokens_total = uint32_t(s.i64(c + 3));
  try {
    p.actions = blob::decode_scores(s.blob(c + 4), s.blob(c + 5), s.blob(c + 7), size_t(n_actions));
    p.has_ranks = !s.is_null(c + 7) && !p.actions.empty();
  } catch (const StoreError& e) {
    throw StoreError(path_ + ": scores(mid " + std::to_string(mid) + ", rid " + std::to_string(s.i64(c)) +
                     "): " + e.what());
  }
  p.error = s.text(c + 6);
  return p;
}

std::optional<PairScore> SqliteStore::get_scores(int64_t mid, int64_t rid) {
  Stmt& s = cached(std::string("SELECT ") + score_cols_ + ", (SELECT n_actions FROM responses r WHERE r.rid = "
                   "scores.rid) FROM scores WHERE mid = ? AND rid = ?");
  Use s_use(s);
  s.bind(1, mid).bind(2, rid);
  if (!s.step()) return std::nullopt;
  PairScore p = read_scores(s, 0, s.i64(8), mid);
  s.reset();
  return p;
}

std::optional<ScoreStatus> SqliteStore::score_status(int64_t mid, int64_t rid) {
  Stmt& s = cached("SELECT status FROM scores WHERE mid = ? AND rid = ?");
  Use s_use(s);
  s.bind(1, mid).bind(2, rid);
  if (!s.step()) return std::nullopt;
  auto st = ScoreStatus(s.i64(0));
  s.reset();
  return st;
}

std::vector<int64_t> SqliteStore::unscored(int64_t mid) {
  Stmt& s = cached(
      "SELECT r.rid FROM responses r WHERE NOT EXISTS (SELECT 1 FROM scores s WHERE s.mid = ? AND s.rid = r.rid "
      "AND s.status IN (0, 2)) ORDER BY r.rid");
  Use s_use(s);
  s.bind(1, mid);
  std::vector<int64_t> out;
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

std::vector<int64_t> SqliteStore::unscored(const ModelSlot& slot) {
  if (slot.stored()) return unscored(slot.mid);
  Stmt& s = cached("SELECT rid FROM responses ORDER BY rid");
  Use s_use(s);
  std::vector<int64_t> out;
  while (s.step()) out.push_back(s.i64(0));
  return out;
}

// Columns 0-7 of kScoreCols, checked as read_scores checks them (n_actions < 0: the response is
// not known, as in a scores-only scan; then only the two BLOBs are checked against each other).
PairBlobs SqliteStore::read_blobs(const Stmt& s, int64_t n_actions, int64_t mid) {
  PairBlobs b;
  b.present = true;
  const int64_t st = s.i64(1);
  auto where = [&] { return path_ + ": scores(mid " + std::to_string(mid) + ", rid " + std::to_string(s.i64(0)) + "): "; };
  if (st < 0 || st > 2) throw StoreError(where() + "unknown status " + std::to_string(st));
  b.status = ScoreStatus(st);
  b.tokens_scored = uint32_t(s.i64(2));
  b.tokens_total = uint32_t(s.i64(3));
  b.error = s.blob(6);
  b.token_counts = s.blob(4);
  b.logprob_sums = s.blob(5);
  b.rank_sums = s.blob(7);
  const size_t nc = b.token_counts.size(), ns = b.logprob_sums.size();
  const bool ok = (nc == 0 && ns == 0) ||
                  (n_actions >= 0 ? nc == size_t(n_actions) * 4 && ns == size_t(n_actions) * 8 : nc % 4 == 0 && ns == 2 * nc);
  if (!ok) {
    if (n_actions < 0) {  // a scores-only scan: the response's length names what was expected
      Stmt& q = cached("SELECT n_actions FROM responses WHERE rid = ?");
      Use q_use(q);
      q.bind(1, s.i64(0));
      n_actions = q.step() ? q.i64(0) : 0;
    }
    throw StoreError(where() + "token_counts/logprob_sums BLOBs of " + std::to_string(nc) + "/" + std::to_string(ns) +
                     " bytes, expected " + std::to_string(n_actions * 4) + "/" + std::to_string(n_actions * 8) +
                     " for " + std::to_string(n_actions) + " actions");
  }
  if (!b.rank_sums.empty() && b.rank_sums.size() != ns)
    throw StoreError(where() + "rank_sums BLOB of " + std::to_string(b.rank_sums.size()) + " bytes, expected " +
                     std::to_string(ns) + " for " + std::to_string(ns / 8) + " actions");
  return b;
}

int64_t SqliteStore::scan_scores(
    std::span<const int64_t> mids, ScanResponses what,
    const std::function<bool(int64_t, const StoredResponse*, std::span<const PairBlobs>)>& fn) {
  // One cursor per model over its scores (index (mid, rid)) and, for a full scan, one over the
  // responses, merged by rid: no query per response. All cursors share the connection's read
  // snapshot (a statement that has stepped holds it until it is reset or finalized).
  std::vector<std::unique_ptr<Stmt>> cur;
  std::vector<bool> live(mids.size(), false);
  // A scores-only scan skips pairs without a response row (rdpt never writes them, but foreign
  // keys are not enforced on every connection, e.g. the sqlite3 shell's): the full scan never sees
  // them either. The check is a rowid lookup, not a read of the response.
  // It also reads the response's number of actions (column 8), so that every pair is checked
  // against its response here as in the full scan: the same StoreError whichever scan meets it.
  const bool scores_only = what == ScanResponses::None;
  const std::string only_known = scores_only ? " AND rid IN (SELECT rid FROM responses)" : "";
  const std::string n_actions_col =
      scores_only ? ", (SELECT n_actions FROM responses WHERE responses.rid = scores.rid)" : "";
  for (int64_t mid : mids) {
    cur.push_back(std::make_unique<Stmt>(*this, std::string("SELECT ") + score_cols_ + n_actions_col +
                                                    " FROM scores WHERE mid = ?" + only_known + " ORDER BY rid"));
    cur.back()->bind(1, mid);
  }
  std::vector<PairBlobs> pairs(mids.size());
  if (what == ScanResponses::Full) {
    Stmt resp(*this, std::string("SELECT ") + kResponseCols + " FROM responses ORDER BY rid");
    int64_t n = 0;
    bool started = false;
    StoredResponse r;
    while (resp.step()) {
      ++n;
      read_response(resp, r);
      if (!started) {  // first step of every score cursor after the responses cursor holds the snapshot
        for (size_t k = 0; k < cur.size(); ++k) live[k] = cur[k]->step();
        started = true;
      }
      for (size_t k = 0; k < cur.size(); ++k) {
        pairs[k] = PairBlobs{};
        while (live[k] && cur[k]->i64(0) < r.rid) live[k] = cur[k]->step();
        if (live[k] && cur[k]->i64(0) == r.rid) pairs[k] = read_blobs(*cur[k], int64_t(r.actions.size()), mids[k]);
      }
      if (!fn(r.rid, &r, pairs)) break;
      for (size_t k = 0; k < cur.size(); ++k)
        if (live[k] && cur[k]->i64(0) == r.rid) live[k] = cur[k]->step();
    }
    return n;
  }
  for (size_t k = 0; k < cur.size(); ++k) live[k] = cur[k]->step();
  Stmt count(*this, "SELECT count(*) FROM responses");  // in the cursors' snapshot
  const int64_t n = count.step() ? count.i64(0) : 0;
  for (;;) {
    int64_t rid = INT64_MAX;
    for (size_t k = 0; k < cur.size(); ++k)
      if (live[k]) rid = std::min(rid, cur[k]->i64(0));
    if (rid == INT64_MAX) break;
    for (size_t k = 0; k < cur.size(); ++k)
      pairs[k] = live[k] && cur[k]->i64(0) == rid ? read_blobs(*cur[k], cur[k]->i64(8), mids[k]) : PairBlobs{};
    if (!fn(rid, nullptr, pairs)) break;
    for (size_t k = 0; k < cur.size(); ++k)
      if (live[k] && cur[k]->i64(0) == rid) live[k] = cur[k]->step();
  }
  return n;
}

void SqliteStore::for_each_scored(
    std::span<const int64_t> mids,
    const std::function<bool(const StoredResponse&, std::span<const std::optional<PairScore>>)>& fn) {
  std::vector<std::optional<PairScore>> scores(mids.size());
  scan_scores(mids, ScanResponses::Full, [&](int64_t, const StoredResponse* r, std::span<const PairBlobs> pairs) {
    for (size_t k = 0; k < pairs.size(); ++k) {
      scores[k].reset();
      if (!pairs[k].present) continue;
      PairScore& p = scores[k].emplace();
      p.status = pairs[k].status;
      p.n_tokens = pairs[k].tokens_scored;
      p.n_tokens_total = pairs[k].tokens_total;
      p.error = std::string(pairs[k].error);
      const size_t n = pairs[k].n_actions();
      p.actions.resize(n);
      p.has_ranks = pairs[k].has_ranks();
      for (size_t j = 0; j < n; ++j)
        p.actions[j] = {pairs[k].n_tokens(j), pairs[k].logprob_sum(j), p.has_ranks ? pairs[k].rank_sum(j) : 0};
    }
    return fn(*r, scores);
  });
}

// ---- batches and metadata

void SqliteStore::begin() {
  check_writable("begin");
  if (in_batch_) throw UsageError(path_ + ": begin(): a batch is already open (nesting is not supported)");
  exec("BEGIN IMMEDIATE");
  in_batch_ = true;
}

void SqliteStore::commit() {
  if (!in_batch_) throw UsageError(path_ + ": commit() without begin()");
  exec("COMMIT");
  in_batch_ = false;
}

void SqliteStore::rollback() {
  if (!in_batch_) return;
  in_batch_ = false;
  // Never throws: it runs while another error propagates. SQLite may have rolled back by itself
  // already (a full disk, an I/O error): then there is no transaction left to end.
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteStore::set_meta(const std::string& key, const std::string& value) {
  check_writable("set_meta");
  cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)").bind(1, key).bind(2, value).run();
}

std::optional<std::string> SqliteStore::meta(const std::string& key) {
  Stmt& s = cached("SELECT value FROM meta WHERE key = ?");
  Use s_use(s);
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  std::string v = s.text(0);
  s.reset();
  return v;
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path, OpenMode mode) {
  return std::make_unique<SqliteStore>(path, mode);
}

}  // namespace rdpt
